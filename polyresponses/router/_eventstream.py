"""A pure decoder for AWS's binary event-stream framing (``application/vnd.amazon.eventstream``), no I/O.

Bedrock's ConverseStream replies in this framing, not in SSE. It follows the Smithy "Amazon Event Stream
Specification" (smithy.io/2.0/aws/amazon-eventstream.html), which the AWS service guides restate as "Event
stream encoding": each message is ``total_length u32 | headers_length u32 | prelude_crc u32 | headers |
payload | message_crc u32``, big-endian, both CRCs being CRC32 (zlib's) of every byte before them.

Chunks may split anywhere and carry several frames. Only the unconsumed tail is kept, in a ``bytearray``
that is appended to and trimmed from the front (both amortised O(1) per byte in CPython), and a frame is
looked at again only once enough bytes for it have arrived, so feeding one byte at a time stays linear.
The spec says a bad checksum MUST terminate the stream; so after any error the decoder refuses all further
input instead of hunting for the next plausible frame in what may be garbage.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias
from uuid import UUID

__all__ = ["EventStreamDecoder", "EventStreamError", "EventStreamMessage", "HeaderValue"]

HeaderValue: TypeAlias = bool | int | bytes | str | datetime | UUID
"""A decoded header value; the spec asks implementations to bind each wire type to a native type."""

# "Message Format": a 12-byte prelude (two lengths and their CRC) and a 4-byte trailing message CRC.
_PRELUDE = struct.Struct("!III")
_U32 = struct.Struct("!I")
_U16 = struct.Struct("!H")
_PRELUDE_LENGTH = 12
_OVERHEAD = 16
# The spec's size limits (payload 24 MiB, encoded headers 128 KiB), the same ones botocore enforces
# (botocore/eventstream.py, _MAX_PAYLOAD_LENGTH and _MAX_HEADERS_LENGTH). The spec has only services
# validate them, but no conforming service exceeds them, so here they only stop a corrupt or hostile length
# field (whose prelude CRC happens to match) from making us buffer up to 4 GiB before noticing.
_MAX_HEADERS_LENGTH = 128 * 1024
_MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
# "Headers Format": value type indicator -> fixed-size big-endian value (2 byte, 3 short, 4 integer,
# 5 long, 8 timestamp in milliseconds since the epoch). 0/1 are booleans with no value bytes, 6/7 are
# u16-length-prefixed byte array/UTF-8 string, 9 is a 16-byte binary UUID.
_FIXED = {2: struct.Struct("!b"), 3: struct.Struct("!h"), 4: struct.Struct("!i"), 5: struct.Struct("!q")}
_LONG, _TIMESTAMP, _UUID = 5, 8, 9
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Encoded header block -> its headers. A Bedrock stream repeats a handful of blocks (the same three string
# headers, one ``:event-type`` per kind of event), and parsing them is most of the cost of a frame, so each
# distinct block is parsed once. The values are immutable; every message gets its own copy of the dict.
_HEADER_BLOCKS: dict[bytes, dict[str, HeaderValue]] = {}
_HEADER_BLOCKS_KEPT = 256


class EventStreamError(ValueError):
    """The bytes are not a valid event stream; ``frame`` counts from 0, ``offset`` is the frame's first byte."""

    def __init__(self, detail: str, *, frame: int, offset: int) -> None:
        super().__init__(f"event stream frame {frame} (starting at stream byte {offset}): {detail}")
        self.detail = detail
        self.frame = frame
        self.offset = offset


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message. The properties read the headers of the spec's "Amazon Event Semantics"."""

    headers: dict[str, HeaderValue]
    payload: bytes

    @property
    def message_type(self) -> str | None:
        """``:message-type``: ``event``, ``exception`` (a modeled error) or ``error`` (an unmodeled one)."""
        return self._text(":message-type")

    @property
    def event_type(self) -> str | None:
        """``:event-type`` of an ``event`` message, e.g. Bedrock's ``contentBlockDelta``."""
        return self._text(":event-type")

    @property
    def exception_type(self) -> str | None:
        """``:exception-type`` of an ``exception`` message, e.g. ``throttlingException``."""
        return self._text(":exception-type")

    @property
    def error_code(self) -> str | None:
        """``:error-code`` of an ``error`` message."""
        return self._text(":error-code")

    @property
    def error_message(self) -> str | None:
        """``:error-message`` of an ``error`` message."""
        return self._text(":error-message")

    @property
    def content_type(self) -> str | None:
        """``:content-type``: the payload's media type (``application/json`` for Bedrock)."""
        return self._text(":content-type")

    def _text(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


class _Malformed(Exception):
    """A bad header, at buffer position ``at``; the decoder turns it into an :class:`EventStreamError`."""

    def __init__(self, detail: str, at: int) -> None:
        super().__init__(detail)
        self.detail, self.at = detail, at


class EventStreamDecoder:
    """Incremental decoder: ``feed(chunk) -> list[EventStreamMessage]``, then ``finish()`` at end of stream."""

    __slots__ = ("_buffer", "_consumed", "_failure", "_frames", "_need")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need = _PRELUDE_LENGTH  # bytes the buffer must hold before decoding can make progress
        self._consumed = 0  # stream offset of the buffer's first byte
        self._frames = 0  # frames decoded so far = index of the frame being read
        self._failure: EventStreamError | None = None

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a decoded message."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[EventStreamMessage]:
        """Decode every frame completed by ``chunk``; raises :class:`EventStreamError` on invalid bytes.

        Frames completed earlier in the same chunk as a bad one are not returned: the stream is broken either way.
        """
        self._check_alive()
        buffer = self._buffer
        buffer += chunk
        if len(buffer) < self._need:
            return []
        messages: list[EventStreamMessage] = []
        try:
            with memoryview(buffer) as view:
                used = self._drain(view, messages)
        except EventStreamError as error:
            self._failure = error
            raise
        del buffer[:used]
        self._consumed += used
        return messages

    def finish(self) -> None:
        """End of stream: raises :class:`EventStreamError` if it cut a frame short."""
        self._check_alive()
        if self._buffer:
            have = len(self._buffer)
            part = f"its {self._need} bytes" if have >= _PRELUDE_LENGTH else f"its {_PRELUDE_LENGTH}-byte prelude"
            self._failure = self._error(f"stream ended after {have} bytes of {part}", 0)
            raise self._failure

    def _check_alive(self) -> None:
        if self._failure is not None:
            failure = self._failure
            raise EventStreamError(
                f"decoder already failed, input refused ({failure.detail})", frame=failure.frame, offset=failure.offset
            ) from failure

    def _error(self, detail: str, start: int) -> EventStreamError:
        return EventStreamError(detail, frame=self._frames, offset=self._consumed + start)

    def _drain(self, view: memoryview, messages: list[EventStreamMessage]) -> int:
        """Decode the complete frames in ``view``; return how many bytes they used."""
        pos, size = 0, len(view)
        while size - pos >= _PRELUDE_LENGTH:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(view, pos)
            # Check the prelude as soon as it is here, before trusting its lengths to wait for more bytes.
            computed = zlib.crc32(view[pos : pos + 8])
            if computed != prelude_crc:
                raise self._error(
                    f"prelude CRC mismatch (frame says {prelude_crc:#010x}, computed {computed:#010x})", pos
                )
            if total < _OVERHEAD:
                raise self._error(f"total length {total} is below the {_OVERHEAD}-byte minimum", pos)
            if headers_length > total - _OVERHEAD:
                raise self._error(f"headers length {headers_length} does not fit in total length {total}", pos)
            if headers_length > _MAX_HEADERS_LENGTH:
                raise self._error(f"headers length {headers_length} exceeds the {_MAX_HEADERS_LENGTH}-byte cap", pos)
            if (payload_length := total - _OVERHEAD - headers_length) > _MAX_PAYLOAD_LENGTH:
                raise self._error(f"payload length {payload_length} exceeds the {_MAX_PAYLOAD_LENGTH}-byte cap", pos)
            if size - pos < total:
                self._need = total
                return pos
            end = pos + total
            # The message CRC covers the whole message before it; the prelude's 8 bytes are already
            # folded into the (verified) prelude CRC, so continue from that value.
            (message_crc,) = _U32.unpack_from(view, end - 4)
            computed = zlib.crc32(view[pos + 8 : end - 4], prelude_crc)
            if computed != message_crc:
                raise self._error(
                    f"message CRC mismatch (frame says {message_crc:#010x}, computed {computed:#010x})", pos
                )
            headers_end = pos + _PRELUDE_LENGTH + headers_length
            block = bytes(view[pos + _PRELUDE_LENGTH : headers_end])
            if (known := _HEADER_BLOCKS.get(block)) is not None:
                headers = known.copy()
            else:
                try:
                    headers = _parse_headers(view, pos + _PRELUDE_LENGTH, headers_end)
                except _Malformed as bad:
                    raise self._error(f"{bad.detail} at stream byte {self._consumed + bad.at}", pos) from None
                if len(_HEADER_BLOCKS) >= _HEADER_BLOCKS_KEPT:
                    _HEADER_BLOCKS.clear()
                _HEADER_BLOCKS[block] = headers.copy()
            messages.append(EventStreamMessage(headers, bytes(view[headers_end : end - 4])))
            self._frames += 1
            pos = end
        self._need = _PRELUDE_LENGTH
        return pos


def _parse_headers(view: memoryview, pos: int, end: int) -> dict[str, HeaderValue]:
    """The headers in ``view[pos:end]`` ("Headers Format"): names are non-empty and appear once."""
    headers: dict[str, HeaderValue] = {}
    while pos < end:
        name_length = view[pos]
        if name_length == 0:
            raise _Malformed("empty header name", pos)
        type_at = pos + 1 + name_length
        if type_at >= end:
            raise _Malformed("header name runs past the headers section", pos)
        name = _utf8(view[pos + 1 : type_at], "header name", pos)
        kind, pos = view[type_at], type_at + 1
        value: HeaderValue
        if kind <= 1:
            value = kind == 0
        elif fixed := _FIXED.get(_LONG if kind == _TIMESTAMP else kind):  # a timestamp is laid out as a long
            _within(pos + fixed.size, end, name, type_at)
            (number,) = fixed.unpack_from(view, pos)
            pos += fixed.size
            value = number if kind != _TIMESTAMP else _timestamp(number, name, type_at)
        elif kind in (6, 7):
            _within(pos + 2, end, name, type_at)
            (length,) = _U16.unpack_from(view, pos)
            data = view[pos + 2 : pos + 2 + length]
            pos += 2 + length
            _within(pos, end, name, type_at)
            value = bytes(data) if kind == 6 else _utf8(data, f"value of header {name!r}", type_at)
        elif kind == _UUID:
            _within(pos + 16, end, name, type_at)
            value = UUID(bytes=bytes(view[pos : pos + 16]))
            pos += 16
        else:
            raise _Malformed(f"unknown header value type {kind} for header {name!r}", type_at)
        if name in headers:
            raise _Malformed(f"duplicate header {name!r}", type_at - name_length - 1)
        headers[name] = value
    return headers


def _within(value_end: int, end: int, name: str, at: int) -> None:
    if value_end > end:
        raise _Malformed(f"value of header {name!r} runs past the headers section", at)


def _utf8(data: memoryview, what: str, at: int) -> str:
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        raise _Malformed(f"{what} is not valid UTF-8", at) from None


def _timestamp(milliseconds: int, name: str, at: int) -> datetime:
    try:
        return _EPOCH + timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise _Malformed(f"timestamp header {name!r} ({milliseconds} ms) is outside years 1-9999", at) from None
