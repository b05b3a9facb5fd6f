"""The one place where canonical models become wire JSON, and request dicts become validated models.

Writing: ``model_dump(mode="json", by_alias=True, exclude_none=True)``. ``by_alias`` because
generated fields may carry aliases (``schema_`` for ``schema``); ``exclude_none`` rather than
``exclude_unset`` for models built in code, because the latter drops defaulted discriminators
(``type: "message"``), which the wire needs; a request validated from the caller's own dict is
dumped with ``given_only`` instead, so spec defaults are not added to what the caller wrote.
Required-nullable fields keep their ``null``. Other fields a caller sets to None are not sent: the
spec's nullable request fields mean "unset" on every provider we know.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from typing_extensions import TypeAliasType

from polyresponses.generated import OPENAI_OPEN_OBJECTS
from polyresponses.router._errors import InvalidRequestError

if TYPE_CHECKING:
    from polyresponses.types import CreateResponse

__all__ = ["explain", "to_reply", "to_wire", "validate_as", "validate_request"]

M = TypeVar("M", bound=BaseModel)


def to_wire(model: BaseModel, *, given_only: bool = False) -> dict[str, Any]:
    """The JSON body for ``model``: aliases, no None values, unknown (extra) fields kept.

    ``given_only`` also leaves out what validation filled in from spec defaults: a request we
    validated from the caller's dict goes out as the caller wrote it (``WebSearchTool`` would
    otherwise gain ``external_web_access: true``, which some servers reject as unknown).
    """
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=given_only)
    _restore_required_nulls(model, data)
    _unset_output_text(model, data)
    return data


def to_reply(model: BaseModel) -> dict[str, Any]:
    """``model`` as a server writes it back: :func:`to_wire`, plus every ``None`` that was explicitly given.

    Readers check a reply against the spec, where many response fields are required and nullable
    (``incomplete_details``, ``previous_response_id``, ...): the router sets them to ``None`` on
    purpose, so a reply (the gateway's JSON and SSE, the stream checker's view) keeps those nulls.
    """
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    _restore_given_nulls(model, data)  # a validated model's required fields were all given: their nulls too
    _unset_output_text(model, data)
    return data


def _unset_output_text(model: BaseModel, data: dict[str, Any]) -> None:
    """Leave out ``output_text`` where nothing set it: it defaults to empty (so it reads as a ``str``), but
    the default is not the server's and not the router's, so a response is written as it was given.
    A Response, or the one an event carries."""
    for value, dumped in ((model, data), (model.__dict__.get("response"), data.get("response"))):
        if (
            isinstance(value, BaseModel)
            and isinstance(dumped, dict)
            and "output_text" in dumped
            and "output_text" not in value.model_fields_set
            and _layout(type(value)).output_text
        ):
            del dumped["output_text"]


@dataclass(frozen=True, slots=True)
class _Layout:
    """What the null-restoring walks need of a model class, worked out once per class."""

    keys: Mapping[str, str]
    """Each field's name on the wire (its alias, when it has one)."""
    nested: tuple[str, ...]
    """The fields whose values may hold models (the only ones a walk descends into)."""
    required: tuple[str, ...]
    output_text: bool


_LAYOUTS: dict[type[BaseModel], _Layout] = {}


def _layout(cls: type[BaseModel]) -> _Layout:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        fields = cls.model_fields
        layout = _Layout(
            keys={name: info.serialization_alias or info.alias or name for name, info in fields.items()},
            nested=tuple(name for name, info in fields.items() if _may_hold_models(info.annotation)),
            required=tuple(name for name, info in fields.items() if info.is_required()),
            output_text="output_text" in fields,
        )
        _LAYOUTS[cls] = layout
    return layout


_LEAVES: Final = (str, int, float, bool, bytes, type(None))


def _may_hold_models(annotation: Any) -> bool:
    """Whether a value of ``annotation`` can be (or contain, in a list) a model; unsure means yes."""
    if isinstance(annotation, TypeAliasType):  # the generated aliases (codegen's use-type-alias)
        return _may_hold_models(annotation.__value__)
    if isinstance(annotation, type):
        return issubclass(annotation, BaseModel) or not issubclass(annotation, _LEAVES + (enum.Enum,))
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return False
    if origin is not None:
        return any(_may_hold_models(argument) for argument in typing.get_args(annotation))
    return True


