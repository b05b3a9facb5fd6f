"""The stream conformance checker (``polyresponses.testing``) over real native Responses streams, and proof
that each rule fires.

Native servers do break the rules; the regression table below says exactly how (rule -> number of
violations per recorded stream), so a change in a server recording, in the generated models or in
the checker shows up here instead of passing silently. Why each stream breaks what it breaks is
written next to its row.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from polyresponses.testing import RULES, Violation, assert_conformant, check_stream
from polyresponses.types import (
    FunctionToolCall,
    OutputMessage,
    OutputTextContent,
    ReasoningItem,
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseErrorEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryPartDoneEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningSummaryTextDoneEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    StreamErrorPayload,
    SummaryTextContent,
)
from tests._recorded import RECORDED, exchanges, sse_data

_LLAMACPP = Path(__file__).parent / "data" / "llamacpp" / "responses_text_stream.sse"


def _recorded_streams() -> dict[str, str]:
    """Every native Responses stream on record: SSE bodies of the cassettes, ``*.sse`` files, llama.cpp's."""
    streams = {
        e.id: e.response_text
        for e in exchanges("openai_responses")
        if e.response_text is not None and e.response_headers.get("content-type", "").startswith("text/event-stream")
    }
    for path in sorted((RECORDED / "openai_responses").glob("*.sse")):
        streams[path.name] = path.read_text(encoding="utf-8")
    streams["llamacpp/responses_text_stream.sse"] = _LLAMACPP.read_text(encoding="utf-8")
    return streams


_STREAMS = _recorded_streams()

