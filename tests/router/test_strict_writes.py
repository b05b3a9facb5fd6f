"""Writing is strict where reading is lenient (issue 15): a key the spec does not define inside an object it
does define is refused before anything is sent, naming its path; an item that matches no variant names
the variant it came closest to and what it lacks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from polyresponses import Client
from polyresponses.router._errors import InvalidRequestError

SENT: list[httpx.Request] = []


def _create(client: Client, **params: Any) -> Any:
    """``create`` with data that is wrong on purpose: what a type checker would have refused is sent anyway."""
    return client.responses.create(model="m", **params)


def _client(provider: str = "openai", **options: Any) -> Client:
    SENT.clear()

    def handler(request: httpx.Request) -> httpx.Response:
        SENT.append(request)
        return httpx.Response(500)

    return Client(provider, api_key="k", transport=httpx.MockTransport(handler), store=False, max_retries=0, **options)


@pytest.mark.parametrize(
    ("params", "path", "model"),
    [
        ({"reasoning": {"efort": "high"}}, "reasoning.efort", "Reasoning"),
        ({"text": {"format": {"type": "text"}, "verbose": "low"}}, "text.verbose", "ResponseTextParam"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": "x", "cache_control": {}}]}]},
            "input[0].content[0].cache_control",
            "InputTextContent",
        ),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True, "stict": True}]},
            "tools[0].stict",
            "FunctionTool",
        ),
    ],
)
def test_an_unknown_key_inside_a_spec_object_is_refused(params: dict[str, Any], path: str, model: str) -> None:
    with _client() as client, pytest.raises(InvalidRequestError) as refused:
        _create(client, **{"input": "x", **params})
    assert f"invalid request at {path}: unknown key: {model} defines no such field" in str(refused.value)
    assert SENT == []


def test_the_same_key_is_named_every_time() -> None:
    messages = set()
    for _ in range(5):
        with _client() as client, pytest.raises(InvalidRequestError) as refused:
            _create(client, input="x", reasoning={"zz": 1, "efort": "high", "aa": 2})
        messages.add(str(refused.value))
    assert len(messages) == 1


def test_what_stays_open() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string", "x-anything": 1}}, "$defs": {}}
    with _client() as client:
        with pytest.raises(Exception) as reached:  # the 500 after sending: it was sent
            _create(
                client,
                input="x",
                text={"format": {"type": "json_schema", "name": "s", "schema": schema}},  # a JSON Schema: any key
                tools=[{"type": "function", "name": "f", "parameters": schema, "strict": False}],
                extra_body={"reasoning": {"enabled": True, "vendor_knob": 3}},  # extra_body: sent unchecked
                top_level_extension=1,  # the body's own top level stays open
            )
        assert type(reached.value).__name__ == "InternalServerError"
    assert len(SENT) == 1


def test_provider_extensions_declared_in_the_overlays_are_accepted() -> None:
    with _client() as client, pytest.raises(Exception, match="500"):
        _create(
            client,
            input=[
                {"role": "user", "content": [{"type": "input_text", "text": "x", "cache_point": {"type": "default"}}]}
            ],
            reasoning={"enabled": True, "max_tokens": 512, "exclude": False},
        )
    assert len(SENT) == 1


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"type": "function_call", "name": "f"},
            "input[0].call_id: Field required (closest variant: FunctionToolCall; it lacks call_id, arguments)",
        ),
        ({"role": "user"}, "input[0].content: Field required (closest variant: EasyInputMessage; it lacks content)"),
        (
            {"type": "mcp_approval_response", "approve": True},
            "input[0].approval_request_id: Field required (closest variant: MCPApprovalResponse",
        ),
    ],
)
def test_an_item_that_matches_no_variant_names_the_closest(item: dict[str, Any], message: str) -> None:
    with _client() as client, pytest.raises(InvalidRequestError) as refused:
        _create(client, input=[item])
    assert message in str(refused.value)
    assert SENT == []


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "cohere"])
def test_a_tool_output_without_call_id_is_refused_where_it_cannot_be_paired(provider: str) -> None:
    with _client(provider) as client, pytest.raises(InvalidRequestError, match=r"input\[0\]\.call_id: a function"):
        _create(client, input=[{"type": "function_call_output", "output": "42"}])
    assert SENT == []
