"""Every ``example``/``examples`` value the specs give for a reached schema (or one of its properties) validates.

The few the spec itself gets wrong are listed with the reason; they must keep failing, so a fix
upstream (or a regression of ours that makes them pass for the wrong reason) shows up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

import polyresponses.generated.openai as openai_models
import polyresponses.generated.openresponses as openresponses_models
from tests._specs import normalised_specs

_MODULES = {"openai": openai_models, "openresponses": openresponses_models}

# "<spec>:<schema>[.<property>]#<n>" -> why the spec's own example does not match the spec's schema.
_SPEC_WRONG: dict[str, str] = {
    "openai:CompactResource#0": (
        "its `output` holds input-style messages without the `id` and `status` that OutputMessage requires, "
        "and its `usage` lacks the required input_tokens_details/output_tokens_details"
    ),
    "openresponses:ResponseResource#0": (
        "it omits properties the schema requires (nullable but required: incomplete_details, "
        "previous_response_id, instructions, error, max_output_tokens, max_tool_calls, safety_identifier, "
        "prompt_cache_key) and gives `reasoning: {}` though Reasoning requires effort and summary"
    ),
}


def _examples(node: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    if "example" in node:
        values.append(node["example"])
    examples = node.get("examples")
    if isinstance(examples, list):
        values.extend(examples)
    return values


def _cases() -> Iterator[tuple[str, str, str | None, Any]]:
    for spec_name, spec in normalised_specs().items():
        for schema_name, schema in spec["components"]["schemas"].items():
            for n, value in enumerate(_examples(schema)):
                yield f"{spec_name}:{schema_name}#{n}", schema_name, None, value
            properties = schema.get("properties", {})
            for member in schema.get("allOf", []):
                properties = {**properties, **member.get("properties", {})}
            for prop, prop_schema in properties.items():
                if isinstance(prop_schema, dict):
                    for n, value in enumerate(_examples(prop_schema)):
                        yield f"{spec_name}:{schema_name}.{prop}#{n}", schema_name, prop, value


_CASES = list(_cases())


def _adapter(case_id: str, schema_name: str, prop: str | None) -> TypeAdapter[Any]:
    module = _MODULES[case_id.split(":", 1)[0]]
    target = getattr(module, schema_name)
    if prop is None:
        return TypeAdapter(target)
    assert isinstance(target, type) and issubclass(target, BaseModel)
    for field_name, info in target.model_fields.items():
        if (info.alias or field_name) == prop:
            assert info.annotation is not None
            return TypeAdapter(info.annotation)
    raise AssertionError(f"{schema_name} has no field for property {prop!r}")


@pytest.mark.parametrize(("case_id", "schema_name", "prop", "value"), _CASES, ids=[c[0] for c in _CASES])
def test_spec_example_validates(case_id: str, schema_name: str, prop: str | None, value: Any) -> None:
    adapter = _adapter(case_id, schema_name, prop)
    if case_id in _SPEC_WRONG:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)
        return
    adapter.validate_python(value)


def test_examples_were_found() -> None:
    assert len(_CASES) >= 10
    assert set(_SPEC_WRONG) <= {c[0] for c in _CASES}
