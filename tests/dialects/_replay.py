"""What the dialect tests share: replaying a recorded exchange, and the checker with its one known gap."""

from __future__ import annotations

import json

import httpx

from polyresponses.testing import OPENRESPONSES_UNKNOWN_TYPE, check_stream
from polyresponses.types import ResponseStreamEvent
from tests._recorded import Exchange

__all__ = ["Replay", "assert_conformant"]


class Replay:
    """A ``MockTransport`` handler answering every request with the recorded reply; keeps what was sent."""

    def __init__(self, exchange: Exchange, *, stream: bool) -> None:
        self.exchange = exchange
        self.stream = stream
        self.sent: list[httpx.Request] = []

    def reply(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        exchange = self.exchange
        content_type = "text/event-stream" if self.stream else "application/json"
        body = exchange.response_text if exchange.response_text is not None else json.dumps(exchange.response_json)
        return httpx.Response(exchange.status, headers={"content-type": content_type}, content=body.encode())

    async def areply(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.reply(request)


def assert_conformant(events: list[ResponseStreamEvent]) -> None:
    """Every synthesized stream passes the conformance checker, OpenResponses schema included.

    One known gap is let through: reasoning text streams as OpenAI's ``response.reasoning_text.*``
    (our canonical events); the OpenResponses spec names those events ``response.reasoning.*``.
    """
    violations = [
        v
        for v in check_stream(events)
        if not (v.rule == OPENRESPONSES_UNKNOWN_TYPE and events[v.index].type.startswith("response.reasoning_text."))
    ]
    assert not violations, "\n".join(map(str, violations))
