"""Bedrock's InvokeModel stream around another dialect's translator: AWS event-stream frames in, the
vendor's own stream events out. Pure, no I/O.

``InvokeModelWithResponseStream`` (Bedrock API reference; ``ResponseStream``) frames every event of the
model's native stream as a ``chunk`` whose ``bytes`` (base64 in the frame's JSON payload) hold the event
itself, for Claude the Messages API's ``message_start`` ... ``message_stop``; ``:message-type exception``
frames (``throttlingException``, ``modelStreamErrorException``, ...) end it. This wrapper unframes the
chunks and hands each event to the vendor's translator, so Claude on Bedrock streams through the very
Anthropic state machine that Anthropic's API does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from polyresponses.router._errors import APIResponseValidationError
from polyresponses.router._eventstream import EventStreamDecoder, EventStreamError, EventStreamMessage

if TYPE_CHECKING:
    from polyresponses.router._errors import StreamError
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = ["InvokeStreamTranslator"]

_RATE_LIMITED = frozenset({"throttlingException", "serviceQuotaExceededException"})


class _Consuming(Protocol):
    """A translator that takes parsed wire events one by one (the synthesizing dialects' translators)."""

    provider: str
    final: Response | None
    snapshot: Response | None
    unknown_events: list[Any]

    def consume(self, event: Mapping[str, Any]) -> None: ...

    def finish(self) -> list[ResponseStreamEvent]: ...

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]: ...

    def partial(self) -> Response | None: ...

    def error_for(self, event: ResponseStreamEvent) -> StreamError | None: ...

    def _take(self) -> list[ResponseStreamEvent]: ...


class InvokeStreamTranslator:
    """Unframes InvokeModel's event stream for ``inner`` (an Anthropic translator); the same surface."""

    def __init__(self, inner: _Consuming) -> None:
        self.inner = inner
        self.provider = inner.provider
        self._frames = EventStreamDecoder()

    @property
    def final(self) -> Response | None:
        return self.inner.final

    @property
    def snapshot(self) -> Response | None:
        return self.inner.snapshot

    @property
    def unknown_events(self) -> list[Any]:
        return self.inner.unknown_events

    @property
    def done(self) -> bool:
        return self.inner.final is not None

    def feed(self, chunk: bytes) -> list[ResponseStreamEvent]:
        try:
            frames = self._frames.feed(chunk)
        except EventStreamError as error:
            raise APIResponseValidationError(f"Bedrock InvokeModel stream: {error}", provider=self.provider) from None
        for frame in frames:
            if self.inner.final is not None:
                self.inner.unknown_events.append(frame)
            else:
                self.inner.consume(self._event(frame))
        return self.inner._take()

    def finish(self) -> list[ResponseStreamEvent]:
        try:
            self._frames.finish()
        except EventStreamError as error:
            raise APIResponseValidationError(f"Bedrock InvokeModel stream: {error}", provider=self.provider) from None
        return self.inner.finish()

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        return self.inner.whole_reply(content)

    def partial(self) -> Response | None:
        return self.inner.partial()

    def error_for(self, event: ResponseStreamEvent) -> StreamError | None:
        return self.inner.error_for(event)

    def _event(self, frame: EventStreamMessage) -> dict[str, Any]:
        """The vendor event a frame carries; an exception frame as the vendor's own ``error`` event."""
        payload = self._json(frame.payload or b"{}", "frame")
        if frame.message_type != "event":
            kind = frame.exception_type or frame.error_code or "unknownException"
            message = str(payload.get("message") or payload.get("Message") or frame.error_message or kind)
            error_type = "rate_limit_error" if kind in _RATE_LIMITED else kind
            return {"type": "error", "error": {"type": error_type, "message": f"{message} ({kind})"}}
        raw = payload.get("bytes")
        if frame.event_type != "chunk" or not isinstance(raw, str):
            return {"type": f"bedrock.{frame.event_type}", **payload}  # kept by the translator as unknown
        try:
            data = base64.b64decode(raw, validate=True)
        except (ValueError, binascii.Error):
            raise APIResponseValidationError(
                "Bedrock InvokeModel stream: a chunk's bytes are not base64", provider=self.provider
            ) from None
        return self._json(data, "chunk")

    def _json(self, data: bytes, what: str) -> dict[str, Any]:
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise APIResponseValidationError(
                f"Bedrock InvokeModel stream: a {what} is not a JSON object", provider=self.provider
            )
        return value
