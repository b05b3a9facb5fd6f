"""Rows for the hosted providers and gateways any-llm and LiteLLM users reach (issue 14), and the non-rows.

Each row uses a dialect the router already speaks; nothing here is code. Facts were taken on 2026-11-30
from the provider's own documentation where it could be read (the ``docs`` URL), otherwise from another
project that calls the provider (any-llm's provider table, LiteLLM's docs), and ``notes`` says which.
No row here was seen in recorded traffic except ``zai`` (``facts="recorded"``). Capability flags follow
the table's rule: ``True`` only where a source says so; an unconfirmed one is refused before the network
(the client's response store stands in for server-side state, ``openai_compatible`` lifts the rest).

``NOT_ROWS`` lists the providers any-llm has that are deliberately not rows here, each with the reason,
so that a test can tell a reasoned gap from a forgotten one.
"""

from __future__ import annotations

from polyresponses.router._provider_model import (
    FUNCTIONS,
    NO_TOOLS,
    Capabilities,
    ChatOptions,
    Provider,
)
from polyresponses.router.dialects.anthropic_messages import ANTHROPIC_VERSION

__all__ = ["HOSTED_ROWS", "NOT_ROWS"]

_UNVERIFIED_CHAT = Capabilities(tools=FUNCTIONS, reasoning=False, structured_output=False, image_input=False)
"""An OpenAI-compatible chat endpoint whose docs we could read no further than "OpenAI-compatible": function
tools (the baseline of that claim, as for the nebius and deepinfra rows), nothing else assumed."""

_MAX_TOKENS = ChatOptions(max_tokens_field="max_tokens", reasoning_field=None)
"""``max_tokens`` (what OpenAI-compatible servers other than OpenAI read) and no reasoning replay."""

_DASHSCOPE_RESPONSES = Capabilities(
    stored_state=True,
    tools=frozenset({"function", "web_search", "code_interpreter"}),
    reasoning=False,
    image_input=False,
    structured_output=False,
    endpoints=frozenset({"retrieve", "delete", "input_items"}),
)
"""Model Studio's Responses API: ``store``/``previous_response_id``, GET/DELETE ``/responses/{id}`` and
``input_items`` (store=true responses only), built-in ``web_search`` and ``code_interpreter``. Thinking is its
``enable_thinking`` extra (pass it in ``extra_body``), not ``reasoning``; ``background`` is unsupported."""

_DASHSCOPE_NOTES = (
    "from the documentation only; chat via dialect='chat_completions' on the same base; unknown parameters are"
    " ignored by the server; workspace hosts (https://{WorkspaceId}.<region>.maas.aliyuncs.com/compatible-mode/v1)"
    " with api_base=; keys are per region; the legacy /api/v2/apps/protocols/compatible-mode/v1 path is retired;"
    " 'conversation' is covered by the stored-state flag but not documented"
)

