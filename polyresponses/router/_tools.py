"""Function tools built from Python callables, and the strict JSON Schemas that Structured Outputs accepts.

A Responses-API function tool is ``{"type": "function", "name", "description", "parameters", "strict"}``
(spec ``FunctionTool``). :func:`function_tool` derives it from a signature with pydantic, so the schema
the model sees and the validator that later checks its arguments come from one source. Parameter
descriptions come from ``Annotated[..., Field(description=...)]`` or from the docstring (Google
``Args:``, NumPy ``Parameters`` / ``----------`` and reST ``:param x:`` styles).

``strict=True`` is the default because it is the Responses API's own default for function tools. The
schema is then rewritten by :func:`strict_json_schema` into the subset the Structured Outputs guide
("Supported schemas") accepts:

* every object has ``additionalProperties: false`` and lists *all* its properties in ``required``
  ("All fields must be required"); an optional parameter therefore stays present, and one typed
  ``X | None`` stays nullable through pydantic's ``anyOf: [X, {"type": "null"}]``, which is how the
  guide says to emulate an optional field;
* ``default`` is removed everywhere. It is not among the guide's supported keywords, it can never
  apply once every property is required, and Azure OpenAI rejects a strict schema carrying a non-null
  one ("'default' is not permitted", openai/openai-agents-python#4390) while api.openai.com ignores
  it. A non-null default is kept for the model as a ``Default: <json>.`` sentence in the description,
  since the model must now always choose a value;
* a ``$ref`` with sibling keywords (pydantic writes ``{"$ref": ..., "description": ...}``) is inlined,
  because strict mode does not accept the pair; bare ``$ref``\\ s and ``$defs`` stay (nested models,
  enums, recursion: "Definitions are supported", "Recursive schemas are supported"), and definitions
  no longer referenced after inlining are pruned;
* ``oneOf`` (pydantic's discriminated unions) becomes ``anyOf`` and the OpenAPI-only
  ``discriminator`` is dropped: the variants are disjoint by construction, so both mean the same;
* what strict mode cannot express is an error, never a silent change of meaning: open objects
  (``dict[str, X]``, a model with ``extra="allow"``), untyped values (``Any``), and the composition
  keywords the guide lists as unsupported (``allOf`` of several schemas, ``not``, ``if``/``then``/
  ``else``, ``dependentRequired``, ``dependentSchemas``). ``strict=False`` keeps pydantic's schema.

Pure: no I/O; every function returns fresh dicts the caller may mutate.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, assert_never

from pydantic import BaseModel, Field, PydanticUserError, TypeAdapter, create_model
from pydantic.fields import FieldInfo

__all__ = [
    "function_tool",
    "json_schema_of",
    "prepare_tools",
    "require_object_root",
    "strict_json_schema",
    "type_adapter",
]

# Spec ``FunctionObject.name`` (the same rule the Responses API enforces on ``FunctionTool.name``):
# "Must be a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64."
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# A schema node must say what it holds; ``{}`` (pydantic's ``Any``) is not accepted in strict mode.
_TYPED_KEYS = ("type", "anyOf", "$ref", "enum", "const")

# Structured Outputs guide, "Supported schemas": composition keywords that are not supported.
_UNSUPPORTED_KEYS = ("not", "if", "then", "else", "dependentRequired", "dependentSchemas")

_MISSING: Any = object()


# --- JSON Schema of a type ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _cached_adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def type_adapter(tp: Any) -> TypeAdapter[Any]:
    """A ``TypeAdapter`` for ``tp``, cached per type: building one compiles a validator, which is slow."""
    try:
        hash(tp)
    except TypeError:  # e.g. Annotated metadata that is unhashable: correct, just not cached
        return TypeAdapter(tp)
    return _cached_adapter(tp)


def json_schema_of(tp: Any) -> dict[str, Any]:
    """pydantic's (validation-mode) JSON Schema of ``tp``: a model, dataclass, TypedDict or any type.

    Raises ``TypeError`` naming ``tp`` when pydantic cannot describe it (e.g. an arbitrary class).
    """
    try:
        return type_adapter(tp).json_schema()
    except PydanticUserError as exc:
        raise TypeError(f"cannot build a JSON schema for {tp!r}: {exc}") from exc


# --- strict mode ---------------------------------------------------------------------------------------


def strict_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` rewritten for Structured Outputs strict mode (rules in the module docstring).

    The input is not modified. Raises ``ValueError`` naming the JSON pointer of the first node strict
    mode cannot express, so the caller can say which parameter or field to change.
    """
    root: dict[str, Any] = copy.deepcopy(dict(schema))
    strict = _strictify(root, root=root, path="#", inlining=())
    return _prune_defs(strict)