# OpenAI (until its spec grows them) uses many event and item types the OpenResponses spec lacks:
# `openresponses-unknown-type` (web_search_call.*, file_search_call.*, code_interpreter_call*.*,
# mcp_list_tools.*, and reasoning_text.delta/.done, which OpenResponses calls response.reasoning.*) and
# `openresponses-schema` (built-in tool items/tools/annotations outside its unions, and older
# recordings without completed_at / presence_penalty / frequency_penalty). `accumulation` on OpenAI
# reasoning streams: each emission of an encrypted reasoning/compaction item is encrypted afresh, so
# `encrypted_content` of output_item.done differs from the same item's in response.completed.
_EXPECTED: dict[str, dict[str, int]] = {
    "builtin_tools_stream__test_openai_native_tool_search_streaming.yaml#0": {"openresponses-schema": 7},
    "builtin_tools_stream__test_openai_native_tool_search_streaming.yaml#1": {"openresponses-schema": 3},
    "builtin_tools_stream__test_openai_responses_code_execution_return_image_stream.yaml#0": {
        "accumulation": 1,  # encrypted_content
        "openresponses-schema": 9,
        "openresponses-unknown-type": 216,
    },
    "builtin_tools_stream__test_openai_responses_compact_stateful_mode_stream.yaml#0": {},
    "builtin_tools_stream__test_openai_responses_compact_stateful_mode_stream.yaml#1": {},
    "builtin_tools_stream__test_openai_responses_compact_stateful_mode_stream.yaml#2": {
        "accumulation": 1  # encrypted_content of the compaction item
    },
    "builtin_tools_stream__test_openai_responses_compact_stateful_mode_stream.yaml#3": {},
    "builtin_tools_stream__test_openai_responses_model_file_search_tool_stream.yaml#3": {
        "openresponses-schema": 8,
        "openresponses-unknown-type": 3,
    },
    "builtin_tools_stream__test_openai_responses_model_mcp_list_tools_stream_backfills_missing_results.yaml#0": {
        # OpenAI never sends output_item.done for two of the three mcp_list_tools items (the bug the
        # pydantic-ai test is named after); response.completed has all three.
        "lifecycle": 2,
        "openresponses-schema": 7,
        "openresponses-unknown-type": 6,
    },
    "builtin_tools_stream__test_openai_responses_model_web_search_tool_stream.yaml#0": {
        "accumulation": 2,  # encrypted_content
        "openresponses-schema": 5,
        "openresponses-unknown-type": 3,
    },
    "builtin_tools_stream__test_openai_responses_thinking_with_code_execution_tool_stream.yaml#0": {
        "accumulation": 1,  # encrypted_content
        "openresponses-schema": 9,
        "openresponses-unknown-type": 39,
    },
    "builtin_tools_stream__test_run.yaml#0": {
        "accumulation": 8,  # encrypted_content
        "openresponses-schema": 17,
        "openresponses-unknown-type": 21,
    },
    "deepseek_reasoning_stream__test_deepseek_responses[text_stream].yaml#0": {"openresponses-unknown-type": 8},
    "deepseek_reasoning_tool_call_stream__test_deepseek_responses[function_tool_stream].yaml#0": {
        "openresponses-unknown-type": 15
    },
    "deepseek_reasoning_tool_call_stream__test_deepseek_responses[function_tool_stream].yaml#1": {},
    "openrouter_reasoning_stream__test_openai_responses_raw_cot_stream_openrouter.yaml#0": {
        # response.completed names the reasoning item rs_tmp_ku4i... where the stream said rs_tmp_2kbe...
        "accumulation": 1,
        # truncation null, no text/completed_at/... in the response; reasoning_text events
        "openresponses-schema": 3,
        "openresponses-unknown-type": 27,
    },
    "reasoning_stream__test_openai_responses_thinking_part_iter.yaml#0": {
        "accumulation": 1,  # encrypted_content
        "openresponses-schema": 3,
    },
    "reasoning_tool_call_stream__test_openai_responses_phase_streamed_on_part_start.yaml#0": {
        "accumulation": 1  # encrypted_content
    },
    "reasoning_tool_call_stream__test_openai_responses_phase_streamed_on_part_start.yaml#1": {},
    "reasoning_tool_call_stream__test_openai_responses_streaming_usage.yaml#0": {
        "accumulation": 1,  # encrypted_content
        "openresponses-schema": 3,
    },
    "text_stream__test_background_mode_streaming_starting_after_vcr.yaml#0": {},
    "text_stream__test_background_mode_streaming_starting_after_vcr.yaml#1": {
        # a resumed background stream (GET ...?starting_after=0): starts at response.queued, number 1
        "lifecycle": 1,
        "sequence": 1,
    },
    "text_stream__test_background_mode_streaming_vcr.yaml#0": {},
    "text_stream__test_openai_conversation_id_streaming_provider_details.yaml#1": {},
    "text_stream__test_openai_instructions_with_responses_logprobs_streaming.yaml#0": {},
    # Recorded 2025-03, before OpenAI added sequence_number (and before completed_at & co.).
    "tool_call_stream__test_openai_responses_stream.yaml#0": {"openresponses-schema": 11, "sequence": 11},
    "tool_call_stream__test_openai_responses_stream.yaml#1": {"openresponses-schema": 15, "sequence": 15},
    # llama.cpp: no sequence_number, output_index or content_index on any event; created/in_progress
    # carry a bare {id, object, status} response (no output).
    "llamacpp/responses_text_stream.sse": {"index": 30, "openresponses-schema": 19, "schema": 18, "sequence": 19},
}


def _rules(violations: list[Violation]) -> dict[str, int]:
    return dict(sorted(Counter(v.rule for v in violations).items()))


def test_recorded_native_streams_match_the_regression_table() -> None:
    """One test over all streams, so the summary below prints once and lists every departure together."""
    assert set(_STREAMS) == set(_EXPECTED), "a recorded stream was added or removed: update _EXPECTED"
    found = {name: _rules(check_stream(sse_data(text))) for name, text in _STREAMS.items()}
    width = max(map(len, found))
    rows = [f"  {n:<{width}}  {', '.join(f'{r} x{c}' for r, c in f.items()) or 'conformant'}" for n, f in found.items()]
    conformant = sum(1 for f in found.values() if not f)
    summary = "\n".join([f"{len(found)} native Responses streams, {conformant} conformant:", *rows])
    print(f"\n{summary}")  # noqa: T201 - the summary is this test's report (pytest -s)
    assert found == _EXPECTED, summary


def test_no_recorded_stream_trips_the_checker_itself() -> None:
    for text in _STREAMS.values():
        assert not [v for v in check_stream(sse_data(text)) if v.rule == "checker-error"]


