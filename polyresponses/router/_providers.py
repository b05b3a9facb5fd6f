"""Providers are data: one row each, no classes, no SDKs.

A row says where the provider lives (base URL, and the environment variable that overrides it), how
it authenticates (header, scheme, key variable), which wire dialect it speaks and what it can do.
Adding an OpenAI-Responses-compatible host is adding a row. The capability flags are checked
before any network call (:mod:`polyresponses.router._capabilities`); a flag is ``True`` only where
the provider's own documentation says so (sources in ``docs``), so an unknown is a refusal the user
can override with ``openai_compatible``, never a silent drop. Facts were checked against each
provider's documentation on 2026-11-22 (see the issue 3 closing note for what stayed unverified).
"""

from __future__ import annotations

from dataclasses import replace

from polyresponses.router._cloud_rows import CLOUD_ROWS
from polyresponses.router._hosted_rows import HOSTED_ROWS
from polyresponses.router._provider_model import (
    ALL_ENDPOINTS,
    ALL_TOOLS,
    FUNCTIONS,
    FUNCTIONS_MCP,
    LOCAL_CHAT,
    NO_TOOLS,
    Capabilities,
    ChatOptions,
    Dialect,
    Endpoint,
    Provider,
    ToolKind,
)
from polyresponses.router.dialects.anthropic_messages import ANTHROPIC_VERSION

