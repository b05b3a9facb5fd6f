"""The event-stream decoder against botocore's on every recorded Bedrock stream, split anywhere; handcrafted frames.

botocore (a test-only dependency here) is the referee: its ``EventStreamBuffer`` is what boto3 decodes
ConverseStream with. Frame layout and header types: Smithy "Amazon Event Stream Specification".
"""

from __future__ import annotations

import json
import re
import string
import struct
import zlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from botocore.eventstream import (
    EventStreamBuffer,
    InvalidHeadersLength,
    InvalidPayloadLength,
)

from polyresponses.router._eventstream import EventStreamDecoder, EventStreamError, EventStreamMessage, HeaderValue
from tests._recorded import exchanges


def _recorded_streams() -> list[tuple[str, bytes]]:
    """Every recorded ConverseStream reply body (``!!binary`` in the cassette, so ``bytes`` once loaded)."""
    streams: list[tuple[str, bytes]] = []
    for exchange in exchanges("bedrock_converse"):
        if exchange.response_headers.get("content-type") == "application/vnd.amazon.eventstream":
            assert exchange.response_bytes is not None, exchange.id
            streams.append((exchange.id, exchange.response_bytes))
        elif "stream" in exchange.cassette:  # only the error cassette, refused with a JSON 400 before any stream
            assert exchange.cassette.startswith("error_stream__") and exchange.status == 400
    return streams


_STREAMS = _recorded_streams()
_IDS = [name for name, _ in _STREAMS]


def test_every_recorded_stream_is_found() -> None:
    # 7 streaming cassettes with a 200 reply, one of them two turns long; none silently skipped.
    assert len(_STREAMS) == 8
    assert len({name.partition("#")[0] for name in _IDS}) == 7


