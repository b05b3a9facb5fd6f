"""What the spec overlays and generator flags promise, checked on the public types."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from polyresponses.types import (
    ComputerAction,
    CreateResponse,
    InputItem,
    KeyDownAction,
    MouseUpAction,
    PointAndTypeAction,
    Response,
    ResponseErrorEvent,
    ResponseReasoningDeltaStreamingEvent,
    ResponseStreamEvent,
    WebSearchToolCall,
)

_STREAM = TypeAdapter[Any](ResponseStreamEvent)


def test_assistant_history_without_logprobs_or_annotations_is_an_input_item() -> None:
    item = TypeAdapter[Any](InputItem).validate_python(
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hello"}],
        }
    )
    assert item.content[0].text == "Hello"


def test_vllm_lightcone_request_extras_are_typed() -> None:
    body = CreateResponse.model_validate(
        {
            "model": "tzafon.northstar",
            "input": "hi",
            "top_k": 20,
            "cache_salt": "s" * 43,
            "priority": -1,
            "request_id": "req-1",
            "skip_special_tokens": False,
            "include_stop_str_in_output": True,
            "logit_bias": {"50256": -100},
            "mm_processor_kwargs": {"num_crops": 4},
            "previous_input_messages": [{"author": {"role": "user"}, "content": [{"type": "text", "text": "x"}]}],
            "enable_response_messages": True,
        }
    )
    assert body.top_k == 20 and body.logit_bias == {"50256": -100.0}
    assert body.previous_input_messages is not None and body.previous_input_messages[0].author.role == "user"
    assert body.model_extra == {}  # all typed, none left as unknown extras


def test_lightcone_computer_actions_parse_as_their_own_models() -> None:
    actions = TypeAdapter[Any](ComputerAction)
    assert isinstance(
        actions.validate_python({"type": "point_and_type", "x": 1, "y": 2, "text": "a"}), PointAndTypeAction
    )
    assert isinstance(actions.validate_python({"type": "mouse_up", "x": 1, "y": 2}), MouseUpAction)
    assert isinstance(actions.validate_python({"type": "key_down", "key": "shift"}), KeyDownAction)


def test_error_event_reads_both_dialects() -> None:
    flat = _STREAM.validate_python(
        {"type": "error", "code": "server_error", "message": "boom", "param": None, "sequence_number": 4}
    )
    nested = _STREAM.validate_python(
        {"type": "error", "sequence_number": 4, "error": {"type": "server_error", "code": None, "message": "boom"}}
    )
    assert isinstance(flat, ResponseErrorEvent) and flat.message == "boom"
    assert isinstance(nested, ResponseErrorEvent) and nested.error is not None and nested.error.message == "boom"


def test_openresponses_reasoning_delta_is_in_the_canonical_union() -> None:
    event = _STREAM.validate_json(
        b'{"type":"response.reasoning.delta","sequence_number":1,"item_id":"rs_1",'
        b'"output_index":0,"content_index":0,"delta":"think"}'
    )
    assert isinstance(event, ResponseReasoningDeltaStreamingEvent) and event.delta == "think"


def test_urls_are_not_rewritten_and_unknown_fields_are_kept() -> None:
    call = WebSearchToolCall.model_validate(
        {
            "id": "ws_1",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "sources": [{"type": "url", "url": "https://weather.com"}]},
            "provider_extra": {"x": 1},
        }
    )
    dumped = call.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["action"]["sources"][0]["url"] == "https://weather.com"
    assert dumped["provider_extra"] == {"x": 1}


def test_response_created_at_keeps_fractional_seconds() -> None:
    # The spec types Response.created_at as a number (unixtime); the openai SDK reads a float.
    assert "float" in str(Response.model_fields["created_at"].annotation)