def require_object_root(schema: Mapping[str, Any], where: str) -> None:
    """Strict mode needs an object at the root (guide: "Root objects must not be anyOf")."""
    kind = schema.get("type")
    if kind != "object":
        got = f"type {kind!r}" if kind is not None else f"keys {sorted(schema)}"
        raise ValueError(f"{where}: strict mode needs a JSON object at the schema root, got {got}")


def _strictify(node: Any, *, root: dict[str, Any], path: str, inlining: tuple[str, ...]) -> dict[str, Any]:
    """Make one schema node strict, in place where possible; returns the node to use in its place."""
    if not isinstance(node, dict):
        raise ValueError(f"at {path}: expected a schema object, got {type(node).__name__}")

    for defs_key in ("$defs", "definitions"):
        defs = node.get(defs_key)
        if isinstance(defs, dict):
            for def_name, def_schema in defs.items():
                defs[def_name] = _strictify(def_schema, root=root, path=f"{path}/{defs_key}/{def_name}", inlining=())

    # A null default says nothing the nullable type does not; dropping it first keeps `{"$ref", "default":
    # null}` a bare (legal) ref instead of inlining it.
    if "default" in node and node["default"] is None:
        del node["default"]

    ref = node.get("$ref")
    if ref is not None and len(node) > 1:
        return _inline_ref(node, ref, root=root, path=path, inlining=inlining)

    _map_one_of(node, path)

    all_of = node.pop("allOf", None)
    if all_of is not None:
        if not isinstance(all_of, list) or len(all_of) != 1:
            raise ValueError(f"at {path}: allOf with several schemas is not supported in strict mode")
        # Older pydantic wrapped a described ref as `{"allOf": [{"$ref"}], "description"}`: one schema.
        return _strictify({**all_of[0], **node}, root=root, path=path, inlining=inlining)

    for key in _UNSUPPORTED_KEYS:
        if key in node:
            raise ValueError(f"at {path}: the {key!r} keyword is not supported in strict mode")

    if _is_object(node):
        _strictify_object(node, root=root, path=path, inlining=inlining)

    items = node.get("items")
    if isinstance(items, dict):
        node["items"] = _strictify(items, root=root, path=f"{path}/items", inlining=inlining)
    prefix_items = node.get("prefixItems")
    if isinstance(prefix_items, list):
        node["prefixItems"] = [
            _strictify(item, root=root, path=f"{path}/prefixItems/{i}", inlining=inlining)
            for i, item in enumerate(prefix_items)
        ]
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        node["anyOf"] = _flatten_any_of(
            [
                _strictify(variant, root=root, path=f"{path}/anyOf/{i}", inlining=inlining)
                for i, variant in enumerate(any_of)
            ]
        )

    _map_default(node)

    if not any(key in node for key in _TYPED_KEYS):
        raise ValueError(f"at {path}: the value has no type (an Any or unconstrained value); strict mode needs one")
    return node


