"""The public API over ``httpx.MockTransport``: routing, every endpoint, validation and refusals.

The recorded replies used here are real OpenAI traffic (``../shared/fixtures/recorded``); the
handler also records what we sent, so each test checks both directions.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import polyresponses
from polyresponses import (
    AsyncClient,
    Client,
    InvalidRequestError,
    MissingAPIKeyError,
    NotFoundError,
    UnsupportedFeatureError,
)
from polyresponses.types import Response
from tests._recorded import exchanges

_SIMPLE = next(
    e for e in exchanges("openai_responses") if e.cassette.startswith("text__test_openai_responses_model_simple")
)
_REPLY: dict[str, Any] = _SIMPLE.response_json
_ITEM = {
    "type": "message",
    "id": "msg_1",
    "role": "user",
    "status": "completed",
    "content": [{"type": "input_text", "text": "hi"}],
}


class _Server:
    """A MockTransport that answers every route of the Responses API and keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path.endswith("/input_items"):
            return httpx.Response(
                200,
                json={"object": "list", "data": [_ITEM], "first_id": "msg_1", "last_id": "msg_1", "has_more": False},
            )
        if path.endswith("/responses/compact"):
            return httpx.Response(
                200,
                json={
                    "id": "cmp_1",
                    "object": "response.compaction",
                    "output": [],
                    "created_at": 1,
                    "usage": _REPLY["usage"],
                },
            )
        if path.endswith("/responses/input_tokens"):
            return httpx.Response(200, json={"object": "response.input_tokens", "input_tokens": 7})
        if path.endswith("/missing"):
            return httpx.Response(
                404, json={"error": {"message": "No response found", "type": "invalid_request_error"}}
            )
        if method == "DELETE":
            return httpx.Response(200)
        return httpx.Response(200, json=_REPLY, headers={"x-request-id": "req_123"})

    @property
    def last_body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


@pytest.fixture
def server() -> Iterator[_Server]:
    yield _Server()
    polyresponses.close_pooled_clients()


@pytest.fixture
def client(server: _Server) -> Iterator[Client]:
    with Client("openai", api_key="sk-test-0123456789", transport=httpx.MockTransport(server)) as c:
        yield c


def test_create_returns_the_canonical_response(client: Client, server: _Server) -> None:
    response = client.responses.create(model="gpt-4o", input="What is the capital of France?", temperature=0.2)
    assert isinstance(response, Response)
    assert response.output_text == _REPLY["output"][0]["content"][0]["text"]
    request = server.requests[0]
    assert (request.method, str(request.url)) == ("POST", "https://api.openai.com/v1/responses")
    assert request.headers["authorization"] == "Bearer sk-test-0123456789"
    assert request.headers["content-type"] == "application/json"
    assert server.last_body == {"model": "gpt-4o", "input": "What is the capital of France?", "temperature": 0.2}


def test_every_route(client: Client, server: _Server) -> None:
    assert client.responses.retrieve("resp_1", include=["reasoning.encrypted_content"]).id == _REPLY["id"]
    assert client.responses.cancel("resp_1").object == "response"
    client.responses.delete("resp_1")
    assert client.responses.input_items.list("resp_1", limit=2, order="asc").has_more is False
    assert client.responses.compact(model="gpt-4o", input="hi").id == "cmp_1"
    assert client.responses.input_tokens.count(model="gpt-4o", input="hi").input_tokens == 7
    seen = [(r.method, r.url.path, r.url.query.decode()) for r in server.requests]
    assert seen == [
        ("GET", "/v1/responses/resp_1", "include%5B%5D=reasoning.encrypted_content"),
        ("POST", "/v1/responses/resp_1/cancel", ""),
        ("DELETE", "/v1/responses/resp_1", ""),
        ("GET", "/v1/responses/resp_1/input_items", "limit=2&order=asc"),
        ("POST", "/v1/responses/compact", ""),
        ("POST", "/v1/responses/input_tokens", ""),
    ]
    with pytest.raises(NotFoundError, match="No response found") as caught:
        client.responses.retrieve("missing")
    assert caught.value.status_code == 404


