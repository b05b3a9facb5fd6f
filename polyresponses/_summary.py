"""What the generated types cover, computed from the types themselves (for ``polyresponses types``)."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel

__all__ = ["UnionSummary", "union_members", "summarise"]


def union_members(alias: Any) -> list[type[BaseModel]]:
    """The model classes of a generated union alias (``TypeAliasType``, ``Annotated`` and nesting unwrapped)."""
    members: list[type[BaseModel]] = []
    pending: list[Any] = [alias]
    while pending:
        current = pending.pop(0)
        value = getattr(current, "__value__", None)
        if value is not None and not isinstance(current, type):
            pending.insert(0, value)
        elif get_origin(current) is typing.Annotated:
            pending.insert(0, get_args(current)[0])
        elif isinstance(current, type) and issubclass(current, BaseModel):
            members.append(current)
        else:
            pending[:0] = list(get_args(current))
    return members


def tag_values(model: type[BaseModel], field: str = "type") -> list[str]:
    """The literal values a model's ``type`` field admits (empty when it has none)."""
    info = model.model_fields.get(field)
    if info is None:
        return []
    return [str(v) for v in get_args(info.annotation) if isinstance(v, str)] or [
        str(v) for arg in get_args(info.annotation) for v in get_args(arg) if isinstance(v, str)
    ]


@dataclass(frozen=True)
class UnionSummary:
    module: str
    name: str
    variants: int
    tags: tuple[str, ...]


def summarise(module: Any, names: tuple[str, ...]) -> list[UnionSummary]:
    rows: list[UnionSummary] = []
    for name in names:
        members = union_members(getattr(module, name))
        tags = sorted({tag for member in members for tag in tag_values(member)})
        rows.append(UnionSummary(module.__name__.rsplit(".", 1)[-1], name, len(members), tuple(tags)))
    return rows