__all__ = [
    "PROVIDERS",
    "Capabilities",
    "ChatOptions",
    "Dialect",
    "Endpoint",
    "Provider",
    "ToolKind",
    "providers",
    "with_dialect",
]


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "openai",
            "https://api.openai.com/v1",
            chat=ChatOptions(reasoning_effort=True, reasoning_field=None, developer_role=True, openai_extras=True),
            api_key_env="OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
            capabilities=Capabilities(stored_state=True, background=True, tools=ALL_TOOLS, endpoints=ALL_ENDPOINTS),
            docs="https://platform.openai.com/docs/api-reference/responses",
            facts="recorded",
        ),
        Provider(
            "azureopenai",
            "",  # {AZURE_OPENAI_ENDPOINT}/openai/v1; there is no default host
            chat=ChatOptions(reasoning_effort=True, reasoning_field=None, developer_role=True, openai_extras=True),
            api_key_env="AZURE_OPENAI_API_KEY",
            key_required=False,
            token_auth="azure",  # without a key: Microsoft Entra ID (polyresponses[azure]) or token_provider=
            base_url_env="AZURE_OPENAI_ENDPOINT",
            auth_header="api-key",
            auth_scheme="",
            capabilities=Capabilities(
                stored_state=True,
                background=True,
                tools=frozenset(
                    {"function", "mcp", "file_search", "code_interpreter", "image_generation", "computer", "web_search"}
                ),
                endpoints=frozenset({"retrieve", "delete", "cancel", "input_items", "compact"}),
            ),
            docs="https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses",
            notes="model is the deployment name; the endpoint gets /openai/v1 appended unless it ends in it",
        ),
        Provider(
            "huggingface",
            "https://router.huggingface.co/v1",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_field=None),
            api_key_env="HF_TOKEN",
            capabilities=Capabilities(tools=FUNCTIONS_MCP),
            docs="https://huggingface.co/docs/inference-providers/guides/responses-api",
            notes="route with a suffix: 'huggingface:openai/gpt-oss-120b:groq'",
        ),
        Provider(
            "groq",
            "https://api.groq.com/openai/v1",
            chat=ChatOptions(reasoning_effort=True, reasoning_field=None),
            api_key_env="GROQ_API_KEY",
            base_url_env="GROQ_BASE_URL",
            capabilities=Capabilities(tools=FUNCTIONS_MCP | {"code_interpreter", "browser_search"}),
            docs="https://console.groq.com/docs/responses-api",
            notes="stateless; built-in code_interpreter and browser_search only on openai/gpt-oss-20b and -120b",
        ),
        Provider(
            "fireworks",
            "https://api.fireworks.ai/inference/v1",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_effort=True),
            api_key_env="FIREWORKS_API_KEY",
            capabilities=Capabilities(
                stored_state=True, tools=FUNCTIONS_MCP, endpoints=frozenset({"retrieve", "delete"})
            ),
            docs="https://docs.fireworks.ai/guides/response-api",
        ),
        Provider(
            "openrouter",
            "https://openrouter.ai/api/v1",
            chat=ChatOptions(reasoning_object=True, reasoning_field="reasoning"),
            api_key_env="OPENROUTER_API_KEY",
            capabilities=Capabilities(tools=frozenset({"function", "web_search"})),
            docs="https://openrouter.ai/docs/api-reference/responses-api/overview",
            facts="recorded",
            notes="stateless: store=true and previous_response_id are rejected by the API",
        ),
        Provider(
            "xai",
            "https://api.x.ai/v1",
            chat=ChatOptions(reasoning_effort=True, reasoning_field=None),
            api_key_env="XAI_API_KEY",
            capabilities=Capabilities(
                stored_state=True,
                tools=frozenset({"function", "mcp", "web_search", "x_search", "code_interpreter", "file_search"}),
                endpoints=frozenset({"retrieve"}),
            ),
            docs="https://docs.x.ai/developers/model-capabilities/text/generate-text",
            notes="stores responses 30 days by default; reasoning.effort only on grok-3-mini",
        ),
        Provider(
            "together",
            "https://api.together.ai/v1",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_field=None),
            api_key_env="TOGETHER_API_KEY",
            capabilities=Capabilities(tools=FUNCTIONS_MCP),
            docs="https://docs.together.ai/docs/inference/responses",
            notes="beta; dedicated endpoints use api_base=https://api-inference.together.ai/v1",
        ),
        Provider(
            "ollama",
            "http://localhost:11434/v1",
            chat=LOCAL_CHAT,
            api_key_env="OLLAMA_API_KEY",
            base_url_env="OLLAMA_BASE_URL",
            capabilities=Capabilities(image_input=False, structured_output=False),
            docs="https://docs.ollama.com/api/openai-compatibility",
            notes="/v1/responses since v0.13.3; its documented fields do not include images or text.format",
            key_required=False,
        ),
        Provider(
            "lmstudio",
            "http://localhost:1234/v1",
            chat=LOCAL_CHAT,
            api_key_env="LM_API_TOKEN",
            base_url_env="LMSTUDIO_BASE_URL",
            capabilities=Capabilities(
                stored_state=True, tools=FUNCTIONS_MCP, image_input=False, structured_output=False
            ),
            docs="https://lmstudio.ai/docs/developer/openai-compat/responses",
            notes="since 0.3.29; remote MCP needs an opt-in in its developer settings",
            key_required=False,
        ),
        Provider(
            "vllm",
            "http://localhost:8000/v1",
            chat=LOCAL_CHAT,
            api_key_env="VLLM_API_KEY",
            base_url_env="VLLM_BASE_URL",
            capabilities=Capabilities(
                stored_state=True,
                background=True,
                tools=FUNCTIONS_MCP | {"web_search", "code_interpreter"},
                endpoints=frozenset({"retrieve", "cancel"}),
            ),
            docs="https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
            notes="stored state needs VLLM_ENABLE_RESPONSES_API_STORE=1 on the server",
            key_required=False,
        ),
        Provider(
            "llamacpp",
            "http://127.0.0.1:8080/v1",
            chat=LOCAL_CHAT,
            api_key_env="LLAMACPP_API_KEY",
            base_url_env="LLAMACPP_BASE_URL",
            capabilities=Capabilities(reasoning=False, image_input=False, endpoints=frozenset({"input_tokens"})),
            mirror_format_as_response_format=True,
            docs="https://github.com/ggml-org/llama.cpp/tree/master/tools/server",
            notes="llama-server started with --jinja; streams omit sequence_number/output_index/content_index",
            key_required=False,
        ),
        Provider(
            "tzafon",
            "https://api.tzafon.ai/v1",
            api_key_env="TZAFON_API_KEY",
            base_url_env="TZAFON_BASE_URL",
            capabilities=Capabilities(
                stored_state=True,
                background=True,
                tools=frozenset({"function", "custom", "computer"}),
                endpoints=frozenset({"retrieve", "cancel"}),
            ),
            docs="https://docs.lightcone.ai/api/resources/responses/methods/create",
            notes="accepts the vLLM request extras (top_k, cache_salt, priority, ...) typed in the spec overlay",
        ),
        Provider(
            "deepseek",
            "https://api.deepseek.com",
            chat=ChatOptions(max_tokens_field="max_tokens"),
            api_key_env="DEEPSEEK_API_KEY",
            capabilities=Capabilities(image_input=False, structured_output=False),
            docs="https://api-docs.deepseek.com/guides/responses_api",
            facts="recorded",
            notes="POST https://api.deepseek.com/responses (no /v1); deepseek-v4-flash only; stateless",
        ),
        Provider(
            "anthropic",
            "https://api.anthropic.com/v1",
            dialect="anthropic_messages",
            api_key_env="ANTHROPIC_API_KEY",
            base_url_env="ANTHROPIC_BASE_URL",
            auth_header="x-api-key",
            auth_scheme="",
            headers=(("anthropic-version", ANTHROPIC_VERSION),),
            capabilities=Capabilities(tools=FUNCTIONS),
            docs="https://docs.claude.com/en/api/messages",
            facts="recorded",
            notes="max_tokens defaults to 4096 (+ the thinking budget); thinking blocks replay only to anthropic",
        ),
        Provider(
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            dialect="gemini",
            api_key_env="GEMINI_API_KEY",
            key_fallback_env=("GOOGLE_API_KEY",),  # the Gemini API docs and google-genai accept either
            auth_header="x-goog-api-key",
            auth_scheme="",
            capabilities=Capabilities(tools=FUNCTIONS, stored_state=False),
            docs="https://ai.google.dev/api/generate-content",
            facts="recorded",
            notes="key from GEMINI_API_KEY, else GOOGLE_API_KEY; thought signatures replay only to gemini",
        ),
        Provider(
            "cohere",
            "https://api.cohere.com/v2",
            dialect="cohere_v2",
            api_key_env="CO_API_KEY",
            key_fallback_env=("COHERE_API_KEY",),  # cohere-python reads CO_API_KEY, then COHERE_API_KEY
            capabilities=Capabilities(tools=FUNCTIONS),
            docs="https://docs.cohere.com/reference/chat",
            facts="recorded",
            notes=(
                "key from CO_API_KEY, else COHERE_API_KEY (as cohere-python reads them); recorded: text, tools,"
                " thinking, cached tokens; from the docs only: streaming, response_format, image_url input;"
                " thinking and tool plans replay only to cohere"
            ),
        ),
        # Chat Completions providers (issue 4): their wire format is POST {base}/chat/completions.
        # Structured output and image input are True only where the provider's docs say so;
        # unverified ones are refused (use openai_compatible with dialect="chat_completions").
        Provider(
            "mistral",
            "https://api.mistral.ai/v1",
            # "Responses API" guide: stateless (the store emulates chains), text/image/file input, JSON
            # schema via text.format, streaming, client functions with namespaces, reasoning.effort,
            # POST /v1/responses/input_tokens.
            capabilities=Capabilities(tools=FUNCTIONS, endpoints=frozenset({"input_tokens"})),
            chat=ChatOptions(
                max_tokens_field="max_tokens", required_tool_choice="any", reasoning_effort=True, reasoning_field=None
            ),
            api_key_env="MISTRAL_API_KEY",
            docs="https://docs.mistral.ai/studio/conversations/responses ; https://docs.mistral.ai/api/#tag/chat",
            notes="its /v1/responses (stateless; a public preview, documented only) by default; "
            "dialect='chat_completions' speaks its chat endpoint (recorded: tool_choice 'required' sent as 'any', "
            "Magistral thinking arriving as content parts)",
        ),
        Provider(
            "cerebras",
            "https://api.cerebras.ai/v1",
            dialect="chat_completions",
            chat=ChatOptions(reasoning_effort=True, reasoning_field=None),
            api_key_env="CEREBRAS_API_KEY",
            capabilities=Capabilities(tools=FUNCTIONS, image_input=False),
            docs="https://inference-docs.cerebras.ai/api-reference/chat-completions",
        ),
        Provider(
            "perplexity",
            "https://api.perplexity.ai/v1",
            api_key_env="PERPLEXITY_API_KEY",
            capabilities=Capabilities(tools=NO_TOOLS),
            docs="https://docs.perplexity.ai/docs/agent-api/openai-compatibility",
            notes=(
                "the Agent API through its Responses alias (POST /v1/responses; /v1/agent is the canonical path):"
                " Perplexity retired the Sonar chat completions API on 2026-09-27 (its 'Migrating from Sonar'"
                " guide); models as 'perplexity/sonar' or a provider's ('openai/gpt-5.5'), presets as extras;"
                " answers are web-grounded; its tools and stored responses are not confirmed here, so refused and"
                " emulated (the store keeps chains)"
            ),
        ),
        Provider(
            "moonshot",
            "https://api.moonshot.ai/v1",
            dialect="chat_completions",
            chat=ChatOptions(max_tokens_field="max_tokens"),
            api_key_env="MOONSHOT_API_KEY",
            capabilities=Capabilities(tools=FUNCTIONS, structured_output=False, image_input=False),
            docs="https://platform.moonshot.ai/docs/api/chat",
            notes="Kimi thinking models need reasoning_content replayed with tool calls (done for its own items)",
        ),
        Provider(
            "sambanova",
            "https://api.sambanova.ai/v1",
            dialect="chat_completions",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_field=None),
            api_key_env="SAMBANOVA_API_KEY",
            capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, structured_output=False, image_input=False),
            docs="https://docs.sambanova.ai/cloud/api-reference/endpoints/chat",
        ),
        Provider(
            "nebius",
            "https://api.studio.nebius.com/v1",
            dialect="chat_completions",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_field=None),
            api_key_env="NEBIUS_API_KEY",
            capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, structured_output=False, image_input=False),
            docs="https://docs.nebius.com/studio/inference/api",
        ),
        Provider(
            "deepinfra",
            "https://api.deepinfra.com/v1/openai",
            dialect="chat_completions",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_field=None),
            api_key_env="DEEPINFRA_API_KEY",
            capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, structured_output=False, image_input=False),
            docs="https://deepinfra.com/docs/openai_api",
        ),
        Provider(
            "openai_compatible",
            "",
            chat=ChatOptions(max_tokens_field="max_tokens", reasoning_effort=True),
            api_key_env="OPENAI_COMPATIBLE_API_KEY",
            base_url_env="OPENAI_COMPATIBLE_BASE_URL",
            key_required=False,
            capabilities=Capabilities(stored_state=True, background=True, tools=ALL_TOOLS, endpoints=ALL_ENDPOINTS),
            docs="any server speaking POST {api_base}/responses",
            notes="pass api_base=...; nothing is refused before the network, the server decides",
        ),
        *HOSTED_ROWS,  # issue 14: hosted providers and gateways (polyresponses.router._hosted_rows)
        *CLOUD_ROWS,  # issue 13: the clouds' surfaces (polyresponses.router._cloud_rows)
    )
}


