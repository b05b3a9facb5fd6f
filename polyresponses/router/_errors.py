"""The error tree. Every failure a caller can see is one of these; raw httpx exceptions never escape.

    PolyresponsesError
    ├── UnsupportedFeatureError        a provider cannot express a requested feature (before the network)
    ├── MissingAPIKeyError             no key given and its environment variable is unset (before the network)
    ├── InvalidRequestError            the request does not validate as CreateResponse (field path named)
    └── APIError                       the provider was asked and something went wrong
        ├── APIConnectionError         no HTTP response (DNS, refused, reset, dropped mid-stream)
        │   └── APITimeoutError
        ├── APIResponseValidationError the provider answered, but not in its documented shape
        ├── StreamError                an `error` event or `response.failed` mid-stream (partial response kept)
        └── APIStatusError             an HTTP error status, one subclass per code:
            BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403, NotFoundError 404,
            ConflictError 409, UnprocessableEntityError 422, RateLimitError 429, InternalServerError 5xx

Modelled on openai-python's tree (so ``except`` clauses port over) with the provider named in every
message. Errors carry data, never API keys: :func:`redact` scrubs any secret from text before it is
stored in an error, and :func:`secrets_scrubbed` guards the paths where a reply's own content
(a body that is not JSON, an ``error`` event) becomes an error, because servers do echo keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolyresponsesError",
    "RateLimitError",
    "StreamError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "make_status_error",
    "redact",
    "scrub",
    "secrets_scrubbed",
]


class PolyresponsesError(Exception):
    """Base of every error polyresponses raises."""


class UnsupportedFeatureError(PolyresponsesError):
    """The provider cannot express a requested feature; raised before any network call, never dropped silently."""

    def __init__(self, provider: str, feature: str, hint: str = "") -> None:
        self.provider, self.feature = provider, feature
        super().__init__(f"[{provider}] does not support {feature}" + (f": {hint}" if hint else ""))


class MissingAPIKeyError(PolyresponsesError):
    """No API key was passed and the provider's environment variable is unset."""

    def __init__(self, provider: str, env_var: str, detail: str | None = None) -> None:
        self.provider, self.env_var = provider, env_var
        # ``detail``: rows that also sign with cloud credentials say where those were looked for.
        message = detail or f"no API key: pass api_key=... or set the environment variable {env_var}"
        super().__init__(f"[{provider}] {message}")


class InvalidRequestError(PolyresponsesError, ValueError):
    """The request does not validate as ``CreateResponse``; ``location`` is the failing field path."""

    def __init__(self, provider: str, location: str, message: str) -> None:
        self.provider, self.location = provider, location
        super().__init__(f"[{provider}] invalid request at {location}: {message}")


class APIError(PolyresponsesError):
    """Something went wrong once the provider was asked."""

    def __init__(self, message: str, *, provider: str, body: Any = None, request_id: str | None = None) -> None:
        self.message, self.provider, self.body, self.request_id = message, provider, body, request_id
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(f"[{provider}] {message}{suffix}")


class APIConnectionError(APIError):
    """No HTTP response arrived, or the connection dropped before the reply was complete."""


class APITimeoutError(APIConnectionError):
    """The request ran past its timeout."""


class APIResponseValidationError(APIError):
    """The provider answered with a body that is not in its documented shape (e.g. an HTML error page)."""


class StreamError(APIError):
    """A stream reported an error (an ``error`` event or ``response.failed``); ``partial`` is what arrived."""

    def __init__(
        self, message: str, *, provider: str, body: Any = None, request_id: str | None = None, partial: Any = None
    ) -> None:
        super().__init__(message, provider=provider, body=body, request_id=request_id)
        self.partial = partial


class APIStatusError(APIError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status_code} {message}", provider=provider, body=body, request_id=request_id)
        self.status_code, self.retry_after = status_code, retry_after


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429; ``retry_after`` holds the provider's ``Retry-After`` in seconds when it sent one."""


class InternalServerError(APIStatusError):
    """Any 5xx, including Anthropic's 529 overloaded."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def make_status_error(
    status_code: int,
    message: str,
    *,
    provider: str,
    body: Any = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """The :class:`APIStatusError` subclass for ``status_code`` (5xx share one; others the base class)."""
    cls = _BY_STATUS.get(status_code) or (InternalServerError if status_code >= 500 else APIStatusError)
    return cls(
        message, provider=provider, status_code=status_code, body=body, request_id=request_id, retry_after=retry_after
    )


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every non-trivial secret replaced, so a key echoed by a server never reaches an error."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, f"{secret[:3]}...[redacted]")
    return text


def _redacted_data(value: Any, secret: str) -> Any:
    """``value`` (an error body: text, JSON data or a model) with the secret replaced wherever it occurs."""
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, dict):
        return {key: _redacted_data(item, secret) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [_redacted_data(item, secret) for item in value]  # pyright: ignore[reportUnknownVariableType]
    if value is not None and secret in repr(value):
        return redact(repr(value), secret)
    return value


def _chain_mentions(error: BaseException, secret: str) -> bool:
    """Whether any exception this one was raised from (or during) shows the secret."""
    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if secret in str(cause) or secret in repr(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def scrub(error: APIError, secret: str | None) -> APIError:
    """``error`` with ``secret`` removed from its message, arguments and body, and its cause chain cut when
    a chained exception (a pydantic or JSON error quoting the input) shows it."""
    if not secret or len(secret) < 8:
        return error
    error.message = redact(error.message, secret)
    error.args = tuple(redact(arg, secret) if isinstance(arg, str) else arg for arg in error.args)
    error.body = _redacted_data(error.body, secret)
    if _chain_mentions(error, secret):
        error.__cause__ = None
        error.__suppress_context__ = True
    return error


@contextmanager
def secrets_scrubbed(secret: str | None) -> Iterator[None]:
    """Around code that turns reply content into errors: any :class:`APIError` leaves without the secret."""
    try:
        yield
    except APIError as error:
        scrub(error, secret)
        raise