def _restore_given_nulls(model: BaseModel, data: dict[str, Any]) -> None:
    layout = _layout(type(model))
    values = model.__dict__  # not getattr: deprecated fields would warn
    for name in model.model_fields_set:
        if name in values and values[name] is None:
            data[layout.keys[name]] = None
    for name in layout.nested:
        value = values.get(name)
        if value is not None:
            _restore_nested(value, data.get(layout.keys[name]))
    for name, value in (model.__pydantic_extra__ or {}).items():
        if value is None:
            data[name] = None


def _restore_nested(value: object, dumped: object) -> None:
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        _restore_given_nulls(value, dumped)
    elif isinstance(value, list | tuple) and isinstance(dumped, list):
        for item, dumped_item in zip(value, dumped, strict=False):
            _restore_nested(item, dumped_item)


def _restore_required_nulls(model: BaseModel, data: dict[str, Any]) -> None:
    """Put back, at any depth, the ``None`` of required-nullable fields that ``exclude_none`` dropped.

    The spec has a few (``FunctionTool.parameters`` and ``strict``: required, may be null); without
    them the dump of a valid model would no longer be valid.
    """
    layout = _layout(type(model))
    values = model.__dict__  # not getattr: deprecated fields would warn
    for name in layout.required:
        if values.get(name) is None:
            data[layout.keys[name]] = None
    for name in layout.nested:
        value = values.get(name)
        key = layout.keys[name]
        if isinstance(value, BaseModel) and isinstance(data.get(key), dict):
            _restore_required_nulls(value, data[key])
        elif isinstance(value, list | tuple) and isinstance(data.get(key), list):
            for item, dumped in zip(value, data[key], strict=False):
                if isinstance(item, BaseModel) and isinstance(dumped, dict):
                    _restore_required_nulls(item, dumped)


def validate_request(body: dict[str, Any], provider: str, *, exempt: Collection[str] = ()) -> CreateResponse:
    """Validate a request body as ``CreateResponse``; the failure is reported with its field path.

    Writing is strict where reading is lenient: inside every object the spec defines, a key it does
    not define is refused (a misspelt ``reasoning.efort`` would otherwise be sent and ignored). The
    body's own top level stays open (``responses()`` passes unknown keywords on, as any-llm does),
    and so do the top-level keys in ``exempt`` (``extra_body``: sent as given, unchecked).
    """
    from polyresponses.types import CreateResponse

    model = validate_as(CreateResponse, body, provider)
    if _first_unknown(model, "", exempt) is not None:
        path, where = _first_unknown(model, "", exempt, ordered=True) or ("<body>", "")
        raise InvalidRequestError(
            provider, path, f"unknown key: {where} defines no such field (extra_body sends what the spec lacks)"
        )
    return model


def _first_unknown(
    value: object, path: str, exempt: Collection[str] = (), *, ordered: bool = False
) -> tuple[str, str] | None:
    """The path of a key no model defines at or below ``value``, and which model it was in; ``None`` when
    there is none. Only given fields are walked (only they can hold a key the caller wrote), in any
    order unless ``ordered`` (then the first in field order: the error names the same key every time).
    ``value`` with an empty ``path`` is the body itself: its own extra keys, and ``exempt``, are allowed."""
    if isinstance(value, BaseModel):
        if type(value).__name__ in OPENAI_OPEN_OBJECTS:
            return None  # its schema welcomes keys it does not name (a JSON Schema, say)
        extra = value.__pydantic_extra__
        if extra and path:
            return f"{path}.{next(iter(extra))}", type(value).__name__
        fields = type(value).model_fields
        given = value.model_fields_set
        for key in [name for name in fields if name in given] if ordered else given:
            field = fields.get(key)
            if field is None:
                continue  # an extra key of the body itself (nested ones were refused above)
            inner = value.__dict__.get(key)
            name = field.alias or key
            if inner is None or isinstance(inner, str | int | float | bool) or (not path and name in exempt):
                continue
            found = _first_unknown(inner, f"{path}.{name}" if path else name, ordered=ordered)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, str | int | float | bool):
                continue
            if (found := _first_unknown(item, f"{path}[{index}]", ordered=ordered)) is not None:
                return found
    return None


