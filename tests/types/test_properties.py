"""Property tests: instances generated from the spec's own JSON Schemas validate, dump and re-validate equal.

For every variant of the stream event, input item, output item and tool unions (and OpenResponses'
stream and item unions), hypothesis-jsonschema draws instances of the *normalised spec's* schema,
extra properties included; our model must accept each, keep every field, and survive a dump and
re-validation unchanged.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis_jsonschema import from_schema
from pydantic import BaseModel, TypeAdapter, ValidationError

import polyresponses.generated.openai as openai_models
import polyresponses.generated.openresponses as openresponses_models
from tests._specs import normalised_specs

_UNIONS = {
    "openai": ("ResponseStreamEvent", "InputItem", "OutputItem", "Tool"),
    "openresponses": ("ResponseStreamEvent", "ItemParam"),
}
_MODULES = {"openai": openai_models, "openresponses": openresponses_models}
# OpenAPI/JSON-Schema keywords that describe but do not constrain, or that hypothesis-jsonschema
# does not know; `format` is dropped because OpenAI uses non-standard ones (e.g. unixtime).
_DROP = {"discriminator", "format", "example", "examples", "deprecated", "readOnly", "writeOnly", "title"}


def _variants(spec: dict[str, Any], union: str) -> list[str]:
    schema = spec["components"]["schemas"][union]
    names: list[str] = []
    for member in schema.get("oneOf") or schema.get("anyOf"):
        ref = member.get("$ref", "")
        target = ref.removeprefix("#/components/schemas/")
        nested = spec["components"]["schemas"].get(target, {})
        if "oneOf" in nested or "anyOf" in nested:
            names.extend(_variants(spec, target))
        elif target:
            names.append(target)
    return names


def _is_schema(value: Any) -> bool:
    return isinstance(value, dict) and bool({"type", "$ref", "oneOf", "anyOf", "allOf", "enum"} & set(value))


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        # A keyword's value is a string or a schema, never a schema *map*: a property named `format`
        # or `title` (whose value is a schema with a "type" or "$ref") is kept.
        return {k: _clean(v) for k, v in node.items() if not ((k in _DROP and not _is_schema(v)) or k.startswith("x-"))}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


_NESTED_UNION_WIDTH = 2


def _inline(node: Any, schemas: dict[str, Any], depth: int) -> Any:
    """Resolve ``$ref``s by inlining, keeping the schema small enough for hypothesis-jsonschema.

    Past a recursion depth a reference becomes ``false`` (so recursive filters terminate), and a
    union nested inside the case keeps only its first variants: a ``response.created`` event with
    every tool and output item inlined is a 333 kB schema that takes minutes to canonicalise. Each
    variant of those unions is a case of its own, so nothing goes untested.
    """
    if isinstance(node, dict):
        for keyword in ("oneOf", "anyOf"):
            members = node.get(keyword)
            if depth > 0 and isinstance(members, list) and len(members) > _NESTED_UNION_WIDTH:
                node = {**node, keyword: members[:_NESTED_UNION_WIDTH]}
        if "$recursiveRef" in node:
            # JSON Schema 2019-09 (CompoundFilter.filters items); hypothesis-jsonschema does not
            # know the keyword and would draw anything there, ``null`` included. Not drawn at all.
            return False
        ref = node.get("$ref")
        if isinstance(ref, str):
            if depth > 8:
                return False
            target = copy.deepcopy(schemas[ref.removeprefix("#/components/schemas/")])
            siblings = {k: v for k, v in node.items() if k not in ("$ref", "description")}
            resolved = _inline(target, schemas, depth + 1)
            return {"allOf": [resolved, siblings]} if siblings else resolved
        return {k: _inline(v, schemas, depth + (k in ("properties", "items"))) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, schemas, depth) for v in node]
    return node


_CASES = sorted(
    {
        (spec_name, variant)
        for spec_name, unions in _UNIONS.items()
        for u in unions
        for variant in _variants(normalised_specs()[spec_name], u)
    }
)


_OBJECT_KEYS = {"type", "properties", "required", "description", "additionalProperties"}


def _merge_object_allof(node: Any) -> Any:
    """Merge ``allOf`` of plain object schemas (what the generator does with subclasses) ahead of
    hypothesis-jsonschema, whose general allOf intersection is slow on schemas this size."""
    if isinstance(node, list):
        return [_merge_object_allof(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _merge_object_allof(v) for k, v in node.items()}
    members = node.get("allOf")
    if isinstance(members, list) and all(isinstance(m, dict) and set(m) <= _OBJECT_KEYS for m in members):
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        for member in members:
            merged.setdefault("type", member.get("type", "object"))
            merged["properties"] = {**merged.get("properties", {}), **member.get("properties", {})}
            merged["required"] = sorted({*merged.get("required", []), *member.get("required", [])})
        return merged
    return node


def _close_nested_objects(node: Any, top: bool = True) -> Any:
    """Nested objects are drawn with their required properties only, and no extra ones.

    Extra properties are drawn at the top level (they test that unknown fields are kept); drawn at
    every level they make instances of the lifecycle events so large that generation takes minutes.
    """
    if isinstance(node, list):
        return [_close_nested_objects(v, top) for v in node]
    if not isinstance(node, dict):
        return node
    closed = {k: _close_nested_objects(v, top and k in ("allOf", "anyOf", "oneOf")) for k, v in node.items()}
    if not top and isinstance(closed.get("properties"), dict):
        # Nested optional properties are left out too: hypothesis' buffer cannot hold a whole
        # Response with every optional field. The nested models are cases of their own (union
        # variants) or covered by the recorded traffic.
        required = set(closed.get("required", []))
        closed["properties"] = {k: v for k, v in closed["properties"].items() if k in required}
        closed.setdefault("additionalProperties", False)
    return closed


def _schema(spec_name: str, name: str) -> dict[str, Any]:
    schemas = _clean(normalised_specs()[spec_name]["components"]["schemas"])
    resolved: dict[str, Any] = _close_nested_objects(_merge_object_allof(_inline(schemas[name], schemas, 0)))
    return resolved


@pytest.mark.parametrize(("spec_name", "name"), _CASES, ids=[f"{s}:{n}" for s, n in _CASES])
def test_generated_instances_round_trip(spec_name: str, name: str) -> None:
    model = getattr(_MODULES[spec_name], name)
    assert isinstance(model, type) and issubclass(model, BaseModel)

    @given(instance=from_schema(_schema(spec_name, name)))
    def check(instance: dict[str, Any]) -> None:
        parsed = model.model_validate(instance)
        assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == json.loads(json.dumps(instance))
        again = model.model_validate_json(parsed.model_dump_json(by_alias=True))
        assert again == parsed

    check()


def test_cases_cover_the_unions() -> None:
    # 60 events + 30-odd input items + 28 output items + 16 tools, and OpenResponses' 24 events + 9 items.
    assert len([c for c in _CASES if c[0] == "openai"]) >= 120
    assert len([c for c in _CASES if c[0] == "openresponses"]) >= 30


_OPENRESPONSES_EVENTS = [n for s, n in _CASES if s == "openresponses" and n.endswith("StreamingEvent")]
_CANONICAL_STREAM = TypeAdapter[Any](openai_models.ResponseStreamEvent)
_LOOSER_RESOURCE = (
    "OpenResponses' ResponseResource is looser than OpenAI's Response (tool_choice forms, output item "
    "types, free-form status/service_tier/error codes)"
)
# Events whose *nested payload* OpenResponses types more loosely than OpenAI does: the canonical
# union still picks the right event by its tag; only the named field may fail. Mapping these
# payloads is the OpenResponses dialect's job in the router, not the type family's.
_LOOSER_PAYLOAD: dict[str, tuple[str, str]] = {
    **{
        f"Response{kind}StreamingEvent": ("response", _LOOSER_RESOURCE)
        for kind in ("Created", "Queued", "InProgress", "Completed", "Failed", "Incomplete")
    },
    "ResponseOutputItemAddedStreamingEvent": ("item", "OpenResponses items admit shapes OpenAI's OutputItem rejects"),
    "ResponseOutputItemDoneStreamingEvent": ("item", "OpenResponses items admit shapes OpenAI's OutputItem rejects"),
    "ResponseContentPartAddedStreamingEvent": ("part", "OpenResponses content parts go beyond OpenAI's part union"),
    "ResponseContentPartDoneStreamingEvent": ("part", "OpenResponses content parts go beyond OpenAI's part union"),
    "ResponseReasoningSummaryPartAddedStreamingEvent": ("part", "part.type is any string in OpenResponses"),
    "ResponseReasoningSummaryPartDoneStreamingEvent": ("part", "part.type is any string in OpenResponses"),
}


@pytest.mark.parametrize("name", _OPENRESPONSES_EVENTS)
def test_canonical_stream_union_parses_openresponses_events(name: str) -> None:
    """One union parses both dialects: every OpenResponses event is routed to a canonical variant by its tag,
    and, bar the payloads listed in ``_LOOSER_PAYLOAD``, parsed losslessly."""
    looser_field = _LOOSER_PAYLOAD.get(name, (None, ""))[0]

    # No shrinking: a failure's report is enough, and shrinking a 60-variant union error is slow.
    @settings(phases=[Phase.explicit, Phase.generate])
    @given(instance=from_schema(_schema("openresponses", name)))
    def check(instance: dict[str, Any]) -> None:
        try:
            event = _CANONICAL_STREAM.validate_python(instance)
        except ValidationError as error:
            if looser_field is None:
                raise
            locations = {detail["loc"][:2] for detail in error.errors()}
            assert locations <= {(instance["type"], looser_field)}, locations
            return
        assert event.type == instance["type"]
        assert event.model_dump(mode="json", by_alias=True, exclude_unset=True) == json.loads(json.dumps(instance))

    check()


def test_looser_payload_list_names_real_events() -> None:
    assert set(_LOOSER_PAYLOAD) <= set(_OPENRESPONSES_EVENTS)
    assert len(_OPENRESPONSES_EVENTS) == 24
