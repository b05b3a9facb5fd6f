"""Apply vendor overlays to a spec: a small, strict subset of the OpenAPI Overlay Specification 1.0.0.

An overlay file is ``{"overlay": "1.0.0", "info": {...}, "extends": "<spec name>", "actions": [...]}``.
Each action has a ``target`` and either ``update`` or ``remove: true``.

Supported targets (RFC 9535 JSONPath subset): ``$`` followed by ``.name``, ``['name']`` or the wildcard
``.*`` segments, optionally ending with an array filter ``[?(@ == 'value')]`` (or ``[?@ == 'value']``)
that selects equal elements. Anything else is rejected with the file and action named, rather than
guessed at.

Merge rule (Overlay 1.0.0 §4.4.3): when the target is an object, the update object is merged into
it, nested objects recursively and every other value replaced; when the target is an array, the
update is appended (a list update is appended element by element).

A target that selects nothing is an error: an overlay that silently stops applying after an
upstream change is exactly the drift this project exists to catch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OverlayError", "Overlay", "load_overlays", "apply_overlay"]

_SEGMENT = re.compile(r"""\.(?P<name>[A-Za-z_$][\w$-]*|\*)|\['(?P<quoted>[^']+)'\]""")
_FILTER = re.compile(r"""\[\?\(?@\s*==\s*'(?P<value>[^']*)'\)?\]$""")


class OverlayError(Exception):
    """An overlay file is malformed or one of its actions does not apply."""


@dataclass(frozen=True)
class Overlay:
    path: Path
    extends: str
    actions: list[dict[str, Any]]
    raw: bytes


def load_overlays(overlay_dir: Path) -> list[Overlay]:
    overlays: list[Overlay] = []
    for path in sorted(overlay_dir.glob("*.overlay.json")):
        raw = path.read_bytes()
        document = json.loads(raw)
        if document.get("overlay") != "1.0.0":
            raise OverlayError(f'{path}: expected "overlay": "1.0.0", got {document.get("overlay")!r}')
        if not isinstance(document.get("extends"), str) or not isinstance(document.get("actions"), list):
            raise OverlayError(
                f'{path}: needs a string "extends" (a spec name in spec/lock.toml) and an "actions" list'
            )
        overlays.append(Overlay(path=path, extends=document["extends"], actions=document["actions"], raw=raw))
    return overlays


def _parse_target(target: str) -> tuple[list[str], str | None]:
    if not target.startswith("$"):
        raise ValueError("a target starts with '$'")
    rest = target[1:]
    filter_value: str | None = None
    filter_match = _FILTER.search(rest)
    if filter_match:
        filter_value = filter_match.group("value")
        rest = rest[: filter_match.start()]
    segments: list[str] = []
    position = 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise ValueError(f"unsupported syntax at {rest[position:]!r}")
        segments.append(match.group("name") or match.group("quoted"))
        position = match.end()
    return segments, filter_value


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _select(spec: dict[str, Any], segments: list[str]) -> list[tuple[Any, Any, Any]]:
    """Every ``(parent, key, node)`` the segments reach; ``*`` fans out over an object's members or
    an array's elements (RFC 9535 section 2.3.2, wildcard selector)."""
    matches: list[tuple[Any, Any, Any]] = [(None, "$", spec)]
    for segment in segments:
        reached: list[tuple[Any, Any, Any]] = []
        for _, _, node in matches:
            if segment == "*" and isinstance(node, list):
                reached.extend((node, index, value) for index, value in enumerate(node))
                continue
            if not isinstance(node, dict):
                continue
            if segment == "*":
                reached.extend((node, key, value) for key, value in node.items())
            elif segment in node:
                reached.append((node, segment, node[segment]))
        matches = reached
    return matches


def apply_overlay(spec: dict[str, Any], overlay: Overlay) -> None:
    """Apply every action of ``overlay`` to ``spec`` in place."""
    for index, action in enumerate(overlay.actions):
        where = f"{overlay.path}: action {index} (target {action.get('target')!r})"
        try:
            segments, filter_value = _parse_target(str(action["target"]))
        except (KeyError, ValueError) as error:
            raise OverlayError(f"{where}: bad target: {error}") from error
        matches = _select(spec, segments)
        remove = action.get("remove", False)
        if filter_value is not None:
            if not remove:
                raise OverlayError(f"{where}: a filter target is only supported with remove")
            matches = [m for m in matches if isinstance(m[2], list) and filter_value in m[2]]
        if not matches:
            raise OverlayError(f"{where}: selects nothing")
        for parent, key, node in matches:
            if filter_value is not None:
                node[:] = [item for item in node if item != filter_value]
            elif remove:
                if parent is None:
                    raise OverlayError(f"{where}: cannot remove the document root")
                del parent[key]
            elif "update" not in action:
                raise OverlayError(f"{where}: needs 'update' or 'remove: true'")
            elif isinstance(node, list):
                update = action["update"]
                node.extend(update if isinstance(update, list) else [update])
            elif isinstance(node, dict) and isinstance(action["update"], dict):
                _merge(node, action["update"])
            else:
                raise OverlayError(
                    f"{where}: cannot merge {type(action['update']).__name__} into {type(node).__name__}"
                )
