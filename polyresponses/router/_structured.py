"""Structured Outputs: a Python type as the Responses API ``text.format``, and the reply parsed back into it.

``text.format`` is the spec's ``TextResponseFormatJsonSchema``: ``{"type": "json_schema", "name",
"schema", "strict"}``, flat, where Chat Completions nests the same fields under ``json_schema``.
A Pydantic model, dataclass or TypedDict becomes that shape with its strict schema (the rules are in
:mod:`polyresponses.router._tools`); :func:`parse_output` validates the model's JSON text into the same
type with the same pydantic adapter, so what was promised and what is checked cannot drift apart.

Pure: no I/O. Adapters are cached per type, so parsing every reply of a stream stays cheap.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import is_typeddict

from ._tools import json_schema_of, require_object_root, strict_json_schema, type_adapter

__all__ = ["parse_output", "text_format_for"]

T = TypeVar("T")

# Spec ``TextResponseFormatJsonSchema.name``: "Must be a-z, A-Z, 0-9, or contain underscores and
# dashes, with a maximum length of 64."
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_NAME_MAX = 64

# JSON Schema type names: a dict whose ``type`` is one of these is a bare schema, not a text.format.
_SCHEMA_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})

_EXCERPT = 200


def text_format_for(response_format: Any) -> dict[str, Any]:
    """The ``text.format`` for ``response_format``: a model/dataclass/TypedDict class, or a format dict.

    A class becomes a strict ``json_schema`` format named after it. A dict is taken as already meant for
    the wire: a Responses ``text.format`` is copied unchanged, a Chat Completions ``response_format``
    (``{"type": "json_schema", "json_schema": {...}}``) is flattened. Raises ``TypeError`` for anything
    else and ``ValueError`` for a bare JSON Schema dict or a class strict mode cannot express.
    """
    if isinstance(response_format, Mapping):
        return _map_format_dict(response_format)
    if _is_structured_type(response_format):
        name = _format_name(response_format)
        try:
            schema = strict_json_schema(json_schema_of(response_format))
            require_object_root(schema, f"text_format_for({name})")
        except ValueError as exc:
            raise ValueError(f"text_format_for({response_format.__name__}): {exc}") from exc
        return {"type": "json_schema", "name": name, "schema": schema, "strict": True}
    raise TypeError(
        "response_format must be a pydantic model, dataclass or TypedDict class, or a text.format dict; "
        f"got {response_format!r}"
    )


def parse_output(response_format: type[T], text: str) -> T:
    """``text`` (the model's JSON reply) validated into ``response_format``.

    A model or dataclass yields an instance, a TypedDict a dict. Raises ``ValueError`` when the text is
    not JSON or does not match the type; the message names the type, the failing fields and an excerpt
    of the text, and the pydantic ``ValidationError`` is chained as ``__cause__``.
    """
    adapter = cast("TypeAdapter[T]", type_adapter(response_format))
    try:
        return adapter.validate_json(text)
    except ValidationError as exc:
        raise ValueError(_parse_error_message(response_format, text, exc.errors())) from exc


def _is_structured_type(tp: Any) -> bool:
    if not isinstance(tp, type):
        return False
    return issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp) or is_typeddict(tp)


def _format_name(tp: type[Any]) -> str:
    """The class name made a legal format name (``Page[int]`` → ``Page_int_``)."""
    return _NAME_UNSAFE.sub("_", tp.__name__)[:_NAME_MAX] or "response"


def _map_format_dict(fmt: Mapping[str, Any]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind == "json_schema" and "json_schema" in fmt:
        # Chat Completions `response_format` nests {name, description, schema, strict} under
        # `json_schema`; the Responses `text.format` carries them at the top level.
        inner = fmt["json_schema"]
        if not isinstance(inner, Mapping):
            raise TypeError(f"response_format['json_schema'] must be a dict, got {type(inner).__name__}")
        return copy.deepcopy({"type": "json_schema", **inner})
    if kind in _SCHEMA_TYPES or (kind is None and ("properties" in fmt or "$schema" in fmt)):
        raise ValueError(
            "response_format looks like a bare JSON Schema; wrap it as "
            '{"type": "json_schema", "name": "...", "schema": <the schema>, "strict": True}'
        )
    if kind is None:
        raise ValueError("response_format dict has no 'type' (expected 'json_schema', 'json_object' or 'text')")
    return copy.deepcopy(dict(fmt))


def _parse_error_message(tp: type[Any], text: str, errors: list[ErrorDetails]) -> str:
    name = getattr(tp, "__name__", repr(tp))
    excerpt = text if len(text) <= _EXCERPT else f"{text[:_EXCERPT]}..."
    if errors and all(error["type"] == "json_invalid" for error in errors):
        return f"model output is not valid JSON for {name}: {errors[0]['msg']}; output: {excerpt!r}"
    problems = "; ".join(f"{_location(error)}: {error['msg']}" for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"model output does not match {name}: {problems}{more}; output: {excerpt!r}"


def _location(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(root)"
