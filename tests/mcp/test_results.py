"""``polyresponses.mcp._results``: what a tool call came to, as text for the model and as a typed error.

A failed MCP call must reach the model as text it can react to and reach the response as one of the
spec's three ``MCPToolCallError`` shapes, so these tests pin the exact wire dicts, the exact text of
each content block kind (text, image, audio, embedded resource, resource link, unknown) and how an
error is described. Pure functions: no server, no network.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from polyresponses.mcp._results import (
    HTTP_TIMEOUT,
    HTTP_UNREACHABLE,
    INVALID_PARAMS,
    CallOutcome,
    McpFailure,
    content_text,
    describe,
    http_error,
    protocol_error,
)

# -- the error constructors: exactly the spec's shapes


def test_http_error_is_the_spec_http_error_shape() -> None:
    assert http_error(404, "Not Found") == {"type": "http_error", "code": 404, "message": "Not Found"}


def test_protocol_error_is_the_spec_mcp_protocol_error_shape() -> None:
    assert protocol_error(-32601, "Method not found") == {
        "type": "mcp_protocol_error",
        "code": -32601,
        "message": "Method not found",
    }


def test_error_constructors_return_fresh_dicts() -> None:
    first = http_error(500, "boom")
    first["message"] = "changed"
    assert http_error(500, "boom")["message"] == "boom"


def test_codes_are_the_json_rpc_and_gateway_values() -> None:
    assert (INVALID_PARAMS, HTTP_UNREACHABLE, HTTP_TIMEOUT) == (-32602, 502, 504)


# -- content_text: each block kind


def test_text_blocks_are_joined_with_newlines() -> None:
    content = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    assert content_text(content) == "first\nsecond"


def test_a_text_block_without_text_counts_as_empty() -> None:
    assert content_text([{"type": "text"}, {"type": "text", "text": "b"}]) == "\nb"


def test_non_string_text_is_stringified() -> None:
    assert content_text([{"type": "text", "text": 42}]) == "42"


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_binary_media_is_described_by_type_mime_and_decoded_size(kind: str) -> None:
    # 8 base64 characters without padding decode to 6 bytes.
    block = {"type": kind, "data": "AAECAwQF", "mimeType": f"{kind}/x-test"}
    assert content_text([block]) == f"[{kind} {kind}/x-test, 6 bytes]"


def test_media_without_data_or_mime_type_is_described_as_empty() -> None:
    assert content_text([{"type": "image"}]) == "[image , 0 bytes]"


def test_the_raw_base64_of_media_never_reaches_the_model() -> None:
    data = "QUJD" * 100
    text = content_text([{"type": "image", "data": data, "mimeType": "image/png"}])
    assert data not in text
    assert text == "[image image/png, 300 bytes]"


def test_an_embedded_text_resource_is_inlined() -> None:
    block = {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "body"}}
    assert content_text([block]) == "body"


def test_an_embedded_empty_text_resource_is_inlined_not_described() -> None:
    block = {"type": "resource", "resource": {"uri": "file:///a.txt", "text": ""}}
    assert content_text([block]) == ""


def test_an_embedded_blob_resource_is_described_by_uri_mime_and_size() -> None:
    block = {
        "type": "resource",
        "resource": {"uri": "file:///a.bin", "mimeType": "application/octet-stream", "blob": "AAAA"},
    }
    assert content_text([block]) == "[resource file:///a.bin application/octet-stream, 3 bytes]"


def test_a_resource_block_without_resource_is_described_as_empty() -> None:
    assert content_text([{"type": "resource"}]) == "[resource  , 0 bytes]"


def test_a_resource_link_gives_its_uri() -> None:
    block = {"type": "resource_link", "uri": "https://example.com/doc", "name": "doc"}
    assert content_text([block]) == "[resource link https://example.com/doc]"


def test_an_unknown_block_is_passed_as_json_keeping_non_ascii() -> None:
    block = {"type": "future_kind", "value": "héllo ☃"}
    text = content_text([block])
    assert json.loads(text) == block
    assert "héllo ☃" in text


def test_mixed_blocks_keep_their_order() -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "see"},
        {"type": "resource_link", "uri": "u:1"},
        {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        {"type": "text", "text": "end"},
    ]
    assert content_text(content) == "see\n[resource link u:1]\n[image image/png, 3 bytes]\nend"


# -- content_text: structured content


def test_without_content_the_structured_content_is_given_as_json() -> None:
    assert json.loads(content_text([], {"temperature": 21.5, "unit": "C"})) == {"temperature": 21.5, "unit": "C"}


def test_structured_content_keeps_non_ascii() -> None:
    assert content_text([], {"city": "Zürich"}) == '{"city": "Zürich"}'


@pytest.mark.parametrize(("structured", "expected"), [(0, "0"), ([], "[]"), ({}, "{}"), (False, "false")])
def test_falsy_structured_content_is_still_given(structured: Any, expected: str) -> None:
    assert content_text([], structured) == expected


def test_content_wins_over_structured_content() -> None:
    assert content_text([{"type": "text", "text": "21.5 C"}], {"temperature": 21.5}) == "21.5 C"


def test_no_content_and_no_structured_content_is_empty_text() -> None:
    assert content_text([]) == ""


# -- describe


def test_describe_http_error() -> None:
    assert describe(http_error(503, "Service Unavailable")) == "HTTP 503: Service Unavailable"


def test_describe_protocol_error() -> None:
    assert describe(protocol_error(INVALID_PARAMS, "bad arguments")) == "MCP error -32602: bad arguments"


def test_describe_execution_error_reads_its_content() -> None:
    error = {
        "type": "mcp_tool_execution_error",
        "content": [{"type": "text", "text": "city not found"}, {"type": "text", "text": "try again"}],
    }
    assert describe(error) == "city not found\ntry again"


@pytest.mark.parametrize(
    "error",
    [
        {"type": "mcp_tool_execution_error"},
        {"type": "mcp_tool_execution_error", "content": None},
        {"type": "mcp_tool_execution_error", "content": []},
        {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": ""}]},
    ],
)
def test_describe_execution_error_without_text_says_the_tool_failed(error: Mapping[str, Any]) -> None:
    assert describe(error) == "the tool failed"


def test_describe_an_unknown_error_type_as_a_protocol_error() -> None:
    assert describe({"type": "something_else", "code": 7, "message": "odd"}) == "MCP error 7: odd"


# -- CallOutcome


def test_a_successful_outcome_has_not_failed_and_gives_its_output() -> None:
    outcome = CallOutcome("sunny")
    assert outcome.failed is False
    assert outcome.for_model == "sunny"


def test_a_failed_outcome_tells_the_model_the_error_not_the_output() -> None:
    outcome = CallOutcome("partial text", http_error(502, "cannot reach https://example.com"))
    assert outcome.failed is True
    assert outcome.for_model == "Error: HTTP 502: cannot reach https://example.com"


def test_an_execution_error_outcome_tells_the_model_the_tool_text() -> None:
    content = [{"type": "text", "text": "no such city"}]
    outcome = CallOutcome(content_text(content), {"type": "mcp_tool_execution_error", "content": content})
    assert outcome.failed is True
    assert outcome.for_model == "Error: no such city"


def test_an_empty_output_without_error_has_not_failed() -> None:
    assert CallOutcome("").failed is False
    assert CallOutcome("").for_model == ""


# -- McpFailure


def test_mcp_failure_reads_as_its_described_error() -> None:
    failure = McpFailure(http_error(403, "not public"))
    assert str(failure) == "HTTP 403: not public"
    assert failure.error == {"type": "http_error", "code": 403, "message": "not public"}


def test_mcp_failure_is_raised_and_caught_as_an_exception() -> None:
    with pytest.raises(McpFailure, match=r"^MCP error -32602: bad$") as caught:
        raise McpFailure(protocol_error(INVALID_PARAMS, "bad"))
    assert caught.value.error["code"] == INVALID_PARAMS


@contextlib.contextmanager
def _passing_through() -> Iterator[None]:
    yield


def test_mcp_failure_propagates_through_a_generator_context_manager() -> None:
    with pytest.raises(McpFailure), _passing_through():
        raise McpFailure(http_error(403, "not public"))
