"""The Cohere v2 dialect against every recorded ``/v2/chat`` exchange, its documented stream, and its edges.

Each recorded exchange is replayed through ``Client``/``AsyncClient`` over ``httpx.MockTransport``:
the Responses request that says what the recorded Cohere request says (``_responses_params``) must
produce that very body, and the recorded reply must become a ``Response`` whose text, tool calls,
thinking, tool plan and usage are exactly the recorded ones. The recordings hold no stream, so the
stream tests follow Cohere's documented stream ("Streaming Responses", "Streaming for tool use",
"Reasoning" guides; the ``event:``/``data:`` framing of the chat-stream reference), and every
recorded reply is also streamed as the events it equals. cohere-python's own types referee the
bodies we build, the recorded replies and the documented stream events (test-only dependency).
"""

from __future__ import annotations

import copy
import json
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest

from polyresponses import AsyncClient, Client, UnsupportedFeatureError
from polyresponses.router._core import resolve_target_parts
from polyresponses.router._errors import InvalidRequestError, MissingAPIKeyError, RateLimitError, StreamError
from polyresponses.router._providers import PROVIDERS, with_dialect
from polyresponses.router.dialects import anthropic_messages, chat_completions, cohere_v2, gemini, openai_responses
from polyresponses.types import Response, ResponseStreamEvent
from tests._recorded import Exchange, exchanges
from tests.dialects._replay import Replay, assert_conformant

_RECORDED = list(exchanges("cohere"))
_OK = [e for e in _RECORDED if e.uri == "https://api.cohere.com/v2/chat" and e.status == 200]
_KEY = "co-test-key"
_BASE = "https://recorded.test/v2"


def test_every_recorded_cohere_exchange_is_replayed() -> None:
    """Six cassettes; the one other request is the OpenAI turn of the mixed reasoning cassette."""
    assert len({e.cassette for e in _OK}) == 6 and len(_OK) == 7
    assert [e.id for e in _RECORDED if e not in _OK] == ["reasoning__test_cohere_model_thinking_part.yaml#0"]


# ----------------------------------------------------------------------- Cohere request → Responses


def _responses_params(request: dict[str, Any]) -> dict[str, Any]:
    """The Responses request that says what the recorded Cohere request says."""
    body = copy.deepcopy(request)
    body.pop("stream", None)
    params: dict[str, Any] = {"model": body.pop("model")}
    messages = body.pop("messages")
    if messages and messages[0]["role"] == "system" and isinstance(messages[0]["content"], str):
        params["instructions"] = messages.pop(0)["content"]
    params["input"] = [item for message in messages for item in _items_of(message)]
    strict = bool(body.pop("strict_tools", False))
    if "tools" in body:
        params["tools"] = [
            {
                "type": "function",
                "name": tool["function"]["name"],
                "description": tool["function"].get("description"),
                "parameters": tool["function"]["parameters"],
                "strict": strict,
            }
            for tool in body.pop("tools")
        ]
    if "tool_choice" in body:
        params["tool_choice"] = {"REQUIRED": "required", "NONE": "none"}[body.pop("tool_choice")]
    for key, name in (("max_tokens", "max_output_tokens"), ("temperature", "temperature"), ("p", "top_p")):
        if key in body:
            params[name] = body.pop(key)
    if body:
        params["extra_body"] = body
    return params


def _items_of(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    role = message["role"]
    if role == "tool":
        content = message["content"]
        output = content if isinstance(content, str) else [{"type": "input_text", "text": p["text"]} for p in content]
        yield {"type": "function_call_output", "call_id": message["tool_call_id"], "output": output}
        return
    if role != "assistant":
        content = message["content"]
        if not isinstance(content, str):
            content = [{"type": "input_text", "text": part["text"]} for part in content]
        yield {"role": role, "content": content}
        return
    texts: list[dict[str, Any]] = []
    for part in message.get("content") or []:
        if part["type"] == "thinking":
            if texts:
                yield {"role": "assistant", "content": texts}
                texts = []
            yield _reasoning("thinking", part["thinking"])
        else:
            texts.append({"type": "input_text", "text": part["text"]})  # what an input message may hold
    if texts:
        yield {"role": "assistant", "content": texts}
    if message.get("tool_plan"):
        yield _reasoning("tool_plan", message["tool_plan"])
    for call in message.get("tool_calls") or []:
        yield {
            "type": "function_call",
            "call_id": call["id"],
            "name": call["function"]["name"],
            "arguments": call["function"]["arguments"],
        }


def _reasoning(kind: cohere_v2.ReasoningKind, text: str, provider: str = "cohere") -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "encrypted_content": cohere_v2.encode_reasoning(provider, kind, text),
    }