def _strictify_object(node: dict[str, Any], *, root: dict[str, Any], path: str, inlining: tuple[str, ...]) -> None:
    """``additionalProperties: false`` and every property required; open objects are an error."""
    extra = node.get("additionalProperties", _MISSING)
    properties = node.get("properties")
    if extra is _MISSING and properties is None:
        extra = True  # a bare {"type": "object"} admits any keys
    if extra is not _MISSING and extra is not False:
        raise ValueError(
            f"at {path}: an open object (additionalProperties: {json.dumps(extra)}, e.g. dict[str, X] or a model "
            'with extra="allow") cannot be expressed in strict mode; use named fields, a list of pairs, '
            "or strict=False"
        )
    node["additionalProperties"] = False
    if isinstance(properties, dict):
        node["required"] = list(properties)
        for name, prop in properties.items():
            properties[name] = _strictify(prop, root=root, path=f"{path}/properties/{name}", inlining=inlining)


def _inline_ref(
    node: dict[str, Any], ref: Any, *, root: dict[str, Any], path: str, inlining: tuple[str, ...]
) -> dict[str, Any]:
    """Replace ``{"$ref": r, **siblings}`` by the definition with the siblings on top (siblings win)."""
    if not isinstance(ref, str):
        raise ValueError(f"at {path}: $ref must be a string, got {ref!r}")
    if ref in inlining:
        raise ValueError(f"at {path}: {ref} refers back to itself with sibling keywords, which cannot be inlined")
    target = _resolve_ref(root, ref, path)
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    merged = {**copy.deepcopy(target), **siblings}
    return _strictify(merged, root=root, path=path, inlining=(*inlining, ref))


def _resolve_ref(root: dict[str, Any], ref: str, path: str) -> dict[str, Any]:
    """Follow a local JSON pointer (RFC 6901: ``~1`` is ``/``, ``~0`` is ``~``)."""
    if not ref.startswith("#/"):
        raise ValueError(f"at {path}: only local $refs ('#/...') are supported, got {ref!r}")
    target: Any = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or token not in target:
            raise ValueError(f"at {path}: $ref {ref!r} does not resolve")
        target = target[token]
    if not isinstance(target, dict):
        raise ValueError(f"at {path}: $ref {ref!r} resolves to {type(target).__name__}, not a schema")
    return target


def _map_one_of(node: dict[str, Any], path: str) -> None:
    """``oneOf`` → ``anyOf``: pydantic emits it only for discriminated (hence disjoint) unions."""
    node.pop("discriminator", None)  # OpenAPI keyword, not JSON Schema; meaningless once oneOf is gone
    one_of = node.pop("oneOf", None)
    if one_of is None:
        return
    if "anyOf" in node:
        raise ValueError(f"at {path}: both oneOf and anyOf on one schema are not supported in strict mode")
    node["anyOf"] = one_of


