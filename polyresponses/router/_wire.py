"""The one place where canonical models become wire JSON, and request dicts become validated models.

Writing: ``model_dump(mode="json", by_alias=True, exclude_none=True)``. ``by_alias`` because
generated fields may carry aliases (``schema_`` for ``schema``); ``exclude_none`` rather than
``exclude_unset`` because the latter drops defaulted discriminators (``type: "message"``), which the
wire needs. A field a caller sets to None is therefore not sent: the spec's nullable request fields
mean "unset" on every provider we know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from polyresponses.router._errors import InvalidRequestError

if TYPE_CHECKING:
    from polyresponses.types import CreateResponse

__all__ = ["to_wire", "validate_request"]


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON body for ``model``: aliases, no None values, unknown (extra) fields kept."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def validate_request(body: dict[str, Any], provider: str) -> CreateResponse:
    """Validate a request body as ``CreateResponse``; the first failure is reported with its field path."""
    from polyresponses.types import CreateResponse

    try:
        return CreateResponse.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "<body>"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise InvalidRequestError(provider, location, f"{first['msg']}{more}") from error