# ---------------------------------------------------------------------------------------- replay


def _client(replay: Replay) -> Client:
    return Client("cohere", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(replay.reply))


def _check_sent(replay: Replay, exchange: Exchange) -> None:
    request = replay.sent[0]
    assert request.method == "POST" and request.url.path == "/v2/chat"
    assert request.headers["authorization"] == f"Bearer {_KEY}"
    sent = json.loads(request.content)
    assert sent == {**exchange.request_body, "stream": sent["stream"]}
    assert sent["stream"] is (request.headers["accept"] == "text/event-stream")


def _reasoning_texts(response: Response) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for item in response.output:
        if item.type == "reasoning":
            kept = cohere_v2.decode_reasoning(item.encrypted_content, "cohere")
            assert kept is not None and cohere_v2.decode_reasoning(item.encrypted_content, "groq") is None
            assert [part.text for part in item.content or []] == [kept[1]]
            found.append(kept)
    return found


def _check_response(exchange: Exchange, response: Response) -> None:
    """Text, calls (ids and argument strings), thinking, plan and usage are exactly the recorded ones."""
    reply = exchange.response_json
    message = reply["message"]
    content = message.get("content") or []
    assert response.output_text == "".join(p["text"] for p in content if p["type"] == "text")
    calls = [(i.call_id, i.name, i.arguments) for i in response.output if i.type == "function_call"]
    assert calls == [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls", [])
    ]
    expected = [("thinking", p["thinking"]) for p in content if p["type"] == "thinking"]
    if message.get("tool_plan"):
        expected.append(("tool_plan", message["tool_plan"]))
    assert _reasoning_texts(response) == expected
    assert response.status == "completed" and response.id == f"resp_{reply['id']}"
    usage = reply["usage"]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (
        usage["tokens"]["input_tokens"],
        usage["tokens"]["output_tokens"],
    )
    assert response.usage.input_tokens_details.cached_tokens == usage.get("cached_tokens", 0)
    assert response.usage.model_dump()["billed_units"] == usage["billed_units"]


def _stream_body(events: list[dict[str, Any]]) -> bytes:
    """Cohere's framing: ``event: <type>`` then the JSON ``data`` (whose ``type`` repeats it)."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
def test_recorded_exchange_sync(exchange: Exchange) -> None:
    replay = Replay(exchange, stream=False)
    with _client(replay) as client:
        response = client.responses.create(**_responses_params(exchange.request_body))
    _check_sent(replay, exchange)
    _check_response(exchange, response)


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
async def test_recorded_exchange_async(exchange: Exchange) -> None:
    replay = Replay(exchange, stream=False)
    client = AsyncClient("cohere", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(replay.areply))
    response = await client.responses.create(**_responses_params(exchange.request_body))
    await client.close()
    _check_sent(replay, exchange)
    _check_response(exchange, response)


def _stream_replay(exchange: Exchange) -> Exchange:
    body = _stream_body(cohere_v2.reply_events(exchange.response_json))
    return Exchange(**{**exchange.__dict__, "response_text": body.decode(), "response_json": None})


@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
def test_every_recorded_reply_streamed_as_its_events(exchange: Exchange) -> None:
    """The recorded reply, sent as the stream it equals: same response, a conformant stream."""
    replay = Replay(_stream_replay(exchange), stream=True)
    with _client(replay) as client, client.responses.stream(**_responses_params(exchange.request_body)) as stream:
        events = list(stream)
        response = stream.get_final_response()
    assert_conformant(events)
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == response.output_text
    _check_sent(replay, exchange)
    _check_response(exchange, response)


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
async def test_every_recorded_reply_streamed_async(exchange: Exchange) -> None:
    replay = Replay(_stream_replay(exchange), stream=True)
    client = AsyncClient("cohere", api_key=_KEY, api_base=_BASE, transport=httpx.MockTransport(replay.areply))
    async with client.responses.stream(**_responses_params(exchange.request_body)) as stream:
        events = [event async for event in stream]
        response = await stream.get_final_response()
    await client.close()
    assert_conformant(events)
    _check_sent(replay, exchange)
    _check_response(exchange, response)


def test_citations_are_kept_beside_the_response() -> None:
    """A cited reply: Cohere's citations have no Responses annotation type, so they stay in unknown_events."""
    exchange = next(e for e in _OK if e.response_json["message"].get("citations"))
    translator = cohere_v2.CohereStreamTranslator("cohere", {"model": "command-r7b-12-2024"})
    translator.whole_reply(json.dumps(exchange.response_json).encode())
    kept = [e["delta"]["message"]["citations"] for e in translator.unknown_events if e["type"] == "citation-start"]
    assert kept == exchange.response_json["message"]["citations"]
    assert translator.final is not None
    assert translator.final.output_text == exchange.response_json["message"]["content"][0]["text"]


