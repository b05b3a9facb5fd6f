"""The cost of running an ``mcp`` tool for a provider that cannot: what the router adds per MCP call.

One response with one MCP call is two model turns (the call, then the answer), a connection to the
MCP server (initialise; the listing when none is in context) and the call itself. Measured on
loopback, each part on its own and then together, in the same run:

- ``turn``: a whole response from the scripted Chat Completions upstream (no tools), through ``Client``;
- ``sdk call`` / ``sdk list + call``: the official ``mcp`` SDK alone against
  ``@modelcontextprotocol/server-everything``, what one response needs of it: a new ``mcp.Client``
  (connect, initialise), the call (after a listing), close, as the router makes one session per
  response; and, for scale, a call on a session that stays open;
- ``loop (listed)``: a response whose one call runs through the loop, the listing given in the input;
- ``loop (listing)``: the same with the listing done by the loop;
- ``async loop (listed)``: the first through ``AsyncClient`` (no helper thread).

Printed: the median of each, and the router's own overhead per MCP call: the loop minus two turns
and the SDK's session for the call (and the listing), i.e. what the loop's bookkeeping, the rewrite
of the history into function calls and the helper thread of the sync shell cost.

    python bench/mcp_loop.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polyresponses import AsyncClient, Client
from polyresponses.store import MemoryStore
from tests._loopback import LoopbackServer
from tests._mcp_servers import launch, stop
from tests.mcp._upstreams import ScriptedTools

if TYPE_CHECKING:
    from polyresponses.generated.openai_params import InputItemParam, MCPListToolsParam, MCPToolParam


def _median_ms(run: Callable[[], Any], rounds: int) -> float:
    run()  # warm: imports, pools, the server's JIT
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def _sdk(url: str, rounds: int) -> tuple[float, float, float]:
    """Medians in ms: a session with one call; with a listing and one call; one call on an open session."""
    from mcp import Client as McpClient

    async def timed(work: Callable[[], Any]) -> float:
        await work()
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            await work()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    async def session(listing: bool) -> None:
        async with McpClient(url, cache=None) as client:
            if listing:
                await client.list_tools()
            await client.call_tool("echo", {"message": "hi"})

    async with McpClient(url, cache=None) as client:
        warm = await timed(lambda: client.call_tool("echo", {"message": "hi"}))
    return await timed(lambda: session(False)), await timed(lambda: session(True)), warm


async def _async_loop(base: str, given: list[InputItemParam], tool: MCPToolParam, rounds: int) -> float:
    async with AsyncClient(
        "mistral", api_key="k", api_base=base, dialect="chat_completions", store=MemoryStore()
    ) as client:
        await client.responses.create(model="m", input=given, tools=[tool])
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            await client.responses.create(model="m", input=given, tools=[tool])
            samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    process, url = launch("streamableHttp")
    try:
        tool: MCPToolParam = {"type": "mcp", "server_label": "ev", "server_url": url, "allowed_tools": ["echo"]}
        tool["require_approval"] = "never"
        listing: MCPListToolsParam = {
            "type": "mcp_list_tools",
            "id": "mcpl_bench",
            "server_label": "ev",
            "tools": [{"name": "echo", "input_schema": {"type": "object"}, "annotations": {"read_only": True}}],
        }
        listed_input: list[InputItemParam] = [{"role": "user", "content": "x"}, listing]
        with LoopbackServer(default=ScriptedTools("chat", [[("echo", '{"message": "hi"}')]])) as upstream:
            client = Client(
                "mistral", api_key="k", api_base=upstream.url, dialect="chat_completions", store=MemoryStore()
            )
            with client:
                turn = _median_ms(lambda: client.responses.create(model="m", input="x"), rounds)
                listed = _median_ms(
                    lambda: client.responses.create(model="m", input=listed_input, tools=[tool]), rounds
                )
                full = _median_ms(lambda: client.responses.create(model="m", input="x", tools=[tool]), rounds)
            async_listed = asyncio.run(_async_loop(upstream.url, listed_input, tool, rounds))
        sdk_call, sdk_list_call, warm_call = asyncio.run(_sdk(url, rounds))
    finally:
        stop(process)
    print(f"rounds {rounds}, medians in ms (loopback; server-everything over Streamable HTTP)")
    for name, value in (
        ("turn (no tools)", turn),
        ("sdk session, call", sdk_call),
        ("sdk session, list + call", sdk_list_call),
        ("sdk call, open session", warm_call),
        ("loop, listing in input", listed),
        ("loop, listing by the loop", full),
        ("async loop, listing in input", async_listed),
    ):
        print(f"  {name:28} {value:8.2f}")
    print(f"router overhead per MCP call (listed):  {listed - 2 * turn - sdk_call:8.2f} ms")
    print(f"router overhead per MCP call (listing): {full - 2 * turn - sdk_list_call:8.2f} ms")
    print(f"router overhead per MCP call (async):   {async_listed - 2 * turn - sdk_call:8.2f} ms")


if __name__ == "__main__":
    main()
