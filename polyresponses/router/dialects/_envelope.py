"""The one codec for provider state carried in a reasoning item's ``encrypted_content``.

Every dialect that keeps something a provider needs back verbatim (chat reasoning text and the field
it came in, Anthropic thinking blocks, Gemini thought signatures) stores it as ``prefix`` + base64
of compact JSON holding the provider's name, so a dialect can tell its own state from another
provider's and replay only its own.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, cast

__all__ = ["FAMILY", "is_sealed", "seal", "unseal"]

FAMILY = "polyresponses."
"""Every envelope prefix starts with this (``polyresponses.<dialect>.v<N>:``)."""


def seal(prefix: str, provider: str, payload: Mapping[str, Any]) -> str:
    """``payload`` with ``provider`` as the ``encrypted_content`` string for ``prefix``'s dialect."""
    data = json.dumps({"provider": provider, **payload}, separators=(",", ":"))
    return prefix + base64.b64encode(data.encode()).decode()


def is_sealed(value: Any) -> bool:
    """``value`` is an envelope of some dialect's (so only that dialect's provider can use it)."""
    return isinstance(value, str) and value.startswith(FAMILY)


def unseal(prefix: str, value: str | None) -> dict[str, Any] | None:
    """The payload (``provider`` included) :func:`seal` made for ``prefix``; ``None`` for anything else.

    Reads the URL-safe base64 alphabet too (what the chat dialect wrote before this codec, and what
    some clients re-encode to).
    """
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    encoded = value.removeprefix(prefix).replace("-", "+").replace("_", "/")
    try:
        payload = json.loads(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error):
        return None
    return cast("dict[str, Any]", payload) if isinstance(payload, dict) else None
