"""Real OpenAI Responses traffic (OpenAI, DeepSeek, OpenRouter) validates as the canonical types, losslessly.

Lossless means: ``model_dump(by_alias=True, exclude_unset=True)`` of what we parsed equals the JSON
we were given, unknown fields included. (``exclude_unset`` is right here, to compare with the input;
the writing side uses ``exclude_none`` so defaulted discriminators are kept.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from polyresponses.types import CreateResponse, Response, ResponseStreamEvent
from tests._recorded import Exchange, exchanges, sse_data

_EXCHANGES = [e for e in exchanges("openai_responses") if e.uri.split("?")[0].rstrip("/").endswith("/responses")]
_STREAM = TypeAdapter[ResponseStreamEvent](ResponseStreamEvent)

# Recorded payloads that are *not* valid, each for a reason that makes rejecting them right.
_INVALID_REQUESTS = {
    # pydantic-ai's HTTP-error test sends temperature=-1 on purpose; OpenAI answered 400.
    "error_stream__test_openai_responses_model_http_error.yaml#0": "temperature -1 is below the spec's minimum 0",
}
_INVALID_REPLIES = {
    # Hand-written stand-ins in a cassette, not OpenAI output: status "complete", no temperature/top_p/tools.
    "text__test_openai_previous_response_id.yaml#0": "hand-written reply: status 'complete' and missing fields",
    "text__test_openai_previous_response_id.yaml#1": "hand-written reply: status 'complete' and missing fields",
}


def _assert_lossless(model: BaseModel, original: dict[str, Any]) -> None:
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == json.loads(json.dumps(original))


def _requests() -> list[Exchange]:
    return [e for e in _EXCHANGES if isinstance(e.request_body, dict)]


def _replies() -> list[Exchange]:
    return [e for e in _EXCHANGES if e.status == 200 and isinstance(e.response_json, dict)]


_BODIES: list[tuple[type[BaseModel], dict[str, Any], str | None]] = [
    *((CreateResponse, e.request_body, _INVALID_REQUESTS.get(e.id)) for e in _requests()),
    *((Response, e.response_json, _INVALID_REPLIES.get(e.id)) for e in _replies()),
]
_BODY_IDS = [f"request:{e.id}" for e in _requests()] + [f"reply:{e.id}" for e in _replies()]


@pytest.mark.parametrize(("model", "body", "invalid_because"), _BODIES, ids=_BODY_IDS)
def test_recorded_bodies_validate_losslessly(
    model: type[BaseModel], body: dict[str, Any], invalid_because: str | None
) -> None:
    """Request bodies as ``CreateResponse``, reply bodies as ``Response``; the listed invalid ones must fail."""
    if invalid_because is not None:
        with pytest.raises(ValidationError):
            model.model_validate(body)
        return
    _assert_lossless(model.model_validate(body), body)


def _streams() -> list[Exchange]:
    return [e for e in _EXCHANGES if e.status == 200 and e.response_text is not None]


@pytest.mark.parametrize("exchange", _streams(), ids=lambda e: e.id)
def test_every_streamed_event_validates_losslessly(exchange: Exchange) -> None:
    assert exchange.response_text is not None
    events = list(sse_data(exchange.response_text))
    assert events, "a recorded stream with no events"
    for raw in events:
        event = _STREAM.validate_json(raw)
        _assert_lossless(event, json.loads(raw))


def test_the_fixture_set_is_what_we_think_it_is() -> None:
    """Guards the parametrisation above: an empty or moved fixture folder must fail, not pass vacuously."""
    assert len(_requests()) >= 45
    assert len(_replies()) >= 20
    assert sum(len(list(sse_data(e.response_text or ""))) for e in _streams()) >= 3000
    known = {e.id for e in _EXCHANGES}
    assert set(_INVALID_REQUESTS) <= known
    assert set(_INVALID_REPLIES) <= known
