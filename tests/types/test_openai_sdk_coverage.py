"""Every ``type`` the openai SDK's unions admit is admitted by ours, bar the listed ones the SDK is ahead on.

The SDK (openai 3.54.0, a test-only dependency) is generated from a newer spec than the vendored one
(openai-openapi f85dbe2, 2026-08-21); its unions are the yardstick for "did we lose a variant".
"""

from __future__ import annotations

import typing
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

import openai.types.responses as sdk
import pytest

import polyresponses.types as ours
from polyresponses._summary import tag_values, union_members

# type literal -> why our vendored spec lacks it
_SDK_AHEAD: dict[str, dict[str, str]] = {
    "ResponseStreamEvent": {
        "response.compaction.compacting": "added to the SDK after the vendored spec (f85dbe2); not in its 58 events",
    },
    "InputItem": {
        "configuration_update": "added to the SDK after the vendored spec (f85dbe2); not in its 30 input types",
    },
    "Tool": {},
    "OutputItem": {},
}
# Stream events only OpenResponses has, merged into the canonical union by codegen.
_OPENRESPONSES_ONLY = {"response.reasoning.delta", "response.reasoning.done"}


def _literal_values(annotation: Any) -> set[str]:
    if get_origin(annotation) is typing.Literal:
        return {v for v in get_args(annotation) if isinstance(v, str)}
    return {v for arg in get_args(annotation) for v in _literal_values(arg)}


def _sdk_tags(union: Any) -> set[str]:
    tags: set[str] = set()
    pending = [union]
    while pending:
        current = pending.pop()
        origin = get_origin(current)
        if origin is typing.Annotated:
            pending.append(get_args(current)[0])
        elif origin is typing.Union or isinstance(current, UnionType):
            pending.extend(get_args(current))
        elif hasattr(current, "model_fields"):
            tags |= _literal_values(current.model_fields["type"].annotation)
        else:  # a TypedDict param type
            tags |= _literal_values(get_type_hints(current)["type"])
    return tags


_CASES = [
    ("ResponseStreamEvent", sdk.ResponseStreamEvent, ours.ResponseStreamEvent),
    ("InputItem", sdk.ResponseInputItemParam, ours.InputItem),
    ("InputItem", sdk.ResponseInputItem, ours.InputItem),
    ("Tool", sdk.Tool, ours.Tool),
    ("OutputItem", sdk.ResponseOutputItem, ours.OutputItem),
]


@pytest.mark.parametrize(("name", "sdk_union", "our_union"), _CASES, ids=[f"{c[0]}-{c[1]}" for c in _CASES])
def test_sdk_type_literals_are_accepted_by_ours(name: str, sdk_union: Any, our_union: Any) -> None:
    sdk_tags = _sdk_tags(sdk_union)
    our_tags = {tag for member in union_members(our_union) for tag in tag_values(member)}
    assert len(sdk_tags) >= 15
    missing = sdk_tags - our_tags
    assert missing == set(_SDK_AHEAD[name]), f"{name}: SDK types we lack: {sorted(missing)}"
    expected_extra = _OPENRESPONSES_ONLY if name == "ResponseStreamEvent" else set[str]()
    assert our_tags - sdk_tags == expected_extra


def test_stream_union_sizes_match_the_spec() -> None:
    # 58 OpenAI events + 2 OpenResponses-only ones; 28 output items; 16 tools with 18 type values.
    assert len(union_members(ours.ResponseStreamEvent)) == 60
    assert len(union_members(ours.OutputItem)) == 28
    assert len(union_members(ours.Tool)) == 16
    assert len({t for m in union_members(ours.InputItem) for t in tag_values(m)}) == 30
