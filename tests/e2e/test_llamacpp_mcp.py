"""An ``mcp`` tool on the real-model lane: llama-server (SmolLM2) through the router's MCP loop.

SmolLM2-135M does not call tools, and llama-server does not force it (``tool_choice: "required"`` is
answered with prose for this model's template; measured on the pinned build), so the loop's calls
are covered by the scripted upstreams of ``tests/mcp``. What this lane holds is what a real server
does with the loop's requests: it accepts the MCP server's tools as function tools (each request is
captured on the way out), and the response comes back as OpenAI shapes it: the listing, then the
model's own answer, one usage for the whole response.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from polyresponses import Client
from polyresponses.store import MemoryStore
from polyresponses.testing import check_stream
from tests._mcp_servers import everything, everything_process
from tests._services import service_url

__all__ = ["everything", "everything_process"]  # fixtures used here


@pytest.fixture(scope="module")
def base_url() -> str:
    return service_url("POLYRESPONSES_LLAMACPP_URL", "llama-server (scripts/local-model start)")


@pytest.fixture
def sent() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def client(base_url: str, sent: list[dict[str, Any]]) -> Iterator[Client]:
    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.read()))

    http = httpx.Client(timeout=120, event_hooks={"request": [record]})
    with http, Client("llamacpp", api_base=base_url, http_client=http, store=MemoryStore()) as c:
        yield c


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_real_model_is_offered_the_servers_tools(
    client: Client, sent: list[dict[str, Any]], everything: str, stream: bool
) -> None:
    tool = {"type": "mcp", "server_label": "ev", "server_url": everything, "allowed_tools": ["echo", "get-sum"]}
    params: dict[str, Any] = {
        "model": "smollm2",
        "input": "Use the echo tool to echo 'blue42'.",
        "tools": [tool],
        "temperature": 0,
        "max_output_tokens": 24,
    }
    if stream:
        with client.responses.stream(**params) as events_stream:
            events = list(events_stream)
            response = events_stream.get_final_response()
        assert check_stream(events, openresponses=False) == []
    else:
        response = client.responses.create(**params)
    assert response.status in ("completed", "incomplete")
    assert response.output[0].type == "mcp_list_tools"
    assert [t.name for t in response.output[0].tools] == ["echo", "get-sum"]
    offered = [t.get("name") or t.get("function", {}).get("name") for t in sent[0]["tools"]]
    assert offered == ["echo", "get-sum"] and all(t["type"] == "function" for t in sent[0]["tools"])
    calls = [item for item in response.output if item.type == "mcp_call"]
    assert (len(sent) == 1) == (not calls)  # one model turn, and another after any turn whose calls ran
    assert response.output[-1].type == "message" and response.usage is not None
    assert response.usage.output_tokens > 0
