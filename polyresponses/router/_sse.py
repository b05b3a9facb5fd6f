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
import re
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]

# The block shape OpenAI-style servers send: an optional ``event:`` line, one ``data:`` line, a blank
# line. A run of such blocks is matched and split by the regex engine instead of line by line, which
# halves the decoder's cost per event (bench/p4_stream_parse.py); anything else (comments, ``id``,
# ``retry``, several ``data`` lines, extra blank lines) takes the general path. Only with LF endings.
_PLAIN_BLOCK = re.compile(r"(?:event: ?([^\n]*)\n)?data: ?([^\n]*)\n\n")
_PLAIN_BLOCKS = re.compile(r"(?:(?:event:[^\n]*\n)?data:[^\n]*\n\n)*")


@dataclass(slots=True)
class ServerSentEvent:
    """One dispatched event. ``event`` defaults to ``"message"`` as the spec says.

    Not frozen: a frozen dataclass pays ``object.__setattr__`` per field, twice the cost of the
    whole event on the hot path (``bench/p4_stream_parse.py``); treat it as read-only.
    """

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
            return self._lines(lines)
        # LF only, the common case. Finish the block in progress line by line, then take the
        # complete blocks after it in one go when they all have the usual shape, then keep the rest.
        events: list[ServerSentEvent] = []
        if self._data or self._event:
            first_end = buffer.find("\n\n")
            if first_end == -1:
                lines = buffer.split("\n")
                self._buffer = lines.pop()
                return self._lines(lines)
            events = self._lines(buffer[: first_end + 1].split("\n"))
            buffer = buffer[first_end + 2 :]
        blocks_end = buffer.rfind("\n\n") + 2
        if blocks_end > 1 and _PLAIN_BLOCKS.fullmatch(buffer, 0, blocks_end) is not None:
            last_id, retry = self._last_id, self._retry
            events += [
                ServerSentEvent(data, name or "message", last_id, retry)
                for name, data in _PLAIN_BLOCK.findall(buffer, 0, blocks_end)
            ]
            buffer = buffer[blocks_end:]
        lines = buffer.split("\n")
        self._buffer = lines.pop()
        return events + self._lines(lines) if lines else events

    def _lines(self, lines: list[str]) -> list[ServerSentEvent]:
        """Interpret complete lines (section 9.2.6); ``data:``/``event:``/blank lines are handled inline."""
        events: list[ServerSentEvent] = []
        data, name = self._data, self._event
        for line in lines:
            if not line:
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    events.append(ServerSentEvent(text, name or "message", self._last_id, self._retry))
                    data = self._data = []
                name = ""
            elif line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line.startswith("event:"):
                name = line[7:] if line[6:7] == " " else line[6:]
            else:
                self._event = name
                self._line(line)
                name = self._event
        self._event = name
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