def _flatten_any_of(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``anyOf: [{anyOf: [A, B]}, C]`` → ``anyOf: [A, B, C]`` (an optional discriminated union), same meaning."""
    flat: list[dict[str, Any]] = []
    for variant in variants:
        inner = variant.get("anyOf")
        if isinstance(inner, list) and set(variant) <= {"anyOf", "title"}:
            flat.extend(inner)
        else:
            flat.append(variant)
    return flat


def _map_default(node: dict[str, Any]) -> None:
    """Drop ``default`` (see module docstring), keeping a non-null one as a hint in the description."""
    default = node.pop("default", _MISSING)
    if default is _MISSING or default is None:
        return
    hint = f"Default: {json.dumps(default, default=str)}."
    description = node.get("description")
    if isinstance(description, str) and description.strip():
        description = description.rstrip()
        hint = f"{description} {hint}" if description.endswith((".", "!", "?")) else f"{description}. {hint}"
    node["description"] = hint


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def _prune_defs(root: dict[str, Any]) -> dict[str, Any]:
    """Drop ``$defs`` entries that nothing references any more (inlining can orphan them)."""
    defs = root.get("$defs")
    if not isinstance(defs, dict):
        return root
    reachable: set[str] = set()
    pending = _local_def_refs({key: value for key, value in root.items() if key != "$defs"})
    while pending:
        name = pending.pop()
        if name in reachable or name not in defs:
            continue
        reachable.add(name)
        pending |= _local_def_refs(defs[name])
    for name in [name for name in defs if name not in reachable]:
        del defs[name]
    if not defs:
        del root["$defs"]
    return root


def _local_def_refs(node: Any) -> set[str]:
    """Names ``N`` of every ``#/$defs/N...`` reference under ``node``."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref.removeprefix("#/$defs/").split("/")[0].replace("~1", "/").replace("~0", "~"))
        for value in node.values():
            found |= _local_def_refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _local_def_refs(value)
    return found


# --- docstrings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Docstring:
    summary: str
    params: dict[str, str]


# Google style (https://google.github.io/styleguide/pyguide.html#383-functions-and-methods): `Args:`
# and friends; any of these headers also ends the summary. NumPy style uses the same names
# underlined with dashes (numpydoc "Sections").
_PARAM_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters"}
)
_SECTIONS = _PARAM_SECTIONS | frozenset(
    {
        "attributes",
        "example",
        "examples",
        "methods",
        "note",
        "notes",
        "raises",
        "receives",
        "references",
        "return",
        "returns",
        "see also",
        "todo",
        "warning",
        "warnings",
        "warns",
        "yield",
        "yields",
    }
)
_GOOGLE_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")
# reST / Sphinx info fields (https://www.sphinx-doc.org/en/master/usage/domains/python.html#info-field-lists).
_REST_FIELD = re.compile(r"^\s*:(\w+)((?:\s+[^:]+)?)\s*:(.*)$")
_REST_PARAM_FIELDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_numpy_header(lines: list[str], i: int) -> bool:
    return i + 1 < len(lines) and bool(lines[i].strip()) and bool(_NUMPY_RULE.match(lines[i + 1]))


