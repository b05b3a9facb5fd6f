"""The spec as users write it: the view the request TypedDicts (``openai_params.py``) are generated from.

Two differences from the view the models are generated from, both about writing:

- An object whose schema welcomes any key (``additionalProperties`` true, or no properties at all:
  a JSON Schema, tool arguments) is a ``dict[str, Any]`` where it is used, not an empty TypedDict
  that would refuse every key.
- A property that is required but nullable (``FunctionTool.parameters`` and ``strict``) may be left
  out: leaving it out means null on every provider, the router accepts it, and requiring it would
  make ``{"type": "function", "name": ..., "parameters": ...}`` a type error.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

__all__ = ["open_objects", "params_view"]


def open_objects(spec: dict[str, Any]) -> list[str]:
    """The schemas that welcome keys they do not name: ``additionalProperties`` true or a schema, or an
    object that names no properties at all (the spec's way to write "any object", e.g. ``EmptyModelParam``
    for tool-search arguments). The router refuses unnamed keys everywhere else in a request."""
    schemas = spec["components"]["schemas"]

    def welcomes(schema: Any) -> bool:
        if not isinstance(schema, dict) or schema.get("additionalProperties") is False:
            return False
        named = schema.get("properties") or any(schema.get(k) for k in ("allOf", "anyOf", "oneOf", "$ref"))
        return schema.get("additionalProperties") is not None or (schema.get("type") == "object" and not named)

    return sorted(name for name, schema in schemas.items() if welcomes(schema))


def params_view(spec: dict[str, Any], open_objects: Collection[str]) -> dict[str, Any]:
    """A copy of the normalised ``spec`` for the request TypedDicts (see the module docstring)."""
    view = copy.deepcopy(spec)
    schemas = view["components"]["schemas"]
    _inline_open(view, {f"#/components/schemas/{name}" for name in open_objects})
    for name in open_objects:
        schemas.pop(name, None)
    _relax_required_nullable(schemas)
    return view


def _inline_open(node: Any, refs: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("$ref") in refs:
            node.clear()
            node.update({"type": "object", "additionalProperties": {}})
            return
        for value in node.values():
            _inline_open(value, refs)
    elif isinstance(node, list):
        for value in node:
            _inline_open(value, refs)


def _nullable(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if schema.get("nullable") is True or kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_nullable(member) for member in schema.get("anyOf") or schema.get("oneOf") or ())


def _relax_required_nullable(node: Any) -> None:
    if isinstance(node, dict):
        properties = node.get("properties")
        required = node.get("required")
        if isinstance(properties, dict) and isinstance(required, list):
            node["required"] = [name for name in required if not _nullable(properties.get(name))]
        for value in node.values():
            _relax_required_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _relax_required_nullable(value)
