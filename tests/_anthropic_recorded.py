"""Recorded Anthropic Messages traffic as one uniform list (``../shared/fixtures/recorded/anthropic_messages``).

The folder holds three kinds of file (see the README there):

* ``*.yaml`` — pydantic-ai VCR cassettes, read through :func:`tests._recorded.exchanges`. Their request headers
  were filtered upstream (every ``anthropic-*`` header removed), so :attr:`AnthropicExchange.request_headers`
  is ``None`` for them.
* ``sdk__*http_snapshot__*.json`` — anthropic-sdk-python inline snapshots: a JSON list of full HTTP exchanges
  ``{"request": {"method", "url", "headers", "body"}, "response": {"status_code", "headers", "body"}}``; a
  streamed response body is the raw SSE text.
* ``sdk__*.sse`` / ``sdk__*streaming__*.txt`` — the raw SSE **response body only** of one Messages stream (no
  request, no status: taken as a 200 reply to an unknown ``POST /v1/messages``).

A file holding several HTTP exchanges gives several entries, in recorded order. Requests to another endpoint
than ``/v1/messages`` (e.g. ``/v1/messages/count_tokens``) are kept, with :attr:`AnthropicExchange.is_messages`
false, so that nothing is dropped silently. A file of any other kind raises :class:`ValueError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests._recorded import RECORDED, exchanges, sse_data

__all__ = [
    "ANTHROPIC_RECORDED",
    "MESSAGES_PATH",
    "AnthropicExchange",
    "Source",
    "anthropic_exchanges",
    "anthropic_fixture_files",
]

ANTHROPIC_RECORDED = RECORDED / "anthropic_messages"
MESSAGES_PATH = "/v1/messages"
Source = Literal["cassette", "sdk_http_snapshot", "sdk_sse"]


@dataclass(frozen=True)
class AnthropicExchange:
    """One recorded Anthropic HTTP exchange (or, for a raw SSE fixture, one recorded stream body)."""

    name: str
    """``<file name>#<index>``: unique, stable, usable as a pytest id."""
    file: str
    index: int
    source: Source
    method: str | None
    """``None`` for a raw SSE fixture (no request was recorded)."""
    url: str | None
    request_headers: Mapping[str, str] | None
    """Lower-cased names; ``None`` where not recorded (raw SSE) or filtered upstream (cassettes)."""
    request_body: dict[str, Any] | None
    status: int
    response_json: Any
    """The decoded JSON reply; ``None`` for a stream."""
    stream_text: str | None
    """The raw ``text/event-stream`` body; ``None`` for a JSON reply."""

    @property
    def is_stream(self) -> bool:
        return self.stream_text is not None

    @property
    def path(self) -> str | None:
        return None if self.url is None else urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return {} if self.url is None else parse_qs(urlsplit(self.url).query)

    @property
    def is_messages(self) -> bool:
        """A ``POST /v1/messages`` exchange (raw SSE fixtures are Messages streams by construction)."""
        return self.url is None or (self.method == "POST" and self.path == MESSAGES_PATH)

    @property
    def is_beta(self) -> bool:
        """Sent through the SDK's beta client: ``?beta=true`` on the URL."""
        return self.query.get("beta") == ["true"]

    @property
    def betas(self) -> tuple[str, ...]:
        """The ``anthropic-beta`` header values (comma separated on the wire); empty where not recorded."""
        value = (self.request_headers or {}).get("anthropic-beta", "")
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def events(self) -> list[dict[str, Any]]:
        """The JSON payload of every SSE event of the stream (``[]`` for a JSON reply)."""
        if self.stream_text is None:
            return []
        events: list[dict[str, Any]] = []
        for data in sse_data(self.stream_text):
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ValueError(f"{self.name}: SSE data is not a JSON object: {data[:80]!r}")
            events.append(event)
        return events


