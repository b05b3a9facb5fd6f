"""The ``mcp`` tools of a request, read once: which servers, which of their tools, which need approval.

Pure: nothing here touches the network. The rules follow OpenAI's ``MCPTool`` (spec ``MCPTool``,
``MCPToolFilter``, ``MCPToolRequireApproval``) and its "Remote MCP" guide:

- ``allowed_tools`` is a list of names or a filter ``{tool_names, read_only}``; only matching tools are
  "imported" (listed and offered to the model).
- ``require_approval`` is ``"always"``, ``"never"`` or ``{always: filter, never: filter}``; the spec's
  default is ``"always"``. A tool matched by neither filter needs approval, and so does one matched by
  both: asking is the safe side when the caller's intent is unclear.
- A filter holding both keys matches a tool that satisfies both; an empty filter matches every tool.
- ``read_only`` matches the MCP annotation ``readOnlyHint`` (``read_only`` in the listing's
  annotations, which is how OpenAI reports it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from polyresponses.router._errors import InvalidRequestError, UnsupportedFeatureError

__all__ = [
    "McpServer",
    "allows",
    "listed_tool",
    "needs_approval",
    "read_servers",
    "tool_names",
]

_NOT_EMULATED = ("connector_id", "tunnel_id", "defer_loading")
"""Fields only OpenAI can act on: its connectors, its tunnels, its tool search."""


@dataclass(frozen=True, slots=True)
class McpServer:
    """One ``mcp`` tool of a request. ``headers`` (with ``authorization`` as a bearer token) go to the
    server only: never into a model request, a stored response, a log line or an error."""

    label: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    allowed_tools: Any = None
    require_approval: Any = None
    description: str | None = None

    @property
    def origin(self) -> str:
        """Scheme, host and port, for messages: a URL's path, query or user info may carry a token."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def read_servers(provider: str, tools: Sequence[Mapping[str, Any]]) -> list[McpServer]:
    """The ``mcp`` tools of ``tools`` (already validated as ``MCPTool``), checked for what can be emulated.

    Raises :class:`UnsupportedFeatureError` for a connector, a tunnel or deferred loading (only OpenAI
    runs those) and :class:`InvalidRequestError` for two tools with one ``server_label`` or a URL that
    is not http(s), before anything is sent.
    """
    servers: list[McpServer] = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "mcp":
            continue
        where = f"tools[{index}]"
        for name in _NOT_EMULATED:
            if tool.get(name) not in (None, False):
                raise UnsupportedFeatureError(
                    provider, f"mcp {name} ({where}.{name})", "only OpenAI runs it; give server_url instead"
                )
        label, url = str(tool.get("server_label") or ""), tool.get("server_url")
        if not isinstance(url, str) or not _is_http_url(url):
            raise InvalidRequestError(provider, f"{where}.server_url", "must be an http(s) URL of an MCP server")
        if any(server.label == label for server in servers):
            raise InvalidRequestError(provider, f"{where}.server_label", f"{label!r} names two MCP servers")
        headers = {str(key): str(value) for key, value in (tool.get("headers") or {}).items()}
        if (token := tool.get("authorization")) is not None:  # one bearer token: the field wins over a header
            headers = {key: value for key, value in headers.items() if key.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {token}"
        servers.append(
            McpServer(
                label,
                url,
                headers,
                tool.get("allowed_tools"),
                tool.get("require_approval"),
                tool.get("server_description"),
            )
        )
    return servers


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _matches(tool_filter: Any, name: str, read_only: bool) -> bool:
    """Whether a tool matches an ``MCPToolFilter`` (or a plain list of names)."""
    if isinstance(tool_filter, list):
        return name in tool_filter
    spec = cast("Mapping[str, Any]", tool_filter)
    names, wanted = spec.get("tool_names"), spec.get("read_only")
    return (names is None or name in names) and (wanted is None or wanted == read_only)


def is_read_only(tool: Mapping[str, Any]) -> bool:
    """The listing's ``read_only`` (OpenAI's spelling) or MCP's own ``readOnlyHint``."""
    annotations = tool.get("annotations") or {}
    return bool(annotations.get("read_only", annotations.get("readOnlyHint", False)))


def allows(server: McpServer, tool: Mapping[str, Any]) -> bool:
    """Whether ``server``'s ``allowed_tools`` admit ``tool`` (an ``MCPListToolsTool`` or an MCP listing entry)."""
    return server.allowed_tools is None or _matches(server.allowed_tools, str(tool.get("name")), is_read_only(tool))


def listed_tool(server: McpServer, tool: Mapping[str, Any]) -> dict[str, Any] | None:
    """An MCP ``tools/list`` entry as an ``MCPListToolsTool``, or ``None`` when ``allowed_tools`` leaves it out.

    The input schema is kept as the server sent it; annotations become ``{"read_only": ...}`` as
    OpenAI reports them.
    """
    name = str(tool.get("name") or "")
    if not name or not allows(server, tool):
        return None
    listed: dict[str, Any] = {"name": name, "input_schema": tool.get("inputSchema") or {"type": "object"}}
    if tool.get("description") is not None:
        listed["description"] = tool["description"]
    listed["annotations"] = {"read_only": is_read_only(tool)}
    return listed


def needs_approval(server: McpServer, tool: Mapping[str, Any]) -> bool:
    """Whether calling ``tool`` (an ``MCPListToolsTool``) must wait for the caller's approval."""
    policy = server.require_approval
    if policy is None or policy == "always":
        return True
    if policy == "never":
        return False
    rules = cast("Mapping[str, Any]", policy)
    name, read_only = str(tool.get("name")), is_read_only(tool)
    if rules.get("always") is not None and _matches(rules["always"], name, read_only):
        return True
    return not (rules.get("never") is not None and _matches(rules["never"], name, read_only))


_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
"""A function name every dialect takes: OpenAI and Anthropic ``^[a-zA-Z0-9_-]{1,64}$``, Gemini's leading
letter or underscore, Bedrock's ``[a-zA-Z0-9_-]+`` up to 64."""


def _prefixed(label: str, name: str, hashed: bool = False) -> str:
    """``mcp_{label}__{name}``, made valid; when too long, or when ``hashed`` (it collided), 55 characters
    of it and 8 hex of the SHA-1 of the label and name apart (so ``a``+``b__c`` and ``a__b``+``c`` differ)."""
    raw = f"mcp_{label}__{name}"
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", raw)
    if len(clean) <= 64 and clean == raw and not hashed:
        return clean
    digest = hashlib.sha1(f"{label}\0{name}".encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{clean[:55]}_{digest}"


def tool_names(
    listings: Iterable[tuple[str, Sequence[Mapping[str, Any]]]], taken: Iterable[str] = ()
) -> dict[tuple[str, str], str]:
    """``(server_label, tool name) -> function name`` the model sees, for every listed tool.

    A tool keeps its own name when that name is valid everywhere and no other server's tool or the
    caller's own tools (``taken``) use it; otherwise every holder of the name is prefixed with its
    server (``mcp_{label}__{name}``), and a prefixed name that still meets another name gets a hash
    of its server and tool. Derived from the listings alone, so a history replayed later maps the
    same way, and one name never stands for two tools.
    """
    pairs = list(dict.fromkeys((label, str(tool.get("name"))) for label, tools in listings for tool in tools))
    reserved = set(taken)
    counts: dict[str, int] = {}
    for _, name in pairs:
        counts[name] = counts.get(name, 0) + 1
    names: dict[tuple[str, str], str] = {}
    for label, name in pairs:
        unique = counts[name] == 1 and name not in reserved and _VALID_NAME.fullmatch(name) is not None
        names[(label, name)] = name if unique else _prefixed(label, name)
    kept = {names[pair] for pair in pairs if names[pair] == pair[1]}
    seen: dict[str, int] = {}
    for final in names.values():
        seen[final] = seen.get(final, 0) + 1
    for pair, final in names.items():
        if final != pair[1] and (seen[final] > 1 or final in kept or final in reserved):
            names[pair] = _prefixed(*pair, hashed=True)
    return names


def fallback_name(label: str, name: str) -> str:
    """The function name of a call whose tool is no longer listed (a history replayed after its server left)."""
    return _prefixed(label, name)
