"""The one place where canonical models become wire JSON, and request dicts become validated models.

Writing: ``model_dump(mode="json", by_alias=True, exclude_none=True)``. ``by_alias`` because
generated fields may carry aliases (``schema_`` for ``schema``); ``exclude_none`` rather than
``exclude_unset`` because the latter drops defaulted discriminators (``type: "message"``), which the
wire needs. A field a caller sets to None is therefore not sent: the spec's nullable request fields
mean "unset" on every provider we know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from polyresponses.router._errors import InvalidRequestError

if TYPE_CHECKING:
    from polyresponses.types import CreateResponse

__all__ = ["explain", "to_wire", "validate_as", "validate_request"]

M = TypeVar("M", bound=BaseModel)


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON body for ``model``: aliases, no None values, unknown (extra) fields kept."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


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
