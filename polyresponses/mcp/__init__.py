"""The ``mcp`` tool on every provider: the router as MCP client where the provider cannot run it.

A request's ``{"type": "mcp", "server_label": ..., "server_url": ...}`` tool passes through to a
provider that runs MCP itself (OpenAI, Azure OpenAI, xAI, Groq, ... : ``"mcp"`` in its row's tools).
For every other provider the router lists the server's tools, offers them to the model as function
tools, runs the model's calls against the server and loops, inside one response whose items, events
and approvals are OpenAI's own (:mod:`polyresponses.mcp._loop`).

The protocol client is the official ``mcp`` SDK (the ``[mcp]`` extra, also in ``[server]``), imported
only when a request needs it; ``import polyresponses`` never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["McpOptions"]


@dataclass(frozen=True, slots=True)
class McpOptions:
    """How the router runs MCP tools for providers that cannot (``Client(mcp=McpOptions(...))``).

    ``max_turns``: model turns in one response when ``max_tool_calls`` is unset (the last one is sent
    with ``tool_choice: "none"``, so the response ends with an answer). ``connect_timeout``: seconds
    to connect to and initialise a server. ``call_timeout``: seconds for one listing or call.
    ``allow_private_addresses``: whether a server may be on a loopback, private, link-local (cloud
    metadata) or otherwise non-public address; the library allows it (it runs on the user's own
    machine), the gateway refuses it unless the operator allows it.
    """

    max_turns: int = 10
    connect_timeout: float = 10.0
    call_timeout: float = 60.0
    allow_private_addresses: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_turns, bool) or not isinstance(self.max_turns, int) or self.max_turns < 1:
            raise ValueError(f"McpOptions.max_turns must be a positive integer, got {self.max_turns!r}")
        for name in ("connect_timeout", "call_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"McpOptions.{name} must be a positive number of seconds, got {value!r}")
