"""Tools a provider cannot take as they are: namespaces flattened, hosted tools left out on request.

**Namespaces** (``{"type": "namespace", "name": "crm", "tools": [...]}``, OpenAI's "tool namespaces",
which Codex CLI sends for its plugin tools) exist only on OpenAI. For every other provider the
namespace's function and custom tools are offered as plain tools under collision-free names
(``crm__lookup``; a name already taken gets ``_2``, ``_3``, ...), calls in the input history are
renamed the same way, and the model's calls are mapped back: the caller sees ``name: "lookup"``
with ``namespace: "crm"``, as OpenAI answers, whatever the provider saw.

**Hosted tools** (``web_search``, ``file_search``, ...) a provider cannot run are refused by default
(:class:`UnsupportedFeatureError` before the network). With ``hosted_tools="drop"`` a tool that is
merely *offered* is left out instead, because offering a tool does not oblige the model to use it;
the names left out are returned so the caller can say so (the gateway sends them in a response
header and logs a warning). A tool that ``tool_choice`` *forces* is never left out: that request
is still refused, since the model could not do what it was told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from polyresponses.router._capabilities import tool_kind
from polyresponses.router._providers import Provider

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = ["HostedTools", "ToolPolicy", "apply_tool_policy"]

HostedTools = Literal["refuse", "drop"]
"""What to do with an offered hosted tool the provider cannot run."""

_SEPARATOR = "__"
_CLIENT_TOOLS = frozenset({"function", "custom"})


@dataclass(slots=True)
class ToolPolicy:
    """What was changed in a request's tools, and how to map the reply back."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Flattened name -> (namespace, original name)."""
    dropped: list[str] = field(default_factory=list)
    """Types of the hosted tools left out (``hosted_tools="drop"``)."""

    def rename_input(self, body: dict[str, Any]) -> None:
        """Send the calls of the input history under the flat names (again once a chain was rebuilt into it)."""
        if self.names:
            _rename_history(body, self)

    def restore_response(self, response: Response) -> None:
        """Put namespace and original name back on the function and custom calls of ``response``."""
        for item in response.output:
            self._restore_item(item)

    def restore_event(self, event: ResponseStreamEvent) -> None:
        """The same on one stream event (its item, or its response)."""
        item = getattr(event, "item", None)
        if item is not None:
            self._restore_item(item)
        response = getattr(event, "response", None)
        if response is not None:
            self.restore_response(response)
        name = getattr(event, "name", None)
        if isinstance(name, str) and name in self.names:
            event.name = self.names[name][1]  # type: ignore[union-attr]  # function_call_arguments.done

    def _restore_item(self, item: Any) -> None:
        if getattr(item, "type", None) not in ("function_call", "custom_tool_call"):
            return
        original = self.names.get(item.name)
        if original is not None:
            item.namespace, item.name = original


def _supports_namespaces(provider: Provider) -> bool:
    """Only a provider that takes every tool type as it is (OpenAI's rows) knows namespaces."""
    return provider.dialect == "openai_responses" and _takes_any_tool(provider)


def _takes_any_tool(provider: Provider) -> bool:
    from polyresponses.router._capabilities import _TOOL_KINDS

    return provider.capabilities.tools >= frozenset(_TOOL_KINDS.values())


def apply_tool_policy(
    provider: Provider, body: dict[str, Any], hosted_tools: HostedTools = "refuse"
) -> ToolPolicy | None:
    """Rewrite ``body`` (a wire dict, in place) for ``provider``; ``None`` when nothing had to change."""
    tools = body.get("tools")
    policy = ToolPolicy()
    if isinstance(tools, list) and not _supports_namespaces(provider) and any(_is_namespace(t) for t in tools):
        body["tools"] = _flatten(tools, policy)
        _rename_history(body, policy)
        _rename_choice(body, policy)
    if hosted_tools == "drop" and isinstance(body.get("tools"), list):
        body["tools"] = _drop_hosted(provider, body["tools"], body.get("tool_choice"), policy)
        if not body["tools"]:
            del body["tools"]
            if body.get("tool_choice") in ("auto", "none"):
                del body["tool_choice"]
    return policy if policy.names or policy.dropped else None


def _is_namespace(tool: Any) -> bool:
    return isinstance(tool, Mapping) and tool.get("type") == "namespace"


def _flatten(tools: list[Any], policy: ToolPolicy) -> list[Any]:
    taken = {str(tool.get("name")) for tool in tools if isinstance(tool, Mapping) and not _is_namespace(tool)}
    out: list[Any] = []
    for tool in tools:
        if not _is_namespace(tool):
            out.append(tool)
            continue
        namespace = str(tool["name"])
        for inner in tool.get("tools") or []:
            flat = base = f"{namespace}{_SEPARATOR}{inner['name']}"
            suffix = 2
            while flat in taken:
                flat, suffix = f"{base}_{suffix}", suffix + 1
            taken.add(flat)
            policy.names[flat] = (namespace, str(inner["name"]))
            description = inner.get("description") or ""
            prefix = f"[{namespace}] {tool.get('description') or ''}".strip()
            out.append({**inner, "name": flat, "description": f"{prefix}\n{description}".strip()})
    return out


def _flat_name(policy: ToolPolicy, namespace: str, name: str) -> str | None:
    return next((flat for flat, pair in policy.names.items() if pair == (namespace, name)), None)


def _rename_history(body: dict[str, Any], policy: ToolPolicy) -> None:
    """Earlier calls in the input name the namespace too: send them under the flat names."""
    items = body.get("input")
    if not isinstance(items, list):
        return
    renamed: list[Any] = []
    for item in items:
        if (
            isinstance(item, Mapping)
            and item.get("type") in ("function_call", "custom_tool_call")
            and item.get("namespace")
        ):
            flat = _flat_name(policy, str(item["namespace"]), str(item.get("name")))
            if flat is not None:
                item = {key: value for key, value in item.items() if key != "namespace"} | {"name": flat}
        renamed.append(item)
    body["input"] = renamed


def _rename_choice(body: dict[str, Any], policy: ToolPolicy) -> None:
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in ("function", "custom") and choice.get("namespace"):
        flat = _flat_name(policy, str(choice["namespace"]), str(choice.get("name")))
        if flat is not None:
            body["tool_choice"] = {key: value for key, value in choice.items() if key != "namespace"} | {"name": flat}


def _drop_hosted(provider: Provider, tools: list[Any], choice: Any, policy: ToolPolicy) -> list[Any]:
    forced = choice.get("type") if isinstance(choice, Mapping) else None
    kept: list[Any] = []
    for tool in tools:
        kind_name = str(tool.get("type")) if isinstance(tool, Mapping) else ""
        kind = tool_kind(kind_name)
        runnable = kind is not None and kind in provider.capabilities.tools
        if kind_name in _CLIENT_TOOLS or runnable or _takes_any_tool(provider) or kind_name == forced:
            kept.append(tool)  # a forced tool stays, so the capability check refuses the request
        else:
            policy.dropped.append(kind_name)
    return kept