def anthropic_fixture_files() -> list[Path]:
    """Every file in the fixture folder, whatever its kind (the loader must account for each)."""
    return sorted(path for path in ANTHROPIC_RECORDED.iterdir() if path.is_file())


def _is_sse(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").split(";")[0].strip() == "text/event-stream"


def _body_dict(body: Any, where: str) -> dict[str, Any] | None:
    if body is None:
        return None
    if isinstance(body, str):
        body = json.loads(body)
    if not isinstance(body, dict):
        raise ValueError(f"{where}: request body is not a JSON object")
    return body


def _from_cassettes() -> list[AnthropicExchange]:
    loaded: list[AnthropicExchange] = []
    for exchange in exchanges(ANTHROPIC_RECORDED.name):
        stream_text: str | None = None
        response_json = exchange.response_json
        if response_json is None and exchange.response_text is not None:
            if _is_sse(exchange.response_headers):
                stream_text = exchange.response_text
            else:
                response_json = json.loads(exchange.response_text)
        loaded.append(
            AnthropicExchange(
                name=exchange.id,
                file=exchange.cassette,
                index=exchange.index,
                source="cassette",
                method=exchange.method,
                url=exchange.uri,
                request_headers=None,
                request_body=_body_dict(exchange.request_body, exchange.id),
                status=exchange.status,
                response_json=response_json,
                stream_text=stream_text,
            )
        )
    return loaded


def _from_http_snapshot(path: Path) -> list[AnthropicExchange]:
    document: Any = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, list):
        raise ValueError(f"{path.name}: an HTTP snapshot is a JSON list of exchanges")
    loaded: list[AnthropicExchange] = []
    for index, item in enumerate(document):
        request: dict[str, Any] = item["request"]
        response: dict[str, Any] = item["response"]
        name = f"{path.name}#{index}"
        response_headers = {str(key).lower(): str(value) for key, value in response["headers"].items()}
        body: Any = response["body"]
        stream = isinstance(body, str) and _is_sse(response_headers)
        loaded.append(
            AnthropicExchange(
                name=name,
                file=path.name,
                index=index,
                source="sdk_http_snapshot",
                method=request["method"],
                url=request["url"],
                request_headers={str(key).lower(): str(value) for key, value in request["headers"].items()},
                request_body=_body_dict(request["body"], name),
                status=int(response["status_code"]),
                response_json=None if stream else (json.loads(body) if isinstance(body, str) else body),
                stream_text=body if stream else None,
            )
        )
    return loaded


def _from_sse(path: Path) -> AnthropicExchange:
    return AnthropicExchange(
        name=f"{path.name}#0",
        file=path.name,
        index=0,
        source="sdk_sse",
        method=None,
        url=None,
        request_headers=None,
        request_body=None,
        status=200,
        response_json=None,
        stream_text=path.read_text(encoding="utf-8"),
    )


@cache
def _all() -> tuple[AnthropicExchange, ...]:
    cassettes = _from_cassettes()
    by_file: dict[str, list[AnthropicExchange]] = {}
    for exchange in cassettes:
        by_file.setdefault(exchange.file, []).append(exchange)
    for path in anthropic_fixture_files():
        if path.suffix == ".yaml":
            continue  # read above, through tests._recorded
        if path.suffix == ".json" and "__http_snapshot__" in path.name:
            by_file[path.name] = _from_http_snapshot(path)
        elif path.suffix == ".sse" or (path.suffix == ".txt" and "__streaming__" in path.name):
            by_file[path.name] = [_from_sse(path)]
        else:
            raise ValueError(f"{path.name}: unknown kind of Anthropic fixture; teach tests/_anthropic_recorded.py")
    return tuple(exchange for file in sorted(by_file) for exchange in by_file[file])


def anthropic_exchanges() -> list[AnthropicExchange]:
    """Every recorded Anthropic exchange, ordered by file name then recorded order (parsed once, then cached)."""
    return list(_all())
