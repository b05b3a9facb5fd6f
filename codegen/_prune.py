"""Prune the OpenAI spec to what the Responses API reaches.

The full OpenAI spec has 1,422 schemas; generating all of them takes ~30 s and produces a 45k-line
module, most of it (Evals, fine-tuning, Realtime...) unrelated. ``--openapi-include-paths`` keeps every
component, so we compute the ``$ref`` closure ourselves (see shared/notes/codegen-findings.md, P6).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["prune_to_paths", "ref_closure", "walk"]

_REF_PREFIX = "#/components/"


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside ``node`` (itself included), depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _refs(node: Any) -> Iterator[str]:
    return (obj["$ref"] for obj in walk(node) if isinstance(obj.get("$ref"), str))


def _resolve(spec: dict[str, Any], ref: str) -> tuple[str, str, Any]:
    if not ref.startswith(_REF_PREFIX):
        raise ValueError(f"only local component references are supported, got {ref!r}")
    section, name = ref[len(_REF_PREFIX) :].split("/", 1)
    return section, name, spec["components"][section][name]


def ref_closure(spec: dict[str, Any], roots: Iterable[Any]) -> set[tuple[str, str]]:
    """Every ``(section, name)`` component reachable from ``roots``."""
    seen: set[tuple[str, str]] = set()
    pending = list(roots)
    while pending:
        for ref in _refs(pending.pop()):
            section, name, target = _resolve(spec, ref)
            if (section, name) not in seen:
                seen.add((section, name))
                pending.append(target)
    return seen


def prune_to_paths(spec: dict[str, Any], path_prefixes: tuple[str, ...], extra_schemas: tuple[str, ...]) -> None:
    """Keep only paths under ``path_prefixes`` (beta variants excluded) and the components they reach."""
    spec["paths"] = {
        path: item for path, item in spec["paths"].items() if path.startswith(path_prefixes) and "beta=true" not in path
    }
    roots: list[Any] = [spec["paths"], *({"$ref": f"{_REF_PREFIX}schemas/{name}"} for name in extra_schemas)]
    keep = ref_closure(spec, roots)
    for section, members in spec["components"].items():
        if section == "securitySchemes":
            continue
        spec["components"][section] = {name: value for name, value in members.items() if (section, name) in keep}
    # Documentation-only extensions and webhooks reach nothing we generate.
    for key in ("webhooks", "x-oaiMeta", "tags"):
        spec.pop(key, None)
