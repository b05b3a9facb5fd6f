"""Contract tests: Stoplight Prism serving our vendored OpenAI spec validates the requests we send.

Prism answers 422 to a body that breaks the spec, so each accepted request below is a request the
OpenAI API's own contract accepts. A deliberately wrong body proves the check bites; 401 and
forced 429/500 (``Prefer: code=...``) exercise the error mapping and the retries against a real
HTTP server. ``scripts/test.sh`` starts Prism (``scripts/prism``) and sets ``POLYRESPONSES_PRISM_URL``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import polyresponses
from polyresponses import (
    APIResponseValidationError,
    AsyncClient,
    AuthenticationError,
    Client,
    RateLimitError,
    UnprocessableEntityError,
)
from polyresponses.router._structured import text_format_for
from polyresponses.types import MCPTool, Response
from tests._recorded import exchanges
from tests._services import service_url


@pytest.fixture(scope="module")
def prism() -> str:
    return service_url("POLYRESPONSES_PRISM_URL", "Prism (scripts/prism start)")


@pytest.fixture
def client(prism: str) -> Iterator[Client]:
    with Client("openai", api_key="sk-contract-test", api_base=prism, max_retries=0, timeout=60) as c:
        yield c


class Weather(BaseModel):
    city: str
    celsius: float


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city.

    Args:
        city: City name.
        unit: celsius or fahrenheit.
    """
    return f"{city} {unit}"


