"""The Bedrock Converse dialect against every recorded Bedrock exchange, with botocore as referee.

Replayed sync and async through the clients (``httpx.MockTransport``): the Responses request that says
what a recorded Converse request says rebuilds that request (body and path) exactly, wherever the
Responses API can say it; each reply parses to the recorded text, calls, reasoning and usage; each
recorded ConverseStream reply (AWS event-stream bytes) streams, split at many points, as conformant
events. A reasoning item given back rebuilds the recorded next turn, signature and redacted bytes
byte for byte. botocore's bedrock-runtime service model (test-only) validates and re-serializes
every body the dialect builds: its JSON and its URL path must equal ours.
"""

from __future__ import annotations

import base64
import copy
import json
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest

from polyresponses import AsyncClient, Client, UnsupportedFeatureError
from polyresponses.router._core import resolve_target_parts
from polyresponses.router._errors import (
    APIResponseValidationError,
    BadRequestError,
    InvalidRequestError,
    StreamError,
)
from polyresponses.router._providers import PROVIDERS
from polyresponses.router.dialects import bedrock_converse
from polyresponses.router.dialects.anthropic_messages import THINKING_BUDGETS
from polyresponses.types import Response, ResponseStreamEvent
from tests._recorded import Exchange, exchanges
from tests.dialects._replay import assert_conformant

_KEY = "bedrock-api-key-test"
_BASE = "https://bedrock-runtime.us-east-1.amazonaws.com"
_RECORDED = [e for e in exchanges("bedrock_converse") if "/model/" in e.uri]

_NOT_EXPRESSIBLE = {
    "parallel_tool_calls__test_bedrock_model_with_code_execution_tool.yaml": (
        "offers Nova's code interpreter as a systemTool and replays its server-side toolUse/toolResult blocks:"
        " the Responses API has no item for them"
    ),
    "parallel_tool_calls_stream__test_bedrock_model_code_execution_tool_stream.yaml": "the same systemTool",
    "video_input__test_video_url_input.yaml": "a video block: the Responses API has no video input part",
}
"""Cassettes whose requests the Responses API cannot say; their replies are still read."""