# ------------------------------------------------------------------------------------- multi-turn


def _cassette(prefix: str) -> list[Exchange]:
    return [e for e in _OK if e.cassette.startswith(prefix)]


def test_tool_plan_and_call_given_back_rebuild_the_recorded_second_request() -> None:
    """Turn 1 (tool plan + call) given back with the tool output: the recorded second request, plus the
    plan on the assistant message (pydantic-ai left it out; Cohere's tool-use streaming guide sends it
    back). The second reply then replays as recorded."""
    first, second = _cassette("tool_call__test_tool_choice_matrix[auto-cohere]")
    with _client(Replay(first, stream=False)) as client:
        response = client.responses.create(**_responses_params(first.request_body))
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    assert [item["type"] for item in history] == ["reasoning", "function_call"]
    params = _responses_params(first.request_body)
    output = second.request_body["messages"][2]["content"]
    answer = {"type": "function_call_output", "call_id": history[1]["call_id"], "output": output}
    params["input"] = [*params["input"], *history, answer]
    replay = Replay(second, stream=False)
    with _client(replay) as client:
        final = client.responses.create(**params)
    expected = copy.deepcopy(second.request_body)
    expected["messages"][1]["tool_plan"] = first.response_json["message"]["tool_plan"]
    assert json.loads(replay.sent[0].content) == expected
    _check_response(second, final)
    # Without the plan item (as pydantic-ai sent it): the recorded body exactly.
    params["input"] = [item for item in params["input"] if item.get("type") != "reasoning"]
    wire = cohere_v2.build_create({**params, **params.pop("extra_body", {})}, provider="cohere")
    assert wire.body == second.request_body


def test_cohere_reasoning_is_left_out_for_every_other_dialect() -> None:
    """Thinking and tool plans go back to Cohere only: every other dialect leaves the items out."""
    first, _ = _cassette("tool_call__test_tool_choice_matrix[auto-cohere]")
    response = cohere_v2.parse_response(json.dumps(first.response_json).encode(), provider="cohere", request={})
    plan = first.response_json["message"]["tool_plan"]
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    call_id = history[1]["call_id"]
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "What's the weather in Paris?"},
            *history,
            {"type": "function_call_output", "call_id": call_id, "output": "Sunny"},
        ],
    }
    built = [
        anthropic_messages.build_create(body, provider="anthropic").body,
        gemini.build_create(body, provider="gemini").body,
        chat_completions.build_create(body, provider="mistral", options=PROVIDERS["mistral"].chat).body,
        openai_responses.build_create(dict(body)).body,
        cohere_v2.build_create(body, provider="another-cohere-host").body,
    ]
    for other in built:
        assert plan not in json.dumps(other) and call_id in json.dumps(other)
    assert plan in json.dumps(cohere_v2.build_create(body, provider="cohere").body)


