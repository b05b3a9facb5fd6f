"""The Anthropic Messages dialect against every recorded ``/v1/messages`` exchange, and its edges.

Each recorded exchange is replayed through ``Client``/``AsyncClient`` over ``httpx.MockTransport``:
the Responses request that says what the recorded Anthropic request says (``_responses_params``)
must produce that very body, and the recorded reply or stream must become a ``Response`` whose
text, tool calls and thinking blocks are exactly the recorded ones, through a stream that passes the
conformance checker. Then the multi-turn round trip: thinking + tool call → tool output → the
second request carries the thinking block byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
from pydantic import ConfigDict, TypeAdapter, ValidationError

from polyresponses import AsyncClient, Client, MemoryStore, NotFoundError, UnsupportedFeatureError
from polyresponses.router._errors import APIError, InternalServerError, InvalidRequestError, StreamError
from polyresponses.router.dialects import anthropic_messages as anthropic
from polyresponses.types import Response, ResponseStreamEvent
from tests._anthropic_recorded import AnthropicExchange, anthropic_exchanges
from tests._recorded import Exchange, exchanges, sse_data
from tests.dialects._replay import Replay, assert_conformant

_MESSAGES = [
    e
    for e in exchanges("anthropic_messages")
    if e.method == "POST" and e.uri.split("?")[0].endswith("/v1/messages") and isinstance(e.request_body, dict)
]
_OK = [e for e in _MESSAGES if e.status == 200]
_ERRORS = [e for e in _MESSAGES if e.status != 200]


def _is_stream(exchange: Exchange) -> bool:
    return bool(exchange.request_body.get("stream"))


def _expressible(request: dict[str, Any]) -> str | None:
    """Why the recorded request cannot be written as a Responses request, or ``None`` if it can."""
    if any(tool.get("type") not in (None, "custom") for tool in request.get("tools", [])):
        return "Anthropic server tools (web search, code execution, MCP, ...)"
    if "mcp_servers" in request or "container" in request or "context_management" in request:
        return "mcp_servers / container / context_management"
    system = request.get("system")
    if isinstance(system, list) and any(set(block) - {"type", "text"} for block in system):
        return "system blocks with cache_control"
    for message in request["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else []:
            if set(block) & {"cache_control", "citations"} or block["type"] in ("server_tool_use", "container_upload"):
                return "cache_control, citations or server-tool blocks in messages"
            if block["type"].endswith("_tool_result") and block["type"] != "tool_result":
                return "server-tool results in messages"
            if block["type"] == "tool_result" and (block.get("is_error") or isinstance(block.get("content"), list)):
                return "tool_result with is_error or block content"
    return None


# ----------------------------------------------------------------------- Anthropic request → Responses


def _responses_params(request: dict[str, Any]) -> dict[str, Any]:
    """The Responses request that says what the recorded Anthropic request says."""
    body = json.loads(json.dumps(request))  # a deep copy
    params: dict[str, Any] = {"model": body.pop("model"), "max_output_tokens": body.pop("max_tokens")}
    body.pop("stream", None)
    system = body.pop("system", None)
    if isinstance(system, list):
        system = "".join(block["text"] for block in system)
    if system:
        params["instructions"] = system
    params["input"] = [item for message in body.pop("messages") for item in _items_of(message)]
    if "tools" in body:
        params["tools"] = [
            {
                "type": "function",
                "name": tool["name"],
                "description": tool.get("description"),
                "parameters": tool["input_schema"],
                "strict": tool.get("strict"),
            }
            for tool in body.pop("tools")
        ]
    if "tool_choice" in body:
        choice = body.pop("tool_choice")
        if choice.pop("disable_parallel_tool_use", False):
            params["parallel_tool_calls"] = False
        params["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(choice["type"]) or {
            "type": "function",
            "name": choice["name"],
        }
    if "output_config" in body and set(body["output_config"]) == {"format"}:
        fmt = body.pop("output_config")["format"]
        params["text"] = {"format": {"type": "json_schema", "name": "output", "schema": fmt["schema"]}}
    metadata = body.pop("metadata", None)
    if metadata is not None:
        params["safety_identifier"] = metadata["user_id"]
    for name in ("temperature", "top_p"):
        if name in body:
            params[name] = body.pop(name)
    if body:
        params["extra_body"] = body  # thinking budgets, top_k, stop_sequences, ...: passed through
    return params


def _items_of(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    role, content = message["role"], message["content"]
    if isinstance(content, str):
        yield {"type": "message", "role": role, "content": content}
        return
    parts: list[dict[str, Any]] = []
    for block in content:
        kind = block["type"]
        if kind in ("thinking", "redacted_thinking"):
            envelope = anthropic.encode_thinking("anthropic", block)
            yield {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": envelope}
        elif kind == "tool_use":
            yield from _flush(role, parts)
            arguments = json.dumps(block["input"])
            yield {"type": "function_call", "call_id": block["id"], "name": block["name"], "arguments": arguments}
        elif kind == "tool_result":
            yield from _flush(role, parts)
            yield {"type": "function_call_output", "call_id": block["tool_use_id"], "output": block.get("content", "")}
        else:
            parts.append(_part_of(block))
    yield from _flush(role, parts)


def _flush(role: str, parts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if parts:
        yield {"type": "message", "role": role, "content": list(parts)}
        parts.clear()


def _part_of(block: dict[str, Any]) -> dict[str, Any]:
    match block["type"]:
        case "text":
            return {"type": "input_text", "text": block["text"]}  # an easy input message, whatever the role
        case "image":
            source = block["source"]
            url = source["url"] if source["type"] == "url" else f"data:{source['media_type']};base64,{source['data']}"
            return {"type": "input_image", "image_url": url, "detail": "auto"}
        case "document":
            return {"type": "input_file", "file_url": block["source"]["url"]}
        case other:
            raise AssertionError(f"no Responses content part for {other!r}")


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    if body.get("stream") is False:
        del body["stream"]
    system = body.get("system")
    if isinstance(system, str):
        body["system"] = [{"type": "text", "text": system}]
    for message in body["messages"]:
        if isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        for block in message["content"]:
            if block.get("is_error") is False:
                del block["is_error"]  # false is the default
    return body


# ---------------------------------------------------------------------------------------- replay


def _recorded_message(exchange: Exchange) -> dict[str, Any]:
    """The whole message the recorded reply or stream stands for, assembled from the raw JSON."""
    if not _is_stream(exchange):
        message: dict[str, Any] = exchange.response_json
        return message
    blocks: dict[int, dict[str, Any]] = {}
    for data in sse_data(exchange.response_text or ""):
        event = json.loads(data)
        if event["type"] == "content_block_start":
            blocks[event["index"]] = {**event["content_block"], "_json": ""}
        elif event["type"] == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            match delta["type"]:
                case "text_delta":
                    block["text"] += delta["text"]
                case "thinking_delta":
                    block["thinking"] += delta["thinking"]
                case "signature_delta":
                    block["signature"] += delta["signature"]
                case "input_json_delta":
                    block["_json"] += delta["partial_json"]
                case _:
                    pass
    content = []
    for _, block in sorted(blocks.items()):
        raw = block.pop("_json")
        if block["type"] == "tool_use" and raw:
            block["input"] = json.loads(raw)
        content.append(block)
    return {"content": content}


def _check_response(exchange: Exchange, response: Response) -> None:
    """Text, tool calls and thinking blocks are exactly what the recorded reply holds."""
    content = _recorded_message(exchange)["content"]
    assert response.output_text == "".join(b["text"] for b in content if b["type"] == "text")
    calls = [(i.call_id, i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"]
    assert calls == [(b["id"], b["name"], b.get("input", {})) for b in content if b["type"] == "tool_use"]
    thinking = [b for b in content if b["type"] in ("thinking", "redacted_thinking")]
    replayed = [
        anthropic.decode_thinking(item.encrypted_content, "anthropic")
        for item in response.output
        if item.type == "reasoning"
    ]
    assert replayed == thinking
    assert all(
        item.type != "reasoning" or anthropic.decode_thinking(item.encrypted_content, "groq") is None
        for item in response.output
    )


def _client(replay: Replay) -> Client:
    return Client(
        "anthropic",
        api_key="sk-ant-test",
        api_base="https://recorded.test/v1",
        transport=httpx.MockTransport(replay.reply),
    )


def _check_sent(replay: Replay, exchange: Exchange) -> None:
    request = replay.sent[0]
    assert request.url.path == "/v1/messages"
    assert request.headers["anthropic-version"] == anthropic.ANTHROPIC_VERSION
    assert request.headers["x-api-key"] == "sk-ant-test" and "authorization" not in request.headers
    if _expressible(exchange.request_body) is None:
        assert _normalised(json.loads(request.content)) == _normalised(exchange.request_body)


def _params(exchange: Exchange) -> dict[str, Any]:
    if _expressible(exchange.request_body) is None:
        return _responses_params(exchange.request_body)
    return {"model": exchange.request_body["model"], "input": "hi"}


@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
def test_recorded_exchange_sync(exchange: Exchange) -> None:
    replay = Replay(exchange, stream=_is_stream(exchange))
    with _client(replay) as client:
        if _is_stream(exchange):
            with client.responses.stream(**_params(exchange)) as stream:
                events = list(stream)
                response = stream.get_final_response()
            assert_conformant(events)
            assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == response.output_text
        else:
            response = client.responses.create(**_params(exchange))
    _check_sent(replay, exchange)
    _check_response(exchange, response)


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
async def test_recorded_exchange_async(exchange: Exchange) -> None:
    replay = Replay(exchange, stream=_is_stream(exchange))
    client = AsyncClient(
        "anthropic",
        api_key="sk-ant-test",
        api_base="https://recorded.test/v1",
        transport=httpx.MockTransport(replay.areply),
    )
    if _is_stream(exchange):
        async with client.responses.stream(**_params(exchange)) as stream:
            events = [event async for event in stream]
            response = await stream.get_final_response()
        assert_conformant(events)
    else:
        response = await client.responses.create(**_params(exchange))
    await client.close()
    _check_sent(replay, exchange)
    _check_response(exchange, response)


def test_most_recorded_requests_are_rebuilt_exactly() -> None:
    """The request comparison is not vacuous: most recorded requests are expressible."""
    expressible = [e for e in _OK if _expressible(e.request_body) is None]
    assert len(expressible) >= len(_OK) // 2, [(_expressible(e.request_body), e.id) for e in _OK]


@pytest.mark.parametrize("exchange", _ERRORS, ids=[e.id for e in _ERRORS])
def test_recorded_errors_are_typed(exchange: Exchange) -> None:
    replay = Replay(exchange, stream=_is_stream(exchange))
    with _client(replay) as client, pytest.raises(APIError) as caught:
        client.responses.create(**_params(exchange), max_retries=0)
    message = exchange.response_json["error"]["message"]
    assert message in str(caught.value) and "sk-ant-test" not in str(caught.value)


# ------------------------------------------------------------------------------------- multi-turn


def _thinking_tool_exchange() -> Exchange:
    return next(e for e in _OK if e.cassette.startswith("reasoning_tool_call__") and e.index == 0)


def test_thinking_and_tool_use_round_trip_byte_for_byte() -> None:
    """Turn 1 (thinking + tool call) given back with the tool output: the second request carries the
    thinking block exactly as the first reply had it, before the tool_use, in one assistant turn."""
    first = _thinking_tool_exchange()
    replay = Replay(first, stream=_is_stream(first))
    with _client(replay) as client:
        response = client.responses.create(**_responses_params(first.request_body))
    call = next(item for item in response.output if item.type == "function_call")
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    second_input = [
        *_responses_params(first.request_body)["input"],
        *history,
        {"type": "function_call_output", "call_id": call.call_id, "output": "Mexico"},
    ]
    wire = anthropic.build_create({"model": "claude-sonnet-4-0", "input": second_input}, provider="anthropic")
    assert wire.body is not None
    roles = [m["role"] for m in wire.body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assistant = wire.body["messages"][1]["content"]
    recorded = first.response_json["content"]
    assert assistant[0] == recorded[0] and recorded[0]["type"] == "thinking"
    assert json.dumps(assistant[0]) == json.dumps(recorded[0])  # byte for byte, key order included
    assert [b["type"] for b in assistant] == [b["type"] for b in recorded]
    assert wire.body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.call_id, "content": "Mexico"}
    ]
    # Given to another provider, the thinking is left out, never sent as text.
    other = anthropic.build_create({"model": "m", "input": second_input}, provider="another")
    assert other.body is not None and all(b["type"] != "thinking" for m in other.body["messages"] for b in m["content"])


def test_redacted_thinking_is_replayed_verbatim() -> None:
    exchange = next(
        e
        for e in _OK
        if e.cassette.startswith("reasoning__test_anthropic_model_thinking_part_redacted") and e.index == 0
    )
    response = anthropic.parse_response(json.dumps(exchange.response_json).encode(), provider="anthropic", request={})
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    wire = anthropic.build_create(
        {"model": "m", "input": [*history, {"role": "user", "content": "and?"}]}, provider="anthropic"
    )
    assert wire.body is not None
    redacted = [b for b in exchange.response_json["content"] if b["type"] == "redacted_thinking"]
    assert redacted and wire.body["messages"][0]["content"][: len(redacted)] == redacted


# ------------------------------------------------------------------------------------- the edges


def _sse(*events: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


_START: dict[str, Any] = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [],
        "usage": {"input_tokens": 10, "output_tokens": 1},
    },
}


def _translate(raw: bytes, split: int = 11) -> tuple[list[ResponseStreamEvent], anthropic.AnthropicStreamTranslator]:
    translator = anthropic.AnthropicStreamTranslator("anthropic", {"model": "claude"})
    events = [e for start in range(0, len(raw), split) for e in translator.feed(raw[start : start + split])]
    return events + translator.finish(), translator


def test_an_overloaded_error_mid_stream_raises_with_the_partial_response() -> None:
    raw = _sse(
        _START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    events, translator = _translate(raw)
    assert events[-1].type == "response.failed"
    assert_conformant(events)
    error = translator.error_for(events[-1])
    assert isinstance(error, StreamError) and "Overloaded (overloaded_error)" in str(error)
    assert error.partial is not None and error.partial.output_text == "Hel"
    client = Client(
        "anthropic",
        api_key="k",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)
        ),
    )
    with pytest.raises(StreamError, match="Overloaded"), client.responses.stream(model="claude", input="hi") as stream:
        list(stream)


def test_max_tokens_is_incomplete_and_usage_counts_the_cache() -> None:
    raw = _sse(
        _START
        | {
            "message": _START["message"]
            | {
                "usage": {
                    "input_tokens": 10,
                    "cache_read_input_tokens": 90,
                    "cache_creation_input_tokens": 5,
                    "output_tokens": 1,
                }
            }
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 7}},
        {"type": "message_stop"},
    )
    events, translator = _translate(raw)
    final = translator.final
    assert final is not None and final.status == "incomplete"
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (105, 7)
    assert final.usage.input_tokens_details.cached_tokens == 90
    call = final.output[0]
    assert call.type == "function_call" and (call.call_id, call.arguments) == ("toolu_1", '{"a": 1}')
    assert_conformant(events)


def test_request_mapping() -> None:
    body = anthropic.build_create(
        {
            "model": "claude",
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": "No emojis."},
                {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
                {"role": "user", "content": "What is it?"},
            ],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "reasoning": {"effort": "low"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "safety_identifier": "user-1",
            "top_k": 5,
        },
        provider="anthropic",
    ).body
    assert body == {
        "model": "claude",
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "No emojis."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                    {"type": "text", "text": "What is it?"},
                ],
            }
        ],
        "max_tokens": anthropic.DEFAULT_MAX_TOKENS + 2048,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "metadata": {"user_id": "user-1"},
        "top_k": 5,
    }


def test_a_thinking_budget_shrinks_to_fit_max_output_tokens() -> None:
    body = anthropic.build_create(
        {"model": "c", "input": "hi", "reasoning": {"effort": "high"}, "max_output_tokens": 5000}, provider="anthropic"
    ).body
    assert body is not None and body["thinking"]["budget_tokens"] == 4999 and body["max_tokens"] == 5000
    with pytest.raises(InvalidRequestError, match="no room for thinking"):
        anthropic.build_create(
            {"model": "c", "input": "hi", "reasoning": {"effort": "low"}, "max_output_tokens": 500},
            provider="anthropic",
        )


@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        ({"tools": [{"type": "web_search"}]}, "'web_search' tools"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"text": {"format": {"type": "json_object"}}}, "json_object"),
        ({"input": [{"type": "web_search_call", "id": "w", "status": "completed"}]}, "web_search_call"),
    ],
)
def test_what_messages_cannot_say_is_refused(fields: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=feature) as refused:
        anthropic.build_create({"model": "c", "input": "hi", **fields}, provider="anthropic")
    assert refused.value.provider == "anthropic"


def test_refusals_come_before_the_network() -> None:
    def no_network(_: httpx.Request) -> httpx.Response:
        raise AssertionError("sent")

    transport = httpx.MockTransport(no_network)
    stateless = Client("anthropic", api_key="k", transport=transport, store=False)
    for fields in (
        {"background": True},
        {"previous_response_id": "resp_1"},
        {"tools": [{"type": "file_search", "vector_store_ids": ["v"]}]},
    ):
        with pytest.raises(UnsupportedFeatureError):
            stateless.responses.create(model="claude", input="hi", **fields)
    # With a response store (the default) a chain is emulated: an id the store lacks is a 404, still offline.
    with pytest.raises(NotFoundError, match="no response 'resp_1'"):
        Client("anthropic", api_key="k", transport=transport, store=MemoryStore()).responses.create(
            model="claude", input="hi", previous_response_id="resp_1"
        )


# ------------------------------------------------------------ Anthropic's own types as the referee


@cache
def _params_adapter(stream: bool) -> TypeAdapter[list[Any]]:
    """``MessageCreateParams`` from the ``anthropic`` SDK (test-only), unknown keys refused.

    A TypedDict takes no ``config`` of its own; inside a list, ``extra="forbid"`` reaches every
    nested TypedDict (so a misspelt or beta-only key fails instead of being ignored).
    """
    from anthropic.types import message_create_params as params

    typed = params.MessageCreateParamsStreaming if stream else params.MessageCreateParamsNonStreaming
    return TypeAdapter(list[typed], config=ConfigDict(extra="forbid"))  # type: ignore[valid-type]


def _built_bodies() -> Iterator[tuple[str, dict[str, Any]]]:
    for exchange in _OK:
        if _expressible(exchange.request_body) is None:
            params = _responses_params(exchange.request_body)
            extras = params.pop("extra_body", {})
            wire = anthropic.build_create({**params, **extras, "stream": _is_stream(exchange)}, provider="anthropic")
            assert wire.body is not None
            yield exchange.id, wire.body


_BUILT = list(_built_bodies())


@pytest.mark.parametrize("body", [body for _, body in _BUILT], ids=[name for name, _ in _BUILT])
def test_every_body_we_build_validates_against_the_anthropic_sdk(body: dict[str, Any]) -> None:
    _params_adapter(bool(body.get("stream"))).validate_python([body])


def test_the_mapped_features_validate_against_the_anthropic_sdk() -> None:
    """The request-mapping body (system list, image, thinking, tools, tool_choice, output_config, metadata)."""
    body = anthropic.build_create(
        {
            "model": "claude",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}]},
                {"role": "user", "content": [{"type": "input_file", "file_data": "data:application/pdf;base64,JVBE"}]},
                {"type": "function_call", "call_id": "toolu_1", "name": "f", "arguments": '{"a": 1}'},
                {"type": "function_call_output", "call_id": "toolu_1", "output": "ok"},
            ],
            "tools": [{"type": "function", "name": "f", "description": "F.", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "parallel_tool_calls": False,
            "reasoning": {"effort": "medium"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "user": "u",
            "temperature": 1.0,
        },
        provider="anthropic",
    ).body
    assert body is not None
    _params_adapter(False).validate_python([body])
    wrong = {**body, "tool_choice": {"type": "required"}}  # the referee does referee
    with pytest.raises(ValidationError):
        _params_adapter(False).validate_python([wrong])


_OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_overloaded_529_is_retried_like_503() -> None:
    exchange = next(e for e in _OK if e.cassette.startswith("text__"))
    replies = [
        httpx.Response(
            529,
            json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            headers={"retry-after": "0"},
        ),
        httpx.Response(200, json=exchange.response_json),
    ]
    client = Client("anthropic", api_key="k", max_retries=1, transport=httpx.MockTransport(lambda _: replies.pop(0)))
    response = client.responses.create(model="claude", input="hi")
    assert response.output_text and not replies
    failing = Client(
        "anthropic",
        api_key="k",
        max_retries=0,
        transport=httpx.MockTransport(
            lambda _: httpx.Response(
                529, json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            )
        ),
    )
    with pytest.raises(InternalServerError, match="Overloaded") as caught:
        failing.responses.create(model="claude", input="hi")
    assert caught.value.status_code == 529


# ------------------------------------------- every recorded reply and stream, SDK fixtures included

_ALL_OK = [e for e in anthropic_exchanges() if e.status == 200]


@pytest.mark.parametrize("exchange", _ALL_OK, ids=[e.name for e in _ALL_OK])
def test_every_recorded_reply_and_stream_maps_to_our_types(exchange: AnthropicExchange) -> None:
    """All 200 replies of the folder (cassettes, anthropic-sdk-python's SSE files and HTTP snapshots),
    through the pure dialect: streams in 29-byte pieces pass the checker, replies parse, and the
    text is exactly what the raw text blocks or text_delta events hold."""
    translator = anthropic.AnthropicStreamTranslator("anthropic", {"model": "claude"})
    if exchange.stream_text is not None:
        text = exchange.stream_text
        if not text.endswith("\n\n"):
            # anthropic-sdk-python's streaming/*.txt files are stored without the blank line that
            # ends the last event (its tests feed them line by line); on the wire it is always there,
            # and an unterminated event is dropped (WHATWG SSE), so it is put back here.
            text = text.rstrip("\n") + "\n\n"
        raw = text.encode()
        events = [e for start in range(0, len(raw), 29) for e in translator.feed(raw[start : start + 29])]
        events += translator.finish()
        assert_conformant(events)
        expected = "".join(
            e["delta"]["text"]
            for e in exchange.events()
            if e.get("type") == "content_block_delta" and e["delta"].get("type") == "text_delta"
        )
    else:
        events = translator.whole_reply(json.dumps(exchange.response_json).encode())
        assert_conformant(events)
        expected = "".join(b["text"] for b in exchange.response_json["content"] if b["type"] == "text")
    final = translator.final
    assert final is not None and final.output_text == expected
    stop = (
        next(
            (e["delta"].get("stop_reason") for e in exchange.events() if e.get("type") == "message_delta"),
            None,
        )
        if exchange.stream_text is not None
        else exchange.response_json.get("stop_reason")
    )
    expected_status = {"max_tokens": "incomplete", "refusal": "incomplete"}.get(stop or "", "completed")
    assert final.status == expected_status
