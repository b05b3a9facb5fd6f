"""The Chat Completions dialect against every recorded ``POST /chat/completions`` exchange, sync and async.

Each recorded chat request is read back into the Responses request a user would have written for
it (``_responses_params``: messages → input items, tools, tool_choice, response_format, ...); that
request goes through the real client (``dialect="chat_completions"``) over ``httpx.MockTransport``;
the chat body we send must equal the recorded one, and the recorded reply must come back as the
canonical ``Response`` (streams: a conformant event stream whose final response equals what the
raw chunks add up to). Then the pure translator's corner cases and the refusals, one by one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import polyresponses
from polyresponses import AsyncClient, Client, NotFoundError, UnsupportedFeatureError
from polyresponses.router._errors import APIResponseValidationError, InvalidRequestError, StreamError
from polyresponses.router._providers import PROVIDERS
from polyresponses.router.dialects import chat_completions as chat
from polyresponses.types import Response, ResponseStreamEvent
from tests._loopback import Exchange as LoopbackExchange
from tests._loopback import LoopbackServer
from tests._recorded import Exchange, exchanges, sse_data
from tests.dialects._replay import Replay, assert_conformant

# Parts of recorded requests the Responses API has no words for: these requests cannot be written
# as a Responses request, so only their replies are replayed (documented in the issue 4 note).
_NOT_EXPRESSIBLE = {
    "openrouter_video_input__test_openrouter_video_url_public_api.yaml": "video_url content parts",
    "openai_audio_input__test_audio_as_binary_content_input.yaml": "input_audio content parts",
    "mistral_tool_call__test_tool_choice_matrix[auto-mistral].yaml": "an assistant 'prefix' message (Mistral)",
    "openai_cached_tokens__test_openai_chat_prompt_cache_e2e.yaml": "prompt_cache_breakpoint on content parts",
    "openrouter_error_stream__test_openrouter_stream_error.yaml": "max_completion_tokens 10 (the spec's minimum is 16)",
    "openrouter_builtin_tools_stream__test_openrouter_web_search_tool_usage_stream.yaml": "OpenRouter's web plugin",
}
_FAILS = {
    # OpenRouter answered 200, streamed reasoning, then an error chunk ("Token limit reached").
    "openrouter_error_stream__test_openrouter_stream_error.yaml",
}

_POSTS = [
    e
    for e in exchanges("chat_completions")
    if e.method == "POST" and urlsplit(e.uri).path.endswith("/chat/completions") and isinstance(e.request_body, dict)
]
_OK = [e for e in _POSTS if e.status == 200]


def _provider(exchange: Exchange) -> str:
    """The provider row a cassette was recorded against (its options shape the body)."""
    vendor = exchange.cassette.split("_", 1)[0]
    return {"huggingface": "huggingface", "zai": "openai_compatible"}.get(vendor, vendor)


def _is_stream(exchange: Exchange) -> bool:
    return bool(exchange.request_body.get("stream"))


# --------------------------------------------------------------------------- chat request → Responses


def _responses_params(request: dict[str, Any], provider: str) -> dict[str, Any]:
    """The Responses request that says what the recorded chat request says."""
    body = json.loads(json.dumps(request))  # a deep copy: the recorded request stays as recorded
    params: dict[str, Any] = {"model": body.pop("model")}
    body.pop("stream", None)
    body.pop("stream_options", None)
    messages: list[dict[str, Any]] = body.pop("messages")
    if messages and messages[0]["role"] == "system" and isinstance(messages[0]["content"], str):
        params["instructions"] = messages.pop(0)["content"]
    items: list[dict[str, Any]] = []
    for message in messages:
        items.extend(_items_of(message, provider))
    params["input"] = items
    if "tools" in body:
        params["tools"] = [_tool_of(tool) for tool in body.pop("tools")]
    if "tool_choice" in body:
        choice = body.pop("tool_choice")
        if choice == PROVIDERS[provider].chat.required_tool_choice:
            choice = "required"
        elif isinstance(choice, dict):
            choice = {"type": "function", "name": choice["function"]["name"]}
        params["tool_choice"] = choice
    if "response_format" in body:
        fmt = body.pop("response_format")
        if fmt["type"] == "json_schema":
            params["text"] = {"format": {"type": "json_schema", **fmt["json_schema"]}}
        else:
            params["text"] = {"format": {"type": fmt["type"]}}
    if "reasoning_effort" in body:
        params["reasoning"] = {"effort": body.pop("reasoning_effort")}
    if "reasoning" in body and PROVIDERS[provider].chat.reasoning_object:
        params["reasoning"] = body.pop("reasoning")
    for name in ("max_completion_tokens", "max_tokens"):
        if name in body:
            params["max_output_tokens"] = body.pop(name)
    for name in ("temperature", "top_p", "prompt_cache_key", "parallel_tool_calls", "user"):
        if name in body:
            params[name] = body.pop(name)
    if body:
        params["extra_body"] = body  # provider extras (n, stop, thinking, reasoning, ...): passed through
    return params


def _items_of(message: dict[str, Any], provider: str) -> Iterator[dict[str, Any]]:
    role, content = message["role"], message.get("content")
    if role == "tool":
        yield {"type": "function_call_output", "call_id": message["tool_call_id"], "output": content}
        return
    if role == "assistant":
        for field in ("reasoning_content", "reasoning"):
            if message.get(field):  # the provider's own reasoning, given back: our reasoning item for it
                envelope = chat.encode_reasoning(provider, field, message[field])
                yield {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": envelope}
        if content:
            yield {"type": "message", "role": "assistant", "content": content}
        for call in message.get("tool_calls") or []:
            function = call["function"]
            yield {
                "type": "function_call",
                "call_id": call["id"],
                "name": function["name"],
                "arguments": function["arguments"],
            }
        return
    if isinstance(content, str):
        yield {"type": "message", "role": role, "content": content}
        return
    assert isinstance(content, list), f"a {role} message without content"
    yield {"type": "message", "role": role, "content": [_part_of(part) for part in content]}


def _part_of(part: dict[str, Any]) -> dict[str, Any]:
    match part["type"]:
        case "text":
            return {"type": "input_text", "text": part["text"]}
        case "image_url":
            return {"type": "input_image", "image_url": part["image_url"]["url"], "detail": "auto"}
        case "file":
            return {"type": "input_file", **part["file"]}
        case other:
            raise AssertionError(f"no Responses content part for {other!r}")


def _tool_of(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    return {
        "type": "function",
        "name": function["name"],
        "description": function.get("description"),
        "parameters": function.get("parameters"),
        "strict": function.get("strict"),
    }


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    """A chat body with the spellings that mean the same folded together."""
    body = json.loads(json.dumps(body))
    body.pop("stream_options", None)
    if body.get("stream") is False:
        del body["stream"]
    for message in body["messages"]:
        if message["role"] == "assistant" and message.get("tool_calls") and not message.get("content"):
            message["content"] = None  # "" and null mean "no text" beside tool calls
    if body.get("tools") == []:
        del body["tools"]  # no tools, however spelled
    for tool in body.get("tools", []):
        function = tool["function"]
        if function.get("description") is None:
            function.pop("description", None)
    return body


# ----------------------------------------------------------------------------------------- replay


def _chunks(exchange: Exchange) -> list[dict[str, Any]]:
    return [json.loads(data) for data in sse_data(exchange.response_text or "") if data != "[DONE]"]


def _expected_text(exchange: Exchange) -> str:
    """The answer the recorded chunks (or reply) add up to, read straight from the raw JSON."""
    if not _is_stream(exchange):
        message = exchange.response_json["choices"][0]["message"]
        content = message.get("content")
        if isinstance(content, list):  # Mistral: thinking and text parts
            return "".join(p["text"] for p in content if p.get("type") == "text")
        return content if isinstance(content, str) else ""
    text, finished = "", False
    for chunk in _chunks(exchange):
        for choice in chunk.get("choices") or []:
            if finished:
                continue
            content = choice.get("delta", {}).get("content")
            if isinstance(content, str):
                text += content
            elif isinstance(content, list):
                text += "".join(p["text"] for p in content if p.get("type") == "text")
            finished = finished or choice.get("finish_reason") is not None
    return text


def _expected_calls(exchange: Exchange) -> list[tuple[str, str, str]]:
    """``(call_id, name, arguments)`` of every tool call in the recorded reply or chunks."""
    if not _is_stream(exchange):
        calls = exchange.response_json["choices"][0]["message"].get("tool_calls") or []
        return [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls]
    found: dict[int, list[str]] = {}
    for chunk in _chunks(exchange):
        for choice in chunk.get("choices") or []:
            for call in choice.get("delta", {}).get("tool_calls") or []:
                entry = found.setdefault(call["index"], ["", "", ""])
                entry[0] = entry[0] or call.get("id") or ""
                entry[1] = entry[1] or call.get("function", {}).get("name") or ""
                entry[2] += call.get("function", {}).get("arguments") or ""
    return [(entry[0], entry[1], entry[2]) for _, entry in sorted(found.items())]


def _check_reply(exchange: Exchange, response: Response) -> None:
    assert response.output_text == _expected_text(exchange)
    calls = [(i.call_id, i.name, i.arguments) for i in response.output if i.type == "function_call"]
    assert calls == _expected_calls(exchange)
    final_chunk = exchange.response_json if not _is_stream(exchange) else None
    finish = (final_chunk or {}).get("choices", [{}])[0].get("finish_reason") if final_chunk else None
    if finish == "length":
        assert response.status == "incomplete"
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "max_output_tokens"
    usage = (final_chunk or {}).get("usage")
    if usage:
        assert response.usage is not None
        assert (response.usage.input_tokens, response.usage.output_tokens) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )


def _check_stream(events: list[ResponseStreamEvent], final: Response) -> None:
    assert events[0].type == "response.created"
    assert events[-1].type in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text
    assert_conformant(events)


def _check_failure(error: StreamError) -> None:
    """The error chunk became ``response.failed``: a typed error naming it, with the reasoning so far."""
    assert "Token limit reached" in str(error) and error.provider == "openrouter"
    partial = error.partial
    assert isinstance(partial, Response) and partial.status == "failed"
    assert [item.type for item in partial.output] == ["reasoning"]


@pytest.mark.parametrize("exchange", [e for e in _OK if _is_stream(e)], ids=lambda e: e.id)
def test_recorded_stream_through_the_pure_translator_conforms(exchange: Exchange) -> None:
    """The raw recorded bytes, fed in odd-sized pieces, make a conformant stream (failed ones too)."""
    translator = chat.ChatStreamTranslator(_provider(exchange), {"model": "m"})
    raw = (exchange.response_text or "").encode()
    events = [e for start in range(0, len(raw), 61) for e in translator.feed(raw[start : start + 61])]
    events += translator.finish()
    assert_conformant(events)
    expected = ("response.failed",) if exchange.cassette in _FAILS else ("response.completed", "response.incomplete")
    assert events[-1].type in expected


@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
def test_recorded_exchange_sync(exchange: Exchange) -> None:
    provider = _provider(exchange)
    replay = Replay(exchange, stream=_is_stream(exchange))
    client = Client(
        provider,
        api_key="k",
        api_base="https://recorded.test/v1",
        dialect="chat_completions",
        transport=httpx.MockTransport(replay.reply),
    )
    expressible = exchange.cassette not in _NOT_EXPRESSIBLE
    params = _responses_params(exchange.request_body, provider) if expressible else {"model": "m", "input": "hi"}
    if exchange.cassette in _FAILS:
        with pytest.raises(StreamError) as failed, client.responses.stream(**params) as stream:
            list(stream)
        _check_failure(failed.value)
        return
    if _is_stream(exchange):
        with client.responses.stream(**params) as stream:
            events = list(stream)
            final = stream.get_final_response()
        _check_stream(events, final)
        response = final
    else:
        response = client.responses.create(**params)
    if expressible:
        assert _normalised(json.loads(replay.sent[0].content)) == _normalised(exchange.request_body)
    _check_reply(exchange, response)


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
async def test_recorded_exchange_async(exchange: Exchange) -> None:
    provider = _provider(exchange)
    replay = Replay(exchange, stream=_is_stream(exchange))
    client = AsyncClient(
        provider,
        api_key="k",
        api_base="https://recorded.test/v1",
        dialect="chat_completions",
        transport=httpx.MockTransport(replay.areply),
    )
    expressible = exchange.cassette not in _NOT_EXPRESSIBLE
    params = _responses_params(exchange.request_body, provider) if expressible else {"model": "m", "input": "hi"}
    if exchange.cassette in _FAILS:
        with pytest.raises(StreamError) as failed:
            async with client.responses.stream(**params) as stream:
                [event async for event in stream]
        _check_failure(failed.value)
        return
    if _is_stream(exchange):
        async with client.responses.stream(**params) as stream:
            events = [event async for event in stream]
            final = await stream.get_final_response()
        _check_stream(events, final)
        response = final
    else:
        response = await client.responses.create(**params)
    if expressible:
        assert _normalised(json.loads(replay.sent[0].content)) == _normalised(exchange.request_body)
    _check_reply(exchange, response)
    await client.close()


# ------------------------------------------------------------------------------- the pure dialect


def _sse(*chunks: dict[str, Any] | str) -> bytes:
    return "".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    } | extra


def _translate(raw: bytes, *, split: int = 7) -> tuple[list[ResponseStreamEvent], chat.ChatStreamTranslator]:
    """Through the translator in ``split``-byte pieces (chunk boundaries anywhere)."""
    translator = chat.ChatStreamTranslator("groq", {"model": "m"})
    events = [e for start in range(0, len(raw), split) for e in translator.feed(raw[start : start + split])]
    return events + translator.finish(), translator


def test_interleaved_parallel_calls_stay_apart() -> None:
    raw = _sse(
        _chunk(
            {
                "role": "assistant",
                "tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "f", "arguments": ""}}],
            }
        ),
        _chunk({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": '{"y"'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x"'}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        _chunk({}, "tool_calls"),
        "[DONE]",
    )
    events, translator = _translate(raw)
    final = translator.final
    assert final is not None and final.status == "completed"
    calls = [(i.call_id, i.name, i.arguments, i.status) for i in final.output if i.type == "function_call"]
    assert calls == [("call_a", "f", '{"x": 1}', "completed"), ("call_b", "g", '{"y": 2}', "completed")]
    assert [e.output_index for e in events if e.type == "response.function_call_arguments.delta"] == [1, 0, 1, 0]
    _check_stream(events, final)


def test_reasoning_then_text_then_length_is_incomplete() -> None:
    raw = _sse(
        _chunk({"role": "assistant", "reasoning": "Think"}),
        _chunk({"reasoning": "ing."}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}, "length"),
        _chunk(
            {},
            None,
            choices=[],
            usage={
                "prompt_tokens": 5,
                "completion_tokens": 4,
                "total_tokens": 9,
                "completion_tokens_details": {"reasoning_tokens": 2},
            },
        ),
        "[DONE]",
    )
    events, translator = _translate(raw)
    final = translator.final
    assert final is not None and final.status == "incomplete"
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output_text == "Hello"
    assert final.usage is not None and final.usage.output_tokens_details is not None
    assert final.usage.output_tokens_details.reasoning_tokens == 2
    assert events[-1].type == "response.incomplete"
    _check_stream(events, final)


def test_content_filter_and_refusal() -> None:
    raw = _sse(_chunk({"role": "assistant", "refusal": "I can't"}), _chunk({}, "content_filter"), "[DONE]")
    events, translator = _translate(raw)
    final = translator.final
    assert final is not None and final.status == "incomplete"
    assert final.incomplete_details is not None and final.incomplete_details.reason == "content_filter"
    message = final.output[0]
    assert message.type == "message" and [part.type for part in message.content] == ["refusal"]
    _check_stream(events, final)


def test_a_stream_cut_before_its_end_is_not_a_response() -> None:
    events, translator = _translate(_sse(_chunk({"role": "assistant", "content": "Hel"})))
    assert not translator.done and events[-1].type == "response.output_text.delta"
    partial = translator.partial()
    assert partial is not None and partial.status == "in_progress"


def test_a_truncated_stream_raises_through_the_client() -> None:
    cut = _sse(_chunk({"role": "assistant", "content": "Hel"}))
    client = Client(
        "groq",
        api_key="k",
        dialect="chat_completions",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=cut)
        ),
    )
    with pytest.raises(StreamError, match="ended before"), client.responses.stream(model="m", input="hi") as stream:
        list(stream)


def test_a_reply_that_is_not_a_chat_completion_is_named() -> None:
    with pytest.raises(APIResponseValidationError, match="HTML page"):
        chat.parse_response(b"<html>busy</html>", provider="groq", request={"model": "m"})
    with pytest.raises(APIResponseValidationError, match="no 'choices'"):
        chat.parse_response(b'{"object": "list"}', provider="groq", request={"model": "m"})


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "input": "hi"} | fields


def _build(provider: str, **fields: Any) -> dict[str, Any]:
    wire = chat.build_create(_body(**fields), provider=provider, options=PROVIDERS[provider].chat)
    assert wire.body is not None and wire.path == "/chat/completions"
    return wire.body


def test_multi_turn_items_become_chat_turns_and_back() -> None:
    """Turn 1's output items (reasoning, text, two calls) and their outputs, as turn 2's input."""
    first = chat.parse_response(
        json.dumps(
            {
                "id": "c1",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": "Let me look.",
                            "reasoning_content": "Two lookups.",
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                                },
                                {
                                    "id": "call_2",
                                    "type": "function",
                                    "function": {"name": "time", "arguments": '{"city":"Paris"}'},
                                },
                            ],
                        },
                    }
                ],
            }
        ).encode(),
        provider="deepseek",
        request={"model": "m"},
    )
    history: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": "Weather and time in Paris?"}]
    history += [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in first.output]
    history += [
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "noon"}]},
    ]
    sent = _build("deepseek", input=history, instructions="Be brief.")["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "reasoning_content": "Two lookups.",  # same provider: replayed where it came from
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": '{"city":"Paris"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
    ]
    # Another provider never sees DeepSeek's reasoning.
    elsewhere = _build("groq", input=history)["messages"]
    assert all("reasoning_content" not in m and "reasoning" not in m for m in elsewhere)
    assert len(elsewhere) == 4


def test_request_mapping() -> None:
    body = _build(
        "mistral",
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        tool_choice="required",
        text={"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True}},
        max_output_tokens=50,
        reasoning={"effort": "high"},
        parallel_tool_calls=False,
        stream=True,
        seed=7,
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}}],
        "parallel_tool_calls": False,
        "tool_choice": "any",  # Mistral's word for required
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
        },
        "reasoning_effort": "high",
        "max_tokens": 50,
        "stream": True,
        "stream_options": {"include_usage": True},
        "seed": 7,  # a provider extra, passed through
    }
    allowed = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "g"}]}
    tools: list[dict[str, Any]] = [{"type": "function", "name": n, "parameters": {}} for n in ("f", "g")]
    narrowed = _build("groq", tools=tools, tool_choice=allowed)
    assert [t["function"]["name"] for t in narrowed["tools"]] == ["g"] and narrowed["tool_choice"] == "required"
    assert _build("openai", tool_choice={"type": "function", "name": "f"}, tools=tools)["tool_choice"] == {
        "type": "function",
        "function": {"name": "f"},
    }
    assert _build("openai", max_output_tokens=20)["max_completion_tokens"] == 20
    assert _build("openrouter", reasoning={"effort": "low", "summary": "auto"})["reasoning"] == {"effort": "low"}


_F = {"type": "function", "name": "f", "parameters": {"type": "object"}}


@pytest.mark.parametrize(
    ("fields", "location", "complaint"),
    [
        ({"tool_choice": "required"}, "tool_choice", "no function tool"),
        ({"tool_choice": {"type": "function", "name": "f"}}, "tool_choice", "no function tool"),
        ({"tools": [_F], "tool_choice": {"type": "function", "name": "g"}}, "tool_choice.name", "'g' is not one"),
        (
            {
                "tools": [_F],
                "tool_choice": {
                    "type": "allowed_tools",
                    "mode": "required",
                    "tools": [{"type": "function", "name": "g"}],
                },
            },
            "tool_choice",
            "no function tool",
        ),
    ],
)
def test_a_tool_choice_that_cannot_be_met_is_refused(fields: dict[str, Any], location: str, complaint: str) -> None:
    """Chat Completions answers 400 to tool_choice without tools; we say why before the network."""
    with pytest.raises(InvalidRequestError, match=complaint) as refused:
        _build("openai", **fields)
    assert refused.value.location == location


def test_a_tool_choice_with_nothing_to_choose_from_is_left_out() -> None:
    """none/auto without tools (or with allowed_tools naming none of them) mean the same as no choice."""
    assert "tool_choice" not in _build("openai", tool_choice="auto")
    narrowed = _build(
        "openai",
        tools=[_F],
        tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "g"}]},
    )
    assert "tools" not in narrowed and "tool_choice" not in narrowed


def test_an_empty_content_list_is_sent_as_empty_text() -> None:
    """``content: []`` is off-spec in chat (arrays need a part); the empty string says the same."""
    body = _build("openai", input=[{"type": "message", "role": "user", "content": []}])
    assert body["messages"] == [{"role": "user", "content": ""}]


@pytest.mark.parametrize(
    ("provider", "fields", "feature"),
    [
        ("sambanova", {"reasoning": {"effort": "low"}}, "reasoning.effort"),
        ("groq", {"max_tool_calls": 2}, "max_tool_calls"),
        ("groq", {"service_tier": "flex"}, "service_tier"),
        ("groq", {"input": [{"type": "web_search_call", "id": "w", "status": "completed"}]}, "web_search_call"),
        (
            "groq",
            {"input": [{"type": "message", "role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "file_id",
        ),
        ("groq", {"tools": [{"type": "custom", "name": "c"}]}, "'custom' tools"),
        (
            "openai",
            {
                "input": [
                    {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                    {
                        "type": "function_call_output",
                        "call_id": "c",
                        "output": [{"type": "input_image", "image_url": "https://x.test/a.png"}],
                    },
                ]
            },
            r"input_image in a function_call_output .*input\[1\]\.output\[0\]",
        ),
    ],
)
def test_what_chat_cannot_say_is_refused(provider: str, fields: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=feature) as refused:
        _build(provider, **fields)
    assert refused.value.provider == provider


def test_refusals_come_before_the_network() -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.url}")

    client = Client("llamacpp", dialect="chat_completions", transport=httpx.MockTransport(no_network))
    with pytest.raises(UnsupportedFeatureError, match="web_search"):
        client.responses.create(model="m", input="hi", tools=[{"type": "web_search"}])
    with pytest.raises(UnsupportedFeatureError, match="background"):
        client.responses.create(model="m", input="hi", background=True)
    with pytest.raises(NotFoundError, match="no response 'resp_1'"):  # the store answers, and has no such id
        client.responses.retrieve("resp_1")
    stateless = Client("llamacpp", dialect="chat_completions", transport=httpx.MockTransport(no_network), store=False)
    with pytest.raises(UnsupportedFeatureError, match="responses.retrieve"):
        stateless.responses.retrieve("resp_1")
    with pytest.raises(ValueError, match="speaks chat_completions only"):
        Client("cerebras", api_key="k", dialect="openai_responses")  # mistral documents a /responses too


def test_the_hot_path_event_equals_the_validated_event() -> None:
    """``_text_delta_maker`` skips validation; it must build exactly what validation builds."""
    from polyresponses.types import ResponseTextDeltaEvent

    made = chat._text_delta_maker()("msg_1", 2, "word", 9)
    validated = ResponseTextDeltaEvent.model_validate(
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 2,
            "content_index": 0,
            "delta": "word",
            "logprobs": [],
            "sequence_number": 9,
        }
    )
    assert type(made) is ResponseTextDeltaEvent
    assert made == validated
    assert made.model_fields_set == validated.model_fields_set
    assert made.__pydantic_extra__ == validated.__pydantic_extra__
    assert made.model_dump_json() == validated.model_dump_json()


# --------------------------------------------------------------- a long stream over a real socket


def _long_chat_stream(pieces: int, *, first: Literal["text", "empty"]) -> tuple[list[bytes], str]:
    """The benchmark's stream shape: ``pieces`` distinct content deltas, then stop, usage, [DONE].

    ``first="text"``: the role chunk carries the first piece too (vLLM, llama.cpp, Ollama);
    ``"empty"``: OpenAI's shape, role with ``content: ""`` first. LiteLLM's bridge was measured
    losing the first piece of such a stream (issue 4); a lost, doubled or reordered piece shows here.
    """
    words = [f" w{n}" for n in range(pieces)]
    chunks: list[dict[str, Any]] = []
    if first == "empty":
        chunks.append(_chunk({"role": "assistant", "content": ""}))
        chunks.extend(_chunk({"content": word}) for word in words)
    else:
        chunks.append(_chunk({"role": "assistant", "content": words[0]}))
        chunks.extend(_chunk({"content": word}) for word in words[1:])
    chunks.append(_chunk({}, "stop"))
    chunks.append(_chunk({}, None, choices=[], usage={"prompt_tokens": 3, "completion_tokens": pieces}))
    frames = [f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode() for chunk in chunks]
    return [*frames, b"data: [DONE]\n\n"], "".join(words)


def _serve_chat_stream(frames: list[bytes], write_size: int) -> Callable[[LoopbackExchange], None]:
    body = b"".join(frames)

    def behaviour(exchange: LoopbackExchange) -> None:
        exchange.start()
        for start in range(0, len(body), write_size):
            exchange.write(body[start : start + write_size])
        exchange.end()

    return behaviour


@pytest.mark.parametrize("first", ["text", "empty"])
@pytest.mark.parametrize("write_size", [13, 4096])
def test_a_3000_chunk_stream_loses_nothing_sync(first: Literal["text", "empty"], write_size: int) -> None:
    frames, text = _long_chat_stream(3000, first=first)
    with LoopbackServer(default=_serve_chat_stream(frames, write_size)) as server:
        stream = polyresponses.responses(
            "openai_compatible:m", "hi", api_base=server.url, api_key="k", stream=True, dialect="chat_completions"
        )
        with stream:
            events = list(stream)
            final = stream.get_final_response()
        assert urlsplit(server.requests[0].path).path == "/v1/chat/completions"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas[0] == " w0" and len(deltas) == 3000 and "".join(deltas) == text
    assert final.output_text == text and final.usage is not None and final.usage.output_tokens == 3000
    _check_stream(events, final)


@pytest.mark.anyio
@pytest.mark.parametrize("first", ["text", "empty"])
async def test_a_3000_chunk_stream_loses_nothing_async(first: Literal["text", "empty"]) -> None:
    frames, text = _long_chat_stream(3000, first=first)
    with LoopbackServer(default=_serve_chat_stream(frames, 997)) as server:
        stream = await polyresponses.aresponses(
            "openai_compatible:m", "hi", api_base=server.url, api_key="k", stream=True, dialect="chat_completions"
        )
        async with stream:
            events = [event async for event in stream]
            final = await stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas[0] == " w0" and "".join(deltas) == text == final.output_text
    _check_stream(events, final)


def _json_transport(body: dict[str, Any]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _: httpx.Response(200, json=body))


_COMPLETION = {
    "id": "c9",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hi there",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
}


def test_a_json_reply_to_a_stream_request_makes_the_whole_lifecycle_sync() -> None:
    """Some servers ignore ``stream: true``: the whole completion still streams as full, checked events."""
    client = Client("groq", api_key="k", dialect="chat_completions", transport=_json_transport(_COMPLETION))
    with client.responses.stream(model="m", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.status == "incomplete" and final.output_text == "Hi there"
    assert [item.type for item in final.output] == ["message", "function_call"]
    assert events[-1].type == "response.incomplete"
    _check_stream(events, final)


@pytest.mark.anyio
async def test_a_json_reply_to_a_stream_request_makes_the_whole_lifecycle_async() -> None:
    client = AsyncClient("groq", api_key="k", dialect="chat_completions", transport=_json_transport(_COMPLETION))
    async with client.responses.stream(model="m", input="hi") as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "Hi there"
    _check_stream(events, final)
    await client.close()


# ------------------------------------------------------- the plain-text fast path vs the full parse

_ENVELOPES = st.fixed_dictionaries(
    {"id": st.text(max_size=12), "created": st.integers(0, 2**40), "model": st.text(max_size=12)},
    optional={
        "service_tier": st.sampled_from(["default", "flex"]),
        "system_fingerprint": st.one_of(st.none(), st.text(max_size=8)),
        "usage": st.none(),
        "obfuscation": st.text(max_size=8),
    },
)


@given(
    envelope=_ENVELOPES,
    content=st.text(),
    logprobs=st.booleans(),
    ascii_only=st.booleans(),
    twist=st.sampled_from(["none", "finish", "role", "usage", "index", "extra"]),
)
def test_the_plain_text_regex_agrees_with_the_json_parse(
    envelope: dict[str, Any], content: str, logprobs: bool, ascii_only: bool, twist: str
) -> None:
    """Whatever it matches, the full parse reads as a text-only chunk with the same text; the
    chunks it must leave to the full parse (a finish reason, a role, usage, another choice, an
    unknown key) it does not match."""
    choice: dict[str, Any] = {"index": 0, "delta": {"content": content}}
    if logprobs:
        choice["logprobs"] = None
    choice["finish_reason"] = "stop" if twist == "finish" else None
    if twist == "role":
        choice["delta"] = {"role": "assistant", "content": content}
    if twist == "index":
        choice["index"] = 1
    chunk: dict[str, Any] = {"id": envelope["id"], "object": "chat.completion.chunk", "created": envelope["created"]}
    chunk["model"] = envelope["model"]
    for name in ("service_tier", "system_fingerprint"):
        if name in envelope:
            chunk[name] = envelope[name]
    chunk["choices"] = [choice]
    if "usage" in envelope or twist == "usage":
        chunk["usage"] = {"prompt_tokens": 1} if twist == "usage" else None
    if "obfuscation" in envelope:
        chunk["obfuscation"] = envelope["obfuscation"]
    if twist == "extra":
        chunk["x_vendor"] = 1
    data = json.dumps(chunk, separators=(",", ":"), ensure_ascii=ascii_only)
    match = chat._PLAIN_TEXT_CHUNK.fullmatch(data)
    assert (match is not None) == (twist == "none")
    if match is not None:
        parsed = json.loads(data)
        assert parsed["choices"] == [choice] and parsed["choices"][0]["delta"] == {"content": content}
        assert json.loads(f'"{match.group(1)}"') == content


def _all_events(raw: bytes, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    if not fast:
        monkeypatch.setattr(chat, "_PLAIN_TEXT_CHUNK", re.compile(r"(?!)"))
    translator = chat.ChatStreamTranslator("openai", {"model": "m"})
    events = [e for start in range(0, len(raw), 4096) for e in translator.feed(raw[start : start + 4096])]
    events += translator.finish()
    monkeypatch.undo()
    return [e.model_dump(mode="json", by_alias=True) for e in events]


_STREAMS = [e for e in _OK if _is_stream(e)]


@pytest.mark.parametrize("exchange", _STREAMS, ids=[e.id for e in _STREAMS])
def test_the_fast_path_changes_no_event(exchange: Exchange, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every recorded chat stream makes the very same events with and without the fast path."""
    raw = (exchange.response_text or "").encode()
    assert _all_events(raw, fast=True, monkeypatch=monkeypatch) == _all_events(raw, fast=False, monkeypatch=monkeypatch)


def test_the_fast_path_takes_the_long_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    frames, text = _long_chat_stream(300, first="text")
    escaped = [frame.replace(b" w7", b' w7\\n\\"\\u00e9') for frame in frames]
    raw = b"".join(escaped)
    fast = _all_events(raw, fast=True, monkeypatch=monkeypatch)
    assert fast == _all_events(raw, fast=False, monkeypatch=monkeypatch)
    assert "".join(e["delta"] for e in fast if e["type"] == "response.output_text.delta") == text.replace(
        " w7", ' w7\n"é'
    )
