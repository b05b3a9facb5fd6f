"""Our MCP stream against OpenAI's own: the recorded gpt-4.1 stream that lists three servers' tools
(``../shared/fixtures/recorded/openai_responses/...mcp_list_tools_stream...``), replayed event by event.

Per ``mcp_list_tools`` item OpenAI sends ``output_item.added`` (``tools: []``) →
``mcp_list_tools.in_progress`` → ``mcp_list_tools.completed`` → ``output_item.done`` with the tools,
every event naming ``item_id`` and ``output_index``; listings run concurrently, so the events of
different servers interleave. Ours must give each item the same order, the same item keys and the
same tool keys (OpenAI's ``{"read_only": ...}`` annotations), for as many servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from polyresponses import Client
from polyresponses.store import MemoryStore
from tests._loopback import LoopbackServer
from tests._mcp_servers import everything, everything_process
from tests._recorded import exchanges, sse_data
from tests.mcp._upstreams import ScriptedTools

__all__ = ["everything", "everything_process"]  # fixtures used here

_CASSETTE = "builtin_tools_stream__test_openai_responses_model_mcp_list_tools_stream_backfills_missing_results.yaml"


def _recorded() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for exchange in exchanges("openai_responses"):
        if exchange.cassette == _CASSETTE and exchange.response_text:
            return exchange.request_body, [json.loads(data) for data in sse_data(exchange.response_text)]
    pytest.fail(f"the recorded OpenAI MCP stream {_CASSETTE} is missing from ../shared/fixtures/recorded")


def _per_item(events: list[dict[str, Any]], prefix: str) -> dict[str, list[str]]:
    """Event types per item whose id starts with ``prefix``, in arrival order."""
    order: dict[str, list[str]] = {}
    for event in events:
        ident = event.get("item_id") or (event.get("item") or {}).get("id")
        if isinstance(ident, str) and ident.startswith(prefix):
            order.setdefault(ident, []).append(event["type"])
    return order


@pytest.fixture
def ours(everything: str) -> Iterator[list[dict[str, Any]]]:
    request, _ = _recorded()
    tools: list[Any] = [
        {**tool, "server_url": everything, "allowed_tools": ["echo", "get-sum"]} for tool in request["tools"]
    ]
    with (
        LoopbackServer(default=ScriptedTools("chat")) as upstream,
        Client("mistral", api_key="k", api_base=upstream.url, dialect="chat_completions", store=MemoryStore()) as c,
        c.responses.stream(model="m", input=request["input"], tools=tools) as stream,
    ):
        yield [event.model_dump(mode="json", exclude_none=True) for event in stream]


def test_each_listing_follows_openais_event_order(ours: list[dict[str, Any]]) -> None:
    _, recorded = _recorded()
    theirs = _per_item(recorded, "mcpl_")
    mine = _per_item(ours, "mcpl_")
    assert len(mine) == len(theirs) == 3
    full = [
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
    ]
    for order in theirs.values():  # the recording lost two of OpenAI's done events (the cassette's point)
        assert order == full[: len(order)] and len(order) >= 3
    assert all(order == full for order in mine.values())
    for events in (recorded, ours):
        for event in events:
            if event["type"].startswith("response.mcp_list_tools."):
                assert {"item_id", "output_index", "sequence_number"} <= set(event)


def test_listing_items_have_openais_keys(ours: list[dict[str, Any]]) -> None:
    _, recorded = _recorded()

    def shapes(events: list[dict[str, Any]]) -> tuple[set[str], set[str], set[str], list[Any]]:
        added = [
            e["item"]
            for e in events
            if e["type"] == "response.output_item.added" and e["item"]["type"] == "mcp_list_tools"
        ]
        done = [
            e["item"]
            for e in events
            if e["type"] == "response.output_item.done" and e["item"]["type"] == "mcp_list_tools"
        ]
        tool = done[0]["tools"][0]
        return set(added[0]), set(done[0]), set(tool), [added[0]["tools"], tool["annotations"]]

    their_added, their_done, their_tool, their_values = shapes(recorded)
    my_added, my_done, my_tool, my_values = shapes(ours)
    assert my_added == their_added and my_done == their_done and my_tool == their_tool
    assert my_values[0] == their_values[0] == [] and set(my_values[1]) == set(their_values[1]) == {"read_only"}