def providers() -> list[Provider]:
    """Every provider, with its metadata and capability flags, in table order."""
    return list(PROVIDERS.values())


def with_dialect(provider: Provider, dialect: Dialect | None) -> Provider:
    """``provider`` speaking ``dialect``: its row as it is, its chat endpoint with what chat can express,
    or (a row with :attr:`Provider.responses`) its Responses endpoint with the capabilities it documents.

    Over Chat Completions a provider keeps its key, host and chat options, but loses what a plain
    chat endpoint has no words for: built-in and MCP tools, stored state, background responses and
    the Responses-only endpoints (all refused before the network, never dropped).
    """
    if dialect is None or dialect == provider.dialect:
        return provider
    if dialect == "openai_responses" and provider.responses is not None:
        return replace(provider, dialect=dialect, capabilities=provider.responses, responses=None)
    if dialect != "chat_completions" or provider.dialect in (
        "anthropic_messages",
        "gemini",
        "cohere_v2",
        "bedrock_converse",
    ):
        raise ValueError(f"{provider.name} speaks {provider.dialect} only; it has no {dialect} endpoint")
    capabilities = replace(
        provider.capabilities,
        stored_state=False,
        background=False,
        tools=provider.capabilities.tools & FUNCTIONS,
        endpoints=frozenset(),
    )
    return replace(provider, dialect=dialect, capabilities=capabilities, mirror_format_as_response_format=False)
