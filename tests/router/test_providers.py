"""The providers table, target resolution and capability enforcement (all before the network)."""

from __future__ import annotations

from typing import Any

import pytest

import polyresponses
from polyresponses.router._capabilities import check_endpoint, check_request, tool_kind
from polyresponses.router._cloud_rows import CLOUD_ROWS
from polyresponses.router._core import get_provider, resolve_target_parts
from polyresponses.router._errors import MissingAPIKeyError, UnsupportedFeatureError
from polyresponses.router._hosted_rows import HOSTED_ROWS
from polyresponses.router._providers import PROVIDERS, ToolKind

_ISSUE_PROVIDERS = {
    "openai",
    "azureopenai",
    "huggingface",
    "groq",
    "fireworks",
    "openrouter",
    "xai",
    "together",
    "ollama",
    "lmstudio",
    "vllm",
    "llamacpp",
    "tzafon",
    "deepseek",
    "openai_compatible",
    "perplexity",
    "mistral",
}


_CHAT_PROVIDERS = {"cerebras", "moonshot", "sambanova", "nebius", "deepinfra"}
"""Issue 4's Chat Completions providers (deepseek's chat endpoint is its row with dialect="chat_completions").
Perplexity was one until it retired Sonar chat completions (2026-09-27): its row speaks the Agent API's
Responses alias now; Mistral's row speaks its /v1/responses by default (issue 14), chat one argument away."""


_DIALECT_ROWS = {"anthropic": "anthropic_messages", "gemini": "gemini", "cohere": "cohere_v2"}
"""Rows of the other dialects' issues (5: Anthropic Messages, 6: Gemini, 14: Cohere v2)."""


_HOSTED = {row.name: row.dialect for row in HOSTED_ROWS} | {row.name: row.dialect for row in CLOUD_ROWS}
"""Issue 14's hosted providers and gateways and issue 13's cloud surfaces, in the dialect each row names
(tests/router/test_provider_rows.py, tests/router/test_cloud_rows.py)."""


def test_every_provider_the_issue_names_is_a_row() -> None:
    assert set(PROVIDERS) == _ISSUE_PROVIDERS | _CHAT_PROVIDERS | set(_DIALECT_ROWS) | set(_HOSTED)
    assert all(PROVIDERS[name].dialect == "chat_completions" for name in _CHAT_PROVIDERS)
    assert [p.name for p in polyresponses.providers()] == list(PROVIDERS)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_rows_are_coherent(provider: str) -> None:
    row = PROVIDERS[provider]
    expected = "chat_completions" if provider in _CHAT_PROVIDERS else _DIALECT_ROWS.get(provider, "openai_responses")
    expected = _HOSTED.get(provider, expected)
    assert row.dialect == expected
    if row.dialect == "chat_completions":
        assert row.capabilities.tools <= {"function"} and not row.capabilities.stored_state
        assert not row.capabilities.endpoints and not row.capabilities.background
    assert row.base_url == "" or row.base_url.startswith(("https://", "http://localhost", "http://127.0.0.1"))
    assert not row.base_url.endswith("/")
    hosted = (
        row.base_url.startswith("https://") or row.name == "azureopenai" or (row.name in _HOSTED and not row.base_url)
    )
    cloud_credentials = row.aws_signing_name is not None or row.token_auth in ("google", "azure")
    assert row.key_required == (hosted and not cloud_credentials), (
        "hosted providers need a key (or their cloud's credentials), local servers and openai_compatible do not"
    )
    assert row.capabilities.tools <= set(ToolKind.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("huggingface", "HF_TOKEN"),
        ("groq", "GROQ_API_KEY"),
        ("fireworks", "FIREWORKS_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
        ("xai", "XAI_API_KEY"),
        ("together", "TOGETHER_API_KEY"),
        ("tzafon", "TZAFON_API_KEY"),
        ("deepseek", "DEEPSEEK_API_KEY"),
        ("mistral", "MISTRAL_API_KEY"),
        ("cerebras", "CEREBRAS_API_KEY"),
        ("perplexity", "PERPLEXITY_API_KEY"),
        ("moonshot", "MOONSHOT_API_KEY"),
        ("sambanova", "SAMBANOVA_API_KEY"),
        ("nebius", "NEBIUS_API_KEY"),
        ("deepinfra", "DEEPINFRA_API_KEY"),
        ("cohere", "CO_API_KEY"),
    ],
)
def test_a_missing_key_names_its_variable(provider: str, variable: str) -> None:
    with pytest.raises(MissingAPIKeyError, match=variable):
        resolve_target_parts(PROVIDERS[provider], None, "https://example.test", environ={})


