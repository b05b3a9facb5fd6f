"""Streams: iterators of canonical events that are also context managers and always close.

The request is sent on entry (``with``/``async with``), or at once when a stream is returned by
``create(stream=True)``; the connection is closed when the stream ends, breaks, raises or is left.
An ``error`` event or ``response.failed`` raises :class:`StreamError` carrying the partial
response; a stream that stops before its terminal event raises the same error, so a truncated
answer is never mistaken for a complete one. ``get_final_response()`` drains what is left and
returns the terminal response (parsed when a ``response_format`` type was given).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from polyresponses.router._errors import APIError, StreamError, scrub, secrets_scrubbed
from polyresponses.router._http import AsyncHTTP, HTTPResponse, SyncHTTP, Target, UpstreamReply, request_id_of
from polyresponses.router.dialects import StreamTranslatorLike, WireRequest

if TYPE_CHECKING:
    from polyresponses.router._state import Recorder
    from polyresponses.router._tool_policy import ToolPolicy
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = ["AsyncStream", "Stream"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class _Call:
    """Everything needed to (re)send one streaming request."""

    target: Target
    wire: WireRequest
    max_retries: int
    timeout: float | None
    extra_headers: Mapping[str, str] | None
    finalise: Callable[[Response], Any]
    parse: Callable[[bytes], Response]
    """The dialect's whole-reply parser (a server may answer a stream request with one JSON reply)."""
    translator: Callable[[], StreamTranslatorLike]
    recorder: Recorder | None = None
    """Says on the lifecycle events' responses what was emulated, and records the final one."""
    tools: ToolPolicy | None = None
    """Maps flattened namespace calls back on each event (see ``_tool_policy``)."""