HOSTED_ROWS: tuple[Provider, ...] = (
    # --- OpenAI Responses ---------------------------------------------------------------------------------
    Provider(
        "dashscope",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        chat=ChatOptions(max_tokens_field="max_tokens"),
        api_key_env="DASHSCOPE_API_KEY",
        capabilities=_DASHSCOPE_RESPONSES,
        docs="https://www.alibabacloud.com/help/en/model-studio/compatibility-with-openai-responses-api",
        notes="Alibaba Cloud Model Studio (Qwen), international (Singapore) host; " + _DASHSCOPE_NOTES,
    ),
    Provider(
        "dashscope_cn",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        chat=ChatOptions(max_tokens_field="max_tokens"),
        api_key_env="DASHSCOPE_API_KEY",
        capabilities=_DASHSCOPE_RESPONSES,
        docs="https://help.aliyun.com/zh/model-studio/compatibility-with-openai-responses-api",
        notes="Model Studio mainland China (Beijing) host, any-llm's 'dashscope' default; " + _DASHSCOPE_NOTES,
    ),
    Provider(
        "databricks_responses",
        "",  # {DATABRICKS_HOST}/serving-endpoints; there is no default workspace
        base_url_env="DATABRICKS_HOST",
        base_path="/serving-endpoints",
        api_key_env="DATABRICKS_TOKEN",
        capabilities=Capabilities(tools=FUNCTIONS, image_input=False),
        docs="https://docs.databricks.com/gcp/en/machine-learning/model-serving/query-openai-responses",
        notes=(
            "from the documentation only; OpenAI models only (model = serving endpoint name, e.g. databricks-gpt-5);"
            " DATABRICKS_HOST is the workspace URL, /serving-endpoints is appended; the cross-provider"
            " /serving-endpoints/open-responses route is not a row (its path is not /responses);"
            " stored state unconfirmed"
        ),
    ),
    Provider(
        "meta",
        "https://api.meta.ai/v1",
        chat=ChatOptions(reasoning_effort=True, reasoning_field=None),
        api_key_env="MODEL_API_KEY",
        capabilities=Capabilities(tools=FUNCTIONS, structured_output=False),
        docs="https://dev.meta.ai/docs/protocols/responses",
        notes=(
            "Meta Model API (Muse models); dev.meta.ai could not be read: base URL, key variable, Responses,"
            " image input and reasoning.effort from any-llm's meta.py, LiteLLM's and the AI SDK's docs; stateless"
            " until confirmed; chat via dialect='chat_completions'"
        ),
    ),
    Provider(
        "neosantara",
        "https://api.neosantara.xyz/v1",
        api_key_env="NEOSANTARA_API_KEY",
        chat=_MAX_TOKENS,
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, image_input=False, structured_output=False),
        docs="https://docs.neosantara.xyz",
        notes="gateway; /responses and /chat/completions from LiteLLM's docs and any-llm's registry, not its own docs",
    ),
    Provider(
        "volcengine",
        "https://ark.cn-beijing.volces.com/api/v3",
        api_key_env="ARK_API_KEY",
        chat=_MAX_TOKENS,
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, image_input=False, structured_output=False),
        docs="https://www.volcengine.com/docs/82379/1569618",
        notes=(
            "Volcengine Ark (Doubao); its API reference lists create/retrieve/input-items/delete for responses"
            " but could not be read further: the rest is from LiteLLM's native Responses config and third-party"
            " guides; previous_response_id needs Ark's context caching (opt-in), so stored state and those routes"
            " are left to this client's store; thinking is its 'thinking' extra"
        ),
    ),
    Provider(
        "portkey",
        "https://api.portkey.ai/v1",
        api_key_env="PORTKEY_API_KEY",
        auth_header="x-portkey-api-key",
        auth_scheme="",
        chat=_MAX_TOKENS,
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, image_input=False, structured_output=False),
        docs="https://portkey.ai/docs/api-reference/inference-api/headers",
        notes=(
            "from the documentation only; gateway: the model names the upstream as '@provider-slug/model' (Model"
            " Catalog); older setups add x-portkey-virtual-key, or x-portkey-provider plus the upstream's"
            " Authorization, with default_headers=...; /v1/responses for every upstream (Open Responses), chat via"
            " dialect='chat_completions'; features depend on the upstream, so only function tools are assumed"
        ),
    ),
    # --- Anthropic Messages -------------------------------------------------------------------------------
    Provider(
        "minimax",
        "https://api.minimax.io/anthropic/v1",
        dialect="anthropic_messages",
        api_key_env="MINIMAX_API_KEY",
        auth_header="x-api-key",
        auth_scheme="",
        headers=(("anthropic-version", ANTHROPIC_VERSION),),
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, image_input=False, structured_output=False),
        docs="https://platform.minimax.io/docs/api-reference/text-anthropic-api",
        notes=(
            "from the documentation only; MiniMax's recommended endpoint (its docs set ANTHROPIC_BASE_URL to"
            " https://api.minimax.io/anthropic for the Anthropic SDK, which sends x-api-key); text and tool calls, no"
            " image or document input; thinking blocks come back and replay only to minimax; mainland:"
            " api_base=https://api.minimaxi.com/anthropic/v1"
        ),
    ),
    # --- Chat Completions ---------------------------------------------------------------------------------
    Provider(
        "databricks",
        "",  # {DATABRICKS_HOST}/serving-endpoints; there is no default workspace
        dialect="chat_completions",
        base_url_env="DATABRICKS_HOST",
        base_path="/serving-endpoints",
        api_key_env="DATABRICKS_TOKEN",
        chat=_MAX_TOKENS,
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, image_input=False),
        docs="https://docs.databricks.com/gcp/en/machine-learning/model-serving/score-chat-models",
        notes=(
            "from the documentation only; model = serving endpoint name; DATABRICKS_HOST is the workspace URL,"
            " /serving-endpoints is appended; function calling and response_format json_schema are documented for"
            " Foundation Model APIs; OpenAI models also have the databricks_responses row"
        ),
    ),
    Provider(
        "zai",
        "https://api.z.ai/api/paas/v4",
        dialect="chat_completions",
        chat=ChatOptions(max_tokens_field="max_tokens"),
        api_key_env="ZAI_API_KEY",
        capabilities=Capabilities(tools=FUNCTIONS, structured_output=False),
        docs="https://docs.z.ai/openapi.json",
        notes=(
            "Z.ai (GLM); a recorded glm-4.7 exchange shows the path and reasoning_content; its OpenAPI document"
            " lists tools and image input (vision models); thinking is its"
            " 'thinking' extra; mainland: api_base=https://open.bigmodel.cn/api/paas/v4; coding plan:"
            " https://api.z.ai/api/coding/paas/v4; an Anthropic-compatible /api/anthropic exists (not a row)"
        ),
        facts="recorded",
    ),
    Provider(
        "llama",
        "https://api.llama.com/compat/v1",
        dialect="chat_completions",
        chat=ChatOptions(reasoning_field=None),
        api_key_env="LLAMA_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://llama.developer.meta.com/docs/features/compatibility",
        notes=(
            "Meta's Llama API, OpenAI-compatible /compat/v1; base URL from any-llm (BAML's docs name"
            " llama-api.meta.com), Meta's page could not be read"
        ),
    ),
    Provider(
        "github",
        "https://models.github.ai/inference",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="GITHUB_TOKEN",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.github.com/en/rest/models/inference",
        notes=(
            "from the documentation only; GitHub Models; a PAT with the models scope; model is"
            " '{publisher}/{name}' (openai/gpt-4.1); org attribution: api_base=https://models.github.ai/orgs/{org}/inference"
        ),
    ),
    Provider(
        "inception",
        "https://api.inceptionlabs.ai/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="INCEPTION_API_KEY",
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, image_input=False),
        docs="https://docs.inceptionlabs.ai/",
        notes="Mercury diffusion LLMs; tool calling and structured outputs from LiteLLM's docs, any-llm's registry",
    ),
    Provider(
        "llamafile",
        "http://127.0.0.1:8080/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        base_url_env="LLAMAFILE_BASE_URL",
        capabilities=Capabilities(tools=NO_TOOLS, reasoning=False, image_input=False, structured_output=False),
        docs="https://github.com/Mozilla-Ocho/llamafile",
        notes="local llama.cpp server in one file; no key; from any-llm's llamafile.py; tools unconfirmed",
        key_required=False,
    ),
    Provider(
        "sglang",
        "http://127.0.0.1:30000/v1",
        dialect="chat_completions",
        chat=ChatOptions(max_tokens_field="max_tokens"),
        api_key_env="SGLANG_API_KEY",
        base_url_env="SGLANG_BASE_URL",
        capabilities=Capabilities(tools=FUNCTIONS, image_input=False, structured_output=False),
        docs="https://docs.sglang.io/basic_usage/openai_api_completions.html",
        notes=(
            "local server (python -m sglang.launch_server, --api-key optional); reasoning_content with a reasoning"
            " parser; its /v1/responses is not confirmed for the server (the router has one); LiteLLM reaches it"
        ),
        key_required=False,
    ),
    Provider(
        "requesty",
        "https://router.requesty.ai/v1",
        dialect="chat_completions",
        chat=ChatOptions(reasoning_field="reasoning"),
        api_key_env="REQUESTY_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.requesty.ai",
        notes="gateway; base URL and key variable from any-llm's requesty.py (which reads 'reasoning'), not its docs",
    ),
    Provider(
        "gmi",
        "https://api.gmi-serving.com/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="GMI_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.gmicloud.ai/inference-engine/api-reference/llm-api-reference",
        notes=(
            "GMI Cloud; chat from its GitHub README and LiteLLM's docs; any-llm flags /responses, which no GMI"
            " document we could read shows, so the row speaks chat (openai_compatible reaches /responses)"
        ),
    ),
    Provider(
        "atlascloud",
        "https://api.atlascloud.ai/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="ATLASCLOUD_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://www.atlascloud.ai/docs",
        notes="gateway; base URL and key variable from any-llm's registry only",
    ),
    Provider(
        "qiniu",
        "https://api.qnaigc.com/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="QINIU_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://developer.qiniu.com/aitokenapi",
        notes="Qiniu AI token API; base URL and key variable from any-llm's registry only",
    ),
    Provider(
        "cascadia",
        "http://localhost:9090/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="CASCADIA_API_KEY",
        base_url_env="CASCADIA_API_BASE",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://cascadia.to",
        notes="local gateway, key optional; base URL and variables from any-llm's registry only",
        key_required=False,
    ),
    Provider(
        "kenari",
        "https://kenari.id/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="KENARI_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://kenari.id/docs",
        notes="gateway; base URL and key variable from any-llm's registry only",
    ),
    Provider(
        "mzai",
        "https://platform-api.any-llm.ai/api/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="ANY_LLM_KEY",
        base_url_env="ANY_LLM_PLATFORM_URL",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://any-llm.ai",
        notes="mozilla.ai's any-llm platform; base URL and variables from any-llm's registry only",
    ),
    Provider(
        "telnyx",
        "https://api.telnyx.com/v2/ai",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="TELNYX_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://developers.telnyx.com/docs/inference/getting-started",
        notes="Telnyx inference; base URL and key variable from any-llm's registry only",
    ),
    Provider(
        "ovhcloud",
        "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="OVHCLOUD_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.ovhcloud.com/en/guides/public-cloud/ai-machine-learning/ai-endpoints-getting-started",
        notes="OVHcloud AI Endpoints; base URL and key variable from any-llm's registry only (a registry-only name)",
    ),
    Provider(
        "edenai",
        "https://api.edenai.run/v3/llm",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="EDENAI_API_KEY",
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, structured_output=False),
        docs="https://docs.edenai.co/v3/how-to/llm/chat-completions",
        notes=(
            "from the documentation only; gateway, model 'provider/model'; tool calling and vision documented;"
            " POST /v3/llm/chat/completions (any-llm's base /v3 predates it); /v3/llm/responses is a passthrough"
            " only stateful for OpenAI models (not a row)"
        ),
    ),
    Provider(
        "snowflake",
        "",  # {SNOWFLAKE_ACCOUNT_URL}/api/v2/cortex/v1; there is no default account
        dialect="chat_completions",
        base_url_env="SNOWFLAKE_ACCOUNT_URL",
        base_path="/api/v2/cortex/v1",
        api_key_env="SNOWFLAKE_PAT",
        chat=ChatOptions(reasoning_field=None),
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.snowflake.com/user-guide/snowflake-cortex/open_ai_sdk",
        notes=(
            "from the documentation only; Cortex Chat Completions (a superset of OpenAI's); a programmatic access"
            " token as Bearer; Snowflake names no environment variables, SNOWFLAKE_ACCOUNT_URL"
            " (https://<account>.snowflakecomputing.com) and SNOWFLAKE_PAT are ours; Claude also has"
            " /api/v2/cortex/v1/messages (not a row)"
        ),
    ),
    Provider(
        "nvidia_nim",
        "https://integrate.api.nvidia.com/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="NVIDIA_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://build.nvidia.com/",
        notes=(
            "from the documentation only; NVIDIA API catalog (hosted NIM); a self-hosted NIM container serves the"
            " same API: api_base=http://host:8000/v1; LiteLLM reads NVIDIA_NIM_API_KEY"
        ),
    ),
    Provider(
        "baseten",
        "https://inference.baseten.co/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="BASETEN_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.baseten.co/reference/inference-api/chat-completions",
        notes=(
            "from the documentation only; Model APIs (text input only); a dedicated deployment has its own"
            " https://model-{id}.api.baseten.co/environments/production/sync/v1 (api_base=)"
        ),
    ),
    Provider(
        "novita",
        "https://api.novita.ai/openai/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="NOVITA_API_KEY",
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False),
        docs="https://novita.ai/docs/api-reference/model-apis-llm-create-chat-completion",
        notes=(
            "from the documentation only; tools, response_format json_schema and image_url parts are in its"
            " API reference"
        ),
    ),
    Provider(
        "hyperbolic",
        "https://api.hyperbolic.xyz/v1",
        dialect="chat_completions",
        chat=_MAX_TOKENS,
        api_key_env="HYPERBOLIC_API_KEY",
        capabilities=_UNVERIFIED_CHAT,
        docs="https://docs.litellm.ai/docs/providers/hyperbolic",
        notes="base URL and key variable from LiteLLM's provider map and rig's client, not Hyperbolic's docs",
    ),
)
"""The rows of issue 14, merged into ``PROVIDERS`` after the older rows."""


NOT_ROWS: dict[str, str] = {
    "sagemaker": (
        "SageMaker InvokeEndpoint: SigV4 ('sagemaker') is there (polyresponses.auth), but the body is whatever the"
        " deployed container reads (TGI, vLLM, a custom handler): no one wire format a row could name"
    ),
    "voyage": "embeddings and rerank only: no chat or Responses",
    "typesafe": "no chat or Responses (any-llm: completion unsupported; its decide and models endpoints only)",
    "liner": (
        "answer agents with their own request and stream shape (messages only, citation events), not OpenAI chat;"
        " any-llm translates them in code"
    ),
    "otari": (
        "mozilla.ai's gateway, reached through its own client (a platform token, or a self-hosted Otari-Key"
        " header, and a hosted URL that client picks); a self-hosted otari speaks OpenAI chat: openai_compatible"
    ),
}
"""any-llm provider names with no row here, and why (checked against any-llm's list by a test)."""
