from __future__ import annotations

import pytest

from polyresponses.router._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    PolyresponsesError,
    RateLimitError,
    UnprocessableEntityError,
    UnsupportedFeatureError,
    make_status_error,
    redact,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (529, InternalServerError),
        (418, APIStatusError),
    ],
)
def test_status_codes_map_to_one_class_each(status: int, cls: type[APIStatusError]) -> None:
    error = make_status_error(status, "nope", provider="groq", request_id="req_1", retry_after=2.0)
    assert type(error) is cls
    assert isinstance(error, APIError) and isinstance(error, PolyresponsesError)
    assert (error.status_code, error.provider, error.request_id, error.retry_after) == (status, "groq", "req_1", 2.0)
    assert str(error) == f"[groq] {status} nope (request id req_1)"


def test_tree_shape() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, APIError)
    assert not issubclass(UnsupportedFeatureError, APIError)


def test_pre_network_errors_name_provider_and_what_is_missing() -> None:
    assert str(UnsupportedFeatureError("openrouter", "previous_response_id", "it keeps no state")) == (
        "[openrouter] does not support previous_response_id: it keeps no state"
    )
    assert "GROQ_API_KEY" in str(MissingAPIKeyError("groq", "GROQ_API_KEY"))


def test_redact_scrubs_keys_but_not_short_strings() -> None:
    key = "sk-proj-abcdefghijklmnop"
    assert redact(f"Incorrect API key provided: {key}.", key) == "Incorrect API key provided: sk-...[redacted]."
    assert redact("abc", "abc", None) == "abc"
