"""Recorded provider traffic for every dialect, replayed by a loopback upstream, through the gateway.

The gateway is a shell over the router: for each recorded reply, what it answers (JSON, or the SSE
stream) must be what the library itself makes of the same reply (ids aside: the gateway names the
responses of providers that keep none), and every stream must pass the conformance checker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from polyresponses import Client, PolyresponsesError
from polyresponses.server._config import ProviderSettings
from polyresponses.testing import OPENRESPONSES_UNKNOWN_TYPE, Violation, check_stream
from tests._loopback import LoopbackServer, raw_reply
from tests._recorded import Exchange, exchanges, sse_data
from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, gateway_config

_KEY = "sk-recorded-test"


def _posts(wire_format: str, suffixes: tuple[str, ...]) -> list[Exchange]:
    return [
        e
        for e in exchanges(wire_format)
        if e.method == "POST"
        and e.status == 200
        and urlsplit(e.uri).path.rstrip("/").endswith(suffixes)
        and isinstance(e.request_body, dict)
    ]


def _stream_of(exchange: Exchange) -> bool:
    if ":streamGenerateContent" in exchange.uri or exchange.response_bytes is not None:
        return True  # Gemini says it in the path; Bedrock's event streams are the recorded binary replies
    return bool(exchange.request_body.get("stream")) and exchange.response_headers.get(
        "content-type", "text/event-stream"
    ).startswith("text/event-stream")


def _passes_through(exchange: Exchange) -> bool:
    """A recorded OpenAI request the gateway forwards as it is. Not these: ``background`` (the gateway runs
    background responses itself), ``previous_response_id``/``conversation`` naming ids made outside
    this gateway (answered 404, as ids of another key are: tests/server/test_security.py)."""
    body = exchange.request_body
    return urlsplit(exchange.uri).netloc == "api.openai.com" and not (
        body.get("background") or body.get("previous_response_id") or body.get("conversation")
    )


CASES: list[tuple[str, Exchange]] = [
    *(("openai", e) for e in _posts("openai_responses", ("/responses",)) if _passes_through(e)),
    *(("mistral", e) for e in _posts("chat_completions", ("/chat/completions",))),
    *(("anthropic", e) for e in _posts("anthropic_messages", ("/v1/messages",))),
    *(("gemini", e) for e in _posts("gemini", ("generateContent", "GenerateContent"))),
    *(("cohere", e) for e in _posts("cohere", ("/v2/chat",))),
    *(("bedrock", e) for e in _posts("bedrock_converse", ("/converse", "/converse-stream"))),
]


def _body(provider: str, exchange: Exchange) -> dict[str, Any]:
    """The request: the recorded one where it is a Responses request, else the smallest one."""
    if provider == "openai":
        body = {k: v for k, v in exchange.request_body.items() if k != "stream"}
        return {**body, "model": f"openai:{body['model']}"}
    return {"model": f"{provider}:m", "input": "hi"}


@pytest.fixture(scope="module")
def replaying() -> Iterator[tuple[LoopbackServer, RunningGateway]]:
    with LoopbackServer() as upstream:
        providers = {
            name: ProviderSettings(base_url=upstream.url, dialect="chat_completions" if name == "mistral" else None)
            for name in ("openai", "mistral", "anthropic", "gemini", "cohere", "bedrock")
        }
        environ = {
            name: _KEY
            for name in ("OPENAI_API_KEY", "MISTRAL_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "CO_API_KEY")
        }
        environ["AWS_BEARER_TOKEN_BEDROCK"] = _KEY
        with RunningGateway(gateway_config(upstream.url, providers=providers), environ) as gateway:
            yield upstream, gateway


def _content(exchange: Exchange) -> tuple[bytes, str]:
    """The recorded reply's bytes and content type."""
    if exchange.response_bytes is not None:
        return exchange.response_bytes, "application/vnd.amazon.eventstream"
    text = exchange.response_text if exchange.response_text is not None else json.dumps(exchange.response_json)
    return text.encode(), "text/event-stream" if _stream_of(exchange) else "application/json"


def _reply(exchange: Exchange) -> Any:
    content, content_type = _content(exchange)
    return raw_reply(content, status=exchange.status, content_type=content_type)