def test_conformant_recorded_streams_pass_assert_conformant() -> None:
    for name, rules in _EXPECTED.items():
        if not rules:
            assert_conformant(sse_data(_STREAMS[name]))


# --- mutations of one clean recorded stream: each rule fires ----------------------------------------------

_CLEAN_ID = "text_stream__test_openai_instructions_with_responses_logprobs_streaming.yaml#0"
# 0 created, 1 in_progress, 2 output_item.added, 3 content_part.added, 4-12 output_text.delta,
# 13 output_text.done, 14 content_part.done, 15 output_item.done, 16 completed


def _clean() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [json.loads(data) for data in sse_data(_STREAMS[_CLEAN_ID])]
    assert [e["type"] for e in events][-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    return events


def _renumbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def test_the_clean_stream_is_clean() -> None:
    assert check_stream(_clean()) == []


def test_dropping_response_created_breaks_lifecycle() -> None:
    events = _clean()[1:]
    violations = check_stream(_renumbered(events))
    assert _rules(violations) == {"lifecycle": 1}
    assert "the first event is response.in_progress, expected response.created" in violations[0].message
    # without renumbering the gap shows as well
    assert _rules(check_stream(events)) == {"lifecycle": 1, "sequence": 1}


def test_swapped_sequence_numbers_break_sequence() -> None:
    events = _clean()
    events[5]["sequence_number"], events[6]["sequence_number"] = 6, 5
    violations = check_stream(events)
    assert _rules(violations) == {"sequence": 3}
    assert violations[0] == Violation(5, "sequence", "sequence_number 6 after 4, expected 5")


def test_a_changed_delta_breaks_accumulation() -> None:
    events = _clean()
    events[6]["delta"] = "XYZ"
    violations = check_stream(events)
    assert _rules(violations) == {"accumulation": 3}  # output_text.done, content_part.done, output_item.done
    assert [v.index for v in violations] == [13, 14, 15]
    assert "XYZ" in violations[0].message and "content part content_index 0" in violations[0].message


def test_a_changed_output_index_breaks_index() -> None:
    events = _clean()
    events[7]["output_index"] = 1
    violations = check_stream(events)
    assert _rules(violations) == {"index": 1}
    assert violations[0].index == 7 and "output_index 1" in violations[0].message


def test_an_event_after_the_terminal_one_breaks_lifecycle() -> None:
    events = _clean()
    events.append({**events[4], "sequence_number": len(events)})
    violations = check_stream(events)
    assert {v.rule for v in violations} == {"lifecycle"}
    assert {v.index for v in violations} == {17}
    assert any("after the terminal response.completed (event 16)" in v.message for v in violations)
    assert any("after its output_item.done (event 15)" in v.message for v in violations)


def test_a_schema_invalid_event_breaks_schema() -> None:
    events = _clean()
    events[8]["logprobs"] = "not a list"
    violations = check_stream(events)
    assert _rules(violations) == {"openresponses-schema": 1, "schema": 1}
    assert all(v.index == 8 and "logprobs" in v.message for v in violations)


def test_an_event_type_openresponses_lacks_is_its_own_rule() -> None:
    events = _clean()
    item_id = events[2]["item"]["id"]
    events.insert(3, {"type": "response.web_search_call.searching", "item_id": item_id, "output_index": 0})
    assert _rules(check_stream(_renumbered(events))) == {"openresponses-unknown-type": 1}
    assert check_stream(_renumbered(events), openresponses=False) == []


def test_a_stream_cut_short_breaks_lifecycle() -> None:
    events = _clean()[:-3]
    violations = check_stream(events)
    assert [(v.index, v.rule) for v in violations] == [(14, "lifecycle")]
    assert "ends without a terminal event" in violations[0].message


def test_an_item_closed_early_breaks_lifecycle() -> None:
    events = _clean()
    events.insert(5, events.pop(15))  # output_item.done right after the first delta
    violations = check_stream(_renumbered(events))
    assert {v.rule for v in violations} == {"lifecycle", "accumulation"}
    assert violations[0].index == 5 and "before content part content_index 0 is done" in violations[0].message


def test_a_delta_after_its_done_breaks_lifecycle() -> None:
    events = _clean()
    events.insert(14, {**events[12]})
    violations = check_stream(_renumbered(events))
    assert _rules(violations) == {"lifecycle": 1}
    assert "a delta after response.output_text.done" in violations[0].message


def test_final_output_must_match_the_streamed_items() -> None:
    events = _clean()
    events[16]["response"]["output"] = []
    violations = check_stream(events)
    assert violations == [
        Violation(16, "accumulation", "the response.completed response has 0 output items, 1 were added")
    ]


# --- robustness ---------------------------------------------------------------------------------------


def test_garbage_is_reported_not_raised() -> None:
    garbage: list[Any] = [None, 42, "not json", b"{}", {"type": 5}, {}, [1, 2], {"type": "response.output_item.done"}]
    violations = check_stream(garbage)
    assert {v.rule for v in violations} >= {"schema", "lifecycle", "sequence"}
    assert "checker-error" not in {v.rule for v in violations}
    assert check_stream([]) == [Violation(0, "lifecycle", "the stream has no events")]


def _scramble(value: Any, rng: random.Random) -> Any:
    """Replace, delete or retype one random field somewhere inside ``value``."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(sorted(value))
        roll = rng.random()
        if roll < 0.3:
            del value[key]
        elif roll < 0.6:
            value[key] = rng.choice([None, -1, 3.5, "x", [], {}, True, [None], {"type": None}])
        else:
            value[key] = _scramble(value[key], rng)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        value[index] = _scramble(value[index], rng)
    return value


def test_randomly_mangled_streams_never_crash_the_checker() -> None:
    rng = random.Random(20260822)
    base = _clean()[:3] + _clean()[3:6] + _clean()[12:]  # shorter: the same shape, fewer deltas
    for _ in range(150):
        events = copy.deepcopy(base)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(events))
            events[at] = _scramble(events[at], rng)
        if rng.random() < 0.3:
            events.insert(rng.randrange(len(events)), copy.deepcopy(rng.choice(base)))
        violations = check_stream(events)
        assert all(v.rule in RULES and v.rule != "checker-error" for v in violations), violations


def test_assert_conformant_lists_every_violation() -> None:
    events = _clean()
    events[6]["delta"] = "XYZ"
    del events[0]
    with pytest.raises(AssertionError) as raised:
        assert_conformant(events)
    text = str(raised.value)
    assert "has 5 conformance violation(s)" in text
    assert text.count("[accumulation]") == 3 and "[lifecycle]" in text and "[sequence]" in text
    assert_conformant(events, ignore={"accumulation", "lifecycle", "sequence"})


# --- a synthetic stream built from the canonical models -------------------------------------------------


def _response(status: str, output: list[Any]) -> Response:
    """A response carrying every field OpenResponses requires (its required-nullable ones as explicit None)."""
    done = status == "completed"
    return Response(
        id="resp_1",
        object="response",
        created_at=1_760_000_000,
        completed_at=1_760_000_002 if done else None,
        status=status,
        incomplete_details=None,
        model="gpt-test",
        previous_response_id=None,
        instructions=None,
        output=output,
        error=None,
        tools=[],
        tool_choice="auto",
        truncation="disabled",
        parallel_tool_calls=True,
        text={"format": {"type": "text"}},
        top_p=1.0,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        top_logprobs=0,
        temperature=1.0,
        reasoning=None,
        usage=(
            {
                "input_tokens": 5,
                "output_tokens": 7,
                "total_tokens": 12,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 2},
            }
            if done
            else None
        ),
        max_output_tokens=None,
        max_tool_calls=None,
        store=False,
        background=False,
        service_tier="default",
        metadata={},
        safety_identifier=None,
        prompt_cache_key=None,
    )


def _synthetic() -> list[ResponseStreamEvent]:
    """Reasoning (one summary part), a two-part message, and a function call: every streamed-text path."""
    reasoning = ReasoningItem(
        type="reasoning", id="rs_1", summary=[SummaryTextContent(type="summary_text", text="Hm.")]
    )
    text = [OutputTextContent(type="output_text", text=t, annotations=[], logprobs=[]) for t in ("Hello!", " Bye.")]
    message = OutputMessage(id="msg_1", type="message", role="assistant", status="completed", content=text)
    call = FunctionToolCall(
        id="fc_1", type="function_call", call_id="call_1", name="f", arguments='{"a":1}', status="completed"
    )
    empty = OutputTextContent(type="output_text", text="", annotations=[], logprobs=[])
    events: list[ResponseStreamEvent] = [
        ResponseCreatedEvent(type="response.created", response=_response("in_progress", [])),
        ResponseInProgressEvent(type="response.in_progress", response=_response("in_progress", [])),
        ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            output_index=0,
            item=reasoning.model_copy(update={"summary": []}),
        ),
        ResponseReasoningSummaryPartAddedEvent.model_validate(
            {
                "type": "response.reasoning_summary_part.added",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""},
            }
        ),
        *(
            ResponseReasoningSummaryTextDeltaEvent(
                type="response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta=d
            )
            for d in ("H", "m.")
        ),
        ResponseReasoningSummaryTextDoneEvent(
            type="response.reasoning_summary_text.done", item_id="rs_1", output_index=0, summary_index=0, text="Hm."
        ),
        ResponseReasoningSummaryPartDoneEvent.model_validate(
            {
                "type": "response.reasoning_summary_part.done",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": "Hm."},
            }
        ),
        ResponseOutputItemDoneEvent(type="response.output_item.done", output_index=0, item=reasoning),
        ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            output_index=1,
            item=message.model_copy(update={"content": [], "status": "in_progress"}),
        ),
    ]
    for index, part in enumerate(text):
        where: dict[str, Any] = {"item_id": "msg_1", "output_index": 1, "content_index": index}
        events += [
            ResponseContentPartAddedEvent(type="response.content_part.added", part=empty, **where),
            *(
                ResponseTextDeltaEvent(type="response.output_text.delta", delta=d, logprobs=[], **where)
                for d in (part.text[:3], part.text[3:])
            ),
            ResponseTextDoneEvent(type="response.output_text.done", text=part.text, logprobs=[], **where),
            ResponseContentPartDoneEvent(type="response.content_part.done", part=part, **where),
        ]
    events += [
        ResponseOutputItemDoneEvent(type="response.output_item.done", output_index=1, item=message),
        ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            output_index=2,
            item=call.model_copy(update={"arguments": "", "status": "in_progress"}),
        ),
        *(
            ResponseFunctionCallArgumentsDeltaEvent(
                type="response.function_call_arguments.delta", item_id="fc_1", output_index=2, delta=d
            )
            for d in ('{"a"', ":1}")
        ),
        ResponseFunctionCallArgumentsDoneEvent(
            type="response.function_call_arguments.done", item_id="fc_1", output_index=2, arguments='{"a":1}'
        ),
        ResponseOutputItemDoneEvent(type="response.output_item.done", output_index=2, item=call),
        ResponseCompletedEvent(type="response.completed", response=_response("completed", [reasoning, message, call])),
    ]
    for number, event in enumerate(events):
        event.sequence_number = number
    return events


def test_a_synthetic_stream_of_canonical_models_conforms() -> None:
    events = _synthetic()
    assert len(events) == 27
    assert check_stream(events) == []
    assert_conformant(events)


def test_a_synthetic_stream_ended_by_an_error_conforms() -> None:
    events = _synthetic()[:4]
    events.append(
        ResponseErrorEvent(
            type="error",
            sequence_number=4,
            error=StreamErrorPayload.model_validate(
                {"type": "server_error", "code": "oops", "message": "boom", "param": None}
            ),
        )
    )
    assert check_stream(events) == []


def test_a_synthetic_stream_with_a_wrong_summary_breaks_accumulation() -> None:
    events = _synthetic()
    done = events[6]
    assert isinstance(done, ResponseReasoningSummaryTextDoneEvent)
    done.text = "Hmm."
    violations = check_stream(events)
    assert [(v.index, v.rule) for v in violations] == [(6, "accumulation")]
    assert "reasoning summary part summary_index 0" in violations[0].message
