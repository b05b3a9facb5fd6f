"""Taking the ``mcp`` tools out of a create body the provider cannot run them in, and the outbound rule.

Pure but for :func:`check_address`, which resolves a host name (the gateway's outbound policy).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from polyresponses.mcp._results import McpFailure, http_error
from polyresponses.mcp._servers import McpServer, read_servers
from polyresponses.router._errors import InvalidRequestError

__all__ = ["McpRequest", "check_address", "history_as_text", "planning_body", "take_mcp_tools"]

_ECHO_DROPPED = ("headers", "authorization")
"""Never echoed or stored: OpenAI answers ``headers: null`` and leaves the token out."""


@dataclass(frozen=True, slots=True)
class McpRequest:
    """The ``mcp`` tools of one request: the servers, the tools as the response echoes them, and a
    ``tool_choice`` that named an MCP tool (mapped to its function once the tools are listed)."""

    servers: list[McpServer]
    echo: list[dict[str, Any]] = field(repr=False)
    tool_choice: Mapping[str, Any] | None = None


def take_mcp_tools(provider: str, wire: dict[str, Any], *, allow_private: bool = True) -> McpRequest | None:
    """Remove the ``mcp`` tools (and an ``mcp`` tool choice) from ``wire``; ``None`` when it has none.

    With ``allow_private`` false, a server given by a literal private address (or ``localhost``) is
    refused here, before the network; names are checked again once resolved (:func:`check_address`).
    """
    tools = cast("list[dict[str, Any]]", wire.get("tools") or [])
    if not any(tool.get("type") == "mcp" for tool in tools):
        return None
    servers = read_servers(provider, tools)
    if not allow_private:
        by_label = {server.label: server for server in servers}
        for index, tool in enumerate(tools):
            server = by_label.get(str(tool.get("server_label"))) if tool.get("type") == "mcp" else None
            if server is None:
                continue
            host = urlsplit(server.url).hostname or ""
            if host == "localhost" or host.endswith(".localhost") or _private_literal(host):
                raise InvalidRequestError(
                    provider,
                    f"tools[{index}].server_url",
                    "the gateway does not dial loopback, private or link-local addresses",
                )
    echo = []
    for tool in tools:
        if tool.get("type") == "mcp":
            shown = {key: value for key, value in tool.items() if key not in _ECHO_DROPPED}
            shown["headers"] = None
            echo.append(shown)
    rest = [tool for tool in tools if tool.get("type") != "mcp"]
    if rest:
        wire["tools"] = rest
    else:
        del wire["tools"]
    choice = wire.get("tool_choice")
    mcp_choice = None
    if isinstance(choice, Mapping) and choice.get("type") == "mcp":
        labels = {server.label for server in servers}
        if choice.get("server_label") not in labels:
            raise InvalidRequestError(provider, "tool_choice.server_label", "names no mcp tool of this request")
        mcp_choice = cast("Mapping[str, Any]", choice)
        wire["tool_choice"] = "required"
    return McpRequest(servers, echo, mcp_choice)


def planning_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` as far as the provider will see it before the loop adds its tools and rewrites the MCP items
    of the history into function calls: planned at once, so what the provider refuses is refused before
    anything is sent."""
    out = {key: value for key, value in body.items() if key != "max_tool_calls"}
    if "tools" not in out and out.get("tool_choice") not in (None, "auto", "none"):
        out["tool_choice"] = "auto"  # it forces an MCP tool, which is offered once listed
    given = out.get("input")
    if isinstance(given, list):
        items = cast("list[Mapping[str, Any]]", given)
        out["input"] = [item for item in items if not str(item.get("type", "")).startswith("mcp_")]
    return out


def history_as_text(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` for a provider that cannot run MCP when this request has no ``mcp`` tool but its history holds
    MCP items (a plain follow-up to a response that used one): each finished call becomes an assistant note
    of what was called and what came back, so the model still knows; listings and answered approvals are
    left out. An approval in the request itself needs its tool: refused, naming it."""
    given = body.get("input")
    if not isinstance(given, list) or not any(str(i.get("type", "")).startswith("mcp_") for i in given):
        return body
    out: list[Any] = []
    for index, item in enumerate(cast("list[dict[str, Any]]", given)):
        kind = str(item.get("type", ""))
        if kind == "mcp_approval_response":
            raise InvalidRequestError(
                provider,
                f"input[{index}]",
                "approves an MCP call, but this request has no mcp tool to run it: send the mcp tool again "
                "(its URL and headers are never stored)",
            )
        if kind == "mcp_call":
            result = item.get("output") if item.get("status") != "incomplete" else "(not run)"
            if item.get("error"):
                result = f"error: {json.dumps(item['error'])}"
            called = f"{item.get('server_label')}.{item.get('name')}({item.get('arguments') or '{}'})"
            note = f"[MCP call {called} returned: {result}]"
            out.append({"role": "assistant", "content": note})
        elif not kind.startswith("mcp_"):
            out.append(item)
    return {**body, "input": out}


def _private_literal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


async def check_address(server: McpServer) -> None:
    """Refuse a server whose host resolves to a non-public address (loopback, private, link-local such
    as cloud metadata at 169.254.169.254, reserved). Raises :class:`McpFailure` (an ``http_error`` 403).

    The name is resolved again when the connection is made; a resolver that answers differently the
    second time (DNS rebinding) is outside what this check can see.
    """
    parts = urlsplit(server.url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise McpFailure(http_error(502, f"cannot resolve the host of {server.origin}")) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise McpFailure(http_error(403, f"{server.origin} is not a public address; the gateway does not dial it"))
