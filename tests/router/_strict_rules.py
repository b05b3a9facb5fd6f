"""Test helpers: the Structured Outputs strict-mode rules, checked independently of the code under test.

``assert_strict`` restates the guide's "Supported schemas" rules as assertions; ``assert_sdk_fixpoint``
runs openai-python's own strictifier (test-only dependency) over a schema and requires it to change
nothing, i.e. the SDK would send our schema as is; ``assert_json_schema_accepts`` checks the schema is
valid Draft 2020-12 and that a known-good instance still validates, so strictifying lost no meaning.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from openai.lib._pydantic import _ensure_strict_json_schema

__all__ = ["assert_json_schema_accepts", "assert_sdk_fixpoint", "assert_strict", "dereference"]

# Composition keywords the guide lists as unsupported, plus what our strictifier promises to remove.
_FORBIDDEN = ("oneOf", "allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "discriminator")
_TYPED = ("type", "anyOf", "enum", "const")
# Guide limits: up to 5000 object properties in total, up to 10 levels of nesting, 1000 enum values.
_MAX_PROPERTIES, _MAX_DEPTH, _MAX_ENUM_VALUES = 5000, 10, 1000


def assert_strict(schema: dict[str, Any]) -> None:
    """Every strict-mode rule, with the JSON pointer of the first violation."""
    assert schema.get("type") == "object", "the root must be an object (not anyOf)"
    counts = {"properties": 0, "enum": 0}
    defs = schema.get("$defs", {})
    assert isinstance(defs, dict)
    for name, definition in defs.items():
        _check(definition, defs, f"#/$defs/{name}", 0, counts)
    _check(schema, defs, "#", 0, counts)
    assert counts["properties"] <= _MAX_PROPERTIES
    assert counts["enum"] <= _MAX_ENUM_VALUES


def _check(node: Any, defs: dict[str, Any], path: str, depth: int, counts: dict[str, int]) -> None:
    assert isinstance(node, dict), f"{path}: not a schema object"
    assert depth <= _MAX_DEPTH, f"{path}: nested deeper than {_MAX_DEPTH}"
    assert "default" not in node, f"{path}: default is left in a strict schema"
    for key in _FORBIDDEN:
        assert key not in node, f"{path}: {key} is not supported in strict mode"
    if path != "#":
        assert "$defs" not in node, f"{path}: $defs only at the root"
    if "$ref" in node:
        assert set(node) == {"$ref"}, f"{path}: $ref with sibling keywords {sorted(set(node) - {'$ref'})}"
        ref = node["$ref"]
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in defs, f"{path}: dangling {ref}"
        return
    assert any(key in node for key in _TYPED), f"{path}: untyped schema {node}"
    counts["enum"] += len(node.get("enum", []))
    kinds = node.get("type")
    if kinds == "object" or (isinstance(kinds, list) and "object" in kinds) or "properties" in node:
        assert node.get("additionalProperties") is False, f"{path}: additionalProperties must be false"
        properties = node.get("properties", {})
        assert node.get("required", []) == list(properties), f"{path}: every property must be required"
        counts["properties"] += len(properties)
        for name, prop in properties.items():
            _check(prop, defs, f"{path}/properties/{name}", depth + 1, counts)
    if "items" in node:
        _check(node["items"], defs, f"{path}/items", depth + 1, counts)
    for i, variant in enumerate(node.get("anyOf", [])):
        _check(variant, defs, f"{path}/anyOf/{i}", depth, counts)


def assert_sdk_fixpoint(schema: dict[str, Any]) -> None:
    """openai-python's ``_ensure_strict_json_schema`` leaves the schema unchanged."""
    again = copy.deepcopy(schema)
    assert _ensure_strict_json_schema(again, path=(), root=again) == schema


def assert_json_schema_accepts(schema: dict[str, Any], instance: Any) -> None:
    """The schema is valid JSON Schema 2020-12 and ``instance`` (known good) validates against it."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(instance)


def dereference(node: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` replaced by its definition (a recursive one is left as a ref)."""
    if isinstance(node, list):
        return [dereference(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return {"$ref": ref}
        target = defs[ref.removeprefix("#/$defs/")]
        merged = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
        return dereference(merged, defs, (*seen, ref))
    return {key: dereference(value, defs, seen) for key, value in node.items() if key != "$defs"}