def test_keys_come_from_the_environment_and_arguments_win() -> None:
    groq = PROVIDERS["groq"]
    base, headers, secret = resolve_target_parts(groq, None, None, environ={"GROQ_API_KEY": "gsk_env"})
    assert (base, headers, secret) == ("https://api.groq.com/openai/v1", {"Authorization": "Bearer gsk_env"}, "gsk_env")
    _, headers, _ = resolve_target_parts(groq, "gsk_arg", None, environ={"GROQ_API_KEY": "gsk_env"})
    assert headers == {"Authorization": "Bearer gsk_arg"}


def test_azure_uses_its_api_key_header_and_v1_path() -> None:
    azure = PROVIDERS["azureopenai"]
    environ = {"AZURE_OPENAI_API_KEY": "az-key", "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/"}
    base, headers, _ = resolve_target_parts(azure, None, None, environ=environ)
    assert base == "https://res.openai.azure.com/openai/v1"
    assert headers == {"api-key": "az-key"}
    with pytest.raises(ValueError, match="AZURE_OPENAI_ENDPOINT"):
        resolve_target_parts(azure, "k", None, environ={})


def test_local_servers_need_no_key_and_send_no_auth_header() -> None:
    base, headers, secret = resolve_target_parts(PROVIDERS["llamacpp"], None, None, environ={})
    assert (base, headers, secret) == ("http://127.0.0.1:8080/v1", {}, None)
    base, _, _ = resolve_target_parts(
        PROVIDERS["ollama"], None, None, environ={"OLLAMA_BASE_URL": "http://gpu:11434/v1/"}
    )
    assert base == "http://gpu:11434/v1"


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ValueError, match="OPENAI_COMPATIBLE_BASE_URL"):
        resolve_target_parts(PROVIDERS["openai_compatible"], None, None, environ={})


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: anthropic, atlascloud, azure, azureanthropic, azureopenai"):
        get_provider("nope")


@pytest.mark.parametrize(
    ("provider", "body", "feature"),
    [
        ("openrouter", {"store": True}, "store=True"),
        ("openrouter", {"previous_response_id": "resp_1"}, "previous_response_id"),
        ("together", {"conversation": "conv_1"}, "conversation"),
        ("groq", {"background": True}, "background=True"),
        ("llamacpp", {"reasoning": {"effort": "low"}}, "reasoning"),
        (
            "groq",
            {"tools": [{"type": "function", "name": "f"}, {"type": "web_search"}]},
            "tool type 'web_search' (tools[1])",
        ),
        ("ollama", {"tools": [{"type": "brand_new_tool"}]}, "tool type 'brand_new_tool'"),
        (
            "deepseek",
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]},
            "image input (input[0].content[0])",
        ),
    ],
)
def test_refused_features_name_provider_and_feature(provider: str, body: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        check_request(PROVIDERS[provider], {"model": "m", **body})
    assert caught.value.provider == provider
    assert f"[{provider}] does not support {feature}" in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("openrouter", {"store": False}),
        ("openai", {"store": True, "previous_response_id": "r", "background": True, "tools": [{"type": "shell"}]}),
        ("openai", {"tools": [{"type": "a_tool_from_next_year"}]}),  # OpenAI itself decides on new tools
        ("groq", {"tools": [{"type": "mcp", "server_label": "s"}], "reasoning": {"effort": "low"}}),
        ("groq", {"tools": [{"type": "browser_search"}, {"type": "code_interpreter", "container": {"type": "auto"}}]}),
        ("xai", {"tools": [{"type": "x_search"}], "store": True}),
        ("openai_compatible", {"store": True, "tools": [{"type": "computer_use_preview"}]}),
    ],
)
def test_allowed_features_pass(provider: str, body: dict[str, Any]) -> None:
    check_request(PROVIDERS[provider], {"model": "m", **body})


def test_endpoints_are_checked() -> None:
    check_endpoint(PROVIDERS["openai"], "compact")
    with pytest.raises(UnsupportedFeatureError, match=r"\[groq\] does not support responses.retrieve"):
        check_endpoint(PROVIDERS["groq"], "retrieve")


def test_tool_kinds_fold_preview_variants() -> None:
    assert tool_kind("web_search_preview_2025_03_11") == "web_search"
    assert tool_kind("computer_use_preview") == "computer"
    assert tool_kind("unknown") is None