_LIFECYCLE = frozenset({"response.created", "response.in_progress", "response.queued"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_STATEFUL = _LIFECYCLE | _TERMINAL


def _check(translator: StreamTranslatorLike, call: _Call, event: ResponseStreamEvent) -> Response | None:
    """What both shells do with each event before yielding it.

    Raise its error; map flattened namespace calls back; on a lifecycle event, say on its response
    what was emulated; return the terminal response when it is to be recorded (before the event is
    handed out).
    """
    if (error := translator.error_for(event)) is not None:
        raise error
    if call.tools is not None:
        call.tools.restore_event(event)
    recorder = call.recorder
    if recorder is None or event.type not in _STATEFUL:
        return None
    response: Response = event.response  # type: ignore[union-attr]  # every _STATEFUL event carries one
    recorder.patch_response(response)
    return response if event.type in _TERMINAL else None


def _admit(translator: StreamTranslatorLike, call: _Call, event: ResponseStreamEvent) -> None:
    """:func:`_check`, then the sync shell's recording (the async shell awaits ``Recorder.arecord`` instead)."""
    if (final := _check(translator, call, event)) is not None and (recorder := call.recorder) is not None:
        recorder.record(final)


def _is_json(response: UpstreamReply) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/json"


def _whole_reply_events(translator: StreamTranslatorLike, content: bytes) -> list[ResponseStreamEvent]:
    """A server that answered a stream request with one whole JSON reply: the dialect makes its events."""
    return translator.whole_reply(content)


def _incomplete(translator: StreamTranslatorLike) -> StreamError:
    return StreamError(
        "the stream ended before its terminal event (response.completed/incomplete/failed)",
        provider=translator.provider,
        partial=translator.partial(),
    )


class Stream(Generic[R]):
    """A sync stream of ``ResponseStreamEvent``; ``R`` is what ``get_final_response()`` returns."""

    def __init__(self, http: SyncHTTP, call: _Call) -> None:
        self._http, self._call = http, call
        self._translator = call.translator()
        self._response: HTTPResponse | None = None
        self._closed = False
        self._events = self._iterate()

    @property
    def request_id(self) -> str | None:
        """The provider's request id header, once the request was sent."""
        return None if self._response is None else request_id_of(self._response.headers)

    @property
    def unknown_events(self) -> list[Any]:
        """Raw events whose ``type`` the spec does not define (vendor extensions), in arrival order."""
        return self._translator.unknown_events

    def open(self) -> Stream[R]:
        """Send the request (idempotent); status errors raise here."""
        if self._response is None and not self._closed:
            call = self._call
            self._response = self._http.send(
                call.target,
                call.wire,
                max_retries=call.max_retries,
                timeout=call.timeout,
                extra_headers=call.extra_headers,
            )
        return self

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._closed = True
        if self._response is not None:
            self._response.close()

    def __enter__(self) -> Stream[R]:
        return self.open()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[ResponseStreamEvent]:
        return self._events

    def __next__(self) -> ResponseStreamEvent:
        return next(self._events)

    def _iterate(self) -> Iterator[ResponseStreamEvent]:
        try:
            self.open()
            response, translator = self._response, self._translator
            if response is None:
                return
            if _is_json(response):
                content = b"".join(self._http.iter_bytes(self._call.target, response))
                for event in _whole_reply_events(translator, content):
                    _admit(translator, self._call, event)
                    yield event
                return
            for chunk in self._http.iter_bytes(self._call.target, response):
                for event in translator.feed(chunk):
                    _admit(translator, self._call, event)
                    yield event
            for event in translator.finish():
                _admit(translator, self._call, event)
                yield event
            if not translator.done:
                raise _incomplete(translator)
        except APIError as error:
            scrub(error, self._call.target.secret)  # servers echo keys into error events; never let one out
            raise
        finally:
            self.close()

    def until_done(self) -> Stream[R]:
        """Consume the rest of the stream."""
        for _ in self._events:
            pass
        return self

    def get_final_response(self) -> R:
        """Drain the stream and return the terminal response (parsed if a format type was given)."""
        self.until_done()
        final = self._translator.final
        if final is None:
            raise _incomplete(self._translator)
        with secrets_scrubbed(self._call.target.secret):
            result: R = self._call.finalise(final)
        return result


class AsyncStream(Generic[R]):
    """The async twin of :class:`Stream`: ``async with`` / ``async for`` / ``await get_final_response()``."""

    def __init__(self, http: AsyncHTTP, call: _Call) -> None:
        self._http, self._call = http, call
        self._translator = call.translator()
        self._response: UpstreamReply | None = None
        self._closed = False
        self._events = self._iterate()

    @property
    def request_id(self) -> str | None:
        """The provider's request id header, once the request was sent."""
        return None if self._response is None else request_id_of(self._response.headers)

    @property
    def unknown_events(self) -> list[Any]:
        """Raw events whose ``type`` the spec does not define (vendor extensions), in arrival order."""
        return self._translator.unknown_events

    async def open(self) -> AsyncStream[R]:
        """Send the request (idempotent); status errors raise here."""
        if self._response is None and not self._closed:
            call = self._call
            self._response = await self._http.send(
                call.target,
                call.wire,
                max_retries=call.max_retries,
                timeout=call.timeout,
                extra_headers=call.extra_headers,
            )
        return self

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._closed = True
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> AsyncStream[R]:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[ResponseStreamEvent]:
        return self._events

    async def __anext__(self) -> ResponseStreamEvent:
        return await anext(self._events)

    async def _iterate(self) -> AsyncIterator[ResponseStreamEvent]:
        try:
            await self.open()
            response, translator, recorder = self._response, self._translator, self._call.recorder
            if response is None:
                return
            if _is_json(response):
                content = b"".join([chunk async for chunk in self._http.aiter_bytes(self._call.target, response)])
                for event in _whole_reply_events(translator, content):
                    if (final := _check(translator, self._call, event)) is not None and recorder is not None:
                        await recorder.arecord(final)  # no coroutine per event: only the terminal one awaits
                    yield event
                return
            async for chunk in self._http.aiter_bytes(self._call.target, response):
                for event in translator.feed(chunk):
                    if (final := _check(translator, self._call, event)) is not None and recorder is not None:
                        await recorder.arecord(final)  # no coroutine per event: only the terminal one awaits
                    yield event
            for event in translator.finish():
                if (final := _check(translator, self._call, event)) is not None and recorder is not None:
                    await recorder.arecord(final)  # no coroutine per event: only the terminal one awaits
                yield event
            if not translator.done:
                raise _incomplete(translator)
        except APIError as error:
            scrub(error, self._call.target.secret)  # servers echo keys into error events; never let one out
            raise
        finally:
            await self.close()

    async def until_done(self) -> AsyncStream[R]:
        """Consume the rest of the stream."""
        async for _ in self._events:
            pass
        return self

    async def get_final_response(self) -> R:
        """Drain the stream and return the terminal response (parsed if a format type was given)."""
        await self.until_done()
        final = self._translator.final
        if final is None:
            raise _incomplete(self._translator)
        with secrets_scrubbed(self._call.target.secret):
            result: R = self._call.finalise(final)
        return result