def test_another_providers_reasoning_stays_out_and_cohere_thinking_goes_back_verbatim() -> None:
    """The mixed cassette: OpenAI's turn (reasoning summaries) then Cohere's. pydantic-ai sent OpenAI's
    summaries to Cohere as thinking; we leave another provider's reasoning out, so the second request
    is the recorded one without that part. Cohere's own thinking, given back, is sent verbatim."""
    openai_turn, cohere_turn = (e for e in _RECORDED if e.cassette.startswith("reasoning__"))
    openai = Client(
        "openai",
        api_key="sk-test",
        api_base="https://recorded.test/v1",
        transport=httpx.MockTransport(Replay(openai_turn, stream=False).reply),
    )
    first = openai.responses.create(**openai_turn.request_body)
    assert [item.type for item in first.output] == ["reasoning", "message"]
    recorded = cohere_turn.request_body
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in first.output]
    params = {"model": recorded["model"], "input": [recorded["messages"][0], *history, recorded["messages"][2]]}
    replay = Replay(cohere_turn, stream=False)
    with _client(replay) as client:
        second = client.responses.create(**params)
    expected = copy.deepcopy(recorded)
    thinking = expected["messages"][1]["content"].pop(0)
    assert thinking["type"] == "thinking" and str(thinking["thinking"]).startswith(
        "**Exploring street crossing safety**"
    )
    assert json.loads(replay.sent[0].content) == expected
    # Cohere's reply given back: its thinking part exactly, before its text, in one assistant message.
    again = [*params["input"], *(item.model_dump(by_alias=True, exclude_none=True) for item in second.output)]
    wire = cohere_v2.build_create(
        {"model": recorded["model"], "input": [*again, {"role": "user", "content": "Thanks"}]}, provider="cohere"
    )
    assert wire.body is not None
    assert wire.body["messages"][3] == {"role": "assistant", "content": cohere_turn.response_json["message"]["content"]}


# -------------------------------------------------------------------------- the documented stream

_DOCUMENTED_STREAM: list[dict[str, Any]] = [
    # "Streaming for tool use": message-start with the empty message; "Reasoning": thinking content deltas.
    {
        "id": "fba98ad3-e5a1-413c-a8de-84fbf9baabf7",
        "type": "message-start",
        "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}},
    },
    {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "Two cities, "}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "two calls."}}}},
    {"type": "content-end", "index": 0},
    {"type": "content-start", "index": 1, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "It is 24°C"}}}, "logprobs": None},
    {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": " in Madrid."}}}},
    {
        "type": "citation-start",
        "index": 0,
        "delta": {
            "message": {
                "citations": {
                    "start": 6,
                    "end": 10,
                    "text": "24°C",
                    "sources": [
                        {"type": "tool", "id": "get_weather_m3kdvxncg1p8:0", "tool_output": {"temperature": "24°C"}}
                    ],
                    "type": "TEXT_CONTENT",
                }
            }
        },
    },
    {"type": "citation-end", "index": 0},
    {"type": "content-end", "index": 1},
    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will search for the weather"}}},
    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": " in Brasilia."}}},
    {
        "type": "tool-call-start",
        "index": 0,
        "delta": {
            "message": {
                "tool_calls": {
                    "id": "get_weather_p1t92w7gfgq7",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            }
        },
    },
    {
        "type": "tool-call-delta",
        "index": 0,
        "delta": {"message": {"tool_calls": {"function": {"arguments": '{\n    "'}}}},
    },
    {
        "type": "tool-call-delta",
        "index": 0,
        "delta": {"message": {"tool_calls": {"function": {"arguments": "location"}}}},
    },
    {
        "type": "tool-call-delta",
        "index": 0,
        "delta": {"message": {"tool_calls": {"function": {"arguments": '": "Brasilia"\n}'}}}},
    },
    {"type": "tool-call-end", "index": 0},
    {
        "type": "message-end",
        "delta": {
            "finish_reason": "TOOL_CALL",
            "usage": {
                "billed_units": {"input_tokens": 37.0, "output_tokens": 28.0},
                "tokens": {"input_tokens": 913.0, "output_tokens": 83.0},
            },
        },
    },
]
"""One stream with every documented event: thinking, text with a citation, a tool plan, a tool call
(shapes and values from the "Streaming for tool use" and "Reasoning" guides; ``event:`` lines as the
chat-stream reference frames them)."""


def _translate(raw: bytes, split: int = 7) -> tuple[list[ResponseStreamEvent], cohere_v2.CohereStreamTranslator]:
    translator = cohere_v2.CohereStreamTranslator("cohere", {"model": "command-a-reasoning-08-2025"})
    events = [e for start in range(0, len(raw), split) for e in translator.feed(raw[start : start + split])]
    return events + translator.finish(), translator


def _check_documented(events: list[ResponseStreamEvent], final: Response | None) -> None:
    assert_conformant(events)
    assert final is not None and final.status == "completed" and final.id == "resp_fba98ad3-e5a1-413c-a8de-84fbf9baabf7"
    assert [item.type for item in final.output] == ["reasoning", "message", "reasoning", "function_call"]
    assert _reasoning_texts(final) == [
        ("thinking", "Two cities, two calls."),
        ("tool_plan", "I will search for the weather in Brasilia."),
    ]
    assert final.output_text == "It is 24°C in Madrid."
    call = final.output[3]
    assert call.type == "function_call" and call.call_id == "get_weather_p1t92w7gfgq7" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "Brasilia"}
    assert "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta") == call.arguments
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (913, 83)
    assert final.usage.model_dump()["billed_units"] == {"input_tokens": 37, "output_tokens": 28}


