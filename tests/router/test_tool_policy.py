"""Namespaces flattened for providers without them, calls mapped back; hosted tools refused or left out."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from polyresponses import Client, UnsupportedFeatureError
from polyresponses.router._providers import PROVIDERS
from polyresponses.router._tool_policy import apply_tool_policy

if TYPE_CHECKING:
    from polyresponses.generated.openai_params import WebSearchToolParam

# Any, not NamespaceToolParamParam: the generated type of a namespaced function's ``parameters`` is an
# empty TypedDict (the spec's EmptyModelParam), which rejects the JSON schema given here.
CRM: Any = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records.",
    "tools": [
        {
            "type": "function",
            "name": "lookup",
            "description": "Find a customer.",
            "parameters": {"type": "object", "properties": {}},
        },
        {"type": "function", "name": "update", "parameters": {"type": "object", "properties": {}}},
    ],
}
PLAIN = {"type": "function", "name": "crm__lookup", "parameters": {"type": "object", "properties": {}}}


def test_flattened_with_collision_free_names_and_history_renamed() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "tools": [PLAIN, CRM],
        "tool_choice": {"type": "function", "name": "update", "namespace": "crm"},
        "input": [
            {"type": "function_call", "call_id": "c1", "name": "lookup", "namespace": "crm", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    }
    policy = apply_tool_policy(PROVIDERS["mistral"], body)
    assert policy is not None and policy.names == {"crm__lookup_2": ("crm", "lookup"), "crm__update": ("crm", "update")}
    assert [tool["name"] for tool in body["tools"]] == ["crm__lookup", "crm__lookup_2", "crm__update"]
    assert body["tools"][1]["description"] == "[crm] Customer records.\nFind a customer."
    assert body["input"][0] == {"type": "function_call", "call_id": "c1", "name": "crm__lookup_2", "arguments": "{}"}
    assert body["tool_choice"] == {"type": "function", "name": "crm__update"}


def test_openai_keeps_namespaces() -> None:
    body: dict[str, Any] = {"model": "m", "tools": [CRM]}
    assert apply_tool_policy(PROVIDERS["openai"], body) is None and body["tools"] == [CRM]


def _chat_tool_call(name: str) -> httpx.MockTransport:
    reply = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": "{}"}}],
                },
            }
        ],
    }
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if sent[-1].get("stream"):
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
            delta = {
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": "{}"}}
                ]
            }
            lines = [
                {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
                {**chunk, "choices": [{"index": 0, "delta": delta}]},
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            ]
            body = "".join(f"data: {json.dumps(line)}\n\n" for line in lines) + "data: [DONE]\n\n"
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())
        return httpx.Response(200, json=reply)

    transport = httpx.MockTransport(handler)
    transport.sent = sent  # type: ignore[attr-defined]
    return transport


def test_calls_come_back_with_their_namespace() -> None:
    transport = _chat_tool_call("crm__update")
    with Client("mistral", api_key="k", dialect="chat_completions", transport=transport, store=False) as client:
        response = client.responses.create(model="m", input="x", tools=[CRM])
        call = response.output[0]
        assert call.type == "function_call" and (call.namespace, call.name) == ("crm", "update")
        with client.responses.stream(model="m", input="x", tools=[CRM]) as stream:
            events = list(stream)
        done = [e.item for e in events if e.type == "response.output_item.done"]
        assert [(item.namespace, item.name) for item in done] == [("crm", "update")]  # type: ignore[union-attr]
        final = events[-1]
        assert final.type == "response.completed" and final.response.output[0].name == "update"  # type: ignore[union-attr]
    assert [tool["function"]["name"] for tool in transport.sent[0]["tools"]] == ["crm__lookup", "crm__update"]  # type: ignore[attr-defined]


def test_hosted_tools_refused_by_default_and_dropped_on_request() -> None:
    web: WebSearchToolParam = {"type": "web_search"}
    transport = _chat_tool_call("crm__lookup")
    with (
        Client("mistral", api_key="k", dialect="chat_completions", transport=transport, store=False) as client,
        pytest.raises(UnsupportedFeatureError, match="web_search"),
    ):
        client.responses.create(model="m", input="x", tools=[web, CRM])
    with Client(
        "mistral", api_key="k", dialect="chat_completions", transport=transport, store=False, hosted_tools="drop"
    ) as client:
        client.responses.create(model="m", input="x", tools=[web, CRM])
        assert [tool["function"]["name"] for tool in transport.sent[-1]["tools"]] == ["crm__lookup", "crm__update"]  # type: ignore[attr-defined]
        with pytest.raises(UnsupportedFeatureError, match="web_search"):  # forced: never left out
            preview: Any = {"type": "web_search_preview"}  # both a tool and a tool_choice
            client.responses.create(model="m", input="x", tools=[preview], tool_choice=preview)


def test_only_hosted_tools_dropped_leaves_no_tools() -> None:
    body: dict[str, Any] = {"model": "m", "tools": [{"type": "web_search"}], "tool_choice": "auto"}
    policy = apply_tool_policy(PROVIDERS["mistral"], body, "drop")
    assert policy is not None and policy.dropped == ["web_search"] and "tools" not in body and "tool_choice" not in body
