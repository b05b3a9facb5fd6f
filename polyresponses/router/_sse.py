"""A pure Server-Sent Events decoder: bytes in, events out, no I/O.

Follows the WHATWG HTML "Server-sent events" interpretation rules (section 9.2.6, "Interpreting an
event stream"): lines end in CRLF, LF or CR; a leading BOM is dropped; ``:`` lines are comments;
``data`` lines accumulate joined by ``\\n``; a blank line dispatches; an event with no data is not
dispatched; ``id`` sets the last event id (ignored if it contains NUL); ``retry`` takes digits
only. Chunks may split anywhere, including inside a CRLF or a multi-byte UTF-8 character.

The sync and async shells feed it ``iter_bytes()``/``aiter_bytes()`` chunks; the stream translators
receive its :class:`ServerSentEvent` values.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. ``event`` defaults to ``"message"`` as the spec says."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental decoder: ``feed(chunk) -> list[ServerSentEvent]``, then ``finish()`` at end of stream."""

    __slots__ = ("_buffer", "_data", "_event", "_last_id", "_retry", "_started", "_text", "_pending_cr")

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._text.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._pending_cr:
            # A CR ended the previous chunk: a LF starting this one belongs to the same line end.
            self._pending_cr = False
            text = text.removeprefix("\n")
        self._buffer += text
        return self._drain()

    def finish(self) -> list[ServerSentEvent]:
        """End of stream: decode what is left; an event not closed by a blank line is dropped (spec)."""
        self._buffer += self._text.decode(b"", final=True)
        events = self._drain()
        self._buffer = ""
        self._data, self._event = [], ""
        return events

    def _drain(self) -> list[ServerSentEvent]:
        buffer = self._buffer
        if "\r" in buffer:
            lines, self._buffer = self._split_with_cr(buffer)
        else:
            # The common case (LF only): one split, no per-line copy of the rest of the buffer.
            lines = buffer.split("\n")
            self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _split_with_cr(self, buffer: str) -> tuple[list[str], str]:
        """Complete lines and the unterminated rest, with CRLF, LF and CR all ending a line."""
        lines: list[str] = []
        start = 0
        while True:
            cut = _line_end(buffer, start)
            if cut is None:
                return lines, buffer[start:]
            end, width = cut
            lines.append(buffer[start:end])
            if width == 1 and buffer[end] == "\r" and end + 1 == len(buffer):
                self._pending_cr = True  # it may be the first half of a CRLF split across chunks
            start = end + width

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        match name:
            case "data":
                self._data.append(value)
            case "event":
                self._event = value
            case "id":
                if "\0" not in value:
                    self._last_id = value
            case "retry":
                if value.isascii() and value.isdigit():
                    self._retry = int(value)
            case _:
                pass  # unknown fields are ignored (spec)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            data="\n".join(self._data), event=self._event or "message", id=self._last_id, retry=self._retry
        )
        self._data, self._event = [], ""
        return event


def _line_end(buffer: str, start: int) -> tuple[int, int] | None:
    """Position and width of the first line terminator (CRLF, LF or CR) at or after ``start``."""
    lf, cr = buffer.find("\n", start), buffer.find("\r", start)
    if cr == -1:
        return None if lf == -1 else (lf, 1)
    if lf == -1 or cr < lf:
        return (cr, 2) if buffer.startswith("\n", cr + 1) else (cr, 1)
    return lf, 1