def validate_as(model: type[M], body: dict[str, Any], provider: str) -> M:
    """Validate ``body`` as ``model``, raising :class:`InvalidRequestError` at the most telling field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        location, message = explain(error, body)
        raise InvalidRequestError(provider, location, message) from error


def explain(error: ValidationError, data: Any) -> tuple[str, str]:
    """``(field path, message)`` of the error that says most about what is wrong.

    In a union every member reports a failure. The member whose ``type`` tag the data carries is the
    one the caller meant; among those (or all, when none matches), the deepest failure came closest
    to matching, so it is the one to show (the rule of ``jsonschema``'s ``best_match``), naming the
    variant it was measured against. Pydantic's locations also name union branches (``str``,
    ``list[...]``, class names, tag values); walking the data along the location keeps just the
    steps that exist in it, so ``input.list[...].0.EasyInputMessage.content.str`` reads ``input[0].content``.
    """
    details = error.errors()
    branches = [_branch(detail["loc"]) for detail in details]
    fields: dict[tuple[int | str, ...], set[int | str]] = {}
    for detail, branch in zip(details, branches, strict=True):  # the fields each variant fails on
        fields.setdefault(branch, set()).add(detail["loc"][len(branch)] if len(detail["loc"]) > len(branch) else "")
    failures = {branch: len(failed) for branch, failed in fields.items()}  # fewer: a closer variant
    chosen = max(
        range(len(details)),
        key=lambda n: (_tag_matches(details[n]["loc"], data), -failures[branches[n]], len(details[n]["loc"]), -n),
    )
    best, branch = details[chosen], branches[chosen]
    steps: list[str] = []
    current: Any = data
    loc = best["loc"]
    variant: str | None = None
    for position, part in enumerate(loc):
        found, current = _step(current, part)
        if found:
            steps.append(f"[{part}]" if isinstance(part, int) else f".{part}")
        elif position == len(loc) - 1 and best["type"] == "missing":
            steps.append(f".{part}")  # the missing field itself is not in the data
        elif isinstance(part, str) and _model_named(part) is not None and position < len(loc) - 1:
            variant = part
    message = best["msg"]
    if variant is not None and len(details) > 1:
        lacking = [
            str(detail["loc"][len(branch)])
            for detail, its_branch in zip(details, branches, strict=True)
            if detail["type"] == "missing" and its_branch == branch and len(detail["loc"]) == len(branch) + 1
        ]
        message += f" (closest variant: {variant}" + (f"; it lacks {', '.join(lacking)})" if lacking else ")")
    return "".join(steps).lstrip(".") or "<body>", message


def _branch(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The location up to the last union branch it names (the variant a failure belongs to)."""
    for position in range(len(loc) - 1, -1, -1):
        part = loc[position]
        if isinstance(part, str) and _model_named(part) is not None:
            return loc[: position + 1]
    return ()


def _model_named(name: str) -> type[BaseModel] | None:
    """The generated model a union branch in a pydantic location names, if it is one."""
    if not name[:1].isupper() or "[" in name:
        return None
    import polyresponses.types as types

    model = getattr(types, name, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _tag_matches(loc: tuple[int | str, ...], data: Any) -> bool:
    """Whether the union branch named in ``loc`` is the one whose ``type`` tag the data carries (a branch
    whose tag is optional matches data that carries none)."""
    current: Any = data
    for part in loc:
        if isinstance(part, str) and (model := _model_named(part)) is not None and isinstance(current, dict):
            field = model.model_fields.get("type")
            if field is None:
                return False
            if "type" not in current:
                return not field.is_required()
            return current["type"] in _literals(field.annotation)
        current = _step(current, part)[1]
    return False


def _step(current: Any, part: int | str) -> tuple[bool, Any]:
    """One step of a pydantic location into the data: ``(whether the data has it, where it leads)``."""
    if isinstance(current, dict) and isinstance(part, str) and part in current:
        return True, current[part]
    if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
        return True, current[part]
    return False, current


def _literals(annotation: Any) -> set[Any]:
    """Every ``Literal`` value an annotation admits (through unions and ``Optional``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    return {value for argument in typing.get_args(annotation) for value in _literals(argument)}