def test_a_bad_value_names_its_field_and_sends_nothing(client: Client, server: _Server) -> None:
    with pytest.raises(InvalidRequestError, match=r"\[openai\] invalid request at temperature"):
        client.responses.create(model="gpt-4o", input="hi", temperature="hot")  # type: ignore[call-overload]
    with pytest.raises(InvalidRequestError, match=r"at input\[0\]\.content: Input should be a valid"):
        # The content is invalid on purpose: the router must refuse it before sending anything.
        client.responses.create(model="gpt-4o", input=[{"role": "user", "content": 5}])  # type: ignore[list-item]
    assert server.requests == []


def test_refused_features_send_nothing(server: _Server) -> None:
    transport = httpx.MockTransport(server)
    with Client("openrouter", api_key="or-key-123456", transport=transport, store=False) as client:
        with pytest.raises(UnsupportedFeatureError, match=r"\[openrouter\] does not support previous_response_id"):
            client.responses.create(model="openai/gpt-4o", input="hi", previous_response_id="resp_1")
        with pytest.raises(UnsupportedFeatureError, match=r"responses.retrieve"):
            client.responses.retrieve("resp_1")
    assert server.requests == []


def test_vllm_extras_are_typed_and_sent(server: _Server) -> None:
    with Client("vllm", api_base="http://gpu:8000/v1", transport=httpx.MockTransport(server)) as client:
        client.responses.create(model="m", input="hi", top_k=5, cache_salt="s", priority=1, extra_body={"seed": 3})
    assert server.last_body == {"model": "m", "input": "hi", "top_k": 5, "cache_salt": "s", "priority": 1, "seed": 3}
    assert "authorization" not in server.requests[0].headers


def test_extra_headers_and_default_headers(server: _Server) -> None:
    transport = httpx.MockTransport(server)
    with Client("groq", api_key="gsk-1234567890", default_headers={"x-team": "a"}, transport=transport) as client:
        client.responses.create(model="m", input="hi", extra_headers={"x-trace": "t"})
    headers = server.requests[0].headers
    assert (headers["x-team"], headers["x-trace"], headers["user-agent"]) == ("a", "t", "polyresponses/0.1.0")


def test_repr_hides_the_key(client: Client) -> None:
    assert "sk-test" not in repr(client)
    assert repr(client) == "Client(provider='openai', base_url='https://api.openai.com/v1')"


def test_module_function_routes_model_strings(server: _Server) -> None:
    transport = httpx.MockTransport(server)
    args: dict[str, Any] = {"client_args": {"transport": transport}, "api_key": "hf-0123456789"}
    polyresponses.responses("huggingface:openai/gpt-oss-120b:groq", "hi", **args)
    assert server.last_body["model"] == "openai/gpt-oss-120b:groq"
    assert str(server.requests[-1].url) == "https://router.huggingface.co/v1/responses"
    polyresponses.responses("gpt-oss-120b", "hi", provider="huggingface", **args)
    assert server.last_body["model"] == "gpt-oss-120b"
    with pytest.warns(DeprecationWarning, match="'huggingface:m'"):
        polyresponses.responses("huggingface/m", "hi", **args)
    with pytest.raises(ValueError, match="cannot tell the provider"):
        polyresponses.responses("gpt-4o", "hi")


def test_module_function_missing_key_fails_before_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GROQ_API_KEY"):
        polyresponses.responses("groq:openai/gpt-oss-120b", "hi")


def test_module_function_passes_unknown_keywords_into_the_body(server: _Server) -> None:
    transport = httpx.MockTransport(server)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        polyresponses.responses(
            "tzafon:tzafon.northstar",
            [{"role": "user", "content": "hi"}],
            api_key="tz-0123456789",
            client_args={"transport": transport},
            instructions="Be brief.",
            top_k=20,
            skip_special_tokens=False,
            some_vendor_flag=True,  # type: ignore[call-overload]
        )
    assert server.last_body == {
        "model": "tzafon.northstar",
        "input": [{"role": "user", "content": "hi"}],
        "instructions": "Be brief.",
        "top_k": 20,
        "skip_special_tokens": False,
        "some_vendor_flag": True,
    }
    assert str(server.requests[-1].url) == "https://api.tzafon.ai/v1/responses"


