"""The clouds' rows carry the existing dialects: recorded Gemini and Anthropic traffic through Vertex AI and
Azure AI Foundry, with the URL, auth header and body differences of each surface asserted.

Every recorded exchange of the dialect goes through the cloud row (``httpx.MockTransport``): the request
must be the one the vendor's own row sends, except where the cloud differs (host and path, a bearer token
from ``token_provider=`` instead of a key, Vertex's ``rawPredict`` with ``anthropic_version`` in the body
and no ``model``), and the reply must read exactly as through the vendor's row.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from polyresponses import Client, MissingAPIKeyError, StreamError, UnsupportedFeatureError
from polyresponses.router._core import resolve_target_parts
from polyresponses.router._providers import PROVIDERS
from polyresponses.router.dialects import anthropic_messages
from polyresponses.types import Response
from tests._loopback import LoopbackServer, json_reply
from tests._recorded import Exchange, exchanges, sse_data
from tests.dialects import test_anthropic_messages as anthropic_replay
from tests.dialects import test_gemini as gemini_replay
from tests.dialects._replay import Replay, assert_conformant

_TOKEN = "ya29.token-from-the-provider"
_VERTEX_GEMINI = [e for e in exchanges("gemini") if e.cassette.startswith("vertex_") and e.status == 200]
_ANTHROPIC = [
    e
    for e in anthropic_replay._OK
    if anthropic_replay._expressible(e.request_body) is None
    and "thinking" not in json.dumps([e.request_body, e.response_json, e.response_text])
]
"""Recorded Anthropic exchanges the Responses API can say, without thinking blocks: those are tagged with
the row that produced them and replay to that row only (``test_anthropic_messages`` covers the round trip)."""


def test_the_recorded_vertex_traffic_is_all_here() -> None:
    assert len({e.cassette for e in _VERTEX_GEMINI}) == 4 and len(_ANTHROPIC) >= 10


def _tokens() -> Iterator[str]:
    number = 0
    while True:
        number += 1
        yield f"{_TOKEN}-{number}"


def _run(client: Client, params: dict[str, Any], stream: bool) -> Response:
    if not stream:
        created: Response = client.responses.create(**params)
        return created
    with client.responses.stream(**params) as events:
        seen = list(events)
        final: Response = events.get_final_response()
    assert_conformant(seen)
    return final


# ------------------------------------------------------------------------------------- Vertex Gemini


@pytest.mark.parametrize("exchange", _VERTEX_GEMINI, ids=[e.id for e in _VERTEX_GEMINI])
def test_gemini_on_vertex_replays_the_recorded_vertex_traffic(exchange: Exchange) -> None:
    stream = gemini_replay._is_stream(exchange)
    replay = Replay(exchange, stream=stream)
    tokens = _tokens()
    with Client(
        "vertexai",
        project="pydantic-ai",
        token_provider=lambda: next(tokens),
        transport=httpx.MockTransport(replay.reply),
    ) as client:
        response = _run(client, gemini_replay._params(exchange), stream)
    request = replay.sent[0]
    recorded = httpx.URL(exchange.uri)
    assert request.url.host == recorded.host == "aiplatform.googleapis.com"  # the global location: no prefix
    # google-genai records v1beta1; the row speaks the GA v1 API, the rest of the path is the same.
    assert request.url.path == recorded.path.replace("/v1beta1/", "/v1/", 1)
    assert dict(request.url.params) == dict(recorded.params)
    assert request.headers["authorization"] == f"Bearer {_TOKEN}-1" and "x-goog-api-key" not in request.headers
    if gemini_replay._expressible(exchange.request_body) is None:
        assert gemini_replay._normalised(json.loads(request.content)) == gemini_replay._normalised(
            exchange.request_body
        )
    parts = gemini_replay._recorded_parts(exchange)
    assert response.output_text == "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    signed = [p["thoughtSignature"] for p in parts if "thoughtSignature" in p]
    assert gemini_replay._signatures(response, "vertexai") == signed  # tagged with this row: replayed to it only
    assert response.status == "completed"


def test_a_regional_vertex_location_is_in_the_host_and_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    base, headers, secret = resolve_target_parts(PROVIDERS["vertexai"], None, None, token_auth=True)
    assert base == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/env-project/locations/europe-west4/publishers/google"
    )
    assert "Authorization" not in headers and secret is None
    given = {"region": "us-east5", "project": "given-project"}
    base, _, _ = resolve_target_parts(PROVIDERS["vertexaianthropic"], None, None, endpoint=given, token_auth=True)
    assert (
        base
        == "https://us-east5-aiplatform.googleapis.com/v1/projects/given-project/locations/us-east5/publishers/anthropic"
    )


def test_vertex_without_a_project_says_where_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "ANTHROPIC_VERTEX_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="needs a project: pass project=... or set GOOGLE_CLOUD_PROJECT"):
        Client("vertexai", token_provider=lambda: _TOKEN)
    with pytest.raises(ValueError, match="'evil.test/x' is not a valid project name"):
        Client("vertexai", project="evil.test/x", token_provider=lambda: _TOKEN)


def test_each_attempt_asks_the_token_provider_again() -> None:
    exchange = next(e for e in _VERTEX_GEMINI if not gemini_replay._is_stream(e))
    sent: list[str] = []  # the header as each attempt carried it (httpx resends the same request object)

    def flaky(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        if len(sent) == 1:
            return httpx.Response(503, json={"error": {"message": "busy"}})
        return httpx.Response(200, json=exchange.response_json)

    tokens = _tokens()
    with Client(
        "vertexai",
        project="p",
        max_retries=1,
        token_provider=lambda: next(tokens),
        transport=httpx.MockTransport(flaky),
    ) as client:
        client.responses.create(model="gemini-2.0-flash", input="hi")
    assert sent == [f"Bearer {_TOKEN}-1", f"Bearer {_TOKEN}-2"]


def test_a_failing_token_provider_is_refused_before_the_network() -> None:
    def broken() -> str:
        raise RuntimeError(f"secret detail {_TOKEN}")

    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(record)
    with (
        Client("vertexai", project="p", token_provider=broken, transport=transport) as client,
        pytest.raises(MissingAPIKeyError, match=r"the token provider failed \(RuntimeError\)") as caught,
    ):
        client.responses.create(model="gemini-2.0-flash", input="hi")
    assert sent == [] and _TOKEN not in str(caught.value)


def test_a_key_and_a_token_provider_together_are_refused() -> None:
    with pytest.raises(ValueError, match="api_key or token_provider, not both"):
        Client("azure", resource="r", api_key="k", token_provider=lambda: _TOKEN)


# ------------------------------------------------------------------------------------- Vertex Claude


@pytest.mark.parametrize("exchange", _ANTHROPIC, ids=[e.id for e in _ANTHROPIC])
def test_claude_on_vertex_is_raw_predict_with_the_version_in_the_body(exchange: Exchange) -> None:
    stream = anthropic_replay._is_stream(exchange)
    replay = Replay(exchange, stream=stream)
    with Client(
        "vertexaianthropic",
        project="my-project",
        region="us-east5",
        token_provider=lambda: _TOKEN,
        transport=httpx.MockTransport(replay.reply),
    ) as client:
        response = _run(client, anthropic_replay._params(exchange), stream)
    request = replay.sent[0]
    model = exchange.request_body["model"]
    method = "streamRawPredict" if stream else "rawPredict"
    assert str(request.url) == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5"
        f"/publishers/anthropic/models/{model}:{method}"
    )
    assert request.headers["authorization"] == f"Bearer {_TOKEN}"
    assert "x-api-key" not in request.headers and "anthropic-version" not in request.headers
    sent = json.loads(request.content)
    assert sent.pop("anthropic_version") == anthropic_messages.VERTEX_ANTHROPIC_VERSION
    recorded = dict(exchange.request_body)
    del recorded["model"]
    assert anthropic_replay._normalised(sent) == anthropic_replay._normalised(recorded)
    anthropic_replay._check_response(exchange, response)


def test_a_vertex_model_id_keeps_its_version_suffix_in_the_path() -> None:
    wire = anthropic_messages.for_vertex(
        anthropic_messages.build_create(
            {"model": "claude-sonnet-4-5@20250929", "input": "hi", "stream": True}, provider="vertexaianthropic"
        )
    )
    assert wire.path == "/models/claude-sonnet-4-5@20250929:streamRawPredict"
    assert wire.body is not None and "model" not in wire.body and wire.stream


# --------------------------------------------------------------------------------------- Azure Foundry


def test_claude_on_foundry_is_the_messages_api_on_the_resource_with_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = _ANTHROPIC[0]
    replay = Replay(exchange, stream=anthropic_replay._is_stream(exchange))
    monkeypatch.setenv("ANTHROPIC_FOUNDRY_API_KEY", "foundry-key")  # Anthropic's SDK's variable, a fallback
    monkeypatch.delenv("AZURE_ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_FOUNDRY_RESOURCE", "my-foundry")
    monkeypatch.delenv("AZURE_ANTHROPIC_RESOURCE", raising=False)
    with Client("azureanthropic", transport=httpx.MockTransport(replay.reply)) as client:
        response = _run(client, anthropic_replay._params(exchange), anthropic_replay._is_stream(exchange))
    request = replay.sent[0]
    assert str(request.url) == "https://my-foundry.services.ai.azure.com/anthropic/v1/messages"
    assert request.headers["x-api-key"] == "foundry-key" and "authorization" not in request.headers
    assert request.headers["anthropic-version"] == anthropic_messages.ANTHROPIC_VERSION
    assert anthropic_replay._normalised(json.loads(request.content)) == anthropic_replay._normalised(
        exchange.request_body
    )
    anthropic_replay._check_response(exchange, response)


_CHAT_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "DeepSeek-R1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


@pytest.mark.parametrize("auth", ["key", "entra"])
def test_foundry_models_is_chat_completions_with_its_api_version(auth: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=_CHAT_REPLY)

    monkeypatch.delenv("AZURE_AI_CHAT_ENDPOINT", raising=False)
    monkeypatch.delenv("AZURE_API_KEY", raising=False)
    if auth == "key":
        monkeypatch.setenv("AZURE_API_KEY", "azure-key")
    options: dict[str, Any] = {"token_provider": lambda: _TOKEN} if auth == "entra" else {}
    with Client("azure", resource="contoso", store=False, transport=httpx.MockTransport(reply), **options) as client:
        response = client.responses.create(model="DeepSeek-R1", input="hi")
    assert response.output_text == "Hi."
    (request,) = sent
    assert (
        str(request.url)
        == "https://contoso.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview"
    )
    if auth == "key":
        assert request.headers["api-key"] == "azure-key" and "authorization" not in request.headers
    else:
        assert request.headers["authorization"] == f"Bearer {_TOKEN}" and "api-key" not in request.headers


def test_without_a_key_or_the_extra_the_client_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("azure") else real(name, *a)
    )
    with pytest.raises(MissingAPIKeyError, match=r"set AZURE_OPENAI_API_KEY.*pip install 'polyresponses\[azure\]'"):
        Client("azureopenai")


# ------------------------------------------------------------------------- Claude on Bedrock (InvokeModel)


def _invoke_frames(exchange: Exchange) -> bytes:
    """The recorded Anthropic stream as InvokeModelWithResponseStream frames it: one ``chunk`` per event."""
    from tests.dialects.test_bedrock_converse import _frame

    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    return b"".join(
        _frame(headers, {"bytes": base64.b64encode(data.encode()).decode(), "p": "abcdefgh"})
        for data in sse_data(exchange.response_text or "")
    )


def test_our_invoke_frames_are_what_anthropics_bedrock_decoder_reads() -> None:
    """The test's framing, checked by AnthropicBedrock's own decoder (botocore underneath)."""
    from anthropic.lib.bedrock._stream_decoder import AWSEventStreamDecoder

    exchange = next(e for e in _ANTHROPIC if anthropic_replay._is_stream(e))
    decoded = [event.data for event in AWSEventStreamDecoder().iter_bytes(iter([_invoke_frames(exchange)]))]
    assert decoded == list(sse_data(exchange.response_text or "")) and decoded


@pytest.mark.parametrize("exchange", _ANTHROPIC, ids=[e.id for e in _ANTHROPIC])
def test_claude_on_bedrock_is_invoke_model_with_the_version_in_the_body(exchange: Exchange) -> None:
    stream = anthropic_replay._is_stream(exchange)
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if stream:
            content_type = "application/vnd.amazon.eventstream"
            return httpx.Response(200, headers={"content-type": content_type}, content=_invoke_frames(exchange))
        return httpx.Response(200, json=exchange.response_json)

    with Client(
        "bedrock_anthropic", api_key="bedrock-key", region="us-west-2", transport=httpx.MockTransport(reply)
    ) as client:
        response = _run(client, anthropic_replay._params(exchange), stream)
    (request,) = sent
    model = quote(exchange.request_body["model"], safe="")
    method = "invoke-with-response-stream" if stream else "invoke"
    assert str(request.url) == f"https://bedrock-runtime.us-west-2.amazonaws.com/model/{model}/{method}"
    assert request.headers["authorization"] == "Bearer bedrock-key" and "anthropic-version" not in request.headers
    assert request.headers["accept"] == ("application/vnd.amazon.eventstream" if stream else "application/json")
    body = json.loads(request.content)
    assert body.pop("anthropic_version") == anthropic_messages.BEDROCK_ANTHROPIC_VERSION and "stream" not in body
    recorded = {k: v for k, v in exchange.request_body.items() if k not in ("model", "stream")}
    assert anthropic_replay._normalised(body) == anthropic_replay._normalised(recorded)
    anthropic_replay._check_response(exchange, response)


def test_an_invoke_stream_exception_fails_the_response_with_the_partial_output() -> None:
    from tests.dialects.test_bedrock_converse import _frame

    event = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "m",
            "stop_reason": None,
            "usage": {"input_tokens": 1, "output_tokens": 0},
        },
    }
    chunk = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    frames = _frame(chunk, {"bytes": base64.b64encode(json.dumps(event).encode()).decode()})
    frames += _frame({":exception-type": "throttlingException", ":message-type": "exception"}, {"message": "slow"})
    headers = {"content-type": "application/vnd.amazon.eventstream"}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, headers=headers, content=frames))
    with (
        Client("bedrock_anthropic", api_key="k", region="us-east-1", transport=transport) as client,
        client.responses.stream(model="anthropic.claude-sonnet-4-5-20250929-v1:0", input="hi") as events,
        pytest.raises(StreamError, match=r"slow \(throttlingException\)") as caught,
    ):
        list(events)
    assert caught.value.partial is not None and caught.value.partial.error is not None
    assert caught.value.partial.error.code == "rate_limit_exceeded"


def test_a_token_read_from_a_file_keeps_no_newline_and_a_bad_one_is_never_quoted() -> None:
    exchange = next(e for e in _VERTEX_GEMINI if not gemini_replay._is_stream(e))
    sent: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        return httpx.Response(200, json=exchange.response_json)

    transport = httpx.MockTransport(reply)
    with Client("vertexai", project="p", token_provider=lambda: f"{_TOKEN}\n", transport=transport) as client:
        client.responses.create(model="gemini-2.0-flash", input="hi")
    assert sent == [f"Bearer {_TOKEN}"]
    with (
        Client("vertexai", project="p", token_provider=lambda: f"{_TOKEN}\r\nX-Evil: 1", transport=transport) as bad,
        pytest.raises(MissingAPIKeyError, match="not a valid header value") as caught,
    ):
        bad.responses.create(model="gemini-2.0-flash", input="hi")
    assert _TOKEN not in str(caught.value) and len(sent) == 1


@pytest.mark.parametrize("row", ["vertexaianthropic", "bedrock_anthropic"])
def test_counting_tokens_on_a_cloud_surface_is_refused_before_the_network(row: str) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    options: dict[str, Any] = {"project": "p", "region": "us-east-1", "transport": httpx.MockTransport(record)}
    with (
        Client(row, token_provider=lambda: _TOKEN, **options) as client,
        pytest.raises(UnsupportedFeatureError, match="input_tokens"),
    ):
        client.responses.input_tokens.count(model="m", input="hi")
    assert sent == []


def test_claude_on_foundry_asks_entra_for_the_foundry_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """AnthropicFoundry asks for ``https://ai.azure.com/.default``; the other Azure rows for Cognitive Services."""
    from polyresponses.auth._azure import COGNITIVE_SERVICES_SCOPE

    for name in ("AZURE_ANTHROPIC_API_KEY", "ANTHROPIC_FOUNDRY_API_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
    with Client("azureanthropic", resource="r") as foundry, Client("azureopenai") as openai_row:
        foundry_tokens = getattr(foundry._target.signer, "tokens", None)
        openai_tokens = getattr(openai_row._target.signer, "tokens", None)
    assert getattr(foundry_tokens, "_scope", None) == "https://ai.azure.com/.default"
    assert getattr(openai_tokens, "_scope", None) == COGNITIVE_SERVICES_SCOPE


# ------------------------------------------------------------------------------------------ IBM watsonx.ai

_CHAT = [e for e in exchanges("chat_completions") if e.status == 200 and e.uri.endswith("/chat/completions")]


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    with LoopbackServer(path_prefix="") as server:
        server.default = json_reply({"access_token": "iam-token", "expires_in": 3600})
        monkeypatch.setattr("polyresponses.auth._ibm.IAM_TOKEN_URL", f"{server.url}/identity/token")
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_watsonx_is_its_chat_api_with_an_iam_token_and_the_project_in_the_body(
    stream: bool, iam: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange = next(e for e in _CHAT if (e.response_text is not None) == stream and "tool" not in e.cassette)
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if stream:  # watsonx.ai frames its chunks as `event: message` with the same data
            text = (exchange.response_text or "").replace("data: ", "event: message\ndata: ")
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())
        return httpx.Response(200, json=exchange.response_json)

    for name in ("WATSONX_API_KEY", "WATSONX_URL", "WATSONX_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATSONX_APIKEY", "ibm-key")  # IBM's SDKs' spelling, read after any-llm's
    monkeypatch.setenv("WATSONX_PROJECT_ID", "proj-1")
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}, "strict": False}]
    with Client("watsonx", store=False, transport=httpx.MockTransport(reply)) as client:
        response = _run(
            client,
            {"model": "ibm/granite-4-h-small", "input": "hi", "tools": tools, "tool_choice": "auto"},
            stream,
        )
    assert response.output_text
    (request,) = sent
    path = "/ml/v1/text/chat_stream" if stream else "/ml/v1/text/chat"
    assert str(request.url) == f"https://us-south.ml.cloud.ibm.com{path}?version=2026-10-14"
    assert request.headers["authorization"] == "Bearer iam-token" and "ibm-key" not in str(request.headers)
    body = json.loads(request.content)
    assert body["model_id"] == "ibm/granite-4-h-small" and body["project_id"] == "proj-1"
    assert body["tool_choice_option"] == "auto" and "tool_choice" not in body
    assert "model" not in body and "stream" not in body and "stream_options" not in body
    assert len(iam.requests) == 1


def test_gemini_on_vertex_counts_tokens_with_vertexs_body_shape() -> None:
    """Vertex's countTokens takes contents, systemInstruction, tools and generationConfig at the top level
    (google-genai's Vertex path), not the Gemini API's ``generateContentRequest`` wrapper."""
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"totalTokens": 11, "totalBillableCharacters": 40})

    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}, "strict": False}
    with Client("vertexai", project="p", token_provider=lambda: _TOKEN, transport=httpx.MockTransport(reply)) as c:
        counted = c.responses.input_tokens.count(
            model="gemini-2.5-flash", input="hi", instructions="be brief", tools=[tool], tool_choice="required"
        )
    assert counted.input_tokens == 11
    (request,) = sent
    assert str(request.url) == (
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/"
        "gemini-2.5-flash:countTokens"
    )
    body = json.loads(request.content)
    assert set(body) == {"contents", "systemInstruction", "tools"}  # no toolConfig: countTokens has none
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    from google.genai import types

    for content in body["contents"]:
        types.Content.model_validate(content)
    types.Content.model_validate(body["systemInstruction"])
    for entry in body["tools"]:
        types.Tool.model_validate(entry)
