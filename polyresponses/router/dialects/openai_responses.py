"""The OpenAI Responses wire dialect: the canonical models are its own shapes, so translation is thin.

Requests go out as the validated ``CreateResponse`` dump; replies are validated as ``Response``;
streams (``text/event-stream``, Responses API reference "Streaming events") are decoded by
:class:`StreamTranslator`, which also repairs what lenient servers leave out: llama.cpp's
``llama-server`` omits ``sequence_number``, ``output_index`` and ``content_index`` on its events,
so they are filled consistently from the stream's own item lifecycle.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter, ValidationError

from polyresponses.router._errors import APIResponseValidationError, StreamError
from polyresponses.router._response import finalise
from polyresponses.router._sse import ServerSentEvent, SSEDecoder
from polyresponses.router.dialects._envelope import is_sealed
from polyresponses.router.dialects._wire_request import WireRequest

if TYPE_CHECKING:
    from polyresponses.types import ConversationItem, Response, ResponseStreamEvent

__all__ = [
    "StreamTranslator",
    "build_cancel",
    "build_compact",
    "build_conversation",
    "build_create",
    "build_delete",
    "build_input_items",
    "build_input_tokens",
    "build_retrieve",
    "conversation_item_adapter",
    "parse_conversation_item",
    "parse_model",
    "parse_response",
]

M = TypeVar("M", bound=BaseModel)


def build_create(body: dict[str, Any]) -> WireRequest:
    """``POST /responses`` with the validated body as it is: this dialect is the canonical shape.

    One replay rule: reasoning items another dialect made (their ``encrypted_content`` is one of our
    ``polyresponses.*`` envelopes: chat reasoning text, Anthropic thinking, Gemini signatures) are
    left out. No Responses server can read them, and OpenAI rejects ``encrypted_content`` it did not
    issue.
    """
    items = body.get("input")
    if isinstance(items, list) and any(_foreign_reasoning(item) for item in items):
        body = {**body, "input": [item for item in items if not _foreign_reasoning(item)]}
    return WireRequest("POST", "/responses", body, stream=bool(body.get("stream")))


def _foreign_reasoning(item: Any) -> bool:
    if not isinstance(item, dict) or item.get("type") != "reasoning":
        return False
    return is_sealed(item.get("encrypted_content"))


def build_retrieve(response_id: str, *, include: list[str] | None = None) -> WireRequest:
    """``GET /responses/{response_id}``."""
    params: dict[str, str | int | list[str]] = {"include[]": include} if include else {}
    return WireRequest("GET", f"/responses/{_segment(response_id)}", params=params)


def build_delete(response_id: str) -> WireRequest:
    """``DELETE /responses/{response_id}`` (the reply has no body)."""
    return WireRequest("DELETE", f"/responses/{_segment(response_id)}")


def build_cancel(response_id: str) -> WireRequest:
    """``POST /responses/{response_id}/cancel`` (background responses only)."""
    return WireRequest("POST", f"/responses/{_segment(response_id)}/cancel")


def build_input_items(
    response_id: str,
    *,
    after: str | None = None,
    limit: int | None = None,
    order: str | None = None,
    include: list[str] | None = None,
) -> WireRequest:
    """``GET /responses/{response_id}/input_items`` with its cursor parameters."""
    params = _list_params(after, limit, order, include)
    return WireRequest("GET", f"/responses/{_segment(response_id)}/input_items", params=params)


def _list_params(
    after: str | None, limit: int | None, order: str | None, include: list[str] | None
) -> dict[str, str | int | list[str]]:
    """The cursor parameters every list route of the spec shares."""
    params: dict[str, str | int | list[str]] = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    if order is not None:
        params["order"] = order
    if include:
        params["include[]"] = include
    return params


def build_conversation(
    method: str,
    conversation_id: str | None = None,
    item_id: str | None = None,
    *,
    items: bool = False,
    body: dict[str, Any] | None = None,
    after: str | None = None,
    limit: int | None = None,
    order: str | None = None,
    include: list[str] | None = None,
) -> WireRequest:
    """A route of the Conversations API: ``/conversations[/{id}[/items[/{item_id}]]]``."""
    path = "/conversations"
    if conversation_id is not None:
        path += f"/{_segment(conversation_id)}"
    if items or item_id is not None:
        path += "/items"
    if item_id is not None:
        path += f"/{_segment(item_id)}"
    return WireRequest(method, path, body, params=_list_params(after, limit, order, include))


def build_compact(body: dict[str, Any]) -> WireRequest:
    """``POST /responses/compact`` (body: ``CompactResponseMethodPublicBody``)."""
    return WireRequest("POST", "/responses/compact", body)


def build_input_tokens(body: dict[str, Any]) -> WireRequest:
    """``POST /responses/input_tokens`` (body: ``TokenCountsBody``)."""
    return WireRequest("POST", "/responses/input_tokens", body)


def parse_response(content: bytes, *, provider: str) -> Response:
    """A JSON reply as the canonical ``Response``, with ``output_text`` filled."""
    from polyresponses.types import Response

    return finalise(parse_model(Response, content, provider=provider))


def parse_model(model: type[M], content: bytes, *, provider: str) -> M:
    """Validate a JSON reply as ``model``; a wrong shape names the first bad field."""
    try:
        return model.model_validate_json(content)
    except ValidationError as error:
        raise _validation_error(provider, model.__name__, content, error) from error


@cache
def conversation_item_adapter() -> TypeAdapter[ConversationItem]:
    """``ConversationItem`` is a union, not a model: it is validated through this (one) adapter."""
    from polyresponses.types import ConversationItem

    return TypeAdapter(ConversationItem)


def parse_conversation_item(content: bytes, *, provider: str) -> ConversationItem:
    """A JSON reply as a ``ConversationItem``; a wrong shape names the first bad field."""
    try:
        return conversation_item_adapter().validate_json(content)
    except ValidationError as error:
        raise _validation_error(provider, "ConversationItem", content, error) from error


def _validation_error(provider: str, what: str, content: bytes, error: ValidationError) -> APIResponseValidationError:
    snippet = content[:200].decode("utf-8", "replace")
    if snippet.lstrip()[:1] == "<":
        message = f"expected a JSON {what}, got what looks like an HTML page: {snippet!r}"
    elif error.errors()[0]["type"] == "json_invalid":
        message = f"expected a JSON {what}, got malformed JSON: {snippet!r}"
    else:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "<root>"
        message = f"reply is not a valid {what}: at {location}: {first['msg']}"
    return APIResponseValidationError(message, provider=provider, body=snippet)


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an id in the path must be a non-empty string")
    return quote(value, safe="")


@cache
def _event_adapter() -> TypeAdapter[ResponseStreamEvent]:
    from polyresponses.types import ResponseStreamEvent

    return TypeAdapter(ResponseStreamEvent)


@cache
def _fields_by_type() -> dict[str, frozenset[str]]:
    """For each event ``type``, the names of its fields (which indices it carries)."""
    from polyresponses._summary import tag_values, union_members
    from polyresponses.types import ResponseStreamEvent

    table: dict[str, frozenset[str]] = {}
    for member in union_members(ResponseStreamEvent):
        for tag in tag_values(member):
            table[tag] = frozenset(member.model_fields)
    return table


_OBSERVED_TYPES = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
"""The event types :meth:`StreamTranslator._observe` acts on."""


_TERMINAL_BY_STATUS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


class StreamTranslator:
    """Bytes of a Responses SSE stream in, canonical events out; keeps the state a stream needs.

    ``feed(chunk)`` returns the events completed by ``chunk``; ``finish()`` those left at the end.
    Error signals (an ``error`` event, ``response.failed``) are returned like any event; the shell
    asks :meth:`error_for` and raises. Events of a ``type`` the spec does not know (vendor
    extensions such as vLLM's ``response.reasoning_part.added``) are kept in ``unknown_events``,
    not raised and not silently lost.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.final: Response | None = None
        """The response carried by the terminal event, once it arrived."""
        self.snapshot: Response | None = None
        """The latest response object seen (``response.created``/``in_progress``/terminal)."""
        self.unknown_events: list[ServerSentEvent] = []
        self._decoder = SSEDecoder()
        # The adapter's SchemaValidator itself: TypeAdapter.validate_json is a Python wrapper that
        # cost ~0.7 us of the ~8 us per event (bench/p4_stream_parse.py).
        self._validate = _event_adapter().validator.validate_json
        self._sequence = 0
        self._done_items: dict[int, Any] = {}
        self._output_index: dict[str, int] = {}
        self._next_output_index = 0
        self._content_count: dict[str, int] = {}

    def feed(self, chunk: bytes) -> list[ResponseStreamEvent]:
        return self._translate(self._decoder.feed(chunk))

    def finish(self) -> list[ResponseStreamEvent]:
        return self._translate(self._decoder.finish())

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """A server that ignored ``stream: true`` and sent one JSON ``Response``: its terminal event.

        The event type follows the response's ``status``; a status with no terminal event (a
        background ``queued``/``in_progress`` reply, ``cancelled``) comes as ``response.created``.
        Either way ``final`` is the response, so ``get_final_response()`` gives it.
        """
        response = parse_response(content, provider=self.provider)
        kind = _TERMINAL_BY_STATUS.get(str(response.status), "response.created")
        event = _event_adapter().validate_python({"type": kind, "response": response, "sequence_number": 0})
        self.snapshot, self.final = response, finalise(response.model_copy())
        return [event]

    @property
    def done(self) -> bool:
        """Whether a terminal event (completed, incomplete, failed, cancelled) has arrived."""
        return self.final is not None

    def partial(self) -> Response | None:
        """What arrived so far: the latest snapshot with the output items completed up to now."""
        if self.final is not None:
            return self.final
        if self.snapshot is None:
            return None
        items = [self._done_items[index] for index in sorted(self._done_items)]
        return finalise(self.snapshot.model_copy(update={"output": items or self.snapshot.output}))

    def error_for(self, event: ResponseStreamEvent) -> StreamError | None:
        """The typed error an ``error`` or ``response.failed`` event stands for, else ``None``."""
        if event.type == "error":
            nested = event.error
            code = event.code or (nested.code if nested is not None else None)
            message = event.message or (nested.message if nested is not None else None) or "stream error"
            body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
            text = f"error event: {message}" + (f" (code {code})" if code else "")
            return StreamError(text, provider=self.provider, body=body, partial=self.partial())
        if event.type == "response.failed":
            failure = event.response.error
            message = failure.message if failure is not None else "response.failed"
            code = f" (code {failure.code})" if failure is not None else ""
            body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
            return StreamError(
                f"response failed: {message}{code}", provider=self.provider, body=body, partial=event.response
            )
        return None

    def _translate(self, sse_events: list[ServerSentEvent]) -> list[ResponseStreamEvent]:
        events: list[ResponseStreamEvent] = []
        for sse in sse_events:
            data = sse.data
            if data == "[DONE]":  # some OpenAI-compatible servers end Responses streams the Chat way
                continue
            try:
                event = self._validate(data)
            except ValidationError:
                repaired = self._repair(sse)
                if repaired is None:
                    continue
                event = repaired
            if event.sequence_number is None:
                event.sequence_number = self._sequence
            self._sequence = event.sequence_number + 1
            if event.type in _OBSERVED_TYPES:  # deltas, the bulk of a stream, need no bookkeeping
                self._observe(event)
            events.append(event)
        return events

    def _observe(self, event: ResponseStreamEvent) -> None:  # keep in step with _OBSERVED_TYPES
        """Track item lifecycles (for index repair and the partial response) and the final response."""
        match event.type:
            case "response.output_item.added":
                item_id = getattr(event.item, "id", None)
                if isinstance(item_id, str):
                    self._output_index[item_id] = event.output_index
                self._next_output_index = max(self._next_output_index, event.output_index + 1)
            case "response.output_item.done":
                self._done_items[event.output_index] = event.item
            case "response.content_part.added":
                self._content_count[event.item_id] = max(
                    self._content_count.get(event.item_id, 0), event.content_index + 1
                )
            case "response.created" | "response.in_progress" | "response.queued":
                self.snapshot = event.response
            case "response.completed" | "response.incomplete" | "response.failed":
                self.snapshot = event.response
                self.final = finalise(event.response.model_copy())  # the event itself stays as received
            case _:
                pass

    def _repair(self, sse: ServerSentEvent) -> ResponseStreamEvent | None:
        """Fill indices a lenient server left out, then validate again; unknown types are set aside."""
        try:
            raw = json.loads(sse.data)
        except ValueError as error:
            raise APIResponseValidationError(
                f"stream event is not JSON: {sse.data[:200]!r}", provider=self.provider, body=sse.data
            ) from error
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise APIResponseValidationError(
                f"stream event has no string 'type': {sse.data[:200]!r}", provider=self.provider, body=sse.data
            )
        event_type: str = raw["type"]
        fields = _fields_by_type().get(event_type)
        if fields is None:
            self.unknown_events.append(sse)
            return None
        self._fill_indices(raw, fields)
        snapshot = raw.get("response")
        if isinstance(snapshot, dict) and "output" not in snapshot:
            snapshot["output"] = []  # llama-server's lifecycle events carry only id, object and status
        try:
            return _event_adapter().validate_python(raw)
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(part) for part in first["loc"][1:]) or "<event>"
            raise APIResponseValidationError(
                f"stream event {event_type!r} is not valid: at {location}: {first['msg']}",
                provider=self.provider,
                body=sse.data,
            ) from error

    def _fill_indices(self, raw: dict[str, Any], fields: frozenset[str]) -> None:
        item_id = raw.get("item_id")
        if item_id is None and isinstance(raw.get("item"), dict):
            item_id = raw["item"].get("id")
        if "output_index" in fields and "output_index" not in raw:
            if raw["type"] == "response.output_item.added":
                raw["output_index"] = self._next_output_index
            else:
                last = max(self._next_output_index - 1, 0)
                raw["output_index"] = self._output_index.get(item_id, last) if isinstance(item_id, str) else last
        if "content_index" in fields and "content_index" not in raw:
            count = self._content_count.get(item_id, 0) if isinstance(item_id, str) else 0
            raw["content_index"] = count if raw["type"] == "response.content_part.added" else max(count - 1, 0)