def test_input_models_are_accepted(client: Client, server: _Server) -> None:
    from polyresponses.types import EasyInputMessage

    client.responses.create(model="m", input=[EasyInputMessage(role="user", content="hi")])
    assert server.last_body["input"] == [{"role": "user", "content": "hi"}]  # `type` is optional (spec)


@pytest.mark.anyio
async def test_async_client_every_route(server: _Server) -> None:
    async with AsyncClient("openai", api_key="sk-test-0123456789", transport=httpx.MockTransport(server)) as client:
        response = await client.responses.create(model="gpt-4o", input="hi")
        assert response.output_text
        assert (await client.responses.retrieve("resp_1")).id == _REPLY["id"]
        assert (await client.responses.cancel("resp_1")).id == _REPLY["id"]
        await client.responses.delete("resp_1")
        assert (await client.responses.input_items.list("resp_1")).object == "list"
        assert (await client.responses.compact(model="gpt-4o", input="hi")).id == "cmp_1"
        assert (await client.responses.input_tokens.count(model="gpt-4o", input="hi")).input_tokens == 7
    assert len(server.requests) == 7


@pytest.mark.anyio
async def test_aresponses_routes_like_responses(server: _Server) -> None:
    transport = httpx.MockTransport(server)
    response = await polyresponses.aresponses(
        "fireworks:accounts/fireworks/models/gpt-oss-20b",
        "hi",
        api_key="fw-0123456789",
        client_args={"transport": transport},
    )
    assert isinstance(response, Response)
    assert str(server.requests[-1].url) == "https://api.fireworks.ai/inference/v1/responses"
    assert server.last_body["model"] == "accounts/fireworks/models/gpt-oss-20b"


def _reply_with_text(text: str) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(json.dumps(_REPLY))
    reply["output"][0]["content"][0]["text"] = text
    return reply


class City(BaseModel):
    name: str
    population: int


def test_parse_validates_the_text_as_the_format_type() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=_reply_with_text('{"name": "Paris", "population": 2102650}'))

    with Client("openai", api_key="sk-test-0123456789", transport=httpx.MockTransport(handler)) as client:
        parsed = client.responses.parse(model="gpt-4o", input="Capital of France?", response_format=City)
    assert isinstance(parsed, polyresponses.ParsedResponse)
    assert parsed.output_parsed == City(name="Paris", population=2102650)
    assert parsed.id == _REPLY["id"] and (parsed.output_text or "").startswith('{"name"')
    text_format = sent[0]["text"]["format"]
    assert (text_format["type"], text_format["name"], text_format["strict"]) == ("json_schema", "City", True)
    assert text_format["schema"]["required"] == ["name", "population"]