# One entry per parameter of the public API (any-llm's list, shared/seeds/001), with a real value.
_PARAMETERS: list[tuple[str, dict[str, Any]]] = [
    ("instructions", {"instructions": "Answer in one word."}),
    ("tools: callable", {"tools": [get_weather]}),
    ("tools: dict function", {"tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
    ("tools: MCP model", {"tools": [MCPTool(type="mcp", server_label="docs", server_url="https://mcp.example.com")]}),
    ("tools: web_search", {"tools": [{"type": "web_search"}]}),
    ("tools: file_search", {"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}),
    ("tools: code_interpreter", {"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}),
    ("tools: image_generation", {"tools": [{"type": "image_generation"}]}),
    ("tool_choice: string", {"tools": [get_weather], "tool_choice": "required"}),
    ("tool_choice: function", {"tools": [get_weather], "tool_choice": {"type": "function", "name": "get_weather"}}),
    ("max_output_tokens", {"max_output_tokens": 64}),
    ("temperature", {"temperature": 0.7}),
    ("top_p", {"top_p": 0.9}),
    ("max_tool_calls", {"max_tool_calls": 3}),
    ("parallel_tool_calls", {"parallel_tool_calls": False}),
    ("reasoning", {"reasoning": {"effort": "low", "summary": "auto"}}),
    ("text", {"text": {"format": {"type": "text"}, "verbosity": "low"}}),
    ("response_format: strict schema of a model", {"response_format": text_format_for(Weather)}),
    ("truncation", {"truncation": "auto"}),
    ("store", {"store": True}),
    ("service_tier", {"service_tier": "flex"}),
    ("user", {"user": "user-1234"}),
    ("metadata", {"metadata": {"run": "contract"}}),
    ("previous_response_id", {"previous_response_id": "resp_123"}),
    ("include", {"include": ["reasoning.encrypted_content", "message.output_text.logprobs"]}),
    ("background", {"background": True}),
    ("safety_identifier", {"safety_identifier": "hash-of-user"}),
    ("prompt_cache_key", {"prompt_cache_key": "contract-tests"}),
    ("prompt_cache_retention", {"prompt_cache_retention": "24h"}),
    ("conversation: id", {"conversation": "conv_123"}),
    ("conversation: object", {"conversation": {"id": "conv_123"}}),
    ("top_logprobs", {"top_logprobs": 2}),
    (
        "input: tool round trip",
        {
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "21 C"},
            ],
            "tools": [get_weather],
        },
    ),
]


@pytest.mark.parametrize(("name", "params"), _PARAMETERS, ids=[name for name, _ in _PARAMETERS])
def test_prism_accepts_each_parameter(prism: str, name: str, params: dict[str, Any]) -> None:
    params = dict(params)
    input_data = params.pop("input", "What is the weather in Paris?")
    response = polyresponses.responses(
        "openai:gpt-4o",
        input_data,
        api_base=prism,
        api_key="sk-contract-test",
        client_args={"max_retries": 0},
        **params,
    )
    assert isinstance(response, Response), name


def test_prism_accepts_all_parameters_at_once(client: Client) -> None:
    combined: dict[str, Any] = {}
    for name, params in _PARAMETERS:
        if name.startswith(("tools", "tool_choice", "input", "conversation", "response_format")):
            continue  # one value each; previous_response_id and conversation also exclude each other
        combined.update(params)
    combined["tools"] = [get_weather, {"type": "web_search"}]
    combined["tool_choice"] = "auto"
    response = client.responses.create(model="gpt-4o", input="Plan a picnic.", **combined)
    assert response.object == "response"


_RECORDED_REQUESTS = [
    e
    for e in exchanges("openai_responses")
    if e.method == "POST"
    and e.uri.split("?")[0].endswith("/responses")
    and isinstance(e.request_body, dict)
    # pydantic-ai's error test sends temperature -1 on purpose: our own validation refuses it.
    and e.id != "error_stream__test_openai_responses_model_http_error.yaml#0"
]


# Real requests the real API accepted but the upstream spec rejects, each for a known spec defect:
# - "oneOf": a user message with a list of content parts matches both EasyInputMessage and
#   InputMessage (Item), so InputItem's `oneOf` can never hold; the spec means anyOf.
# - "logprobs": replayed assistant history has output_text parts without `logprobs`, which the
#   spec requires (the openai SDK's own param type does not; our overlay openai.request-leniency).
_SPEC_DEFECTS = {
    "builtin_tools__test_openai_responses_model_web_search_tool.yaml#1": ("body.input.4.content.0", "logprobs"),
    "builtin_tools_stream__test_openai_responses_model_web_search_tool_stream.yaml#1": (
        "body.input.4.content.0",
        "logprobs",
    ),
    "cached_tokens__test_openai_responses_prompt_cache_e2e.yaml#0": ("body.input.0", "oneOf"),
    "cached_tokens__test_openai_responses_prompt_cache_e2e.yaml#1": ("body.input.0", "oneOf"),
    "document_input__test_openai_responses_text_document_url_input.yaml#0": ("body.input.0", "oneOf"),
    "image_input__test_openai_responses_image_url_input.yaml#0": ("body.input.0", "oneOf"),
    "reasoning__test_openai_responses_model_thinking_part.yaml#1": ("body.input.2.content.0", "logprobs"),
    "reasoning_tool_call_stream__test_openai_responses_phase_streamed_on_part_start.yaml#1": (
        "body.input.2.content.0",
        "logprobs",
    ),
}


@pytest.mark.parametrize("exchange_id", [e.id for e in _RECORDED_REQUESTS])
def test_prism_accepts_every_recorded_request_as_we_rebuild_it(client: Client, exchange_id: str) -> None:
    exchange = next(e for e in _RECORDED_REQUESTS if e.id == exchange_id)
    body = dict(exchange.request_body)
    model, stream = body.pop("model"), bool(body.pop("stream", False))
    if exchange_id in _SPEC_DEFECTS:
        where, defect = _SPEC_DEFECTS[exchange_id]
        with pytest.raises(UnprocessableEntityError) as caught:
            client.responses.create(model=model, stream=False, **body)
        locations = {".".join(p["location"]) for p in caught.value.body["validation"]}
        assert where in locations, locations
        messages = " ".join(p["message"] for p in caught.value.body["validation"])
        assert ("exactly one schema in oneOf" if defect == "oneOf" else "required property 'detail'") in messages
    elif stream:
        with client.responses.create(model=model, stream=True, **body) as events:
            assert events.get_final_response().object == "response"
    else:
        assert client.responses.create(model=model, stream=False, **body).object == "response"


def test_a_wrong_body_gets_422_so_the_check_bites(prism: str) -> None:
    wrong = {"model": 123, "input": {"x": 1}, "temperature": "hot"}
    reply = httpx.post(f"{prism}/responses", json=wrong, headers={"Authorization": "Bearer k"}, timeout=60)
    assert reply.status_code == 422
    named = {tuple(problem["location"]) for problem in reply.json()["validation"]}
    assert {("body", "model"), ("body", "temperature")} <= named


def test_missing_auth_is_authentication_error(prism: str) -> None:
    with (
        Client("openai_compatible", api_base=prism, max_retries=0) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.responses.create(model="gpt-4o", input="hi")
    assert caught.value.status_code == 401 and caught.value.provider == "openai_compatible"


def test_forced_429_is_retried_honouring_retry_after_then_raised(prism: str) -> None:
    """Prism sends the spec's ``Retry-After: 1``; it cannot force a 5xx (the spec declares none)."""
    attempts: list[str] = []

    def count(request: httpx.Request) -> None:
        attempts.append(request.url.path)

    http = httpx.Client(event_hooks={"request": [count]}, timeout=60)
    started = time.monotonic()
    with (
        Client("openai", api_key="k-contract-test", api_base=prism, max_retries=2, http_client=http) as client,
        pytest.raises(RateLimitError) as caught,
    ):
        client.responses.create(model="gpt-4o", input="hi", extra_headers={"Prefer": "code=429"})
    http.close()
    assert (caught.value.status_code, caught.value.retry_after) == (429, 1.0)
    assert attempts == ["/v1/responses"] * 3
    assert time.monotonic() - started >= 2.0  # two waits of Retry-After: 1


def test_every_route_round_trips(client: Client) -> None:
    assert client.responses.retrieve("resp_123").object == "response"
    assert client.responses.cancel("resp_123").object == "response"
    client.responses.delete("resp_123")
    assert client.responses.input_items.list("resp_123", limit=5).object == "list"
    # The spec's own compact example omits required message ids and usage details: read strictly, refused.
    with pytest.raises(APIResponseValidationError, match="not a valid CompactResource: at output.0.message.id"):
        client.responses.compact(model="gpt-4o", input="Summarise our chat.")
    assert client.responses.input_tokens.count(model="gpt-4o", input="Count me.").input_tokens >= 0


def test_every_conversations_route_round_trips(client: Client) -> None:
    """OpenAI keeps conversations itself: each Conversations API call goes to its route, and Prism accepts it."""
    created = client.conversations.create(items=[{"role": "user", "content": "hi"}], metadata={"topic": "t"})
    assert created.object == "conversation"
    assert client.conversations.retrieve("conv_123").object == "conversation"
    assert client.conversations.update("conv_123", metadata={"k": "v"}).object == "conversation"
    assert client.conversations.items.list("conv_123", limit=5, order="asc").object == "list"
    assert client.conversations.items.create("conv_123", items=[{"role": "user", "content": "x"}]).object == "list"
    assert client.conversations.items.retrieve("conv_123", "msg_abc").type == "message"
    assert client.conversations.items.delete("conv_123", "msg_abc").object == "conversation"
    assert client.conversations.delete("conv_123").deleted


def test_stream_from_the_spec_example(client: Client) -> None:
    with client.responses.stream(model="gpt-4o", input="Say hello.") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert events[-1].type == "response.completed"
    assert final.output_text == "".join(e.delta for e in events if e.type == "response.output_text.delta")


@pytest.mark.anyio
async def test_async_create_and_stream(prism: str) -> None:
    async with AsyncClient("openai", api_key="sk-contract-test", api_base=prism, max_retries=0, timeout=60) as client:
        response = await client.responses.create(model="gpt-4o", input="hi", tools=[get_weather])
        assert response.object == "response"
        async with client.responses.stream(model="gpt-4o", input="hi") as stream:
            types = [event.type async for event in stream]
        assert types[-1] == "response.completed"


def test_prism_reply_bodies_are_json(prism: str) -> None:
    """Sanity check on the mock itself: the canned body is the spec's example, valid JSON."""
    reply = httpx.post(
        f"{prism}/responses", json={"model": "gpt-4o"}, headers={"Authorization": "Bearer k"}, timeout=60
    )
    assert reply.status_code == 200 and json.loads(reply.content)["object"] == "response"