def test_the_documented_stream_is_translated() -> None:
    events, translator = _translate(_stream_body(_DOCUMENTED_STREAM))
    _check_documented(events, translator.final)
    assert [e["type"] for e in translator.unknown_events] == ["citation-start", "citation-end"]


def _stream_client(raw: bytes) -> Client:
    reply = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)
    return Client("cohere", api_key=_KEY, transport=httpx.MockTransport(lambda _: reply))


def test_the_documented_stream_through_the_clients() -> None:
    raw = _stream_body(_DOCUMENTED_STREAM)
    with (
        _stream_client(raw) as client,
        client.responses.stream(model="command-a-reasoning-08-2025", input="hi") as stream,
    ):
        events = list(stream)
        final = stream.get_final_response()
    _check_documented(events, final)


@pytest.mark.anyio
async def test_the_documented_stream_through_the_async_client() -> None:
    raw = _stream_body(_DOCUMENTED_STREAM)
    reply = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return reply

    client = AsyncClient("cohere", api_key=_KEY, transport=httpx.MockTransport(handler))
    async with client.responses.stream(model="command-a-reasoning-08-2025", input="hi") as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    await client.close()
    _check_documented(events, final)


def _text_stream(finish: str, **end: Any) -> bytes:
    return _stream_body(
        [
            {"type": "message-start", "id": "m1"},
            {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
            {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}},
            {"type": "content-end", "index": 0},
            {"type": "message-end", "delta": {"finish_reason": finish, **end}},
        ]
    )


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("COMPLETE", "completed", None),
        ("STOP_SEQUENCE", "completed", None),
        ("TOOL_CALL", "completed", None),
        ("MAX_TOKENS", "incomplete", "max_output_tokens"),
        ("ERROR", "failed", "(ERROR)"),
        ("TIMEOUT", "failed", "timed out"),
    ],
)
def test_finish_reasons(reason: str, status: str, detail: str | None) -> None:
    events, translator = _translate(_text_stream(reason))
    final = translator.final
    assert final is not None and final.status == status and final.output_text == "Hi"
    assert_conformant(events)
    if status == "failed":
        error = translator.error_for(events[-1])
        assert isinstance(error, StreamError) and detail is not None and detail in str(error)
        assert error.partial is not None and error.partial.output_text == "Hi"
    else:
        assert (final.incomplete_details.reason if final.incomplete_details else None) == detail
        assert [item.model_dump()["status"] for item in final.output] == ["incomplete" if detail else "completed"]


def test_an_error_at_message_end_fails_the_stream_with_the_partial_response() -> None:
    raw = _text_stream("COMPLETE", error="model overloaded")
    events, translator = _translate(raw)
    assert events[-1].type == "response.failed" and "model overloaded" in str(translator.error_for(events[-1]))
    with (
        pytest.raises(StreamError, match="model overloaded"),
        _stream_client(raw).responses.stream(model="command-a-03-2025", input="hi") as stream,
    ):
        list(stream)


def test_a_stream_without_message_end_stays_open() -> None:
    raw = _text_stream("COMPLETE").split(b"event: message-end")[0]
    events, translator = _translate(raw)
    assert translator.final is None and events[-1].type == "response.output_text.delta"
    partial = translator.partial()
    assert partial is not None and partial.status == "in_progress" and partial.output_text == "Hi"


# ------------------------------------------------------------------------------------- the request