def _parse_docstring(doc: str | None) -> _Docstring:
    """The summary (text before the first section) and per-parameter descriptions of ``doc``."""
    if not doc:
        return _Docstring("", {})
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    summary_end = len(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_numpy_header(lines, i):
            summary_end = min(summary_end, i)
            section = line.strip().lower()
            i = _numpy_section(lines, i + 2, _indent(line), params if section in _PARAM_SECTIONS else {})
            continue
        header = _GOOGLE_HEADER.match(line)
        if header and header.group(1).lower() in _SECTIONS:
            summary_end = min(summary_end, i)
            section = header.group(1).lower()
            i = _google_section(lines, i + 1, _indent(line), params if section in _PARAM_SECTIONS else {})
            continue
        field = _REST_FIELD.match(line)
        if field:
            summary_end = min(summary_end, i)
            i = _rest_field(lines, i, field, params)
            continue
        i += 1
    return _Docstring("\n".join(lines[:summary_end]).strip(), params)


def _google_section(lines: list[str], start: int, header_indent: int, params: dict[str, str]) -> int:
    """Entries ``name (type): text`` indented under the header; deeper lines continue the entry."""
    entry_indent: int | None = None
    current: str | None = None
    text: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if line.strip():
            indent = _indent(line)
            if indent <= header_indent:
                break
            entry_indent = indent if entry_indent is None else entry_indent
            entry = _GOOGLE_ENTRY.match(line.strip()) if indent <= entry_indent else None
            if entry:
                current, text = entry.group(1), [entry.group(2)]
            elif current is not None:
                text.append(line)
            if current is not None:
                params[current] = _join(text)
        i += 1
    return i


def _numpy_section(lines: list[str], start: int, header_indent: int, params: dict[str, str]) -> int:
    """Entries ``name : type`` at the header's indentation, descriptions indented below them."""
    names: list[str] = []
    text: list[str] = []
    i = start
    while i < len(lines) and not _is_numpy_header(lines, i):
        line = lines[i]
        if line.strip() and _indent(line) <= header_indent:
            entry = _NUMPY_ENTRY.match(line.strip())
            names = [name.strip().lstrip("*") for name in entry.group(1).split(",")] if entry else []
            text = []
        elif line.strip() and names:
            text.append(line)
        for name in names:
            params[name] = _join(text)
        i += 1
    return i


def _rest_field(lines: list[str], i: int, field: re.Match[str], params: dict[str, str]) -> int:
    """``:param [type] name: text`` with indented continuation lines; other fields are skipped."""
    text = [field.group(3)]
    field_indent = _indent(lines[i])
    i += 1
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > field_indent:
        text.append(lines[i])
        i += 1
    argument = field.group(2).split()
    if field.group(1) in _REST_PARAM_FIELDS and argument:
        params[argument[-1].lstrip("*")] = _join(text)
    return i


def _join(text: list[str]) -> str:
    return " ".join(part.strip() for part in text if part.strip())


# --- function tools ------------------------------------------------------------------------------------


def function_tool(fn: Callable[..., Any], *, strict: bool = True) -> dict[str, Any]:
    """The Responses-API function tool for ``fn``: name, docstring summary, parameters schema, strict flag.

    ``strict`` is always written out: the Responses API treats an absent ``strict`` as ``true``, so
    ``strict=False`` must say so. Raises ``TypeError`` for a signature the model cannot call by named
    JSON arguments (``*args``, ``**kwargs``, positional-only or unannotated parameters) and
    ``ValueError`` for an invalid name or, with ``strict=True``, a type strict mode cannot express.
    """
    name = _tool_name(fn)
    doc = _parse_docstring(inspect.getdoc(fn))
    model = _arguments_model(fn, name, doc.params)
    schema = model.model_json_schema()
    if strict:
        try:
            schema = strict_json_schema(schema)
        except ValueError as exc:
            raise ValueError(f"function_tool({name}): parameters cannot be made strict {exc}") from exc
        require_object_root(schema, f"function_tool({name})")
    tool: dict[str, Any] = {"type": "function", "name": name}
    if doc.summary:
        tool["description"] = doc.summary
    tool["parameters"] = schema
    tool["strict"] = strict
    return tool


def _tool_name(fn: Callable[..., Any]) -> str:
    if inspect.isclass(fn):
        raise TypeError(f"function_tool: {fn.__name__} is a class; pass a function or a bound method")
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"function_tool: {fn!r} has no __name__; wrap it in a named function (def)")
    if not _TOOL_NAME.match(name):
        raise ValueError(f"function_tool: {name!r} is not a valid tool name (^[a-zA-Z0-9_-]{{1,64}}$); use a def")
    return name


def _arguments_model(fn: Callable[..., Any], name: str, param_docs: Mapping[str, str]) -> type[BaseModel]:
    """A pydantic model whose fields are ``fn``'s parameters, keyed by their names (aliases).

    Fields are named ``p0``, ``p1``... with the parameter name as alias, so parameters that would clash
    with ``BaseModel`` attributes (``schema``, ``json``, ``model_config``) or start with ``_`` still work.
    """
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError, ValueError) as exc:
        raise TypeError(f"function_tool({name}): cannot read the signature's annotations: {exc}") from exc
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]  # an unbound method taken from its class
    fields: dict[str, Any] = {}
    for index, parameter in enumerate(parameters):
        _check_parameter(parameter, name)
        if parameter.name not in hints:
            raise TypeError(
                f"function_tool({name}): parameter {parameter.name!r} has no type annotation; annotate it "
                "so the model knows what to send"
            )
        annotation = hints[parameter.name]
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        description = param_docs.get(parameter.name)
        field = (
            Field(default, alias=parameter.name, description=description)
            if description and not _has_description(annotation)
            else Field(default, alias=parameter.name)
        )
        fields[f"p{index}"] = (annotation, field)
    try:
        return create_model(name, **fields)
    except PydanticUserError as exc:
        culprit = next((p.name for p in parameters if not _describable(hints[p.name])), None)
        where = f"parameter {culprit!r}" if culprit else "the parameters"
        raise TypeError(f"function_tool({name}): pydantic cannot describe {where}: {exc}") from exc