def _referee(body: bytes) -> list[tuple[dict[str, Any], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return [(message.headers, message.payload) for message in buffer]


def _pairs(messages: list[EventStreamMessage]) -> list[tuple[dict[str, HeaderValue], bytes]]:
    return [(message.headers, message.payload) for message in messages]


def _decode(chunks: list[bytes]) -> list[EventStreamMessage]:
    decoder = EventStreamDecoder()
    messages = [message for chunk in chunks for message in decoder.feed(chunk)]
    assert decoder.pending == 0
    decoder.finish()
    return messages


@pytest.mark.parametrize("body", [body for _, body in _STREAMS], ids=_IDS)
def test_recorded_stream_whole_and_byte_by_byte(body: bytes) -> None:
    expected = _referee(body)
    assert len(expected) >= 9
    assert _pairs(_decode([body])) == expected

    # One byte at a time: each message comes out exactly when its last byte arrives, and nothing
    # before it is kept once it has.
    frame_ends: list[int] = []
    position = 0
    while position < len(body):
        position += struct.unpack_from("!I", body, position)[0]
        frame_ends.append(position)
    decoder = EventStreamDecoder()
    seen: list[EventStreamMessage] = []
    out_at: list[int] = []
    for index in range(len(body)):
        got = decoder.feed(body[index : index + 1])
        seen += got
        out_at += [index + 1] * len(got)
        assert decoder.pending == index + 1 - (out_at[-1] if out_at else 0)
    decoder.finish()
    assert out_at == frame_ends
    assert _pairs(seen) == expected

    # What the stream translator will rely on: three string headers, ConverseStream's event names in
    # order from messageStart to messageStop then metadata, no exception frames, JSON object payloads.
    assert {name for m in seen for name in m.headers} == {":message-type", ":event-type", ":content-type"}
    assert seen[0].event_type == "messageStart"
    assert [m.event_type for m in seen[-2:]] == ["messageStop", "metadata"]
    assert {m.event_type for m in seen[1:-2]} <= {"contentBlockStart", "contentBlockDelta", "contentBlockStop"}
    assert {(m.message_type, m.content_type, m.exception_type) for m in seen} == {("event", "application/json", None)}
    padding_alphabet = string.ascii_lowercase + string.ascii_uppercase + string.digits
    for message in seen:
        payload = json.loads(message.payload)
        assert isinstance(payload, dict)
        # Every payload carries a "p" field: length padding (a prefix of a-zA-Z0-9), not content.
        assert padding_alphabet.startswith(payload["p"]) and payload["p"]


@pytest.mark.parametrize("body", [body for _, body in _STREAMS], ids=_IDS)
def test_recorded_stream_split_at_every_point(body: bytes) -> None:
    expected = _referee(body)
    for cut in range(len(body) + 1):
        assert _pairs(_decode([body[:cut], body[cut:]])) == expected, cut


# A test-side encoder, written from the spec's "Message Format" and "Headers Format" tables.


def _header(name: str, kind: int, value: object = None) -> bytes:
    encoded = name.encode()
    head = bytes([len(encoded)]) + encoded + bytes([kind])
    if kind in (0, 1):
        return head
    if kind in (2, 3, 4, 5, 8):
        assert isinstance(value, int)
        return head + struct.pack({2: "!b", 3: "!h", 4: "!i", 5: "!q", 8: "!q"}[kind], value)
    if kind in (6, 7):
        raw = value.encode() if isinstance(value, str) else value
        assert isinstance(raw, bytes)
        return head + struct.pack("!H", len(raw)) + raw
    assert isinstance(value, UUID)
    return head + value.bytes


def _frame(headers: bytes, payload: bytes = b"") -> bytes:
    prelude = struct.pack("!II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack("!I", zlib.crc32(message))


def _prelude(total: int, headers_length: int) -> bytes:
    lengths = struct.pack("!II", total, headers_length)
    return lengths + struct.pack("!I", zlib.crc32(lengths))


_ID = UUID("12345678-9abc-def0-1234-56789abcdef0")
_ALL_TYPES = (
    _header("t", 0)
    + _header("f", 1)
    + _header("byte", 2, -128)
    + _header("short", 3, 32767)
    + _header("int", 4, -(2**31))
    + _header("long", 5, 2**63 - 1)
    + _header("bytes", 6, b"\x00\xff")
    + _header("empty", 6, b"")
    + _header("str", 7, "caf\u00e9 \u2603")
    + _header("ts", 8, 1_700_000_000_123)
    + _header("before-epoch", 8, -1)
    + _header("id", 9, _ID)
)
_ALL_TYPES_DECODED: dict[str, HeaderValue] = {
    "t": True,
    "f": False,
    "byte": -128,
    "short": 32767,
    "int": -(2**31),
    "long": 2**63 - 1,
    "bytes": b"\x00\xff",
    "empty": b"",
    "str": "caf\u00e9 \u2603",
    "ts": datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
    "before-epoch": datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    "id": _ID,
}


def test_every_header_value_type() -> None:
    [message] = _decode([_frame(_ALL_TYPES, b"body")])
    assert message.payload == b"body"
    # With types: True == 1 and a datetime is no int, so compare (type, value) pairs.
    assert {k: (type(v), v) for k, v in message.headers.items()} == {
        k: (type(v), v) for k, v in _ALL_TYPES_DECODED.items()
    }


def test_every_header_value_type_agrees_with_botocore() -> None:
    frame = _frame(_ALL_TYPES, b"body")
    [(headers, payload)] = _referee(frame)
    [message] = _decode([frame])
    # botocore leaves timestamps as milliseconds and UUIDs as their 16 bytes.
    ours = {
        k: round((v - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
        if isinstance(v, datetime)
        else v.bytes
        if isinstance(v, UUID)
        else v
        for k, v in message.headers.items()
    }
    assert (ours, message.payload) == (headers, payload)


def test_exception_and_error_frames() -> None:
    exception = _frame(
        _header(":message-type", 7, "exception")
        + _header(":exception-type", 7, "throttlingException")
        + _header(":content-type", 7, "application/json"),
        b'{"message":"Too many requests, please wait before trying again."}',
    )
    error = _frame(
        _header(":message-type", 7, "error")
        + _header(":error-code", 7, "InternalError")
        + _header(":error-message", 7, "An internal server error occurred.")
    )
    first, second = _decode([exception + error])
    assert (first.message_type, first.exception_type, first.content_type) == (
        "exception",
        "throttlingException",
        "application/json",
    )
    assert (first.event_type, first.error_code) == (None, None)
    assert json.loads(first.payload) == {"message": "Too many requests, please wait before trying again."}
    assert (second.message_type, second.error_code, second.error_message, second.payload) == (
        "error",
        "InternalError",
        "An internal server error occurred.",
        b"",
    )
    assert second.exception_type is None


def test_a_non_string_well_known_header_reads_as_absent() -> None:
    [message] = _decode([_frame(_header(":message-type", 4, 1))])
    assert message.headers == {":message-type": 1} and message.message_type is None


_GOOD = _frame(
    _header(":event-type", 7, "messageStart") + _header(":message-type", 7, "event"), b'{"role":"assistant"}'
)


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def test_any_flipped_prelude_bit_is_a_prelude_crc_error() -> None:
    for bit in range(12 * 8):
        decoder = EventStreamDecoder()
        assert len(decoder.feed(_GOOD)) == 1
        with pytest.raises(EventStreamError, match="prelude CRC mismatch") as caught:
            decoder.feed(_flip(_GOOD, bit))
        assert (caught.value.frame, caught.value.offset) == (1, len(_GOOD)), bit
        assert f"frame 1 (starting at stream byte {len(_GOOD)})" in str(caught.value)


def test_any_flipped_bit_after_the_prelude_is_a_message_crc_error() -> None:
    for bit in range(12 * 8, len(_GOOD) * 8):
        decoder = EventStreamDecoder()
        with pytest.raises(EventStreamError, match="message CRC mismatch") as caught:
            decoder.feed(_GOOD + _flip(_GOOD, bit))
        assert (caught.value.frame, caught.value.offset) == (1, len(_GOOD)), bit


def test_truncated_stream_fails_at_finish() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(_GOOD + _GOOD[:-1]) != []
    assert decoder.pending == len(_GOOD) - 1
    with pytest.raises(EventStreamError, match=f"stream ended after {len(_GOOD) - 1} bytes of its {len(_GOOD)} bytes"):
        decoder.finish()
    with pytest.raises(EventStreamError, match="frame 1 .*already failed"):
        decoder.feed(_GOOD[-1:])

    inside_prelude = EventStreamDecoder()
    assert inside_prelude.feed(_GOOD[:5]) == []
    with pytest.raises(EventStreamError, match="after 5 bytes of its 12-byte prelude") as caught:
        inside_prelude.finish()
    assert (caught.value.frame, caught.value.offset) == (0, 0)


@pytest.mark.parametrize(
    ("prelude", "detail"),
    [
        (_prelude(0, 0), "total length 0 is below the 16-byte minimum"),
        (_prelude(15, 0), "total length 15 is below the 16-byte minimum"),
        (_prelude(20, 5), "headers length 5 does not fit in total length 20"),
        (_prelude(2**32 - 1, 128 * 1024 + 1), "headers length 131073 exceeds the 131072-byte cap"),
        (_prelude(16 + 24 * 1024 * 1024 + 1, 0), "payload length 25165825 exceeds the 25165824-byte cap"),
    ],
)
def test_impossible_lengths_are_refused_from_the_prelude_alone(prelude: bytes, detail: str) -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(_GOOD) != []
    with pytest.raises(EventStreamError, match=detail) as caught:
        decoder.feed(prelude)  # no need to wait for (or buffer) the frame it announces
    assert (caught.value.frame, caught.value.offset) == (1, len(_GOOD))


def test_length_caps_match_botocore() -> None:
    at_caps = [_prelude(16 + 128 * 1024, 128 * 1024), _prelude(16 + 24 * 1024 * 1024, 0)]
    for prelude in at_caps:  # both wait for the rest of the frame
        decoder = EventStreamDecoder()
        assert decoder.feed(prelude) == [] and decoder.pending == 12
        assert _referee(prelude) == []
    for prelude, refusal in [
        (_prelude(16 + 128 * 1024 + 1, 128 * 1024 + 1), InvalidHeadersLength),
        (_prelude(16 + 24 * 1024 * 1024 + 1, 0), InvalidPayloadLength),
    ]:
        with pytest.raises(EventStreamError, match="cap"):
            EventStreamDecoder().feed(prelude)
        with pytest.raises(refusal):
            _referee(prelude)


def _malformed(headers: bytes) -> EventStreamError:
    decoder = EventStreamDecoder()
    assert decoder.feed(_GOOD) != []
    with pytest.raises(EventStreamError) as caught:
        decoder.feed(_frame(headers))
    assert (caught.value.frame, caught.value.offset) == (1, len(_GOOD))
    return caught.value


def test_unknown_header_value_type_names_its_byte() -> None:
    headers = _header(":message-type", 7, "event") + b"\x01x\x0a"
    type_byte = len(_GOOD) + 12 + len(headers) - 1
    error = _malformed(headers)
    assert error.detail == f"unknown header value type 10 for header 'x' at stream byte {type_byte}"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (b"\x00\x07", "empty header name"),
        (b"\x05ab", "header name runs past the headers section"),
        (_header("n", 7, "long value")[:-1], "value of header 'n' runs past the headers section"),
        (_header("n", 5, 1)[:-1], "value of header 'n' runs past the headers section"),
        (_header("n", 9, _ID)[:-1], "value of header 'n' runs past the headers section"),
        (_header("n", 7, b"\xff"), "value of header 'n' is not valid UTF-8"),
        (b"\x01\xff\x00", "header name is not valid UTF-8"),
        (_header("n", 0) + _header("n", 1), "duplicate header 'n'"),
        (_header("ts", 8, 2**62), "timestamp header 'ts' .* is outside years 1-9999"),
    ],
)
def test_malformed_headers(headers: bytes, detail: str) -> None:
    error = _malformed(headers)
    match = re.fullmatch(f"{detail} at stream byte ([0-9]+)", error.detail)
    assert match, error.detail
    headers_start = len(_GOOD) + 12
    assert headers_start <= int(match[1]) < headers_start + len(headers)


def test_input_after_an_error_is_refused() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError, match="prelude CRC"):
        decoder.feed(_flip(_GOOD, 3))
    for _ in range(2):  # still refused, valid bytes or not, and finish() too
        with pytest.raises(EventStreamError, match=r"frame 0 \(starting at stream byte 0\): decoder already failed"):
            decoder.feed(_GOOD)
    with pytest.raises(EventStreamError, match="already failed, input refused \\(prelude CRC mismatch"):
        decoder.finish()


def test_messages_do_not_share_their_headers() -> None:
    # Identical header blocks are parsed once; a caller changing one message's dict changes no other.
    frame = _frame(_header(":event-type", 7, "seenOnlyInThisTest"))  # so the first one is parsed, not looked up
    first, second = _decode([frame, frame])
    first.headers[":event-type"] = "changed"
    second.headers[":event-type"] = "changed too"
    [third] = _decode([frame])
    assert third.event_type == "seenOnlyInThisTest"