def test_request_mapping() -> None:
    wire = cohere_v2.build_create(
        {
            "model": "command-a-vision-07-2025",
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": [{"type": "input_text", "text": "No emojis."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                        {"type": "input_image", "image_url": "https://x.test/a.jpg", "detail": "auto"},
                        {"type": "input_text", "text": "What is it?"},
                    ],
                },
                _reasoning("thinking", "A cat?"),
                {"role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                _reasoning("tool_plan", "I will look it up."),
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
                {"type": "function_call", "call_id": "c2", "name": "f", "arguments": '{"a": 2}'},
                {"type": "function_call_output", "call_id": "c1", "output": "cat"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "dog"}]},
            ],
            "tools": [
                {"type": "function", "name": "f", "description": "F.", "parameters": {"type": "object"}, "strict": True}
            ],
            "tool_choice": "required",
            "reasoning": {"effort": "low", "summary": "auto"},
            "max_output_tokens": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "safety_identifier": "user-1",
            "k": 5,
            "seed": 7,
            "stop_sequences": ["END"],
        },
        provider="cohere",
    )
    assert (wire.method, wire.path, wire.params, wire.stream) == ("POST", "/chat", {}, False)
    assert wire.body == {
        "model": "command-a-vision-07-2025",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "No emojis."}]},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg", "detail": "auto"}},
                    {"type": "text", "text": "What is it?"},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "A cat?"}, {"type": "text", "text": "Checking."}],
                "tool_plan": "I will look it up.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "f", "arguments": '{"a": 2}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "cat"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "dog"}]},
        ],
        "stream": False,
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "F.", "parameters": {"type": "object"}}}
        ],
        "strict_tools": True,
        "tool_choice": "REQUIRED",
        "thinking": {"type": "enabled", "token_budget": 2048},
        "max_tokens": 100,
        "temperature": 0.5,
        "p": 0.9,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "k": 5,
        "seed": 7,
        "stop_sequences": ["END"],
    }
    streamed = cohere_v2.build_create(
        {
            "model": "m",
            "input": "hi",
            "stream": True,
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        },
        provider="cohere",
    )
    assert streamed.stream and streamed.body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
    }


@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("none", {"type": "disabled"}),
        ("minimal", {"type": "enabled", "token_budget": 1024}),
        ("medium", {"type": "enabled", "token_budget": 8192}),
        ("high", {"type": "enabled", "token_budget": 16384}),
        ("xhigh", {"type": "enabled"}),
    ],
)
def test_reasoning_effort_is_thinking(effort: str, thinking: dict[str, Any]) -> None:
    body = cohere_v2.build_create(
        {"model": "m", "input": "hi", "reasoning": {"effort": effort}}, provider="cohere"
    ).body
    assert body is not None and body["thinking"] == thinking


@pytest.mark.parametrize(
    ("choice", "mapped", "offered"),
    [
        ("auto", None, ["f", "g"]),
        ("required", "REQUIRED", ["f", "g"]),
        ("none", "NONE", ["f", "g"]),
        (
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "g"}]},
            "REQUIRED",
            ["g"],
        ),
        ({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "g"}]}, None, ["g"]),
    ],
)
def test_tool_choice(choice: Any, mapped: str | None, offered: list[str]) -> None:
    tools = [{"type": "function", "name": name, "strict": False} for name in ("f", "g")]
    body = cohere_v2.build_create(
        {"model": "m", "input": "hi", "tools": tools, "tool_choice": choice}, provider="cohere"
    ).body
    assert body is not None and body.get("tool_choice") == mapped
    assert [tool["function"]["name"] for tool in body["tools"]] == offered
    assert all(tool["function"]["parameters"] == {"type": "object", "properties": {}} for tool in body["tools"])


def test_forcing_the_only_offered_function_is_required() -> None:
    """Cohere cannot name a tool; with one tool offered, REQUIRED says exactly that."""
    tools = [{"type": "function", "name": "f", "strict": False}]
    choice = {"type": "function", "name": "f"}
    body = cohere_v2.build_create(
        {"model": "m", "input": "hi", "tools": tools, "tool_choice": choice}, provider="cohere"
    ).body
    assert body is not None and body["tool_choice"] == "REQUIRED"


_TWO_TOOLS = [{"type": "function", "name": "f"}, {"type": "function", "name": "g"}]


