"""The OpenAI Responses dialect, pure: request building, reply parsing, the stream state machine.

Ground truth is the recorded traffic in ``../shared/fixtures/recorded/openai_responses`` and a real
llama.cpp ``llama-server`` stream in ``tests/data/llamacpp`` (which omits indices the spec requires).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyresponses.router._errors import APIResponseValidationError, StreamError
from polyresponses.router.dialects import openai_responses as dialect
from polyresponses.types import Response, ResponseStreamEvent
from tests._recorded import Exchange, exchanges, sse_data

_RESPONSES = [e for e in exchanges("openai_responses") if e.uri.split("?")[0].rstrip("/").endswith("/responses")]
_STREAMS = [e for e in _RESPONSES if e.status == 200 and e.response_text and "data:" in e.response_text[:500]]
_HAND_WRITTEN = {"text__test_openai_previous_response_id.yaml#0", "text__test_openai_previous_response_id.yaml#1"}
_REPLIES = [
    e for e in _RESPONSES if e.status == 200 and isinstance(e.response_json, dict) and e.id not in _HAND_WRITTEN
]
LLAMACPP = Path(__file__).resolve().parents[1] / "data" / "llamacpp"


def _translate(text: bytes, chunk_size: int | None = None) -> tuple[dialect.StreamTranslator, list[Any]]:
    translator = dialect.StreamTranslator("openai")
    events: list[ResponseStreamEvent] = []
    if chunk_size is None:
        events += translator.feed(text)
    else:
        for start in range(0, len(text), chunk_size):
            events += translator.feed(text[start : start + chunk_size])
    events += translator.finish()
    return translator, events


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def test_the_recorded_set_has_streams_and_replies() -> None:
    assert len(_STREAMS) >= 20
    assert len(_REPLIES) >= 10


@pytest.mark.parametrize("exchange", _STREAMS, ids=lambda e: e.id)
def test_recorded_stream_translates_to_the_recorded_events_in_order(exchange: Exchange) -> None:
    assert exchange.response_text is not None
    translator, events = _translate(exchange.response_text.encode())
    expected = [json.loads(data) for data in sse_data(exchange.response_text)]
    ours = [_dump(event) for event in events]
    for position, (mine, theirs) in enumerate(zip(ours, expected, strict=True)):
        if "sequence_number" not in theirs:  # streams recorded before 2025-04 have none: we number them
            assert mine.pop("sequence_number") == position
    assert ours == expected
    assert translator.unknown_events == []
    terminal = next(e for e in reversed(expected) if e["type"] in {"response.completed", "response.incomplete"})
    assert translator.final is not None
    final = translator.final.model_dump(mode="json", by_alias=True, exclude_unset=True)
    recorded = dict(terminal["response"])
    final.pop("output_text")
    recorded.pop("output_text", None)  # OpenRouter sends its own (empty, though the message has text)
    assert final == recorded


@pytest.mark.parametrize("exchange", _STREAMS[:6], ids=lambda e: e.id)
@given(chunk_size=st.integers(min_value=1, max_value=4096))
def test_chunk_boundaries_do_not_change_the_events(exchange: Exchange, chunk_size: int) -> None:
    assert exchange.response_text is not None
    raw = exchange.response_text.encode()
    _, whole = _translate(raw)
    _, chunked = _translate(raw, chunk_size)
    assert [_dump(e) for e in chunked] == [_dump(e) for e in whole]


@pytest.mark.parametrize("exchange", _REPLIES, ids=lambda e: e.id)
def test_recorded_reply_parses_with_output_text_filled(exchange: Exchange) -> None:
    response = dialect.parse_response(json.dumps(exchange.response_json).encode(), provider="openai")
    assert isinstance(response, Response)
    expected_text = "".join(
        part["text"]
        for item in exchange.response_json["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )
    assert response.output_text == expected_text


def test_llamacpp_stream_gets_consistent_indices() -> None:
    """llama-server omits sequence_number, output_index and content_index; they are filled in order."""
    raw = (LLAMACPP / "responses_text_stream.sse").read_bytes()
    translator, events = _translate(raw, chunk_size=7)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert translator.final is not None and translator.final.status == "completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and translator.final.output_text == text
    for event in events:
        if hasattr(event, "output_index"):
            assert event.output_index == 0, event.type
        if hasattr(event, "content_index"):
            assert event.content_index == 0, event.type


def _sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)


def _response(status: str = "in_progress", **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": "m",
        "output": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "parallel_tool_calls": True,
        "tools": [],
        "tool_choice": "auto",
        "metadata": {},
        "temperature": None,
        "top_p": None,
        **extra,
    }


def test_two_items_without_indices_are_numbered_by_arrival() -> None:
    message = {"type": "message", "id": "msg_a", "role": "assistant", "status": "in_progress", "content": []}
    second = {**message, "id": "msg_b"}
    part = {"type": "output_text", "text": "", "annotations": []}
    raw = _sse(
        {"type": "response.created", "response": _response()},
        {"type": "response.output_item.added", "item": message},
        {"type": "response.content_part.added", "item_id": "msg_a", "part": part},
        {"type": "response.output_text.delta", "item_id": "msg_a", "delta": "a"},
        {"type": "response.output_item.added", "item": second},
        {"type": "response.content_part.added", "item_id": "msg_b", "part": part},
        {"type": "response.content_part.added", "item_id": "msg_b", "part": part},
        {"type": "response.output_text.delta", "item_id": "msg_b", "delta": "b"},
        {"type": "response.output_text.delta", "item_id": "msg_a", "delta": "c"},
    )
    _, events = _translate(raw)
    indices = [(e.type, getattr(e, "output_index", None), getattr(e, "content_index", None)) for e in events]
    assert indices == [
        ("response.created", None, None),
        ("response.output_item.added", 0, None),
        ("response.content_part.added", 0, 0),
        ("response.output_text.delta", 0, 0),
        ("response.output_item.added", 1, None),
        ("response.content_part.added", 1, 0),
        ("response.content_part.added", 1, 1),
        ("response.output_text.delta", 1, 1),
        ("response.output_text.delta", 0, 0),
    ]


def test_unknown_event_types_are_kept_aside_not_raised() -> None:
    raw = _sse(
        {"type": "response.created", "response": _response()},
        {"type": "response.reasoning_part.added", "item_id": "rs_1", "part": {}},  # vLLM's non-standard event
    )
    translator, events = _translate(raw)
    assert [e.type for e in events] == ["response.created"]
    assert [json.loads(e.data)["type"] for e in translator.unknown_events] == ["response.reasoning_part.added"]


def test_error_event_becomes_a_stream_error_with_the_partial_response() -> None:
    raw = _sse(
        {"type": "response.created", "response": _response()},
        {"type": "error", "code": "server_error", "message": "boom", "sequence_number": 1},
    )
    translator, events = _translate(raw)
    error = translator.error_for(events[-1])
    assert isinstance(error, StreamError)
    assert "boom" in str(error) and "server_error" in str(error)
    assert error.partial is not None and error.partial.id == "resp_1"


def test_openresponses_nested_error_event_is_read_too() -> None:
    raw = _sse({"type": "error", "error": {"type": "server_error", "code": "overloaded", "message": "busy"}})
    translator, events = _translate(raw)
    error = translator.error_for(events[0])
    assert error is not None and "busy" in str(error) and "overloaded" in str(error)


def test_response_failed_is_an_error_carrying_the_failed_response() -> None:
    failed = _response("failed", error={"code": "server_error", "message": "model crashed"})
    _, events = _translate(_sse({"type": "response.failed", "response": failed}))
    error = dialect.StreamTranslator("x").error_for(events[0])
    assert error is not None and "model crashed" in str(error)
    assert isinstance(error.partial, Response) and error.partial.status == "failed"


def test_done_sentinel_is_ignored() -> None:
    raw = _sse({"type": "response.completed", "response": _response("completed")}) + b"data: [DONE]\n\n"
    translator, events = _translate(raw)
    assert [e.type for e in events] == ["response.completed"]
    assert translator.done


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"data: {not json\n\n", "not JSON"),
        (b'data: {"no_type": 1}\n\n', "no string 'type'"),
        (b'data: {"type": "response.output_text.delta", "delta": 5}\n\n', "'response.output_text.delta' is not valid"),
    ],
)
def test_malformed_events_raise_naming_the_problem(data: bytes, expected: str) -> None:
    with pytest.raises(APIResponseValidationError, match=expected):
        _translate(data)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "HTML page"),
        (b'{"id": "resp_1", "object"', "malformed JSON"),
        (b'{"id": "resp_1"}', r"not a valid Response: at (object|output): Field required"),
    ],
)
def test_bad_replies_raise_naming_the_problem(content: bytes, expected: str) -> None:
    with pytest.raises(APIResponseValidationError, match=expected):
        dialect.parse_response(content, provider="groq")


def test_partial_collects_the_items_done_so_far() -> None:
    item = {
        "type": "message",
        "id": "msg_a",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    }
    raw = _sse(
        {"type": "response.created", "response": _response(), "sequence_number": 0},
        {"type": "response.output_item.done", "item": item, "output_index": 0, "sequence_number": 1},
    )
    translator, _ = _translate(raw)
    partial = translator.partial()
    assert partial is not None and partial.output_text == "hi" and not translator.done


def test_request_builders_follow_the_reference_routes() -> None:
    assert dialect.build_create({"model": "m", "stream": True}).stream
    assert dialect.build_retrieve("resp/1", include=["x"]).path == "/responses/resp%2F1"
    assert dialect.build_retrieve("r", include=["x"]).params == {"include[]": ["x"]}
    assert (dialect.build_delete("r").method, dialect.build_cancel("r").path) == ("DELETE", "/responses/r/cancel")
    listing = dialect.build_input_items("r", after="a", limit=5, order="asc")
    assert (listing.path, listing.params) == ("/responses/r/input_items", {"after": "a", "limit": 5, "order": "asc"})
    with pytest.raises(ValueError, match="non-empty"):
        dialect.build_retrieve("")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("completed", "response.completed"),
        ("incomplete", "response.incomplete"),
        ("failed", "response.failed"),
        ("queued", "response.created"),
    ],
)
def test_a_whole_json_reply_to_a_stream_request_is_one_event_of_its_status(status: str, kind: str) -> None:
    """A server that ignored ``stream: true``: one event whose type matches the status, never a
    ``response.completed`` carrying an incomplete or failed response."""
    reply = next(e.response_json for e in exchanges("openai_responses") if e.status == 200 and _is_reply(e))
    translator = dialect.StreamTranslator("openai")
    events = translator.whole_reply(json.dumps(reply | {"status": status}).encode())
    assert [event.type for event in events] == [kind]
    assert translator.final is not None and translator.final.status == status
    assert (translator.error_for(events[0]) is not None) == (status == "failed")


def _is_reply(exchange: Exchange) -> bool:
    body = exchange.response_json
    return isinstance(body, dict) and body.get("object") == "response" and bool(body.get("output"))
