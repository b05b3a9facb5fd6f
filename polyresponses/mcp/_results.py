"""What a tool call came to: its output text, or one of the three typed errors of ``mcp_call.error``.

The spec's ``MCPToolCallError`` is a union of ``mcp_protocol_error {code, message}`` (a JSON-RPC
error), ``mcp_tool_execution_error {content}`` (a result with ``isError``) and ``http_error {code,
message}`` (the server could not be reached or answered with an HTTP error). Pure: the session
layer turns the SDK's results and exceptions into these, the loop puts them on items and tells the
model in text, so a failed call is something the model can react to, never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

__all__ = [
    "CallOutcome",
    "McpFailure",
    "content_text",
    "http_error",
    "protocol_error",
]

INVALID_PARAMS = -32602
"""JSON-RPC 2.0 "Invalid params"."""

HTTP_UNREACHABLE = 502
"""``http_error.code`` when no HTTP status came back (refused, reset, DNS): the gateway's "bad gateway"."""

HTTP_TIMEOUT = 504
"""``http_error.code`` when the server did not answer in time."""


class McpFailure(Exception):
    """A server could not be listed or called; ``error`` is the ``MCPToolCallError`` dict."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(describe(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A finished call: ``output`` text, or ``error`` (then ``output`` is what the model is told)."""

    output: str
    error: Mapping[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def for_model(self) -> str:
        """What the model reads as the call's result."""
        return self.output if self.error is None else f"Error: {describe(self.error)}"


def http_error(code: int, message: str) -> dict[str, Any]:
    return {"type": "http_error", "code": code, "message": message}


def protocol_error(code: int, message: str) -> dict[str, Any]:
    return {"type": "mcp_protocol_error", "code": code, "message": message}


def describe(error: Mapping[str, Any]) -> str:
    match error.get("type"):
        case "mcp_tool_execution_error":
            return content_text(cast("Sequence[Mapping[str, Any]]", error.get("content") or [])) or "the tool failed"
        case "http_error":
            return f"HTTP {error.get('code')}: {error.get('message')}"
        case _:
            return f"MCP error {error.get('code')}: {error.get('message')}"


def content_text(content: Sequence[Mapping[str, Any]], structured: Any = None) -> str:
    """A tool result's content blocks as text for the model (MCP spec, "Tool Result").

    Text blocks are joined with newlines; an embedded text resource is inlined; images, audio and
    binary resources are described by type and size (a text-only channel cannot carry them); a
    resource link gives its URI. With no content at all, the structured content as JSON.
    """
    parts: list[str] = []
    for block in content:
        match block.get("type"):
            case "text":
                parts.append(str(block.get("text", "")))
            case "image" | "audio":
                size = _decoded_size(str(block.get("data", "")))
                parts.append(f"[{block['type']} {block.get('mimeType', '')}, {size} bytes]")
            case "resource":
                resource = cast("Mapping[str, Any]", block.get("resource") or {})
                if "text" in resource:
                    parts.append(str(resource["text"]))
                else:
                    size = _decoded_size(str(resource.get("blob", "")))
                    parts.append(f"[resource {resource.get('uri', '')} {resource.get('mimeType', '')}, {size} bytes]")
            case "resource_link":
                parts.append(f"[resource link {block.get('uri', '')}]")
            case _:
                parts.append(json.dumps(block, ensure_ascii=False))
    if not parts and structured is not None:
        return json.dumps(structured, ensure_ascii=False)
    return "\n".join(parts)


def _decoded_size(data: str) -> int:
    """Bytes a base64 string stands for (its padding not counted)."""
    return len(data) * 3 // 4 - len(data) + len(data.rstrip("="))
