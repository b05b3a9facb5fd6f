"""What a dialect asks the HTTP shell to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["WireRequest"]


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP request, relative to the provider's base URL; ``body`` is JSON-ready or ``None``."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str | int | list[str]] = field(default_factory=dict[str, "str | int | list[str]"])
    stream: bool = False
    accept: str | None = None
    """The ``Accept`` header, where the dialect's stream is not SSE (AWS event streams); else the shell's."""