def _check_parameter(parameter: inspect.Parameter, name: str) -> None:
    """Only parameters that can be passed by keyword: the model sends one JSON object of named arguments."""
    kind = parameter.kind
    match kind:
        case inspect.Parameter.POSITIONAL_OR_KEYWORD | inspect.Parameter.KEYWORD_ONLY:
            return
        case inspect.Parameter.VAR_POSITIONAL:
            problem = f"*{parameter.name} cannot be filled from named JSON arguments; take a list parameter"
        case inspect.Parameter.VAR_KEYWORD:
            problem = f"**{parameter.name} has no schema; declare the keyword parameters explicitly"
        case inspect.Parameter.POSITIONAL_ONLY:
            problem = f"parameter {parameter.name!r} is positional-only, but arguments are passed by name"
        case _:
            assert_never(kind)
    raise TypeError(f"function_tool({name}): {problem}")


def _has_description(annotation: Any) -> bool:
    """Whether ``Annotated[..., Field(description=...)]`` already describes the parameter (it wins)."""
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(meta, FieldInfo) and meta.description for meta in annotation.__metadata__)


def _describable(annotation: Any) -> bool:
    try:
        type_adapter(annotation)
    except PydanticUserError:
        return False
    return True


# --- tools[] -------------------------------------------------------------------------------------------


def prepare_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """``tools`` as wire dicts: callables via :func:`function_tool`, dicts copied, tool models dumped.

    A function-tool dict without ``strict``/``parameters`` gets the API's defaults written out
    (``true``/``null``): the spec requires both keys.

    A generated tool model (``FunctionTool``, ``MCPTool``, ``WebSearchTool``...) is dumped by alias in
    JSON mode without ``None`` fields, except fields the spec requires even when null (``FunctionTool``
    ``parameters`` and ``strict``), so the dict still validates as the model it came from.
    """
    if isinstance(tools, str | bytes | Mapping):
        raise TypeError(f"tools must be a list of tools, got {type(tools).__name__}")
    return [_map_tool(tool, index) for index, tool in enumerate(tools)]


def _complete_function_dict(tool: dict[str, Any]) -> dict[str, Any]:
    """Fill the two fields the spec requires of a function tool and hand-written dicts often omit.

    ``FunctionTool`` requires ``strict`` and ``parameters`` (both nullable). The Responses API
    reference gives ``strict`` the default ``true`` and treats absent ``parameters`` as none, so
    writing those values out changes nothing a server does, and the body validates against the spec.
    """
    if tool.get("type") == "function":
        tool.setdefault("strict", True)
        tool.setdefault("parameters", None)
    return tool


def _map_tool(tool: Any, index: int) -> dict[str, Any]:
    if isinstance(tool, BaseModel):
        return _dump_model(tool)
    if isinstance(tool, Mapping):
        return _complete_function_dict(copy.deepcopy(dict(tool)))
    if isinstance(tool, type):
        raise TypeError(
            f"tools[{index}]: the class {tool.__name__} is not a tool; pass a function, a tool dict, or a tool "
            "model instance such as FunctionTool(...)"
        )
    if callable(tool):
        try:
            return function_tool(tool)
        except TypeError as exc:
            raise TypeError(f"tools[{index}]: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"tools[{index}]: {exc}") from exc
    raise TypeError(
        f"tools[{index}]: expected a function, a tool dict or a tool model (FunctionTool, WebSearchTool, ...), "
        f"got {type(tool).__name__}"
    )


def _dump_model(model: BaseModel) -> dict[str, Any]:
    from polyresponses.router._wire import to_wire

    return to_wire(model)
