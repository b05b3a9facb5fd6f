"""Every recorded ``POST /responses`` exchange, replayed through ``httpx.MockTransport``, sync and async.

For each: the body we build from the recorded request's parameters equals the recorded body; the
recorded reply parses into the canonical ``Response``; a recorded stream yields the recorded
events in order and ``get_final_response()`` equals the recorded terminal response; a recorded
error becomes the documented error class.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from polyresponses import AsyncClient, BadRequestError, Client
from tests._recorded import Exchange, exchanges, sse_data

_HAND_WRITTEN = {"text__test_openai_previous_response_id.yaml#0", "text__test_openai_previous_response_id.yaml#1"}
_INVALID_REQUESTS = {"error_stream__test_openai_responses_model_http_error.yaml#0"}  # temperature -1 on purpose
_POSTS = [
    e
    for e in exchanges("openai_responses")
    if e.method == "POST"
    and urlsplit(e.uri).path.rstrip("/").endswith("/responses")
    and isinstance(e.request_body, dict)
    and e.id not in _HAND_WRITTEN | _INVALID_REQUESTS
]


def _provider(exchange: Exchange) -> tuple[str, str]:
    """The provider row and base URL the exchange was recorded against."""
    parts = urlsplit(exchange.uri)
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/responses', 1)[0]}"
    if parts.netloc == "api.openai.com":
        return "openai", base
    if parts.netloc == "openrouter.ai":
        return "openrouter", base
    if parts.netloc == "api.deepseek.com":
        return "deepseek", base
    return "openai_compatible", base


class _Replay:
    """A MockTransport handler answering with the recorded reply and keeping what we sent."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.sent: list[httpx.Request] = []

    def _reply(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        exchange = self.exchange
        content_type = exchange.response_headers.get("content-type", "application/json")
        body = exchange.response_text
        if body is None:
            body = json.dumps(exchange.response_json)
        return httpx.Response(exchange.status, headers={"content-type": content_type}, content=body.encode())

    def sync(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._reply)

    def asynchronous(self) -> httpx.MockTransport:
        async def reply(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self._reply(request)

        return httpx.MockTransport(reply)


def _params(exchange: Exchange) -> tuple[str, bool, dict[str, Any]]:
    body = dict(exchange.request_body)
    return body.pop("model"), bool(body.pop("stream", False)), body


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _check_sent(replay: _Replay) -> None:
    (request,) = replay.sent
    assert request.headers["authorization"] == "Bearer sk-test-key"
    expected = _without_none(replay.exchange.request_body)
    if expected.get("stream") is False:
        del expected["stream"]  # the SDK sends `stream: false`; we leave the default unsaid
    assert json.loads(request.content) == expected


def _dump(model: Any) -> Any:
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(dumped, dict) and dumped.get("object") == "response":
        dumped.pop("output_text", None)
    return dumped


def _expected_events(exchange: Exchange) -> list[dict[str, Any]]:
    assert exchange.response_text is not None
    return [json.loads(data) for data in sse_data(exchange.response_text)]


def _compare_events(ours: list[Any], exchange: Exchange) -> None:
    expected = _expected_events(exchange)
    dumped = [_dump(event) for event in ours]
    for position, (mine, theirs) in enumerate(zip(dumped, expected, strict=True)):
        if "sequence_number" not in theirs:
            assert mine.pop("sequence_number") == position
    assert dumped == expected


def _terminal(exchange: Exchange) -> dict[str, Any]:
    final = next(
        e for e in reversed(_expected_events(exchange)) if e["type"].startswith("response.") and "response" in e
    )
    response: dict[str, Any] = final["response"]
    response.pop("output_text", None)
    return response


def _is_stream(exchange: Exchange) -> bool:
    return exchange.response_headers.get("content-type", "").startswith("text/event-stream")


@pytest.mark.parametrize("exchange", _POSTS, ids=lambda e: e.id)
def test_sync_replay(exchange: Exchange) -> None:
    replay = _Replay(exchange)
    provider, base = _provider(exchange)
    model, stream, params = _params(exchange)
    with Client(provider, api_key="sk-test-key", api_base=base, transport=replay.sync(), max_retries=0) as client:
        if exchange.status >= 400:
            with pytest.raises(BadRequestError) as caught:
                client.responses.create(model=model, stream=stream, **params)  # type: ignore[call-overload]
            assert caught.value.status_code == exchange.status
            assert caught.value.body == exchange.response_json
            assert exchange.response_json["error"]["message"] in str(caught.value)
        elif stream and _is_stream(exchange):
            with client.responses.create(model=model, stream=True, **params) as events:
                received = list(events)
                final = events.get_final_response()
            _compare_events(received, exchange)
            assert _dump(final) == _terminal(exchange)
        else:
            response = client.responses.create(model=model, stream=stream, **params)  # type: ignore[call-overload]
            if stream:  # a stream request answered with one JSON document
                response = response.get_final_response()
            assert _dump(response) == _without_none_top(exchange)
    _check_sent(replay)


def _without_none_top(exchange: Exchange) -> Any:
    reply = dict(exchange.response_json)
    reply.pop("output_text", None)
    return reply


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", _POSTS, ids=lambda e: e.id)
async def test_async_replay(exchange: Exchange) -> None:
    replay = _Replay(exchange)
    provider, base = _provider(exchange)
    model, stream, params = _params(exchange)
    client = AsyncClient(provider, api_key="sk-test-key", api_base=base, transport=replay.asynchronous(), max_retries=0)
    async with client:
        if exchange.status >= 400:
            with pytest.raises(BadRequestError) as caught:
                await client.responses.create(model=model, stream=stream, **params)  # type: ignore[call-overload]
            assert caught.value.status_code == exchange.status
        elif stream and _is_stream(exchange):
            events = await client.responses.create(model=model, stream=True, **params)
            async with events:
                received = [event async for event in events]
                final = await events.get_final_response()
            _compare_events(received, exchange)
            assert _dump(final) == _terminal(exchange)
        else:
            response = await client.responses.create(model=model, stream=stream, **params)  # type: ignore[call-overload]
            if stream:
                response = await response.get_final_response()
            assert _dump(response) == _without_none_top(exchange)
    _check_sent(replay)


def test_the_replay_covers_streams_replies_and_errors() -> None:
    kinds = {("stream" if _is_stream(e) else "error" if e.status >= 400 else "json") for e in _POSTS}
    assert kinds == {"stream", "error", "json"}
    assert len(_POSTS) >= 45