def test_parse_takes_text_format_as_openai_python_names_it() -> None:
    """``text_format=`` (openai-python) and ``response_format=`` (any-llm) are the same; neither or both is
    refused before the network, naming the argument."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=_reply_with_text('{"name": "Paris", "population": 2102650}'))

    with Client("openai", api_key="sk-test-0123456789", transport=httpx.MockTransport(handler)) as client:
        parsed: polyresponses.ParsedResponse[City] = client.responses.parse(
            model="gpt-4o", input="Capital of France?", text_format=City
        )
        assert parsed.output_parsed == City(name="Paris", population=2102650)
        for given in ({}, {"text_format": City, "response_format": City}):
            with pytest.raises(polyresponses.InvalidRequestError, match="text_format"):
                client.responses.parse(model="gpt-4o", input="x", **given)  # type: ignore[arg-type]
    assert len(sent) == 1 and sent[0]["text"]["format"]["name"] == "City"


def test_a_stream_takes_text_format_and_its_final_response_is_parsed() -> None:
    text = '{"name": "Paris", "population": 2102650}'

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_reply_with_text(text))  # a whole reply to a stream request

    with (
        Client("openai", api_key="sk-test-0123456789", transport=httpx.MockTransport(handler)) as client,
        client.responses.stream(model="gpt-4o", input="Capital?", text_format=City) as stream,
    ):
        list(stream)
        final: polyresponses.ParsedResponse[City] = stream.get_final_response()
    assert final.output_parsed == City(name="Paris", population=2102650)


@pytest.mark.anyio
async def test_async_parse_takes_text_format() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return httpx.Response(200, json=_reply_with_text('{"name": "Lyon", "population": 522250}'))

    client = AsyncClient("openai", api_key="sk-test-0123456789", transport=httpx.MockTransport(handler))
    parsed = await client.responses.parse(model="gpt-4o", input="Second city?", text_format=City)
    await client.close()
    assert parsed.output_parsed == City(name="Lyon", population=522250)


def test_parse_rejects_text_that_is_not_the_type() -> None:
    from polyresponses import APIResponseValidationError

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_reply_with_text('{"name": "Paris"}'))

    transport = httpx.MockTransport(handler)
    with (
        Client("openai", api_key="sk-test-0123456789", transport=transport) as client,
        pytest.raises(APIResponseValidationError, match=r"output_text is not a valid City: .*population"),
    ):
        client.responses.parse(model="gpt-4o", input="hi", response_format=City)


def test_callables_become_strict_function_tools(client: Client, server: _Server) -> None:
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Current weather.

        Args:
            city: The city name.
            unit: celsius or fahrenheit.
        """
        return f"{city}: 20 {unit}"

    client.responses.create(model="gpt-4o", input="Weather in Paris?", tools=[get_weather], tool_choice="auto")
    (tool,) = server.last_body["tools"]
    assert (tool["type"], tool["name"], tool["description"], tool["strict"]) == (
        "function",
        "get_weather",
        "Current weather.",
        True,
    )
    assert tool["parameters"]["properties"]["city"]["description"] == "The city name."
    assert tool["parameters"]["required"] == ["city", "unit"]


def test_llamacpp_gets_the_format_as_response_format_too(server: _Server) -> None:
    """llama-server's /v1/responses drops text.format but reads response_format (measured, see tests/data/llamacpp)."""
    with Client("llamacpp", transport=httpx.MockTransport(server)) as client:
        client.responses.create(model="smollm2", input="A city.", extra_body={"text": {"format": _city_format()}})
    body = server.last_body
    assert body["text"]["format"]["name"] == "City"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {k: body["text"]["format"][k] for k in ("name", "schema", "strict")},
    }


def _city_format() -> dict[str, Any]:
    from polyresponses.router._structured import text_format_for

    return text_format_for(City)


def test_mistral_speaks_its_responses_endpoint_with_chat_one_argument_away() -> None:
    """Mistral: its stateless ``/v1/responses`` by default, where the store rebuilds a chain (no
    ``previous_response_id`` is sent) and hosted tools stay refused; ``dialect="chat_completions"`` its chat."""
    server = _Server()
    with Client(
        "mistral",
        api_key="sk-mistral-0123456789",
        transport=httpx.MockTransport(server),
        store=polyresponses.MemoryStore(),
    ) as c:
        assert c.provider.dialect == "openai_responses" and not c.provider.capabilities.stored_state
        first = c.responses.create(model="mistral-medium-latest", input="hi")
        assert server.requests[0].url == "https://api.mistral.ai/v1/responses"
        assert server.requests[0].headers["authorization"] == "Bearer sk-mistral-0123456789"
        c.responses.create(model="mistral-medium-latest", input="again", previous_response_id=first.id)
        body = server.last_body
        assert "previous_response_id" not in body and body.get("store") is not True
        texts = [item.get("content") for item in body["input"] if item.get("role") == "user"]
        assert len(texts) == 2  # the first turn came back from the store
        assert c.responses.input_tokens.count(model="mistral-medium-latest", input="x").input_tokens == 7
        with pytest.raises(polyresponses.UnsupportedFeatureError):
            c.responses.create(model="mistral-medium-latest", input="x", tools=[{"type": "web_search"}])
    with Client("mistral", api_key="k", dialect="chat_completions", transport=httpx.MockTransport(server)) as chat:
        assert chat.provider.dialect == "chat_completions" and chat.provider.chat.required_tool_choice == "any"
        assert not chat.provider.capabilities.endpoints  # a chat endpoint has no Responses-only routes
    with pytest.raises(ValueError, match="no openai_responses endpoint"):
        Client("cerebras", api_key="k", dialect="openai_responses")
    polyresponses.close_pooled_clients()