@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        ({"tools": _TWO_TOOLS, "tool_choice": {"type": "function", "name": "g"}}, "forcing the function 'g'"),
        ({"tools": [{"type": "web_search"}]}, "'web_search' tools"),
        (
            {
                "tools": [
                    {"type": "function", "name": "f", "strict": True},
                    {"type": "function", "name": "g", "strict": False},
                ]
            },
            "strict on some",
        ),
        (
            {"tools": [{"type": "function", "name": "f"}], "text": {"format": {"type": "json_object"}}},
            "together with tools",
        ),
        ({"documents": ["a text"], "text": {"format": {"type": "json_object"}}}, "together with documents"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"max_tool_calls": 2}, "max_tool_calls"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"text": {"verbosity": "low"}}, "verbosity"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"input": [{"type": "web_search_call", "id": "w", "status": "completed"}]}, "web_search_call"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, "file_id"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x.test/a.pdf"}]}]},
            "input_file",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}]}]},
            "input_image",
        ),
        (
            {
                "input": [
                    {
                        "type": "function_call_output",
                        "call_id": "c",
                        "output": [{"type": "input_image", "image_url": "u"}],
                    }
                ]
            },
            "input_image in a function_call_output",
        ),
    ],
)
def test_what_cohere_cannot_say_is_refused(fields: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=feature) as refused:
        cohere_v2.build_create({"model": "m", "input": "hi", **fields}, provider="cohere")
    assert refused.value.provider == "cohere"


def test_invalid_requests_name_the_field() -> None:
    with pytest.raises(InvalidRequestError, match="tool_choice.name"):
        cohere_v2.build_create(
            {"model": "m", "input": "hi", "tools": _TWO_TOOLS, "tool_choice": {"type": "function", "name": "h"}},
            provider="cohere",
        )
    with pytest.raises(InvalidRequestError, match="no function tool is offered"):
        cohere_v2.build_create({"model": "m", "input": "hi", "tool_choice": "required"}, provider="cohere")
    with pytest.raises(InvalidRequestError, match="max_tokens"):
        cohere_v2.build_create(
            {"model": "m", "input": "hi", "max_output_tokens": 5, "max_tokens": 6}, provider="cohere"
        )


def test_refusals_come_before_the_network() -> None:
    def no_network(_: httpx.Request) -> httpx.Response:
        raise AssertionError("sent")

    client = Client("cohere", api_key="k", transport=httpx.MockTransport(no_network), store=False)
    for fields in (
        {"tools": _TWO_TOOLS, "tool_choice": {"type": "function", "name": "g"}},
        {"tools": [{"type": "file_search", "vector_store_ids": ["v"]}]},
        {"background": True},
        {"previous_response_id": "resp_1"},
        {"store": True},
        {"top_logprobs": 2},
        {"parallel_tool_calls": False},
    ):
        with pytest.raises(UnsupportedFeatureError):
            client.responses.create(model="command-a-03-2025", input="hi", **fields)
    with pytest.raises(UnsupportedFeatureError, match="input_tokens"):
        client.responses.input_tokens.count(model="command-a-03-2025", input="hi")
    with pytest.raises(ValueError, match="speaks cohere_v2 only"):
        with_dialect(PROVIDERS["cohere"], "chat_completions")


def test_the_key_variable_is_co_api_key_then_cohere_api_key() -> None:
    row = PROVIDERS["cohere"]
    base, headers, _ = resolve_target_parts(row, None, None, {"CO_API_KEY": "co-1"})
    assert base == "https://api.cohere.com/v2" and headers == {"Authorization": "Bearer co-1"}
    _, fallback, _ = resolve_target_parts(row, None, None, {"COHERE_API_KEY": "co-2"})
    assert fallback == {"Authorization": "Bearer co-2"}
    _, both, _ = resolve_target_parts(row, None, None, {"CO_API_KEY": "co-1", "COHERE_API_KEY": "co-2"})
    assert both == {"Authorization": "Bearer co-1"}
    with pytest.raises(MissingAPIKeyError, match="CO_API_KEY"):
        resolve_target_parts(row, None, None, {})


def test_a_429_is_a_rate_limit_error_with_cohere_message() -> None:
    reply = httpx.Response(429, json={"id": "e1", "message": "You are using a Trial key, which is limited"})
    client = Client("cohere", api_key=_KEY, max_retries=0, transport=httpx.MockTransport(lambda _: reply))
    with pytest.raises(RateLimitError, match="Trial key") as caught:
        client.responses.create(model="command-a-03-2025", input="hi")
    assert _KEY not in str(caught.value)


# ------------------------------------------------------------ cohere-python's own types as the referee

_STREAM_KEYS = {"stream"}


def _no_extras(value: Any, where: str = "body") -> None:
    """cohere-python's models allow unknown fields: check that none were needed."""
    if isinstance(value, pydantic.BaseModel):
        assert not value.model_extra, f"{where}: fields cohere-python does not know: {sorted(value.model_extra)}"
        for name in type(value).model_fields:
            _no_extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list | tuple):
        for index, entry in enumerate(value):
            _no_extras(entry, f"{where}[{index}]")


