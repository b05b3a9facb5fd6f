"""Every failure as ``{"error": {"message", "type", "param", "code"}}`` with the spec's status code.

The OpenResponses specification (2026-04-24, "Errors") names the types: ``invalid_request`` (400),
``not_found`` (404), ``too_many_requests`` (429), ``server_error`` (500) and ``model_error`` (a
provider failed). The library's typed errors map onto them here, once, for the HTTP routes, the
SSE ``error`` event and the WebSocket error frame alike. A provider's status is kept (its 429 stays
a 429 with its ``Retry-After``); its message is passed on with the key scrubbed out (the library
already did) and never with the gateway's provider configuration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from polyresponses.router._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    MissingAPIKeyError,
    PolyresponsesError,
    StreamError,
    UnsupportedFeatureError,
)
from polyresponses.store._postgres import StoreUnavailableError

__all__ = ["GatewayError", "as_gateway_error", "not_found"]

log = logging.getLogger("polyresponses.server")


@dataclass(slots=True)
class GatewayError(Exception):
    """An error answered to the client: its HTTP status and the spec's error object."""

    status: int
    message: str
    type: str = "invalid_request"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {"error": self.error_object()}

    def error_object(self) -> dict[str, Any]:
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}


def not_found(what: str, ident: str) -> GatewayError:
    """The one answer for an id that is missing or belongs to another key (they must look the same)."""
    return GatewayError(404, f"{what} with id {ident!r} not found.", "not_found", "not_found")


_TYPES = {
    400: "invalid_request",
    401: "invalid_request",
    403: "invalid_request",
    404: "not_found",
    429: "too_many_requests",
}


def as_gateway_error(error: BaseException) -> GatewayError:
    """The client-facing error for anything raised while serving a request; never a traceback."""
    match error:
        case GatewayError():
            return error
        case InvalidRequestError():
            return GatewayError(400, str(error), "invalid_request", "invalid_value", getattr(error, "location", None))
        case UnsupportedFeatureError():
            return GatewayError(400, str(error), "invalid_request", "unsupported_feature", None)
        case MissingAPIKeyError():
            return GatewayError(
                400,
                f"provider {error.provider!r} is not configured on this gateway (no API key)",
                "invalid_request",
                "provider_not_configured",
                "model",
            )
        case APIStatusError():
            status = error.status_code
            headers = {"Retry-After": str(max(0, round(error.retry_after)))} if error.retry_after is not None else {}
            if status >= 500:
                return GatewayError(
                    502 if status < 600 else 500, str(error), "model_error", "upstream_error", None, headers
                )
            code = _upstream_code(error.body)
            return GatewayError(
                status, str(error), _TYPES.get(status, "invalid_request"), code, _upstream_param(error.body), headers
            )
        case APITimeoutError():
            _log_upstream(error)
            return GatewayError(
                504, f"provider {error.provider!r} did not answer in time", "model_error", "upstream_timeout"
            )
        case APIConnectionError():
            _log_upstream(error)
            return GatewayError(
                502, f"provider {error.provider!r} is unreachable", "model_error", "upstream_unreachable"
            )
        case APIResponseValidationError():
            return GatewayError(502, str(error), "model_error", "upstream_invalid_reply")
        case StreamError():
            return GatewayError(502, str(error), "model_error", "upstream_stream_error")
        case StoreUnavailableError():
            log.warning("%s", error)
            return GatewayError(
                503,
                "the gateway's store is unavailable; retry shortly",
                "server_error",
                "store_unavailable",
                headers={"Retry-After": "1"},
            )
        case APIError() | PolyresponsesError():
            return GatewayError(500, str(error), "model_error", None)
        case _:
            return GatewayError(500, "the gateway failed to serve this request", "server_error", "internal_error")


def _log_upstream(error: APIError) -> None:
    """The connection failure's detail names the operator's upstream URL: for the log, not the client."""
    log.warning("%s", error)


def _upstream_error(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _upstream_code(body: Any) -> str | None:
    code = _upstream_error(body).get("code")
    return code if isinstance(code, str) else None


def _upstream_param(body: Any) -> str | None:
    param = _upstream_error(body).get("param")
    return param if isinstance(param, str) else None
