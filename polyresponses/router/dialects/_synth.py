"""What every dialect that synthesizes a Responses stream shares: the adapters and the response object.

A provider that does not speak the Responses API (Chat Completions, Anthropic Messages, ...) never
sends a ``Response``; the translators build one. :func:`synthesized_response` builds it complete:
every field the OpenResponses ``ResponseResource`` requires is present, explicitly ``None`` where
it is nullable and unknown, so synthesized streams pass ``polyresponses.testing.check_stream``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, assert_never, cast

from pydantic import TypeAdapter, ValidationError

from polyresponses.router._errors import APIResponseValidationError, StreamError
from polyresponses.router._response import finalise
from polyresponses.router._sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = [
    "SERVICE_TIERS",
    "SynthesizedStream",
    "event_adapter",
    "function_call_item",
    "output_text_part",
    "response_adapter",
    "synthesized_response",
]

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
        "tools": [_echo_tool(tool) for tool in request.get("tools") or []],
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


def _echo_tool(tool: Any) -> Any:
    """A request tool as the response echoes it: a function tool with ``description``, ``parameters`` and
    ``strict`` present (required-nullable in OpenResponses; OpenAI's own replies echo ``null`` there)."""
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        return {"description": None, "parameters": None, "strict": None, **cast("Mapping[str, Any]", tool)}
    return tool


def _echo_reasoning(reasoning: Any) -> Any:
    """The request's ``reasoning`` with ``effort`` and ``summary`` present (required-nullable in OpenResponses)."""
    if not isinstance(reasoning, Mapping):
        return reasoning
    return {"effort": None, "summary": None, **cast("Mapping[str, Any]", reasoning)}


def _or_default(value: Any, default: float) -> Any:
    return default if value is None else value


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    """A ``function_call`` output item (OpenAI spec, ``FunctionToolCall``)."""
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_text_part(text: str) -> dict[str, Any]:
    """An ``output_text`` content part as the synthesized events and items carry it."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class SynthesizedStream:
    """What a translator that *builds* the Responses lifecycle shares, whatever it reads.

    Subclasses read their wire format (chat chunks, Anthropic events, ...) and call :meth:`_begin`,
    :meth:`_emit` and :meth:`_end`; this class numbers the events, validates each against the
    canonical union (a failure is our bug, reported as such), builds the complete response and
    keeps ``final``/``snapshot``. The stream shells see the surface of
    :class:`~polyresponses.router.dialects.StreamTranslatorLike`.
    """

    what = "reply"
    """How errors name what was being read ("chat reply", "Anthropic message", ...)."""

    def __init__(self, provider: str, request: Mapping[str, Any]) -> None:
        self.provider = provider
        self.request = request
        self.final: Response | None = None
        self.snapshot: Response | None = None
        self.unknown_events: list[Any] = []
        self._events: list[ResponseStreamEvent] = []
        self._sequence = 0
        self._started = False
        self._id = ""
        self._created = int(time.time())
        self._model = str(request.get("model", ""))
        self._usage: dict[str, Any] | None = None
        self._service_tier: str | None = None
        self._validate_event = event_adapter().validator.validate_python
        self._decoder = SSEDecoder()

    @property
    def done(self) -> bool:
        return self.final is not None

    def feed(self, chunk: bytes) -> list[ResponseStreamEvent]:
        return self._translate(self._decoder.feed(chunk))

    def consume(self, event: Mapping[str, Any]) -> None:
        """One parsed wire event or chunk; the Responses events it makes queue up for ``_take``."""
        raise NotImplementedError

    def partial(self) -> Response | None:
        """What arrived so far: finished items whole, open ones as far as they got, status in_progress."""
        if self.final is not None:
            return self.final
        if not self._started:
            return None
        return finalise(self._response("in_progress", self._output_so_far()))

    def _output_so_far(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _translate(self, sse_events: list[ServerSentEvent]) -> list[ResponseStreamEvent]:
        """Each SSE ``data`` as a JSON object to :meth:`consume`; anything after the end is kept aside."""
        for sse in sse_events:
            if self.final is not None:
                self.unknown_events.append(sse)
                continue
            self.consume(self._json_object(sse.data, "stream event"))
        return self._take()

    def _json(self, data: str | bytes, what: str) -> Any:
        """``data`` parsed, or an error naming what came instead (malformed JSON, an HTML page, ...)."""
        try:
            return json.loads(data)
        except ValueError as error:
            snippet = (data[:200].decode("utf-8", "replace") if isinstance(data, bytes) else data[:200]).strip()
            kind = "an HTML page" if snippet[:1] == "<" else "malformed JSON"
            raise APIResponseValidationError(
                f"{what} is not JSON, got {kind}: {snippet!r}", provider=self.provider, body=snippet
            ) from error

    def _json_object(self, data: str | bytes, what: str) -> dict[str, Any]:
        value = self._json(data, what)
        if not isinstance(value, dict):
            raise APIResponseValidationError(
                f"{what} is not a JSON object: {str(value)[:200]!r}", provider=self.provider, body=str(value)[:500]
            )
        return cast("dict[str, Any]", value)

    def error_for(self, event: ResponseStreamEvent) -> StreamError | None:
        """A ``response.failed`` event as the typed error, with the (finalised) failed response."""
        if event.type != "response.failed":
            return None
        failure = event.response.error
        message = failure.message if failure is not None else "response.failed"
        code = f" (code {failure.code})" if failure is not None else ""
        body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        partial = self.final if self.final is not None else event.response
        return StreamError(f"response failed: {message}{code}", provider=self.provider, body=body, partial=partial)

    def _map_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        """The wire usage as the Responses ``usage`` object."""
        raise NotImplementedError

    def _take(self) -> list[ResponseStreamEvent]:
        events, self._events = self._events, []
        return events

    def _begin(self, raw_id: Any, created: Any = None, model: Any = None) -> None:
        """``response.created`` and ``response.in_progress``, once, with the wire's id, time and model."""
        self._started = True
        self._id = f"resp_{raw_id}" if isinstance(raw_id, str) and raw_id else f"resp_{uuid.uuid4().hex}"
        if isinstance(created, int | float) and not isinstance(created, bool):
            self._created = int(created)
        if isinstance(model, str) and model:
            self._model = model
        response = self._response("in_progress", [])
        self.snapshot = response
        self._emit({"type": "response.created", "response": response})
        self._emit({"type": "response.in_progress", "response": response})

    def _end(
        self,
        output: list[dict[str, Any]],
        status: str,
        *,
        incomplete: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """The terminal event for ``status`` (completed, incomplete or failed); ``final`` is set."""
        response = self._response(status, output, incomplete=incomplete, error=error)
        kind = {"completed": "response.completed", "failed": "response.failed"}.get(status, "response.incomplete")
        self._emit({"type": kind, "response": response})
        self.final = finalise(response.model_copy())
        self.snapshot = response

    def _response(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        incomplete: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> Response:
        usage = self._map_usage(self._usage) if status != "in_progress" and self._usage else None
        return synthesized_response(
            self.provider,
            self.request,
            response_id=self._id,
            created_at=self._created,
            model=self._model,
            status=status,
            output=output,
            usage=usage,
            incomplete=incomplete,
            error=error,
            service_tier=self._service_tier,
            what=self.what,
        )

    def _item_added(
        self,
        output_index: int,
        item_id: str,
        kind: Literal["message", "reasoning", "function_call"],
        *,
        call_id: str = "",
        name: str = "",
    ) -> None:
        """``response.output_item.added`` with the empty, in-progress item of ``kind``."""
        item: dict[str, Any]
        match kind:
            case "message":
                item = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []}
            case "reasoning":
                item = {"type": "reasoning", "id": item_id, "summary": [], "content": [], "status": "in_progress"}
            case "function_call":
                item = function_call_item(item_id, call_id, name, "", "in_progress")
            case _:
                assert_never(kind)
        self._emit({"type": "response.output_item.added", "output_index": output_index, "item": item})

    def _item_done(self, output_index: int, item: dict[str, Any]) -> None:
        self._emit({"type": "response.output_item.done", "output_index": output_index, "item": item})

    def _item_event(self, kind: str, item_id: str, output_index: int, **fields: Any) -> None:
        """Emit an event about one output item (deltas, ``*.done``): its id and index, then ``fields``."""
        self._emit({"type": kind, "item_id": item_id, "output_index": output_index, **fields})

    def _part_event(
        self, kind: str, item_id: str, output_index: int, index: int, part: dict[str, Any]
    ) -> dict[str, Any]:
        return {"type": kind, "item_id": item_id, "output_index": output_index, "content_index": index, "part": part}

    def _emit(self, event: dict[str, Any]) -> None:
        event["sequence_number"] = self._sequence
        self._sequence += 1
        try:
            self._events.append(self._validate_event(event))
        except ValidationError as error:  # a bug here, not the provider's: say exactly what
            raise APIResponseValidationError(
                f"internal: synthesized {event['type']} event is invalid: {error.errors()[0]}", provider=self.provider
            ) from error
