"""MCP tools through the gateway: openai-python streams a response whose MCP loop the gateway runs for a
provider that cannot (a scripted Chat Completions upstream, the reference MCP server), and the
gateway's outbound policy keeps it from dialling private addresses unless the operator allows it."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from polyresponses.testing import check_stream
from tests._loopback import LoopbackServer
from tests._mcp_servers import SAFE_TOOLS, everything, everything_process
from tests.mcp._upstreams import ScriptedTools
from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, BOB, gateway_config

__all__ = ["everything", "everything_process"]  # fixtures used here


def _tool(url: str, **fields: Any) -> Any:
    """An ``mcp`` tool (``Any``: openai-python's ``Mcp`` param type is a TypedDict this dict satisfies)."""
    return {
        "type": "mcp",
        "server_label": "ev",
        "server_url": url,
        "allowed_tools": SAFE_TOOLS,
        "require_approval": "never",
        **fields,
    }


def test_openai_python_streams_an_mcp_loop_the_gateway_runs(everything: str) -> None:
    script = ScriptedTools("chat", [[("echo", '{"message": "via gateway"}')]])
    with LoopbackServer(default=script) as upstream:
        config = gateway_config(upstream.url, mcp_allow_private_addresses=True)
        with (
            RunningGateway(config, {"MISTRAL_API_KEY": "k"}) as gateway,
            openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0) as alice,
        ):
            tool = _tool(everything, headers={"X-Api-Key": "mcp-hdr-7731"})
            with alice.responses.create(
                model="mistral:m",
                input="x",
                tools=[tool],
                stream=True,
            ) as stream:
                events = list(stream)
            assert events[-1].type == "response.completed"
            final = events[-1].response
            stored = alice.responses.retrieve(final.id)
            with (
                openai.OpenAI(base_url=gateway.url, api_key=BOB, max_retries=0) as bob,
                pytest.raises(openai.NotFoundError),
            ):
                bob.responses.retrieve(final.id)  # another key's response is missing, not forbidden
    dumped = [event.model_dump(mode="json", exclude_unset=True) for event in events]
    assert check_stream(dumped, openresponses=False) == []
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    call = final.output[1]
    assert call.type == "mcp_call" and call.output == "Echo: via gateway"
    assert final.output_text == "done: Echo: via gateway"
    assert [item.type for item in stored.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert "mcp-hdr-7731" not in json.dumps(dumped) and "mcp-hdr-7731" not in stored.model_dump_json()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/mcp", "http://169.254.169.254/latest", "http://localhost:8080/mcp", "http://[::1]:80/mcp"],
)
def test_the_gateway_refuses_private_mcp_servers_by_default(url: str) -> None:
    with LoopbackServer(default=ScriptedTools("chat")) as upstream:
        with (
            RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway,
            openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0) as alice,
            pytest.raises(openai.BadRequestError) as refused,
        ):
            alice.responses.create(model="mistral:m", input="x", tools=[_tool(url)])
        assert upstream.attempts == 0
    assert "does not dial loopback, private or link-local" in str(refused.value)
