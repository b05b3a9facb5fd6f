"""What every dialect that synthesizes a Responses stream shares: the adapters and the response object.

A provider that does not speak the Responses API (Chat Completions, Anthropic Messages, ...) never
sends a ``Response``; the translators build one. :func:`synthesized_response` builds it complete:
every field the OpenResponses ``ResponseResource`` requires is present, explicitly ``None`` where
it is nullable and unknown, so synthesized streams pass ``polyresponses.testing.check_stream``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from pydantic import TypeAdapter, ValidationError

from polyresponses.router._errors import APIResponseValidationError

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = ["SERVICE_TIERS", "event_adapter", "response_adapter", "synthesized_response"]

SERVICE_TIERS = frozenset({"auto", "default", "flex", "scale", "priority", "fast", "ultrafast"})
"""The Responses ``service_tier`` values (OpenAI spec, ``ServiceTier``)."""


@cache
def event_adapter() -> TypeAdapter[ResponseStreamEvent]:
    from polyresponses.types import ResponseStreamEvent

    return TypeAdapter(ResponseStreamEvent)


@cache
def response_adapter() -> TypeAdapter[Response]:
    from polyresponses.types import Response

    return TypeAdapter(Response)


def synthesized_response(
    provider: str,
    request: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    service_tier: str | None = None,
    what: str = "reply",
) -> Response:
    """The canonical ``Response`` for a reply built from ``request`` (the Responses request body).

    Sampling values the request left unset are the OpenAI reference defaults (temperature 1,
    top_p 1, penalties 0): the provider's reply does not say what it used.
    """
    data: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "completed_at": int(time.time()) if status == "completed" else None,
        "status": status,
        "model": model,
        "output": output,
        "error": error,
        "incomplete_details": incomplete,
        "previous_response_id": None,
        "instructions": request.get("instructions"),
        "tools": request.get("tools") or [],
        "tool_choice": request.get("tool_choice") or "auto",
        "truncation": "disabled",
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "text": _echo_text(request.get("text")),
        "temperature": _or_default(request.get("temperature"), 1.0),
        "top_p": _or_default(request.get("top_p"), 1.0),
        "presence_penalty": _or_default(request.get("presence_penalty"), 0.0),
        "frequency_penalty": _or_default(request.get("frequency_penalty"), 0.0),
        "top_logprobs": _or_default(request.get("top_logprobs"), 0),
        "reasoning": _echo_reasoning(request.get("reasoning")),
        "usage": usage,
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "store": False,
        "background": False,
        "service_tier": service_tier or "default",
        "metadata": request.get("metadata") or {},
        "safety_identifier": request.get("safety_identifier"),
        "prompt_cache_key": request.get("prompt_cache_key"),
    }
    if request.get("user") is not None:
        data["user"] = request["user"]
    try:
        return response_adapter().validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "<root>"
        raise APIResponseValidationError(
            f"{what} does not map to a valid Response: at {location}: {first['msg']}", provider=provider
        ) from exc


def _echo_text(text: Any) -> Any:
    """The request's ``text`` as the response echoes it: a json_schema format with ``description`` and
    ``strict`` present (required in OpenResponses; ``strict`` defaults to false in the OpenAI reference)."""
    if not isinstance(text, Mapping):
        return {"format": {"type": "text"}}
    text = cast("Mapping[str, Any]", text)
    fmt = text.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        fmt = {"description": None, "strict": False, **cast("Mapping[str, Any]", fmt)}
        return {**text, "format": fmt}
    return text if fmt is not None else {**text, "format": {"type": "text"}}


def _echo_reasoning(reasoning: Any) -> Any:
    """The request's ``reasoning`` with ``effort`` and ``summary`` present (required-nullable in OpenResponses)."""
    if not isinstance(reasoning, Mapping):
        return reasoning
    return {"effort": None, "summary": None, **cast("Mapping[str, Any]", reasoning)}


def _or_default(value: Any, default: float) -> Any:
    return default if value is None else value
