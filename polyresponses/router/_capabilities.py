"""Refuse, before the network, what a provider cannot express.

The check reads the wire body we are about to send, so it sees exactly what would go out. A
refused feature raises :class:`UnsupportedFeatureError` naming provider and feature: silently
dropping ``previous_response_id`` or a tool changes what the model sees, which is worse than an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from polyresponses.router._errors import UnsupportedFeatureError
from polyresponses.router._providers import Endpoint, Provider, ToolKind

__all__ = ["check_endpoint", "check_request", "tool_kind"]

# Responses API reference, "Tools": each `type` value and the family it belongs to.
_TOOL_KINDS: dict[str, ToolKind] = {
    "function": "function",
    "custom": "custom",
    "mcp": "mcp",
    "web_search": "web_search",
    "web_search_2025_08_26": "web_search",
    "web_search_preview": "web_search",
    "web_search_preview_2025_03_11": "web_search",
    "file_search": "file_search",
    "code_interpreter": "code_interpreter",
    "image_generation": "image_generation",
    "computer": "computer",
    "computer_use_preview": "computer",
    "shell": "shell",
    "local_shell": "local_shell",
    "apply_patch": "apply_patch",
    "browser_search": "browser_search",  # Groq's built-in (console.groq.com/docs/responses-api)
    "x_search": "x_search",  # xAI's built-in (docs.x.ai, tools overview)
}


def tool_kind(tool_type: str) -> ToolKind | None:
    """The family of a tool ``type``; ``None`` for a type this table does not know yet."""
    return _TOOL_KINDS.get(tool_type)


def check_request(provider: Provider, body: Mapping[str, Any], *, local_state: bool = False) -> None:
    """Raise :class:`UnsupportedFeatureError` for the first feature in ``body`` that ``provider`` lacks.

    ``local_state``: the client has a response store, which gives every provider ``store``,
    ``previous_response_id`` and ``conversation`` (:mod:`polyresponses.router._state`).
    """
    caps, name = provider.capabilities, provider.name
    if body.get("stream") and not caps.streaming:
        raise UnsupportedFeatureError(name, "streaming")
    if not caps.stored_state and not local_state:
        hint = (
            "it keeps no responses server-side and this client's response store is off"
            " (store=False); send the whole conversation as input instead"
        )
        if body.get("store") is True:
            raise UnsupportedFeatureError(name, "store=True", hint + " (and leave store unset or False)")
        if body.get("previous_response_id") is not None:
            raise UnsupportedFeatureError(name, "previous_response_id", hint)
        if body.get("conversation") is not None:
            raise UnsupportedFeatureError(name, "conversation", hint)
    if body.get("background") and not caps.background:
        raise UnsupportedFeatureError(name, "background=True")
    if body.get("reasoning") is not None and not caps.reasoning:
        raise UnsupportedFeatureError(name, "reasoning")
    text_format = (body.get("text") or {}).get("format") or {}
    if text_format.get("type") == "json_schema" and not caps.structured_output:
        raise UnsupportedFeatureError(name, "structured output (text.format json_schema)")
    for index, tool in enumerate(body.get("tools") or ()):
        tool_type = str(tool.get("type"))
        kind = tool_kind(tool_type)
        known_everything = caps.tools >= frozenset(_TOOL_KINDS.values())
        if (kind is None and not known_everything) or (kind is not None and kind not in caps.tools):
            allowed = ", ".join(sorted(caps.tools))
            raise UnsupportedFeatureError(name, f"tool type {tool_type!r} (tools[{index}])", f"it accepts {allowed}")
    if not caps.image_input:
        for where in _image_inputs(body.get("input")):
            raise UnsupportedFeatureError(name, f"image input ({where})")


def check_endpoint(provider: Provider, endpoint: Endpoint) -> None:
    """Raise unless ``provider`` documents the route behind ``endpoint`` (retrieve, delete, ...)."""
    if endpoint not in provider.capabilities.endpoints:
        raise UnsupportedFeatureError(provider.name, f"responses.{endpoint}", "the provider has no such route")


def _image_inputs(value: Any) -> Iterator[str]:
    """Paths of ``input_image`` parts in a Responses ``input`` (a string has none)."""
    if not isinstance(value, list):
        return
    for i, item in enumerate(value):
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "input_image":
                    yield f"input[{i}].content[{j}]"
