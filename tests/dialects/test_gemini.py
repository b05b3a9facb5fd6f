"""The Gemini dialect against every recorded ``generateContent`` exchange, and its edges.

Each recorded exchange is replayed through ``Client``/``AsyncClient`` over ``httpx.MockTransport``:
the Responses request that says what the recorded Gemini request says (``_responses_params``) must
produce that very body (after :func:`_normalised`: proto-JSON snake_case spellings camelCased, the
empty ``generationConfig`` and ``systemInstruction.role`` dropped), and the recorded reply or stream
must become a ``Response`` whose text, calls, thoughts and thought signatures are exactly the
recorded ones, through a stream that passes the conformance checker. Then the two-turn thought
signature round trip against the recorded second request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from polyresponses import AsyncClient, Client, MemoryStore, NotFoundError, UnsupportedFeatureError
from polyresponses.router._errors import APIError, InvalidRequestError, RateLimitError, StreamError
from polyresponses.router.dialects import gemini
from polyresponses.types import Response, ResponseStreamEvent
from tests._recorded import Exchange, exchanges, sse_data
from tests.dialects._replay import Replay, assert_conformant

_CALLS = [
    e
    for e in exchanges("gemini")
    if e.method == "POST" and e.uri.split("?")[0].endswith(("generateContent", "GenerateContent"))
]
_OK = [e for e in _CALLS if e.status == 200]
_ERRORS = [e for e in _CALLS if e.status != 200]
_KEY = "gm-test-key"


def _is_stream(exchange: Exchange) -> bool:
    return ":streamGenerateContent" in exchange.uri


_INEXPRESSIBLE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "builtin tools (googleSearch, fileSearch, urlContext): refused over this dialect": lambda r: any(
        set(tool) != {"functionDeclarations"} for tool in r.get("tools", [])
    ),
    "OpenAPI-style `parameters` (type OBJECT/STRING): we send JSON Schema as parametersJsonSchema": lambda r: any(
        "parameters" in d for tool in r.get("tools", []) for d in tool.get("functionDeclarations", [])
    ),
    "toolConfig beyond functionCallingConfig (includeServerSideToolInvocations)": lambda r: (
        set(r.get("toolConfig", {})) - {"functionCallingConfig"}
    ),
    "fileData mimeType the URL does not say (a YouTube link sent as video/mp4)": lambda r: any(
        "youtu" in str(part.get("fileData", {})) for content in r["contents"] for part in content["parts"]
    ),
}
"""Why a recorded request cannot be written as a Responses request (its reply is still replayed)."""


def _expressible(request: dict[str, Any]) -> str | None:
    return next((why for why, test in _INEXPRESSIBLE.items() if test(request)), None)


# ----------------------------------------------------------------------- Gemini request → Responses


def _responses_params(request: dict[str, Any]) -> dict[str, Any]:
    """The Responses request that says what the recorded Gemini request says (model from the caller)."""
    body = _normalised(request)
    params: dict[str, Any] = {}
    system = body.pop("systemInstruction", None)
    if system:
        params["instructions"] = "".join(part["text"] for part in system["parts"])
    params["input"] = [item for content in body.pop("contents") for item in _items_of(content)]
    if "tools" in body:
        params["tools"] = [
            {
                "type": "function",
                "name": d["name"],
                "description": d.get("description"),
                "parameters": d.get("parametersJsonSchema"),
            }
            for tool in body.pop("tools")
            for d in tool["functionDeclarations"]
        ]
    if "toolConfig" in body:
        config = body.pop("toolConfig")["functionCallingConfig"]
        mode, names = config["mode"], config.get("allowedFunctionNames")
        if names:
            assert mode == "ANY"
            params["tool_choice"] = {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": name} for name in names],
            }
        else:
            params["tool_choice"] = {"AUTO": "auto", "ANY": "required", "NONE": "none"}[mode]
    config = body.pop("generationConfig", {})
    for key, name in (("maxOutputTokens", "max_output_tokens"), ("temperature", "temperature"), ("topP", "top_p")):
        if key in config:
            params[name] = config.pop(key)
    if config.get("responseMimeType") == "application/json":
        del config["responseMimeType"]
        if "responseJsonSchema" in config:
            schema = config.pop("responseJsonSchema")
            params["text"] = {"format": {"type": "json_schema", "name": "output", "schema": schema}}
        else:
            params["text"] = {"format": {"type": "json_object"}}
    if config:
        body["generationConfig"] = config  # responseModalities, thinkingConfig as sent: merged extras
    if body:
        params["extra_body"] = body  # cachedContent, ...: passed through
    return params


def _items_of(content: dict[str, Any]) -> Iterator[dict[str, Any]]:
    role = "assistant" if content["role"] == "model" else "user"
    texts: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        if texts:
            yield {"type": "message", "role": role, "content": list(texts)}
            texts.clear()

    for part in content["parts"]:
        signature = part.get("thoughtSignature")
        if part.get("thought") or (
            signature is not None and set(part) <= {"text", "thoughtSignature"} and not part.get("text")
        ):
            yield from flush()
            yield _reasoning({"parts": [part]})
        elif "functionCall" in part:
            yield from flush()
            if signature is not None:
                yield _reasoning({"signature": signature})
            call = part["functionCall"]
            yield {
                "type": "function_call",
                "call_id": call["id"],
                "name": call["name"],
                "arguments": json.dumps(call.get("args", {})),
            }
        elif "functionResponse" in part:
            yield from flush()
            response = part["functionResponse"]
            yield {
                "type": "function_call_output",
                "call_id": response["id"],
                "output": json.dumps(response["response"]),
            }
        elif "text" in part:
            if signature is not None:
                yield from flush()
                yield _reasoning({"signature": signature})
                texts.append({"type": "input_text", "text": part["text"]})
                yield from flush()
            else:
                texts.append({"type": "input_text", "text": part["text"]})
        elif "inlineData" in part:
            data = part["inlineData"]
            url = f"data:{data['mimeType']};base64,{data['data']}"
            if data["mimeType"].startswith("image/"):
                texts.append({"type": "input_image", "image_url": url, "detail": "auto"})
            else:
                texts.append({"type": "input_file", "file_data": url})
        elif "fileData" in part:
            data = part["fileData"]
            if data.get("mimeType", "").startswith("image/"):
                texts.append({"type": "input_image", "image_url": data["fileUri"], "detail": "auto"})
            else:
                texts.append({"type": "input_file", "file_url": data["fileUri"]})
        else:
            raise AssertionError(f"no Responses item for {part!r}")
    yield from flush()


def _reasoning(kept: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "encrypted_content": gemini.encode_signature("gemini", kept),
    }


_CAMEL = {
    "parameters_json_schema": "parametersJsonSchema",
    "file_uri": "fileUri",
    "mime_type": "mimeType",
    "include_thoughts": "includeThoughts",
    "thinking_budget": "thinkingBudget",
}


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    """Proto JSON takes snake_case and camelCase alike: camelCase the spellings pydantic-ai mixed in,
    only where they are field names (never inside schemas, args or responses)."""
    body = json.loads(json.dumps(body))
    if body.get("generationConfig") == {}:
        del body["generationConfig"]
    if "systemInstruction" in body:
        body["systemInstruction"].pop("role", None)
    for tool in body.get("tools", []):
        for declaration in tool.get("functionDeclarations", []):
            _camel(declaration)
    thinking = body.get("generationConfig", {}).get("thinkingConfig")
    if thinking is not None:
        _camel(thinking)
    for content in body.get("contents", []):
        for part in content["parts"]:
            if "fileData" in part:
                _camel(part["fileData"])
    return body


def _camel(fields: dict[str, Any]) -> None:
    for snake, camel in _CAMEL.items():
        if snake in fields:
            fields[camel] = fields.pop(snake)


# ---------------------------------------------------------------------------------------- replay


def _model(exchange: Exchange) -> str:
    return exchange.uri.split("/models/")[1].split(":")[0]


def _chunks(exchange: Exchange) -> list[dict[str, Any]]:
    if not _is_stream(exchange):
        return [exchange.response_json]
    return [json.loads(data) for data in sse_data(exchange.response_text or "")]


def _recorded_parts(exchange: Exchange) -> list[dict[str, Any]]:
    return [
        part
        for chunk in _chunks(exchange)
        for candidate in chunk.get("candidates", [])
        for part in (candidate.get("content") or {}).get("parts", [])
    ]


def _signatures(response: Response, provider: str = "gemini") -> list[str]:
    found: list[str] = []
    for item in response.output:
        if item.type != "reasoning":
            continue
        kept = gemini.decode_signature(item.encrypted_content, provider)
        assert kept is not None
        if "signature" in kept:
            found.append(kept["signature"])
        found += [part["thoughtSignature"] for part in kept.get("parts", []) if "thoughtSignature" in part]
    return found


def _check_response(exchange: Exchange, response: Response) -> None:
    """Text, calls, thoughts and every signature are exactly what the recorded reply holds."""
    parts = _recorded_parts(exchange)
    mapped = [p for p in parts if set(p) <= {"text", "thought", "thoughtSignature", "functionCall"}]
    assert response.output_text == "".join(p["text"] for p in mapped if "text" in p and not p.get("thought"))
    calls = [(i.call_id, i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"]
    recorded_calls = [p["functionCall"] for p in parts if "functionCall" in p]
    assert [(name, args) for _, name, args in calls] == [(c["name"], c.get("args", {})) for c in recorded_calls]
    assert all(c.get("id") in (None, call[0]) for c, call in zip(recorded_calls, calls, strict=True))
    thoughts = "".join(p["text"] for p in parts if p.get("thought"))
    reasoning_text = "".join(c.text for item in response.output if item.type == "reasoning" for c in item.content or [])
    assert reasoning_text == thoughts
    assert _signatures(response) == [p["thoughtSignature"] for p in mapped if "thoughtSignature" in p]
    assert all(
        item.type != "reasoning" or gemini.decode_signature(item.encrypted_content, "groq") is None
        for item in response.output
    )
    assert response.status == "completed"
    usage = _chunks(exchange)[-1]["usageMetadata"]
    assert response.usage is not None and response.usage.total_tokens == usage["totalTokenCount"]
    details = response.usage.output_tokens_details
    assert details is not None and details.reasoning_tokens == usage.get("thoughtsTokenCount", 0)


def _client(replay: Replay) -> Client:
    return Client(
        "gemini", api_key=_KEY, api_base="https://recorded.test/v1beta", transport=httpx.MockTransport(replay.reply)
    )


def _check_sent(replay: Replay, exchange: Exchange) -> None:
    request = replay.sent[0]
    method = "streamGenerateContent" if _is_stream(exchange) else "generateContent"
    assert request.url.path == f"/v1beta/models/{_model(exchange)}:{method}"
    assert dict(request.url.params) == ({"alt": "sse"} if _is_stream(exchange) else {})
    assert request.headers["x-goog-api-key"] == _KEY and "authorization" not in request.headers
    if _expressible(exchange.request_body) is None:
        assert _normalised(json.loads(request.content)) == _normalised(exchange.request_body)


def _params(exchange: Exchange) -> dict[str, Any]:
    params = {"input": "hi"}
    if _expressible(exchange.request_body) is None:
        params = _responses_params(exchange.request_body)
    return {"model": _model(exchange), **params}


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
        "gemini", api_key=_KEY, api_base="https://recorded.test/v1beta", transport=httpx.MockTransport(replay.areply)
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
    assert message in str(caught.value) and _KEY not in str(caught.value)
    assert getattr(caught.value, "status_code", None) == exchange.status


# ------------------------------------------------------------------------------- thought signatures


def _standard_base64(value: str) -> str:
    """pydantic-ai re-encoded the signatures it sent back in the urlsafe alphabet; Gemini sent standard."""
    return base64.b64encode(base64.urlsafe_b64decode(value)).decode()


def test_thought_signature_round_trip_matches_the_recorded_second_request() -> None:
    """Turn 1 (a signed functionCall, streamed) given back with the tool output: the second request
    carries the signature on that functionCall part, as in the recorded second request (compared
    after normalising the base64 alphabet, which pydantic-ai changed to urlsafe)."""
    cassette = "tool_call_stream__test_google_streaming_tool_call_thought_signature.yaml"
    first, second = (e for e in _OK if e.cassette == cassette)
    replay = Replay(first, stream=_is_stream(first))
    with _client(replay) as client, client.responses.stream(**_params(first)) as stream:
        list(stream)
        response = stream.get_final_response()
    call = next(item for item in response.output if item.type == "function_call")
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    assert [item["type"] for item in history] == ["reasoning", "function_call"]  # the signature rides before
    recorded_output = second.request_body["contents"][2]["parts"][0]["functionResponse"]["response"]
    second_input = [
        *_responses_params(first.request_body)["input"],
        *history,
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(recorded_output)},
    ]
    params = {"model": _model(first), "input": second_input, "stream": True, "tools": _params(first)["tools"]}
    wire = gemini.build_create({**params, "generationConfig": {"responseModalities": ["TEXT"]}}, provider="gemini")
    assert wire.body is not None and wire.path == f"/models/{_model(first)}:streamGenerateContent"
    expected = _normalised(second.request_body)
    recorded_id = expected["contents"][1]["parts"][0]["functionCall"]["id"]  # pydantic-ai's own id
    for content in expected["contents"]:
        for part in content["parts"]:
            for key in ("functionCall", "functionResponse"):
                if key in part and part[key]["id"] == recorded_id:
                    part[key]["id"] = call.call_id  # Gemini sent no id: ours is generated
            if "thoughtSignature" in part:
                part["thoughtSignature"] = _standard_base64(part["thoughtSignature"])
    assert _normalised(wire.body) == expected
    signed = wire.body["contents"][1]["parts"][0]
    assert set(signed) == {"functionCall", "thoughtSignature"}
    assert signed["thoughtSignature"] == _recorded_parts(first)[0]["thoughtSignature"]  # byte for byte
    # Given to another provider, the signature is left out, never sent anywhere.
    other = gemini.build_create(params, provider="another")
    assert other.body is not None and "thoughtSignature" not in json.dumps(other.body)


def test_signed_text_and_thoughts_go_back_on_their_own_parts() -> None:
    """A reply with a thought part, a signed text part and a signature-only part: each comes back as
    the part it was, in order, and the signed text is not merged with the text after it."""
    reply = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Let me think.", "thought": True},
                        {"text": "Hello", "thoughtSignature": "c2lnMQ=="},
                        {"text": " world"},
                        {"text": "", "thoughtSignature": "c2lnMg=="},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "thoughtsTokenCount": 5},
    }
    response = gemini.parse_response(json.dumps(reply).encode(), provider="gemini", request={"model": "g"})
    assert response.output_text == "Hello world"
    assert [item.type for item in response.output] == ["reasoning", "reasoning", "message", "message", "reasoning"]
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    wire = gemini.build_create(
        {"model": "g", "input": [*history, {"role": "user", "content": "and?"}]}, provider="gemini"
    )
    assert wire.body is not None
    assert wire.body["contents"] == [
        {"role": "model", "parts": reply["candidates"][0]["content"]["parts"]},  # type: ignore[index]
        {"role": "user", "parts": [{"text": "and?"}]},
    ]
    assert response.usage is not None and (response.usage.output_tokens, response.usage.total_tokens) == (7, 10)


# ------------------------------------------------------------------------------------- the edges


def _sse(*chunks: dict[str, Any]) -> bytes:
    return "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks).encode()


def _translate(raw: bytes, split: int = 13) -> tuple[list[ResponseStreamEvent], gemini.GeminiStreamTranslator]:
    translator = gemini.GeminiStreamTranslator("gemini", {"model": "gemini-x"})
    events = [e for start in range(0, len(raw), split) for e in translator.feed(raw[start : start + split])]
    return events + translator.finish(), translator


def _candidate(*parts: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "responseId": "r1", "modelVersion": "gemini-x"}


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("STOP", "completed", None),
        ("MAX_TOKENS", "incomplete", "max_output_tokens"),
        ("SAFETY", "incomplete", "content_filter"),
        ("RECITATION", "incomplete", "content_filter"),
        ("BLOCKLIST", "incomplete", "content_filter"),
        ("PROHIBITED_CONTENT", "incomplete", "content_filter"),
        ("SPII", "incomplete", "content_filter"),
        ("OTHER", "completed", None),
    ],
)
def test_finish_reasons(reason: str, status: str, detail: str | None) -> None:
    events, translator = _translate(_sse(_candidate({"text": "Hi"}), _candidate({"text": "!"}, finish=reason)))
    final = translator.final
    assert final is not None and final.status == status and final.output_text == "Hi!"
    assert (final.incomplete_details.reason if final.incomplete_details else None) == detail
    assert_conformant(events)


def test_a_malformed_function_call_fails_clearly() -> None:
    raw = _sse(
        _candidate(finish="MALFORMED_FUNCTION_CALL")
        | {"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "finishMessage": "bad args"}]}
    )
    events, translator = _translate(raw)
    assert events[-1].type == "response.failed"
    assert_conformant(events)
    error = translator.error_for(events[-1])
    assert isinstance(error, StreamError) and "malformed function call" in str(error) and "bad args" in str(error)


def test_a_blocked_prompt_fails_clearly() -> None:
    reply = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    client = Client("gemini", api_key="k", transport=httpx.MockTransport(lambda _: httpx.Response(200, json=reply)))
    response = client.responses.create(model="gemini-x", input="hi")
    assert response.status == "failed" and response.error is not None
    assert "blocked the prompt (SAFETY)" in response.error.message
    stream_client = Client(
        "gemini",
        api_key="k",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_sse(reply))
        ),
    )
    with (
        pytest.raises(StreamError, match="blocked the prompt"),
        stream_client.responses.stream(model="gemini-x", input="hi") as stream,
    ):
        list(stream)


def test_calls_arrive_whole_and_usage_is_mapped() -> None:
    raw = _sse(
        _candidate({"text": "Checking."}),
        _candidate({"functionCall": {"name": "f", "args": {"a": 1}}}, {"functionCall": {"id": "c2", "name": "g"}})
        | {
            "usageMetadata": {
                "promptTokenCount": 100,
                "cachedContentTokenCount": 60,
                "candidatesTokenCount": 7,
                "thoughtsTokenCount": 5,
                "totalTokenCount": 112,
            }
        },
        _candidate({"text": ""}, finish="STOP"),
    )
    events, translator = _translate(raw)
    final = translator.final
    assert final is not None and final.status == "completed"
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [("f", '{"a": 1}'), ("g", "{}")]
    assert calls[0].call_id.startswith("call_") and calls[1].call_id == "c2"
    assert [e.type for e in events].count("response.function_call_arguments.delta") == 2
    usage = final.usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (100, 12, 112)
    assert usage.input_tokens_details.cached_tokens == 60
    assert usage.output_tokens_details is not None and usage.output_tokens_details.reasoning_tokens == 5
    assert_conformant(events)


def test_a_stream_without_a_finish_reason_is_cut_short() -> None:
    _, translator = _translate(_sse(_candidate({"text": "Hel"})))
    assert not translator.done and translator.partial() is not None


def test_request_mapping() -> None:
    wire = gemini.build_create(
        {
            "model": "models/gemini-2.5-flash",
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": "No emojis."},
                {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
                {"role": "user", "content": [{"type": "input_image", "image_url": "https://x.test/a.jpg"}]},
                {"role": "user", "content": [{"type": "input_file", "file_url": "https://x.test/a.pdf"}]},
                {"role": "user", "content": "What is it?"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
            "tools": [{"type": "function", "name": "f", "description": "F.", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "reasoning": {"effort": "low"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "max_output_tokens": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "generationConfig": {"topK": 5},
        },
        provider="gemini",
    )
    assert wire.path == "/models/gemini-2.5-flash:generateContent" and wire.params == {} and not wire.stream
    assert wire.body == {
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "No emojis."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                    {"fileData": {"fileUri": "https://x.test/a.jpg", "mimeType": "image/jpeg"}},
                    {"fileData": {"fileUri": "https://x.test/a.pdf", "mimeType": "application/pdf"}},
                    {"text": "What is it?"},
                ],
            },
            {"role": "model", "parts": [{"functionCall": {"id": "c1", "name": "f", "args": {"a": 1}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"id": "c1", "name": "f", "response": {"output": "sunny"}}}],
            },
        ],
        "tools": [
            {"functionDeclarations": [{"name": "f", "description": "F.", "parametersJsonSchema": {"type": "object"}}]}
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "generationConfig": {
            "maxOutputTokens": 100,
            "temperature": 0.5,
            "topP": 0.9,
            "presencePenalty": 0.1,
            "frequencyPenalty": 0.2,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"},
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
            "topK": 5,
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    stream = gemini.build_create(
        {"model": "tuned/odd name", "input": "hi", "stream": True, "text": {"format": {"type": "json_object"}}},
        provider="gemini",
    )
    assert stream.path == "/models/tuned%2Fodd%20name:streamGenerateContent" and stream.params == {"alt": "sse"}
    assert stream.body == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "application/json"},
    }


@pytest.mark.parametrize(
    ("choice", "config", "offered"),
    [
        ("auto", {"mode": "AUTO"}, ["f", "g"]),
        ("required", {"mode": "ANY"}, ["f", "g"]),
        ("none", {"mode": "NONE"}, ["f", "g"]),
        (
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "g"}]},
            {"mode": "ANY", "allowedFunctionNames": ["g"]},
            ["f", "g"],
        ),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "g"}]},
            {"mode": "AUTO"},
            ["g"],
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any], offered: list[str]) -> None:
    tools = [{"type": "function", "name": name} for name in ("f", "g")]
    body = gemini.build_create(
        {"model": "m", "input": "hi", "tools": tools, "tool_choice": choice}, provider="gemini"
    ).body
    assert body is not None and body["toolConfig"] == {"functionCallingConfig": config}
    assert [d["name"] for d in body["tools"][0]["functionDeclarations"]] == offered


def test_a_function_output_needs_its_call() -> None:
    with pytest.raises(InvalidRequestError, match="needs its name"):
        gemini.build_create(
            {"model": "m", "input": [{"type": "function_call_output", "call_id": "x", "output": "1"}]},
            provider="gemini",
        )


@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        ({"tools": [{"type": "web_search"}]}, "'web_search' tools"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"max_tool_calls": 2}, "max_tool_calls"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"text": {"verbosity": "low"}}, "verbosity"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"input": [{"type": "web_search_call", "id": "w", "status": "completed"}]}, "web_search_call"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, "file_id"),
    ],
)
def test_what_gemini_cannot_say_is_refused(fields: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=feature) as refused:
        gemini.build_create({"model": "m", "input": "hi", **fields}, provider="gemini")
    assert refused.value.provider == "gemini"


def test_refusals_come_before_the_network() -> None:
    def no_network(_: httpx.Request) -> httpx.Response:
        raise AssertionError("sent")

    transport = httpx.MockTransport(no_network)
    stateless = Client("gemini", api_key="k", transport=transport, store=False)
    for fields in (
        {"background": True},
        {"previous_response_id": "resp_1"},
        {"store": True},
        {"top_logprobs": 2},
        {"tools": [{"type": "file_search", "vector_store_ids": ["v"]}]},
    ):
        with pytest.raises(UnsupportedFeatureError):
            stateless.responses.create(model="gemini-2.5-flash", input="hi", **fields)
    # With a response store (the default) a chain is emulated: an id the store lacks is a 404, still offline.
    with pytest.raises(NotFoundError, match="no response 'resp_1'"):
        Client("gemini", api_key="k", transport=transport, store=MemoryStore()).responses.create(
            model="gemini-2.5-flash", input="hi", previous_response_id="resp_1"
        )


def test_the_key_variable_is_gemini_api_key() -> None:
    from polyresponses.router._core import resolve_target_parts
    from polyresponses.router._providers import PROVIDERS

    base, headers, _ = resolve_target_parts(PROVIDERS["gemini"], None, None, {"GEMINI_API_KEY": "g-1"})
    assert base == "https://generativelanguage.googleapis.com/v1beta"
    assert headers["x-goog-api-key"] == "g-1"
    _, fallback, _ = resolve_target_parts(PROVIDERS["gemini"], None, None, {"GOOGLE_API_KEY": "g-2"})
    assert fallback["x-goog-api-key"] == "g-2"
    _, both, _ = resolve_target_parts(
        PROVIDERS["gemini"], None, None, {"GEMINI_API_KEY": "g-1", "GOOGLE_API_KEY": "g-2"}
    )
    assert both["x-goog-api-key"] == "g-1"


_TWO_TURNS = [
    ("tool_call_stream__test_google_streaming_tool_call_thought_signature.yaml", 0),
    ("structured_output_stream__test_native_output_with_function_tools_stream.yaml", 0),
    ("parallel_tool_calls__test_google_instructions_only_with_tool_calls.yaml", 0),
    ("parallel_tool_calls__test_google_instructions_only_with_tool_calls.yaml", 3),
    ("reasoning__test_google_model_thinking_part.yaml", 0),
]


def _signatures_standard(body: dict[str, Any]) -> dict[str, Any]:
    for content in body["contents"]:
        for part in content["parts"]:
            if "thoughtSignature" in part:
                part["thoughtSignature"] = _standard_base64(part["thoughtSignature"])
    return body


@pytest.mark.parametrize(("cassette", "index"), _TWO_TURNS, ids=[f"{c}#{i}" for c, i in _TWO_TURNS])
def test_our_reply_given_back_is_the_recorded_next_request(cassette: str, index: int) -> None:
    """Every recorded follow-up turn: our reply's items, given back between the recorded turns around
    them, rebuild the recorded next request, signatures on exactly the recorded parts (base64
    alphabets normalised; function-call ids Gemini did not send are ours, not pydantic-ai's)."""
    first, second = (e for e in _OK if e.cassette == cassette and e.index in (index, index + 1))
    replay = Replay(first, stream=_is_stream(first))
    with _client(replay) as client:
        if _is_stream(first):
            with client.responses.stream(**_params(first)) as stream:
                list(stream)
                response = stream.get_final_response()
        else:
            response = client.responses.create(**_params(first))
    history = [item.model_dump(by_alias=True, exclude_none=True) for item in response.output]
    turns = len(first.request_body["contents"])
    expected = _normalised(second.request_body)
    ours = [item.call_id for item in response.output if item.type == "function_call"]
    recorded = [p["functionCall"].get("id") for p in expected["contents"][turns]["parts"] if "functionCall" in p]
    renamed = dict(zip(recorded, ours, strict=True))
    for content in expected["contents"]:
        for part in content["parts"]:
            for key in ("functionCall", "functionResponse"):
                if key in part and part[key].get("id") in renamed:
                    part[key]["id"] = renamed[part[key]["id"]]
    after = {**expected, "contents": expected["contents"][turns + 1 :]}
    params = _params(first)
    params["input"] = [*params["input"], *history, *_responses_params(after)["input"]]
    extras = params.pop("extra_body", {})
    wire = gemini.build_create({**params, **extras, "stream": _is_stream(second)}, provider="gemini")
    assert wire.body is not None
    assert _signatures_standard(_normalised(wire.body)) == _signatures_standard(expected)


# ------------------------------------------------------------ Google's own types as the referee

_REQUEST_FIELDS = {
    "contents": "Content",
    "systemInstruction": "Content",
    "tools": "Tool",
    "toolConfig": "ToolConfig",
    "generationConfig": "GenerationConfig",
    "safetySettings": "SafetySetting",
}
"""``GenerateContentRequest`` fields and the google-genai type of each (its models forbid unknown keys)."""


def _validate_request(body: dict[str, Any]) -> None:
    """A body we build, field by field, against google-genai's types (test-only; camelCase aliases,
    ``extra="forbid"``, bytes such as ``thoughtSignature`` read as base64 from JSON)."""
    types = pytest.importorskip("google.genai.types")
    assert set(body) <= {*_REQUEST_FIELDS, "cachedContent"}, set(body)
    for name, value in body.items():
        if name == "cachedContent":
            assert isinstance(value, str)
            continue
        model = getattr(types, _REQUEST_FIELDS[name])
        for entry in value if isinstance(value, list) else [value]:
            model.model_validate_json(json.dumps(entry))


def _built_bodies() -> Iterator[tuple[str, dict[str, Any]]]:
    for exchange in _OK:
        if _expressible(exchange.request_body) is None:
            params = _params(exchange)
            extras = params.pop("extra_body", {})
            wire = gemini.build_create({**params, **extras, "stream": _is_stream(exchange)}, provider="gemini")
            assert wire.body is not None
            yield exchange.id, wire.body


_BUILT = list(_built_bodies())


@pytest.mark.parametrize("body", [body for _, body in _BUILT], ids=[name for name, _ in _BUILT])
def test_every_body_we_build_validates_against_google_genai(body: dict[str, Any]) -> None:
    _validate_request(body)


def test_the_mapped_features_validate_against_google_genai() -> None:
    """Everything the request mapping can produce, including the parts no cassette shows."""
    body = gemini.build_create(
        {
            "model": "g",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
                {"role": "user", "content": [{"type": "input_file", "file_url": "https://x.test/a.pdf"}]},
                {
                    "type": "reasoning",
                    "id": "rs",
                    "summary": [],
                    "encrypted_content": gemini.encode_signature(
                        "gemini", {"parts": [{"text": "hm", "thought": True, "thoughtSignature": "c2ln"}]}
                    ),
                },
                {
                    "type": "reasoning",
                    "id": "rs",
                    "summary": [],
                    "encrypted_content": gemini.encode_signature("gemini", {"signature": "c2lnMg=="}),
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
                {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            ],
            "tools": [{"type": "function", "name": "f", "description": "F.", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "reasoning": {"effort": "medium"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "max_output_tokens": 10,
            "temperature": 1.0,
            "top_p": 0.5,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.5,
        },
        provider="gemini",
    ).body
    assert body is not None
    _validate_request(body)
    types = pytest.importorskip("google.genai.types")
    with pytest.raises(ValueError, match="extra"):  # the referee does referee
        types.ToolConfig.model_validate_json(json.dumps({"functionCallingConfig": {"mode": "ANY", "names": ["f"]}}))


@pytest.mark.parametrize("exchange", _OK, ids=[e.id for e in _OK])
def test_every_recorded_reply_validates_against_google_genai(exchange: Exchange) -> None:
    """The fixtures are what Google's own types say a GenerateContentResponse is."""
    types = pytest.importorskip("google.genai.types")
    for chunk in _chunks(exchange):
        chunk = json.loads(json.dumps(chunk))
        # Newer than google-genai 3.6.1's types: the only field the recorded replies add to them.
        chunk.get("usageMetadata", {}).pop("serviceTier", None)
        types.GenerateContentResponse.model_validate_json(json.dumps(chunk))


_RESOURCE_EXHAUSTED = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.05s"}],
    }
}


def test_a_429_waits_as_long_as_google_retry_info_says() -> None:
    """Gemini puts the wait in ``error.details`` (google.rpc.RetryInfo), not in a Retry-After header."""
    reply = next(e.response_json for e in _OK if not _is_stream(e) and e.cassette.startswith("text__"))
    replies = [httpx.Response(429, json=_RESOURCE_EXHAUSTED), httpx.Response(200, json=reply)]
    client = Client("gemini", api_key="k", max_retries=1, transport=httpx.MockTransport(lambda _: replies.pop(0)))
    assert client.responses.create(model="gemini-2.5-flash", input="hi").output_text and not replies
    failing = Client(
        "gemini",
        api_key="k",
        max_retries=0,
        transport=httpx.MockTransport(lambda _: httpx.Response(429, json=_RESOURCE_EXHAUSTED)),
    )
    with pytest.raises(RateLimitError, match="exhausted") as caught:
        failing.responses.create(model="gemini-2.5-flash", input="hi")
    assert caught.value.retry_after == 0.05
