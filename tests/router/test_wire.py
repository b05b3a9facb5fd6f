from __future__ import annotations

import pytest

from polyresponses.router._errors import InvalidRequestError
from polyresponses.router._wire import to_wire, validate_request


def test_round_trip_keeps_discriminators_and_extras_and_drops_none() -> None:
    body = {
        "model": "gpt-4o",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "temperature": None,
        "top_k": 5,
        "vendor_knob": {"x": 1},
    }
    wire = to_wire(validate_request(body, "openai"))
    assert wire == {
        "model": "gpt-4o",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "top_k": 5,
        "vendor_knob": {"x": 1},
    }


def test_invalid_request_names_the_field_path() -> None:
    with pytest.raises(
        InvalidRequestError, match=r"\[openai\] invalid request at temperature: .*greater than or equal to 0"
    ):
        validate_request({"model": "gpt-4o", "input": "hi", "temperature": -1}, "openai")
