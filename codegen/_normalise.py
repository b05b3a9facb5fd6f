"""Normalise a spec so that datamodel-code-generator emits named, discriminated, lossless models.

Each step fixes a problem recorded in shared/notes/codegen-findings.md and returns counts that the
codegen run prints, so a change in upstream shape shows up as a change in these numbers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codegen._prune import ref_closure
from codegen._prune import walk as _walk

__all__ = [
    "DiscriminatorStats",
    "distribute_allof_over_union",
    "drop_redundant_overrides",
    "lift_inline_union_members",
    "fold_member_descriptions",
    "rename_numbered_schemas",
    "NormaliseError",
    "add_discriminator_mappings",
    "flatten_allof_wrappers",
    "merge_stream_variants",
    "name_inline_stream_union",
]

_SCHEMAS = "#/components/schemas/"
# Keywords that only annotate a schema; an allOf member made of these adds no constraint.
_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "example", "deprecated", "readOnly", "writeOnly"}
)


class NormaliseError(Exception):
    """The spec does not have the shape a normalisation step relies on."""


def _is_annotation(key: str) -> bool:
    return key in _ANNOTATIONS or key.startswith("x-")


def _is_annotation_only(member: Any) -> bool:
    return isinstance(member, dict) and all(_is_annotation(key) for key in member)


def flatten_allof_wrappers(spec: dict[str, Any]) -> int:
    """Rewrite ``allOf: [{$ref: X}, {description: ...}]`` as ``{$ref: X, description: ...}``.

    OpenAPI 3.1 allows siblings of ``$ref``. The wrapper form makes the generator emit a synthetic
    subclass per use (``Item1``..``Item76`` in OpenResponses) and lose the discriminator (P3).
    """
    flattened = 0
    for node in list(_walk(spec)):
        members = node.get("allOf")
        if not isinstance(members, list):
            continue
        refs = [m for m in members if isinstance(m, dict) and set(m) == {"$ref"}]
        others = [m for m in members if m not in refs]
        if len(refs) != 1 or not all(_is_annotation_only(m) for m in others):
            continue
        del node["allOf"]
        for member in others:
            for key, value in member.items():
                node.setdefault(key, value)
        node["$ref"] = refs[0]["$ref"]
        flattened += 1
    return flattened


def name_inline_stream_union(spec: dict[str, Any], name: str) -> str | None:
    """Give the inline ``text/event-stream`` union of ``POST /responses`` a component name.

    OpenResponses declares its 24-event union inline in the path; without a name it would only be
    reachable as a path model (``ResponsesPostResponse``).
    """
    content = spec["paths"]["/responses"]["post"]["responses"]["200"]["content"]
    stream_schema = content["text/event-stream"]["schema"]
    if "$ref" in stream_schema:
        return None
    schemas = spec["components"]["schemas"]
    if name in schemas:
        raise NormaliseError(f"cannot name the inline stream union {name!r}: a schema of that name exists")
    schemas[name] = {"description": "Event emitted while a response is streamed.", **stream_schema}
    content["text/event-stream"]["schema"] = {"$ref": _SCHEMAS + name}
    return name


def _schema(spec: dict[str, Any], ref: str) -> dict[str, Any] | None:
    if not ref.startswith(_SCHEMAS):
        return None
    schema: dict[str, Any] | None = spec["components"]["schemas"].get(ref[len(_SCHEMAS) :])
    return schema


def _tag_values(spec: dict[str, Any], variant: Any, property_name: str) -> list[str] | None:
    """The tag values a variant declares for ``property_name``; None if it cannot be discriminated."""
    if (
        not isinstance(variant, dict)
        or "$ref" not in variant
        or not all(_is_annotation(key) for key in variant if key != "$ref")
    ):
        return None
    schema = _schema(spec, variant["$ref"])
    if schema is not None and "properties" not in schema and len(schema.get("allOf", ())) >= 1:
        # A subclass (allOf [$ref parent, {extra properties}]) carries its parent's tag.
        parent = schema["allOf"][0]
        return _tag_values(spec, parent, property_name) if isinstance(parent, dict) else None
    if schema is None or property_name not in schema.get("required", []):
        return None
    tag = schema.get("properties", {}).get(property_name)
    if not isinstance(tag, dict) or tag.get("type") != "string":
        return None
    values = tag.get("enum", [tag["const"]] if "const" in tag else None)
    if not values or not all(isinstance(v, str) for v in values):
        return None
    return list(values)


@dataclass
class DiscriminatorStats:
    mapped: int = 0
    added: int = 0
    dropped: list[str] = field(default_factory=list[str])


def add_discriminator_mappings(spec: dict[str, Any], property_name: str = "type") -> DiscriminatorStats:
    """Give every union whose variants carry distinct required ``type`` tags an explicit mapping.

    Without a mapping the generator falls back to OpenAPI's default rule (tag = schema name) and
    emits e.g. ``Literal["WebSearchTool"]``, so every real ``web_search`` tool fails (P1). Declared
    discriminators whose tags collide or are optional are dropped (pydantic's smart union then
    decides); undeclared unions whose tags are distinct get one, for speed and for one clear error
    instead of one per variant (P7).
    """
    stats = DiscriminatorStats()
    for node in list(_walk(spec["components"]["schemas"])):
        for keyword in ("oneOf", "anyOf"):
            variants = node.get(keyword)
            if not isinstance(variants, list) or len(variants) < 2:
                continue
            declared = node.get("discriminator")
            if declared is not None and declared.get("propertyName") != property_name:
                continue
            mapping: dict[str, str] = {}
            unique = True
            for variant in variants:
                values = _tag_values(spec, variant, property_name)
                if values is None or any(value in mapping for value in values):
                    unique = False
                    break
                for value in values:
                    mapping[value] = variant["$ref"]
            if unique:
                stats.added += declared is None
                stats.mapped += declared is not None
                node["discriminator"] = {"propertyName": property_name, "mapping": mapping}
            elif declared is not None:
                refs = [v.get("$ref", "<inline>").removeprefix(_SCHEMAS) for v in variants]
                stats.dropped.append(", ".join(refs))
                del node["discriminator"]
    return stats


def merge_stream_variants(
    target: dict[str, Any], target_union: str, source: dict[str, Any], source_union: str
) -> list[str]:
    """Add the ``source`` stream events whose ``type`` tags ``target``'s union lacks.

    The canonical stream union must parse both dialects (e.g. OpenResponses' ``response.reasoning.delta``
    beside OpenAI's ``response.reasoning_text.delta``). Copied schemas keep their names; a name already
    taken in ``target`` by a different schema is an error rather than a silent overwrite.
    """
    target_schemas = target["components"]["schemas"]
    union = target_schemas[target_union]
    variants_key = "oneOf" if "oneOf" in union else "anyOf"
    known_tags: set[str] = set()
    for variant in union[variants_key]:
        known_tags.update(_tag_values(target, variant, "type") or ())
    added: list[str] = []
    for variant in source["components"]["schemas"][source_union]["oneOf"]:
        tags = _tag_values(source, variant, "type")
        if tags is None:
            raise NormaliseError(f"{source_union} variant {variant} has no required string `type` tag")
        if known_tags.intersection(tags):
            continue
        roots = [variant]
        for section, name in sorted(ref_closure(source, roots)):
            value = source["components"][section][name]
            existing = target["components"].setdefault(section, {}).get(name)
            if existing is not None and existing != value:
                raise NormaliseError(
                    f"cannot merge {section}/{name} from {source_union}: "
                    f"{target_union}'s spec has another schema of that name"
                )
            target["components"][section][name] = copy.deepcopy(value)
        union[variants_key].append(copy.deepcopy(variant))
        added.extend(tags)
    return added


_NUMBERED = re.compile(r"^(?P<base>.*?[A-Za-z])-?(?P<number>\d+)$")


def _strip_annotations(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_annotations(v) for k, v in node.items() if k not in _ANNOTATIONS and not k.startswith("x-")}
    if isinstance(node, list):
        return [_strip_annotations(v) for v in node]
    return node


def _retarget_refs(spec: dict[str, Any], old: str, new: str) -> None:
    for node in _walk(spec):
        if node.get("$ref") == _SCHEMAS + old:
            node["$ref"] = _SCHEMAS + new
        mapping = node.get("mapping")
        if isinstance(mapping, dict):
            for tag, ref in list(mapping.items()):
                if ref == _SCHEMAS + old:
                    mapping[tag] = _SCHEMAS + new


def rename_numbered_schemas(spec: dict[str, Any], explicit: dict[str, str]) -> list[str]:
    """Give upstream schemas named ``X-2`` or ``X1`` a real name, so no junk name reaches the API.

    A copy of ``X`` (equal but for annotations) is folded into ``X``; a numbered name whose base is
    free takes the base; anything else needs an entry in ``explicit`` (e.g. the OpenAI SDK's name),
    and without one the run fails naming the schema.
    """
    schemas = spec["components"]["schemas"]
    done: list[str] = []
    for name in sorted(schemas):
        match = _NUMBERED.match(name)
        if match is None:
            continue
        base = explicit.get(name, match.group("base"))
        if name in explicit and base in schemas:
            raise NormaliseError(f"explicit rename {name} -> {base}: {base} exists")
        if base in schemas and _strip_annotations(schemas[base]) != _strip_annotations(schemas[name]):
            raise NormaliseError(
                f"schema {name!r} differs from {base!r}: "
                "add a real name for it to EXPLICIT_RENAMES in codegen/__main__.py"
            )
        if base not in schemas:
            schemas[base] = schemas[name]
        del schemas[name]
        _retarget_refs(spec, name, base)
        done.append(f"{name}->{base}")
    return done


def fold_member_descriptions(spec: dict[str, Any]) -> int:
    """Move descriptions of inline (non-``$ref``) union members onto the union.

    The generator turns a described inline member into its own alias named after the field plus a
    number (``TopLogprobs1``, ``FunctionCallOutputItemParamOutput1``, ``UserMessageItemParamContent1``).
    The text is kept: appended to the union's own description.
    """
    folded = 0
    for node in list(_walk(spec["components"]["schemas"])):
        for keyword in ("oneOf", "anyOf"):
            members = node.get(keyword)
            if not isinstance(members, list):
                continue
            notes: list[str] = []
            for member in members:
                if not isinstance(member, dict) or "$ref" in member:
                    continue
                for key in ("title", "description"):
                    text = member.pop(key, None)
                    if isinstance(text, str) and key == "description" and text.strip():
                        notes.append(text.strip())
                        folded += 1
            own = str(node.get("description", "")).strip()
            extra = [note for note in notes if note not in own]
            if extra:
                node["description"] = "\n".join(filter(None, [own, *(f"- {note}" for note in extra)]))
    return folded


def distribute_allof_over_union(spec: dict[str, Any], union: str, prefix: str) -> int:
    """Rewrite ``U = allOf[anyOf[A, B, ...], {properties}]`` as ``U = oneOf[prefixA, prefixB, ...]``.

    ``ResponsesWebSocketStreamEvent`` is every stream event plus ``stream_id``. Left as is, the
    generator emits ``...WebSocketStreamEvent1..58`` subclasses; distributed, each variant is a
    named subclass of its event (``WebSocketResponseCreatedEvent``) and the union is discriminated.
    """
    schemas = spec["components"]["schemas"]
    schema = schemas.get(union)
    if schema is None or "allOf" not in schema:
        return 0
    unions = [m for m in schema["allOf"] if "anyOf" in m or "oneOf" in m]
    objects = [m for m in schema["allOf"] if m not in unions]
    if len(unions) != 1 or not all(set(m) <= {"type", "properties", "required", "description"} for m in objects):
        raise NormaliseError(f"{union}: expected allOf of one union and plain object members")
    members = unions[0].get("anyOf") or unions[0].get("oneOf")
    variants: list[dict[str, str]] = []
    for member in members:
        base = member["$ref"].removeprefix(_SCHEMAS)
        name = prefix + base
        if name in schemas:
            raise NormaliseError(f"{union}: cannot name a variant {name!r}: taken")
        schemas[name] = {"allOf": [{"$ref": member["$ref"]}, *copy.deepcopy(objects)]}
        variants.append({"$ref": _SCHEMAS + name})
    schemas[union] = {k: v for k, v in schema.items() if k != "allOf"} | {"oneOf": variants}
    return len(variants)


_CONSTRAINTS = frozenset(
    {"maxLength", "minLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
)
_SCALAR_SUFFIX = {"string": "Text", "integer": "Integer", "number": "Number"}


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _property_maps(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if isinstance(schema.get("properties"), dict):
        yield schema["properties"]
    for member in schema.get("allOf", ()):
        if isinstance(member, dict) and isinstance(member.get("properties"), dict):
            yield member["properties"]


def lift_inline_union_members(spec: dict[str, Any]) -> list[str]:
    """Name the inline union members that the generator would otherwise name ``<Field>1``.

    A property ``content: oneOf[array of oneOf[parts], string with maxLength]`` needs two aliases
    (the parts union, the constrained string); the generator names them ``...Content`` and
    ``...Content1`` and the first name even misleads. Lifted, they become ``<Schema><Field>Item`` and
    ``<Schema><Field>Text`` components.
    """
    schemas = spec["components"]["schemas"]
    lifted: list[str] = []

    def lift(name: str, schema: Any) -> dict[str, str]:
        if name in schemas:
            raise NormaliseError(f"cannot lift an inline union member as {name!r}: a schema of that name exists")
        schemas[name] = schema
        lifted.append(name)
        return {"$ref": _SCHEMAS + name}

    for parent in list(schemas):
        for properties in list(_property_maps(schemas[parent])):
            for field_name, field_schema in properties.items():
                if not isinstance(field_schema, dict):
                    continue
                for keyword in ("oneOf", "anyOf"):
                    members = field_schema.get(keyword)
                    if not isinstance(members, list):
                        continue
                    base = parent + _pascal(field_name)
                    for index, member in enumerate(members):
                        if not isinstance(member, dict) or "$ref" in member:
                            continue
                        items = member.get("items")
                        if (
                            member.get("type") == "array"
                            and isinstance(items, dict)
                            and ({"oneOf", "anyOf"} & set(items))
                        ):
                            member["items"] = lift(base + "Item", items)
                        elif member.get("type") in _SCALAR_SUFFIX and _CONSTRAINTS & set(member):
                            members[index] = lift(base + _SCALAR_SUFFIX[member["type"]], member)
    return lifted


def drop_redundant_overrides(spec: dict[str, Any]) -> list[str]:
    """Drop a subclass property that only re-states its parent's nullable property without ``null``.

    ``CreateModelResponseProperties`` re-declares ``top_logprobs`` as a plain integer over its
    parent's ``integer | null``; the generator then emits ``TopLogprobs1 = None``. Keeping the
    parent's declaration only widens what is read; ``null`` never reaches the wire (the
    serialiser excludes None).
    """
    schemas = spec["components"]["schemas"]
    dropped: list[str] = []
    for name, schema in schemas.items():
        members = schema.get("allOf")
        if not isinstance(members, list):
            continue
        parents = [_schema(spec, m["$ref"]) for m in members if isinstance(m, dict) and "$ref" in m]
        for member in members:
            properties = member.get("properties") if isinstance(member, dict) else None
            if not isinstance(properties, dict):
                continue
            for field_name in list(properties):
                child = _strip_annotations(properties[field_name])
                for parent in parents:
                    declared = (parent or {}).get("properties", {}).get(field_name, {})
                    options = [_strip_annotations(o) for o in declared.get("anyOf", [])]
                    if {"type": "null"} in options and child in options:
                        del properties[field_name]
                        dropped.append(f"{name}.{field_name}")
                        break
    return dropped
