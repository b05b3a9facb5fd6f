"""The SSE decoder against the WHATWG rules and against every recorded OpenAI Responses stream, split anywhere."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyresponses.router._sse import ServerSentEvent, SSEDecoder
from tests._recorded import exchanges, sse_data


def _decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.finish()


def test_fields_comments_and_multiline_data() -> None:
    stream = b'\xef\xbb\xbf: comment\nevent: response.created\nid: 7\nretry: 1500\ndata: {"a":\ndata:  1}\n\ndata:x\n\n'
    assert _decode([stream]) == [
        ServerSentEvent(data='{"a":\n 1}', event="response.created", id="7", retry=1500),
        ServerSentEvent(data="x", event="message", id="7", retry=1500),
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    stream = newline.join([b"event: e", b"data: 1", b"", b"data: 2", b"", b""])
    assert [(e.event, e.data) for e in _decode([stream])] == [("e", "1"), ("message", "2")]


def test_edge_rules() -> None:
    # No data: nothing dispatched; unterminated last event dropped; bad retry and NUL id ignored.
    stream = b"event: only\n\nid: a\x00b\nretry: 1x\ndata: kept\n\ndata: dropped"
    assert _decode([stream]) == [ServerSentEvent(data="kept")]


_STREAMS = [e.response_text for e in exchanges("openai_responses") if e.status == 200 and e.response_text]


@given(
    stream=st.sampled_from(_STREAMS),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=40),
    crlf=st.booleans(),
)
def test_recorded_streams_split_anywhere(stream: str, cuts: list[int], crlf: bool) -> None:
    raw = (stream.replace("\n", "\r\n") if crlf else stream).encode()
    points = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    chunks = [raw[a:b] for a, b in zip(points, points[1:], strict=False)]
    decoded = [json.loads(e.data) for e in _decode(chunks) if e.data != "[DONE]"]  # OpenRouter's Chat-style end
    assert decoded == [json.loads(d) for d in sse_data(stream)]
    assert decoded and all(isinstance(e, dict) and "type" in e for e in decoded)


def test_multibyte_character_split_across_chunks() -> None:
    raw = "data: caf\u00e9 \u2603\n\n".encode()
    split = raw.index(b"\xe2") + 1
    assert _decode([raw[:split], raw[split:]]) == [ServerSentEvent(data="caf\u00e9 \u2603")]


def _reference(text: str) -> list[ServerSentEvent]:
    """WHATWG 9.2.6 read literally, one line at a time: the yardstick for the decoder's fast paths."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    events: list[ServerSentEvent] = []
    data: list[str] = []
    name, last_id, retry = "", None, None
    lines = text.split("\n")
    for line in lines[:-1]:  # the last piece has no line end: an unterminated line is never interpreted
        if not line:
            if data:
                events.append(ServerSentEvent("\n".join(data), name or "message", last_id, retry))
            data, name = [], ""
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "id" and "\0" not in value:
            last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
    return events


_LINES = st.sampled_from(
    [
        "",
        "data: {}",
        'data:{"a":1}',
        "data:  two spaces",
        "data",
        "data:",
        "event: response.output_text.delta",
        "event:x",
        "event",
        ": keep-alive",
        "id: 7",
        "retry: 1500",
        "retry: soon",
        "other: field",
        "data: caf\u00e9 \u2603",
    ]
)


@given(
    lines=st.lists(_LINES, max_size=40),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 12), max_size=12),
)
def test_any_line_mix_decodes_as_the_spec_reads_it(lines: list[str], newline: str, cuts: list[int]) -> None:
    """Fast path (plain event/data blocks), general path and the switches between them agree with the spec."""
    text = "".join(line + newline for line in lines)
    raw = text.encode()
    points = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    chunks = [raw[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert _decode(chunks) == _reference(text)
