"""Read the recorded provider traffic in ``../shared/fixtures/recorded`` (vcrpy cassettes, see its README)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["RECORDED", "Exchange", "exchanges", "sse_data"]

RECORDED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "recorded"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Exchange:
    """One recorded HTTP exchange."""

    cassette: str
    index: int
    method: str
    uri: str
    request_body: Any
    status: int
    response_json: Any
    response_text: str | None
    response_headers: dict[str, str]
    response_bytes: bytes | None = None
    """A binary reply body as recorded (AWS event streams), where ``response_text`` is ``None``."""

    @property
    def id(self) -> str:
        return f"{self.cassette}#{self.index}"


@cache
def _load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_Loader)
    interactions: list[dict[str, Any]] = document["interactions"]
    return interactions


def exchanges(wire_format: str) -> Iterator[Exchange]:
    """Every exchange recorded for ``wire_format`` (a folder of the recorded fixtures), in file order."""
    for path in sorted((RECORDED / wire_format).glob("*.yaml")):
        for index, interaction in enumerate(_load(path)):
            request, response = interaction["request"], interaction["response"]
            body = request.get("parsed_body")
            if body is None and isinstance(request.get("body"), str):
                body = json.loads(request["body"]) if request["body"].lstrip().startswith("{") else request["body"]
            raw = response.get("body", {}).get("string") if isinstance(response.get("body"), dict) else None
            yield Exchange(
                cassette=path.name,
                index=index,
                method=request["method"],
                uri=request["uri"],
                request_body=body,
                status=response["status"]["code"],
                response_json=response.get("parsed_body"),
                response_text=raw if isinstance(raw, str) else None,
                response_bytes=raw if isinstance(raw, bytes) else None,
                response_headers={
                    name.lower(): values[0] if isinstance(values, list) else str(values)
                    for name, values in (response.get("headers") or {}).items()
                },
            )


def sse_data(text: str) -> Iterator[str]:
    """The ``data`` payload of each Server-Sent Event (WHATWG SSE: events end at a blank line)."""
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:"))
        if data and data != "[DONE]":
            yield data