_OK = [e for e in _RECORDED if e.status == 200]
_EXPRESSIBLE = [e for e in _OK if e.cassette not in _NOT_EXPRESSIBLE]
_JSON = [e for e in _OK if e.response_json is not None]
_STREAMS = [e for e in _OK if e.response_bytes is not None]
_FORMATS = {"txt": "text/plain", "pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}


def test_every_recorded_bedrock_exchange_is_replayed() -> None:
    """Twenty cassettes: 18 exchanges answered in JSON, 8 in event-stream bytes, two errors."""
    assert len({e.cassette for e in _RECORDED}) == 20
    assert (len(_JSON), len(_STREAMS), len(_RECORDED) - len(_OK)) == (17, 8, 2)
    assert {e.cassette for e in _OK} - {e.cassette for e in _EXPRESSIBLE} == set(_NOT_EXPRESSIBLE)


def _model(exchange: Exchange) -> str:
    return httpx.URL(exchange.uri).path.split("/")[2].replace("%3A", ":")


# ------------------------------------------------------------------------ Converse request → Responses


def _responses_params(exchange: Exchange) -> dict[str, Any]:
    """The Responses request that says what the recorded Converse request says."""
    body = copy.deepcopy(exchange.request_body)
    model = _model(exchange)
    params: dict[str, Any] = {"model": model}
    system = body.pop("system", [])
    messages = body.pop("messages")
    if len(system) == 1:
        params["instructions"] = system[0]["text"]
    elif system:  # with a cache point: a system message whose part carries it
        messages = [{"role": "system", "content": system}, *messages]
    params["input"] = [item for message in messages for item in _items_of(message, model)]
    inference = body.pop("inferenceConfig", {})
    for key, name in (("maxTokens", "max_output_tokens"), ("temperature", "temperature"), ("topP", "top_p")):
        if key in inference:
            params[name] = inference.pop(key)
    assert not inference
    if "toolConfig" in body:
        config = body.pop("toolConfig")
        params["tools"] = [
            {
                "type": "function",
                "name": tool["toolSpec"]["name"],
                "description": tool["toolSpec"].get("description"),
                "parameters": tool["toolSpec"]["inputSchema"]["json"],
                "strict": tool["toolSpec"].get("strict", False),
            }
            for tool in config["tools"]
        ]
        choice = config.get("toolChoice")
        if choice is not None:
            params["tool_choice"] = {"auto": "auto", "any": "required"}[next(iter(choice))]
    extra = body.pop("additionalModelRequestFields", {})
    if extra:
        # Budget 1,024 is reasoning.effort "minimal" (test_reasoning_effort_speaks_each_family), which the
        # OpenResponses schema of the echoed request lacks: said as the provider extra it is instead.
        assert extra["thinking"]["budget_tokens"] == THINKING_BUDGETS["minimal"]
        params["extra_body"] = {"additionalModelRequestFields": extra}
    if "outputConfig" in body:
        schema = body.pop("outputConfig")["textFormat"]["structure"]["jsonSchema"]
        params["text"] = {
            "format": {
                "type": "json_schema",
                "name": schema["name"],
                "description": schema["description"],
                "schema": json.loads(schema["schema"]),
            }
        }
    assert not body, body
    return params


def _items_of(message: dict[str, Any], model: str) -> Iterator[dict[str, Any]]:
    role = message["role"]
    parts: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        if parts:
            yield {"role": role, "content": list(parts)}
            parts.clear()

    for block in message["content"]:
        if "text" in block:
            parts.append({"type": "input_text", "text": block["text"]})  # what an input message may hold
        elif "cachePoint" in block:
            parts[-1]["cache_point"] = block["cachePoint"]
        elif "image" in block:
            image = block["image"]
            url = f"data:{_FORMATS[image['format']]};base64,{image['source']['bytes']}"
            parts.append({"type": "input_image", "image_url": url, "detail": "auto"})
        elif "document" in block:
            document = block["document"]
            data = f"data:{_FORMATS[document['format']]};base64,{document['source']['bytes']}"
            parts.append({"type": "input_file", "filename": document["name"], "file_data": data})
        else:
            yield from flush()
            if "toolUse" in block:
                use = block["toolUse"]
                arguments = json.dumps(use["input"])
                yield {
                    "type": "function_call",
                    "call_id": use["toolUseId"],
                    "name": use["name"],
                    "arguments": arguments,
                }
            elif "toolResult" in block:
                result = block["toolResult"]
                assert [list(part) for part in result["content"]] == [["text"]] and result["status"] == "success"
                output = result["content"][0]["text"]
                yield {"type": "function_call_output", "call_id": result["toolUseId"], "output": output}
            else:
                encrypted = bedrock_converse.encode_reasoning("bedrock", model, block["reasoningContent"])
                yield {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": encrypted}
    yield from flush()


def _recorded_body(exchange: Exchange) -> dict[str, Any]:
    """The recorded body less pydantic-ai's empty ``system``/``inferenceConfig`` (Converse's defaults)."""
    body = copy.deepcopy(exchange.request_body)
    for key in ("system", "inferenceConfig"):
        if not body.get(key):
            body.pop(key, None)
    return dict(body)


# -------------------------------------------------------------------------------- botocore referee


@cache
def _operation(stream: bool) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return model.operation_model("ConverseStream" if stream else "Converse")


def _as_params(value: Any, shape: Any) -> Any:
    """Our JSON body as botocore's parameters: base64 text back to bytes where its shape is a blob."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _as_params(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_as_params(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _as_params(v, shape.value) for k, v in value.items()}
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def _assert_botocore_agrees(request: httpx.Request, model: str, stream: bool) -> None:
    """botocore validates our body against the Converse input shape and serializes the same body and path."""
    import botocore.serialize
    import botocore.validate

    operation = _operation(stream)
    body = json.loads(request.content)
    params = {"modelId": model, **_as_params(body, operation.input_shape)}
    report = botocore.validate.ParamValidator().validate(params, operation.input_shape)
    assert not report.has_errors(), report.generate_report()
    serialized = botocore.serialize.create_serializer("rest-json").serialize_to_request(params, operation)
    assert json.loads(serialized["body"]) == body
    assert request.url.raw_path.decode() == serialized["url_path"]


# ---------------------------------------------------------------------------------------- replay


class _Replay:
    """Answers with the recorded reply (JSON or event-stream bytes); keeps what was sent."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.sent: list[httpx.Request] = []

    def reply(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        exchange = self.exchange
        if exchange.response_bytes is not None:
            content_type = "application/vnd.amazon.eventstream"
            return httpx.Response(
                exchange.status, headers={"content-type": content_type}, content=exchange.response_bytes
            )
        return httpx.Response(exchange.status, json=exchange.response_json)

    async def areply(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.reply(request)


def _client(replay: _Replay) -> Client:
    return Client("bedrock", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(replay.reply))


def _check_sent(replay: _Replay, exchange: Exchange, *, stream: bool) -> None:
    request = replay.sent[0]
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {_KEY}"
    expected_path = httpx.URL(exchange.uri).raw_path.decode()
    if stream and not expected_path.endswith("-stream"):
        expected_path += "-stream"
    assert request.url.raw_path.decode() == expected_path
    assert request.headers["accept"] == ("application/vnd.amazon.eventstream" if stream else "application/json")
    assert json.loads(request.content) == _recorded_body(exchange)
    _assert_botocore_agrees(request, _model(exchange), stream)


def _reasonings(response: Response, model: str) -> list[dict[str, Any]]:
    blocks = []
    for item in response.output:
        if item.type == "reasoning":
            block = bedrock_converse.decode_reasoning(item.encrypted_content, "bedrock", model)
            assert block is not None
            assert bedrock_converse.decode_reasoning(item.encrypted_content, "bedrock", model + "-other") is None
            assert bedrock_converse.decode_reasoning(item.encrypted_content, "anthropic", model) is None
            blocks.append(block)
    return blocks


def _check_response(exchange: Exchange, response: Response) -> None:
    """Text, calls, reasoning blocks (signature and redacted bytes) and usage are the recorded ones."""
    reply = exchange.response_json
    content = reply["output"]["message"]["content"]
    assert response.output_text == "".join(block.get("text", "") for block in content)
    calls = [(i.call_id, i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"]
    expected_calls = [
        (b["toolUse"]["toolUseId"], b["toolUse"]["name"], b["toolUse"]["input"])
        for b in content
        if "toolUse" in b and b["toolUse"].get("type") != "server_tool_use"
    ]
    assert calls == expected_calls
    assert _reasonings(response, _model(exchange)) == [b for b in content if "reasoningContent" in b]
    assert response.status == "completed"
    usage = reply["usage"]
    assert response.usage is not None
    cached = usage.get("cacheReadInputTokens", 0)
    assert response.usage.input_tokens == usage["inputTokens"] + cached + usage.get("cacheWriteInputTokens", 0)
    assert response.usage.output_tokens == usage["outputTokens"]
    assert response.usage.input_tokens_details.cached_tokens == cached


@pytest.mark.parametrize("exchange", _JSON, ids=[e.id for e in _JSON])
def test_recorded_reply_is_read(exchange: Exchange) -> None:
    replay = _Replay(exchange)
    with _client(replay) as client:
        params = _responses_params(exchange) if exchange in _EXPRESSIBLE else {"model": _model(exchange), "input": "x"}
        response = client.responses.create(**params)
    if exchange in _EXPRESSIBLE:
        _check_sent(replay, exchange, stream=False)
    _check_response(exchange, response)


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", [e for e in _JSON if e in _EXPRESSIBLE], ids=lambda e: e.id)
async def test_recorded_reply_is_read_async(exchange: Exchange) -> None:
    replay = _Replay(exchange)
    client = AsyncClient("bedrock", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(replay.areply))
    response = await client.responses.create(**_responses_params(exchange))
    await client.close()
    _check_sent(replay, exchange, stream=False)
    _check_response(exchange, response)


def test_the_nova_code_interpreter_is_kept_aside_not_offered_as_a_call() -> None:
    exchange = next(e for e in _JSON if e.cassette in _NOT_EXPRESSIBLE and "code_execution" in e.cassette)
    response = bedrock_converse.parse_response(
        json.dumps(exchange.response_json).encode(), provider="bedrock", request={"model": _model(exchange)}
    )
    assert [item.name for item in response.output if item.type == "function_call"] == ["final_result"]


# ------------------------------------------------------------------------------------------ streams


def _frames(exchange: Exchange) -> list[dict[str, Any]]:
    from polyresponses.router._eventstream import EventStreamDecoder

    assert exchange.response_bytes is not None
    return [{"type": m.event_type, **json.loads(m.payload)} for m in EventStreamDecoder().feed(exchange.response_bytes)]


def _stream_text(exchange: Exchange) -> str:
    return "".join(f.get("delta", {}).get("text", "") for f in _frames(exchange) if f["type"] == "contentBlockDelta")


def _translate(exchange: Exchange, step: int) -> tuple[list[ResponseStreamEvent], Response]:
    raw = exchange.response_bytes
    assert raw is not None
    translator = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": _model(exchange)})
    events: list[ResponseStreamEvent] = []
    for start in range(0, len(raw), step):
        events += translator.feed(raw[start : start + step])
    events += translator.finish()
    assert translator.final is not None
    return events, translator.final


@pytest.mark.parametrize("exchange", _STREAMS, ids=[e.id for e in _STREAMS])
def test_recorded_stream_is_translated_however_it_is_split(exchange: Exchange) -> None:
    expected: tuple[list[str], Response] | None = None
    for step in (1, 3, 16, 97, len(exchange.response_bytes or b"")):
        events, final = _translate(exchange, step)
        assert_conformant(events)
        shape: list[str] = [event.type for event in events]
        if expected is None:
            expected = (shape, final)
        assert shape == expected[0]
        assert final.output_text == expected[1].output_text == _stream_text(exchange)
    assert expected is not None and expected[1].status == "completed"
    metadata = next(f for f in _frames(exchange) if f["type"] == "metadata")
    usage = expected[1].usage
    assert usage is not None and usage.output_tokens == metadata["usage"]["outputTokens"]


@pytest.mark.parametrize("exchange", [e for e in _STREAMS if e in _EXPRESSIBLE], ids=lambda e: e.id)
def test_recorded_stream_through_the_client(exchange: Exchange) -> None:
    replay = _Replay(exchange)
    with _client(replay) as client, client.responses.stream(**_responses_params(exchange)) as stream:
        events = list(stream)
        final = stream.get_final_response()
    _check_sent(replay, exchange, stream=True)
    assert_conformant(events)
    assert final.output_text == _stream_text(exchange)
    frames = _frames(exchange)
    starts = [f["start"]["toolUse"] for f in frames if f["type"] == "contentBlockStart"]
    assert [(i.call_id, i.name) for i in final.output if i.type == "function_call"] == [
        (s["toolUseId"], s["name"]) for s in starts
    ]


@pytest.mark.anyio
async def test_a_recorded_stream_through_the_async_client() -> None:
    exchange = next(e for e in _STREAMS if "thinking_part_stream" in e.cassette)
    replay = _Replay(exchange)
    client = AsyncClient("bedrock", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(replay.areply))
    async with client.responses.stream(**_responses_params(exchange)) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    await client.close()
    _check_sent(replay, exchange, stream=True)
    assert_conformant(events)
    signatures = [
        f["delta"]["reasoningContent"]["signature"]
        for f in _frames(exchange)
        if "signature" in f.get("delta", {}).get("reasoningContent", {})
    ]
    (block,) = _reasonings(final, _model(exchange))
    assert block["reasoningContent"]["reasoningText"]["signature"] == "".join(signatures) != ""


# ------------------------------------------------------------------------------ the next turn, replayed


@pytest.mark.parametrize(
    "cassette",
    [
        "reasoning__test_bedrock_model_thinking_part_anthropic.yaml",
        "reasoning__test_bedrock_model_thinking_part_redacted.yaml",
        "reasoning_tool_call__test_bedrock_anthropic_tool_with_thinking.yaml",
        "tool_call__test_tool_choice_matrix[auto-bedrock].yaml",
    ],
)
def test_the_reply_given_back_rebuilds_the_recorded_next_turn(cassette: str) -> None:
    """The output items of turn one, given back as input, are the recorded turn two: thinking text,
    signatures and redacted bytes verbatim, tool calls with their ids."""
    first, second = [e for e in _RECORDED if e.cassette == cassette]
    replay = _Replay(first)
    with _client(replay) as client:
        response = client.responses.create(**_responses_params(first))
    params = _responses_params(second)
    recorded_input = params["input"]
    turn_one = len(_responses_params(first)["input"])
    given_back = [item.model_dump(mode="json", exclude_none=True) for item in response.output]
    follow_ups = _after_assistant_turn(recorded_input[turn_one:])
    params["input"] = recorded_input[:turn_one] + given_back + follow_ups
    replay_two = _Replay(second)
    with _client(replay_two) as client:
        client.responses.create(**params)
    assert json.loads(replay_two.sent[0].content) == _recorded_body(second)


def _after_assistant_turn(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items after the recorded assistant turn (tool outputs, the next user message)."""
    assistant = {"function_call", "reasoning"}
    rest = list(items)
    while rest and (rest[0].get("type") in assistant or rest[0].get("role") == "assistant"):
        rest.pop(0)
    return rest


# --------------------------------------------------------------------------------------- errors


def test_a_recorded_error_is_the_error_tree() -> None:
    for exchange in (e for e in _RECORDED if e.status != 200):
        replay = _Replay(exchange)
        stream = exchange.uri.endswith("-stream")
        with (
            _client(replay) as client,
            pytest.raises(BadRequestError, match="The provided model identifier is invalid"),
        ):
            if stream:
                with client.responses.stream(model=_model(exchange), input="hello") as events:
                    list(events)
            else:
                client.responses.create(model=_model(exchange), input="hello")


def _frame(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (string headers only), as Bedrock frames them."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + len(value).to_bytes(2, "big") + value.encode()
        for name, value in headers.items()
    )
    body = json.dumps(payload).encode()
    total = 16 + len(encoded) + len(body)
    prelude = total.to_bytes(4, "big") + len(encoded).to_bytes(4, "big")
    prelude += zlib.crc32(prelude).to_bytes(4, "big")
    message = prelude + encoded + body
    return message + zlib.crc32(message).to_bytes(4, "big")


def _event(kind: str, **payload: Any) -> bytes:
    return _frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"}, payload)


@pytest.mark.parametrize(
    ("exception", "code"),
    [("throttlingException", "rate_limit_exceeded"), ("modelStreamErrorException", "server_error")],
)
def test_a_stream_exception_fails_the_response_with_the_partial_output(exception: str, code: str) -> None:
    raw = (
        _event("messageStart", role="assistant")
        + _event("contentBlockDelta", contentBlockIndex=0, delta={"text": "Hel"})
        + _frame({":exception-type": exception, ":message-type": "exception"}, {"message": "slow down"})
    )
    with (
        Client("bedrock", api_key=_KEY, api_base=_BASE, transport=_stream_transport(raw)) as client,
        client.responses.stream(model="us.amazon.nova-micro-v1:0", input="hi") as stream,
        pytest.raises(StreamError, match=rf"slow down \({exception}\)") as caught,
    ):
        list(stream)
    assert caught.value.partial is not None and caught.value.partial.output_text == "Hel"
    assert caught.value.partial.error is not None and caught.value.partial.error.code == code


def _stream_transport(raw: bytes) -> httpx.MockTransport:
    headers = {"content-type": "application/vnd.amazon.eventstream"}
    return httpx.MockTransport(lambda _: httpx.Response(200, headers=headers, content=raw))


def test_a_corrupted_frame_is_a_clear_error() -> None:
    raw = bytearray(
        _event("messageStart", role="assistant") + _event("contentBlockDelta", contentBlockIndex=0, delta={"text": "x"})
    )
    raw[-8] ^= 0x01  # a payload bit of the second frame: its message CRC no longer matches
    translator = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": "m"})
    with pytest.raises(APIResponseValidationError, match="CRC"):
        translator.feed(bytes(raw))


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("end_turn", "completed", None),
        ("tool_use", "completed", None),
        ("stop_sequence", "completed", None),
        ("max_tokens", "incomplete", "max_output_tokens"),
        ("model_context_window_exceeded", "incomplete", "max_output_tokens"),
        ("guardrail_intervened", "incomplete", "content_filter"),
        ("content_filtered", "incomplete", "content_filter"),
    ],
)
def test_stop_reasons(reason: str, status: str, detail: str | None) -> None:
    raw = (
        _event("messageStart", role="assistant")
        + _event("contentBlockDelta", contentBlockIndex=0, delta={"text": "Hi"})
        + _event("contentBlockStop", contentBlockIndex=0)
        + _event("messageStop", stopReason=reason)
        + _event("metadata", usage={"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, metrics={})
    )
    translator = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": "m"})
    events = translator.feed(raw) + translator.finish()
    assert_conformant(events)
    assert translator.final is not None and translator.final.status == status
    details = translator.final.incomplete_details
    assert (details.reason if details is not None else None) == detail


def test_a_stream_cut_before_message_stop_stays_open_and_one_without_metadata_ends() -> None:
    start = _event("messageStart", role="assistant") + _event(
        "contentBlockDelta", contentBlockIndex=0, delta={"text": "a"}
    )
    cut = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": "m"})
    cut.feed(start)
    cut.finish()
    assert cut.final is None and cut.partial() is not None
    ended = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": "m"})
    ended.feed(start + _event("messageStop", stopReason="end_turn"))
    ended.finish()
    assert ended.final is not None and ended.final.status == "completed" and ended.final.usage is None


# ------------------------------------------------------------------------------------ request mapping


def _wire(**params: Any) -> dict[str, Any]:
    body = {"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "input": "hi", **params}
    return bedrock_converse.build_create(body, provider="bedrock").body or {}


def test_model_ids_are_one_encoded_path_segment() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    path = bedrock_converse.model_path(arn, stream=True)
    assert path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
        "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
    )
    request = httpx.Request("POST", _BASE + path, content=b"{}")
    assert request.url.raw_path.decode() == path  # httpx sends it as written


@pytest.mark.parametrize(
    ("model", "effort", "fields"),
    [
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "high",
            {"thinking": {"type": "enabled", "budget_tokens": 16384}},
        ),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "none", None),
        (
            "us.amazon.nova-2-lite-v1:0",
            "medium",
            {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"}},
        ),
        ("openai.gpt-oss-120b-1:0", "low", {"reasoning_effort": "low"}),
    ],
)
def test_reasoning_effort_speaks_each_family(model: str, effort: str, fields: dict[str, Any] | None) -> None:
    body = bedrock_converse.build_create(
        {"model": model, "input": "x", "reasoning": {"effort": effort}}, provider="bedrock"
    ).body
    assert body is not None and body.get("additionalModelRequestFields") == fields


def test_mapping_of_sampling_tools_choice_cache_points_and_extras() -> None:
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}, "cache_point": {"type": "default"}}
    body = _wire(
        instructions="be brief",
        max_output_tokens=50,
        temperature=0.2,
        top_p=0.9,
        tools=[tool, {"type": "function", "name": "g"}],
        tool_choice={"type": "function", "name": "g"},
        input=[{"role": "user", "content": [{"type": "input_text", "text": "a", "cache_point": {"type": "default"}}]}],
        guardrailConfig={"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
    )
    assert body["system"] == [{"text": "be brief"}]
    assert body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.2, "topP": 0.9}
    assert body["messages"] == [{"role": "user", "content": [{"text": "a"}, {"cachePoint": {"type": "default"}}]}]
    assert body["toolConfig"] == {
        "tools": [
            {"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}},
            {"cachePoint": {"type": "default"}},
            {"toolSpec": {"name": "g", "inputSchema": {"json": {"type": "object", "properties": {}}}}},
        ],
        "toolChoice": {"tool": {"name": "g"}},
    }
    assert body["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
    request = httpx.Request("POST", _BASE + "/model/m/converse", json=body)
    _assert_botocore_agrees(request, "m", stream=False)


@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls=False"),
        ({"text": {"format": {"type": "json_object"}}}, "text.format 'json_object'"),
        ({"tools": [{"type": "web_search"}]}, "web_search"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}]}]},
            "by URL",
        ),
        ({"reasoning": {"effort": "high"}, "model": "meta.llama3-70b-instruct-v1:0"}, "reasoning.effort 'high'"),
    ],
)
def test_what_converse_cannot_say_is_refused(fields: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=feature):
        _wire(**fields)


def test_invalid_requests_name_the_field() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}
    with pytest.raises(InvalidRequestError, match=r"input\[0\]\.arguments"):
        _wire(input=[call])
    with pytest.raises(InvalidRequestError, match="tool_choice.name"):
        _wire(tools=[{"type": "function", "name": "f"}], tool_choice={"type": "function", "name": "g"})


def test_reasoning_goes_back_only_to_the_same_model_on_the_same_provider() -> None:
    block = {"reasoningText": {"text": "t", "signature": "sig"}}
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    item = {
        "type": "reasoning",
        "id": "rs",
        "summary": [],
        "encrypted_content": bedrock_converse.encode_reasoning("bedrock", model, block),
    }
    user = {"role": "user", "content": "next"}
    kept = _wire(input=[item, user])
    assert kept["messages"][0] == {"role": "assistant", "content": [{"reasoningContent": block}]}
    other = bedrock_converse.build_create(
        {"model": "us.amazon.nova-pro-v1:0", "input": [item, user]}, provider="bedrock"
    ).body
    assert other is not None and other["messages"] == [{"role": "user", "content": [{"text": "next"}]}]


# ---------------------------------------------------------------------------------------------- the row


def test_the_row_templates_its_region_and_takes_the_bedrock_api_key() -> None:
    row = PROVIDERS["bedrock"]
    environ = {"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-east-1", "AWS_BEARER_TOKEN_BEDROCK": "bk"}
    base, headers, secret = resolve_target_parts(row, None, None, environ)
    assert base == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert headers["Authorization"] == "Bearer bk" and secret == "bk"
    base, _, _ = resolve_target_parts(row, "k", None, {"AWS_DEFAULT_REGION": "ap-south-1"})
    assert base == "https://bedrock-runtime.ap-south-1.amazonaws.com"
    with pytest.raises(ValueError, match="needs a region: pass region=... or set AWS_REGION or AWS_DEFAULT_REGION"):
        resolve_target_parts(row, "k", None, {})
    with pytest.raises(ValueError, match="AWS_REGION 'evil.example.com/x' is not a valid region name"):
        resolve_target_parts(row, "k", None, {"AWS_REGION": "evil.example.com/x"})
    given, _, _ = resolve_target_parts(row, "k", None, {"AWS_REGION": "us-east-1"}, endpoint={"region": "eu-north-1"})
    assert given == "https://bedrock-runtime.eu-north-1.amazonaws.com"  # the client's region= wins


# ------------------------------------------------------------------------------------- review fixes


@pytest.mark.parametrize(
    ("max_output_tokens", "max_tokens", "budget"),
    [(None, 4096 + 16384, 16384), (1000, None, None), (20000, 20000, 16384), (5000, 5000, 4999)],
)
def test_claude_thinking_leaves_room_in_max_tokens(
    max_output_tokens: int | None, max_tokens: int | None, budget: int | None
) -> None:
    """Claude requires budget_tokens < maxTokens on Bedrock too: the budget is added to the default, or
    shrunk below the given maximum, or the request is refused when no budget fits (as over Messages)."""
    params: dict[str, Any] = {"reasoning": {"effort": "high"}}
    if max_output_tokens is not None:
        params["max_output_tokens"] = max_output_tokens
    if max_tokens is None:
        with pytest.raises(InvalidRequestError, match="leaves no room for thinking"):
            _wire(**params)
        return
    body = _wire(**params)
    assert body["inferenceConfig"]["maxTokens"] == max_tokens
    assert body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == budget


def test_document_names_are_made_unique_within_the_limit() -> None:
    data = "data:application/pdf;base64,JVBERi0="
    parts = [
        {"type": "input_file", "file_data": data},
        {"type": "input_file", "file_data": data},
        {"type": "input_file", "filename": "a.pdf", "file_data": data},
        {"type": "input_file", "filename": "a.docx", "file_data": "data:text/plain;base64,eA=="},
        {"type": "input_file", "filename": "x" * 300 + ".pdf", "file_data": data},
        {"type": "input_file", "filename": "x" * 300 + ".txt", "file_data": "data:text/plain;base64,eA=="},
    ]
    body = _wire(input=[{"role": "user", "content": parts}])
    names = [block["document"]["name"] for block in body["messages"][0]["content"]]
    assert names == ["document", "document 2", "a", "a 2", "x" * 200, "x" * 198 + " 2"]
    request = httpx.Request("POST", _BASE + "/model/m/converse", json=body)
    _assert_botocore_agrees(request, "m", stream=False)


@pytest.mark.parametrize("reason", ["malformed_tool_use", "malformed_model_output"])
def test_a_malformed_output_fails_instead_of_handing_on_cut_arguments(reason: str) -> None:
    raw = (
        _event("messageStart", role="assistant")
        + _event("contentBlockStart", contentBlockIndex=0, start={"toolUse": {"toolUseId": "t1", "name": "f"}})
        + _event("contentBlockDelta", contentBlockIndex=0, delta={"toolUse": {"input": '{"a": 1'}})
        + _event("contentBlockStop", contentBlockIndex=0)
        + _event("messageStop", stopReason=reason)
    )
    translator = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": "m"})
    events = translator.feed(raw) + translator.finish()
    assert_conformant(events)
    assert translator.final is not None and translator.final.status == "failed"
    assert translator.final.error is not None and reason in translator.final.error.message


def test_reasoning_effort_reaches_nova_2_only_and_none_sends_nothing_elsewhere() -> None:
    nova_1 = bedrock_converse.build_create(
        {"model": "us.amazon.nova-premier-v1:0", "input": "x", "reasoning": {"effort": "none"}}, provider="bedrock"
    ).body
    assert nova_1 is not None and "additionalModelRequestFields" not in nova_1
    with pytest.raises(UnsupportedFeatureError, match="reasoning.effort 'high'"):
        _wire(model="us.amazon.nova-premier-v1:0", reasoning={"effort": "high"})
    llama = bedrock_converse.build_create(
        {"model": "meta.llama3-70b-instruct-v1:0", "input": "x", "reasoning": {"effort": "none"}}, provider="bedrock"
    ).body
    assert llama is not None and "additionalModelRequestFields" not in llama


def test_blank_text_and_empty_messages_are_left_out() -> None:
    body = _wire(
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": ""}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ]
    )
    assert body["messages"] == [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]


def test_input_tokens_are_counted_by_bedrocks_count_tokens_with_the_converse_request() -> None:
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"inputTokens": 42})

    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    with Client("bedrock", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(reply)) as client:
        counted = client.responses.input_tokens.count(
            model=model, input="How many?", instructions="Count.", reasoning={"effort": "low"}
        )
    assert counted.input_tokens == 42
    (request,) = sent
    assert request.url.raw_path.decode() == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens"
    body = json.loads(request.content)
    assert body == {
        "input": {
            "converse": {
                "messages": [{"role": "user", "content": [{"text": "How many?"}]}],
                "system": [{"text": "Count."}],
                "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            }
        }
    }
    import botocore.serialize
    import botocore.session
    import botocore.validate

    operation = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("CountTokens")
    params = {"modelId": model, **body}
    report = botocore.validate.ParamValidator().validate(params, operation.input_shape)
    assert not report.has_errors(), report.generate_report()
    serialized = botocore.serialize.create_serializer("rest-json").serialize_to_request(params, operation)
    assert json.loads(serialized["body"]) == body and serialized["url_path"] == request.url.raw_path.decode()


def test_the_block_max_tokens_cut_ends_incomplete_and_the_ones_before_it_completed() -> None:
    raw = (
        _event("messageStart", role="assistant")
        + _event("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"text": "plan"}})
        + _event("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"signature": "sig"}})
        + _event("contentBlockStop", contentBlockIndex=0)
        + _event("contentBlockStart", contentBlockIndex=1, start={"toolUse": {"toolUseId": "t1", "name": "f"}})
        + _event("contentBlockDelta", contentBlockIndex=1, delta={"toolUse": {"input": '{"a": '}})
        + _event("contentBlockStop", contentBlockIndex=1)
        + _event("messageStop", stopReason="max_tokens")
        + _event("metadata", usage={"inputTokens": 3, "outputTokens": 9, "totalTokens": 12}, metrics={})
    )
    translator = bedrock_converse.BedrockStreamTranslator("bedrock", {"model": "m"})
    events = translator.feed(raw) + translator.finish()
    assert_conformant(events)
    final = translator.final
    assert final is not None and final.status == "incomplete"
    assert [(item.type, getattr(item, "status", None)) for item in final.output] == [
        ("reasoning", "completed"),
        ("function_call", "incomplete"),
    ]
    done = [getattr(e.item, "status", None) for e in events if e.type == "response.output_item.done"]
    assert done == ["completed", "incomplete"]  # the events say what the final response says