def _literals(annotation: Any) -> set[Any]:
    """The literal values of an ``Optional[Union[Literal[...], Any]]`` (cohere-python's open enums)."""
    found: set[Any] = set()
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            found |= set(typing.get_args(arg))
    return found


def _validate_request(body: dict[str, Any]) -> None:
    """A body we build, field by field, against the parameters of cohere-python's ``V2Client.chat``."""
    client = pytest.importorskip("cohere.v2.client")
    hints = typing.get_type_hints(client.V2Client.chat, include_extras=True)
    parameters = set(hints) - {"return", "request_options"}
    assert set(body) <= parameters | _STREAM_KEYS, set(body) - parameters
    assert isinstance(body["stream"], bool)
    for name, value in body.items():
        if name in _STREAM_KEYS:
            continue
        annotation = hints[name]
        literals = _literals(annotation)
        if literals:
            assert value in literals, (name, value)
            continue
        _no_extras(pydantic.TypeAdapter(annotation).validate_python(value), name)


def _built_bodies() -> Iterator[tuple[str, dict[str, Any]]]:
    for exchange in _OK:
        params = _responses_params(exchange.request_body)
        wire = cohere_v2.build_create({**params, **params.pop("extra_body", {})}, provider="cohere")
        assert wire.body is not None
        yield exchange.id, wire.body


_BUILT = list(_built_bodies())


@pytest.mark.parametrize("body", [body for _, body in _BUILT], ids=[name for name, _ in _BUILT])
def test_every_body_we_build_validates_against_cohere_python(body: dict[str, Any]) -> None:
    _validate_request(body)


def test_the_mapped_features_validate_against_cohere_python() -> None:
    """Everything the request mapping can produce, including what no cassette shows."""
    body = cohere_v2.build_create(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": [{"type": "input_text", "text": "No emojis."}]},
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "https://x.test/a.png", "detail": "high"}],
                },
                _reasoning("thinking", "hm"),
                {"role": "assistant", "content": "Looking."},
                _reasoning("tool_plan", "I will call f."),
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
                {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "ok"}]},
            ],
            "tools": [
                {"type": "function", "name": "f", "description": "F.", "parameters": {"type": "object"}, "strict": True}
            ],
            "tool_choice": "none",
            "reasoning": {"effort": "medium"},
            "max_output_tokens": 10,
            "temperature": 1.0,
            "top_p": 0.5,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.5,
            "safety_mode": "STRICT",
            "citation_options": {"mode": "FAST"},
            "priority": 1,
        },
        provider="cohere",
    ).body
    assert body is not None
    _validate_request(body)
    formatted = cohere_v2.build_create(
        {
            "model": "m",
            "input": "hi",
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        },
        provider="cohere",
    ).body
    assert formatted is not None
    _validate_request(formatted)
    with pytest.raises(AssertionError, match="does not know"):  # the referee does referee
        _validate_request({"model": "m", "stream": False, "messages": [{"role": "user", "content": "x", "bogus": 1}]})


@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
def test_every_recorded_reply_validates_against_cohere_python(exchange: Exchange) -> None:
    """The fixtures are what Cohere's own types say a chat reply is."""
    types = pytest.importorskip("cohere.v2.types")
    _no_extras(types.V2ChatResponse.model_validate(exchange.response_json), "reply")


def test_the_documented_stream_validates_against_cohere_python() -> None:
    """Our stream fixture, event by event, is what Cohere's own stream types say (no unknown field)."""
    types = pytest.importorskip("cohere.v2.types")
    adapter = pydantic.TypeAdapter(types.V2ChatStreamResponse)
    for event in _DOCUMENTED_STREAM:
        parsed = adapter.validate_python(event)
        assert parsed.type == event["type"]
        if event["type"] == "message-start":
            # The guide's message-start carries the empty message; cohere-python types only its role.
            message = parsed.delta.message
            assert set(message.model_extra or {}) == {"content", "tool_plan", "tool_calls", "citations"}
            continue
        _no_extras(parsed, event["type"])
    for exchange in _OK:  # and the events a whole reply is read as
        for event in cohere_v2.reply_events(exchange.response_json):
            _no_extras(adapter.validate_python(event), f"{exchange.id}: {event['type']}")
