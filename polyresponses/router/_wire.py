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

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

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
    return data


def to_reply(model: BaseModel) -> dict[str, Any]:
    """``model`` as a server writes it back: :func:`to_wire`, plus every ``None`` that was explicitly given.

    Readers check a reply against the spec, where many response fields are required and nullable
    (``incomplete_details``, ``previous_response_id``, ...): the router sets them to ``None`` on
    purpose, so a reply (the gateway's JSON and SSE, the stream checker's view) keeps those nulls.
    """
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    _restore_given_nulls(model, data)  # a validated model's required fields were all given: their nulls too
    return data


def _restore_given_nulls(model: BaseModel, data: dict[str, Any]) -> None:
    given = model.model_fields_set
    for name, info in type(model).model_fields.items():
        key = info.serialization_alias or info.alias or name
        value = model.__dict__.get(name)  # not getattr: deprecated fields would warn
        if value is None:
            if name in given:
                data[key] = None
        else:
            _restore_nested(value, data.get(key))
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
    for field_name, field in type(model).model_fields.items():
        key = field.serialization_alias or field.alias or field_name
        value = model.__dict__.get(field_name)  # not getattr: deprecated fields would warn
        if value is None:
            if field.is_required():
                data[key] = None
        elif isinstance(value, BaseModel) and isinstance(data.get(key), dict):
            _restore_required_nulls(value, data[key])
        elif isinstance(value, list | tuple) and isinstance(data.get(key), list):
            for item, dumped in zip(value, data[key], strict=False):
                if isinstance(item, BaseModel) and isinstance(dumped, dict):
                    _restore_required_nulls(item, dumped)


def validate_request(body: dict[str, Any], provider: str) -> CreateResponse:
    """Validate a request body as ``CreateResponse``; the failure is reported with its field path."""
    from polyresponses.types import CreateResponse

    return validate_as(CreateResponse, body, provider)


def validate_as(model: type[M], body: dict[str, Any], provider: str) -> M:
    """Validate ``body`` as ``model``, raising :class:`InvalidRequestError` at the most telling field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        location, message = explain(error, body)
        raise InvalidRequestError(provider, location, message) from error


def explain(error: ValidationError, data: Any) -> tuple[str, str]:
    """``(field path, message)`` of the error that says most about what is wrong.

    In a union every member reports a failure; the deepest one came closest to matching, so it
    is the one to show (the rule of ``jsonschema``'s ``best_match``). Pydantic's locations also name
    union branches (``str``, ``list[...]``, class names, tag values); walking the data along the
    location keeps just the steps that exist in it, so ``input.list[...].0.EasyInputMessage.content.str``
    reads ``input[0].content``.
    """
    details = error.errors()
    best = max(details, key=lambda detail: len(detail["loc"]))
    steps: list[str] = []
    current: Any = data
    loc = best["loc"]
    for position, part in enumerate(loc):
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            steps.append(f".{part}")
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            steps.append(f"[{part}]")
            current = current[part]
        elif position == len(loc) - 1 and best["type"] == "missing":
            steps.append(f".{part}")  # the missing field itself is not in the data
    return "".join(steps).lstrip(".") or "<body>", best["msg"]
