from __future__ import annotations

import pytest

from polyresponses.router._model_string import parse_model_string

_KNOWN = {"openai", "openrouter", "huggingface", "groq", "anthropic"}


@pytest.mark.parametrize(
    ("model", "provider", "expected"),
    [
        ("openai:gpt-4o", None, ("openai", "gpt-4o")),
        ("openrouter:openai/gpt-4o", None, ("openrouter", "openai/gpt-4o")),
        ("huggingface:openai/gpt-oss-120b:groq", None, ("huggingface", "openai/gpt-oss-120b:groq")),
        ("groq:openai/gpt-oss-120b", None, ("groq", "openai/gpt-oss-120b")),
        ("gpt-4o", "openai", ("openai", "gpt-4o")),
        ("openai/gpt-oss-120b:groq", "huggingface", ("huggingface", "openai/gpt-oss-120b:groq")),
    ],
)
def test_forms(model: str, provider: str | None, expected: tuple[str, str]) -> None:
    assert parse_model_string(model, provider, _KNOWN) == expected


def test_legacy_slash_form_warns() -> None:
    with pytest.deprecated_call(match="write 'anthropic:claude-sonnet-4-5'"):
        assert parse_model_string("anthropic/claude-sonnet-4-5", None, _KNOWN) == ("anthropic", "claude-sonnet-4-5")


@pytest.mark.parametrize(
    ("model", "provider", "message"),
    [
        ("", None, "non-empty"),
        ("gpt-4o", None, "cannot tell the provider of model 'gpt-4o'"),
        ("openai:", None, "no model"),
        ("gpt-4o", "nope", "unknown provider 'nope'"),
        ("mystery:model", None, "known providers: anthropic, groq"),
    ],
)
def test_errors_say_what_is_wrong(model: str, provider: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_model_string(model, provider, _KNOWN)
