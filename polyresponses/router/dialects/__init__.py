"""Wire dialects: pure translation between our canonical models and one wire format each.

A dialect module builds :class:`WireRequest` values from canonical request bodies, parses wire
replies into canonical models and translates a wire byte stream into canonical stream events with a
small state machine (``feed(chunk) -> list[event]``, ``finish()``). It does no I/O: the sync and
async shells in ``polyresponses.router._client`` send what it builds and feed it what arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from polyresponses.router.dialects._wire_request import WireRequest

if TYPE_CHECKING:
    from polyresponses.router._errors import StreamError
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = ["StreamTranslatorLike", "WireRequest"]


class StreamTranslatorLike(Protocol):
    """What the stream shells drive: one per stream, fed the reply's bytes as they arrive."""

    provider: str

    @property
    def final(self) -> Response | None: ...

    @property
    def snapshot(self) -> Response | None: ...

    @property
    def unknown_events(self) -> list[Any]: ...

    @property
    def done(self) -> bool: ...

    def feed(self, chunk: bytes) -> list[ResponseStreamEvent]: ...

    def finish(self) -> list[ResponseStreamEvent]: ...

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """The events of a server that answered the stream request with one whole JSON reply."""
        ...

    def partial(self) -> Response | None: ...

    def error_for(self, event: ResponseStreamEvent) -> StreamError | None: ...