def _reference(
    provider: str, exchange: Exchange, body: dict[str, Any], stream: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """What the library makes of the recorded reply, and its events (``None``: it refuses or fails; the
    gateway must too)."""
    from polyresponses.router._wire import to_reply

    content, content_type = _content(exchange)

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(exchange.status, headers={"content-type": content_type}, content=content)

    params = {k: v for k, v in body.items() if k != "model"}
    model = body["model"].split(":", 1)[1]
    events: list[dict[str, Any]] = []
    try:
        with Client(
            provider,
            api_key=_KEY,
            api_base="http://recorded.test/v1",
            transport=httpx.MockTransport(handler),
            store=False,
            max_retries=0,
            dialect="chat_completions" if provider == "mistral" else None,  # the recorded chat traffic
        ) as client:
            if stream:
                with client.responses.stream(model=model, **params) as stream_events:
                    events = [to_reply(event) for event in stream_events]
                    response = stream_events.get_final_response()
            else:
                response = client.responses.create(model=model, **params)
    except PolyresponsesError:
        return None
    return to_reply(response), events


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """The answer itself; call ids minted per reply (Gemini sends none) are compared by position, and so are
    item ids (made from a response id where the reply has none: Converse's)."""
    keep = ("status", "output", "usage", "incomplete_details", "error")
    output = [dict(item) for item in response.get("output") or []]
    for index, item in enumerate(output):
        if "id" in item:
            item["id"] = f"<item {index}>"
    text = json.dumps({**{key: response.get(key) for key in keep}, "output": output})
    minted = [
        item["call_id"] for item in response.get("output") or [] if str(item.get("call_id", "")).startswith("call_")
    ]
    for index, call_id in enumerate(minted):
        text = text.replace(call_id, f"<call {index}>")
    compared: dict[str, Any] = json.loads(text)
    return compared


def _allowed(violation: Violation, events: list[dict[str, Any]]) -> bool:
    """The one gap the dialect tests also let through: reasoning text streams as OpenAI's events."""
    kind = str(events[violation.index]["type"])
    return violation.rule == OPENRESPONSES_UNKNOWN_TYPE and kind.startswith("response.reasoning_text.")


@pytest.mark.parametrize(("provider", "exchange"), CASES, ids=[f"{p}-{e.id}" for p, e in CASES])
def test_recorded_reply_through_the_gateway(
    provider: str, exchange: Exchange, replaying: tuple[LoopbackServer, RunningGateway]
) -> None:
    upstream, gateway = replaying
    stream = _stream_of(exchange)
    body = _body(provider, exchange)
    expected = _reference(provider, exchange, body, stream)
    upstream.script(_reply(exchange))
    reply = httpx.post(
        f"{gateway.url}/responses",
        json={**body, "stream": stream},
        headers={"Authorization": f"Bearer {ALICE}"},
        timeout=30,
    )
    if expected is None:
        assert reply.status_code >= 400 or "response.failed" in reply.text or '"type":"error"' in reply.text, reply.text
        return
    assert reply.status_code == 200, reply.text
    response, expected_events = expected
    if stream:
        events = [json.loads(data) for data in sse_data(reply.text)]
        assert reply.text.endswith("data: [DONE]\n\n")
        if provider == "openai":
            # OpenAI's own stream, passed through: event for event what the library gives a caller
            # (OpenAI's quirks included, such as encrypted_content that differs between done and completed).
            assert events == expected_events
        else:
            assert [v for v in check_stream(events) if not _allowed(v, events)] == []
        final = events[-1]["response"]
    else:
        final = reply.json()
    assert _comparable(final) == _comparable(response)
    headers = {name.lower(): value for name, value in upstream.requests[-1].headers.items()}
    assert _KEY in headers.get("authorization", "") + headers.get("x-api-key", "") + headers.get("x-goog-api-key", "")


def test_every_dialect_is_covered() -> None:
    counts: dict[str, int] = {}
    for provider, _ in CASES:
        counts[provider] = counts.get(provider, 0) + 1
    assert set(counts) == {"openai", "mistral", "anthropic", "gemini", "cohere", "bedrock"}, counts
    assert min(counts.values()) >= 5, counts
