"""The clouds' provider rows (issue 13): AWS Bedrock's surfaces, one row each, still rows of data.

A cloud row differs from a hosted one in two fields only: its base URL holds ``{region}`` (filled from
the environment when the client is made) and, for AWS, ``aws_signing_name`` says which SigV4 service
signs its requests when no bearer key is given (``polyresponses.auth``). Which surface serves which
model family is in each row's ``notes``; facts seen in recorded traffic are ``facts="recorded"``.
"""

from __future__ import annotations

from polyresponses.router._provider_model import FUNCTIONS, Capabilities, ChatOptions, Endpoint, Provider
from polyresponses.router.dialects.anthropic_messages import ANTHROPIC_VERSION

__all__ = ["CLOUD_ROWS"]

_BEDROCK_KEY = "AWS_BEARER_TOKEN_BEDROCK"
"""The Bedrock API key (Bedrock user guide, "API keys"), sent as a bearer token on every surface."""

_AWS_REGION = (("region", ("AWS_REGION", "AWS_DEFAULT_REGION")),)
_GOOGLE_PLACE = (
    ("region", ("GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION")),
    ("project", ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "ANTHROPIC_VERTEX_PROJECT_ID")),
)
"""Vertex AI's location and project: google-genai's variables, then Anthropic's Vertex SDK's."""
_GLOBAL = (("region", "global"),)
"""google-genai's default location: the global endpoint (``aiplatform.googleapis.com``, no region prefix)."""
_VERTEX = "https://{region_prefix}aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers"
"""The AWS SDKs' region variables, in their order."""

_RESPONSES_DOCS = "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-responses-api.html"
_MANTLE_ENDPOINTS: frozenset[Endpoint] = frozenset({"retrieve", "cancel"})
"""What background responses need (poll, cancel); the other stored-state routes are not documented."""
_MANTLE = Capabilities(stored_state=True, background=True, tools=FUNCTIONS, endpoints=_MANTLE_ENDPOINTS)
"""Mantle: "background inference", "stateful conversation management" (the Responses API user guide);
its server-side tools are not listed by name, so only function tools are let through."""

CLOUD_ROWS: tuple[Provider, ...] = (
    Provider(
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        dialect="bedrock_converse",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock",
        template_env=_AWS_REGION,
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
        facts="recorded",
        notes=(
            "Converse/ConverseStream: every Bedrock model (Nova, Claude, Llama, Mistral, gpt-oss, ...), model"
            " ids, inference-profile ids and ARNs; bearer AWS_BEARER_TOKEN_BEDROCK, else SigV4 'bedrock' with the"
            " environment's AWS credentials (the full chain with polyresponses[aws]); recorded: text, tools,"
            " thinking with signatures and redacted thinking, structured output, documents, images, cache"
            " points, errors, streams; reasoning replays only to the same provider and model"
        ),
    ),
    Provider(
        "bedrock_openai",
        "https://bedrock-runtime.{region}.amazonaws.com/openai/v1",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock",
        template_env=_AWS_REGION,
        capabilities=Capabilities(tools=FUNCTIONS),
        docs=_RESPONSES_DOCS,
        notes=(
            "from the documentation only: the recommended Responses surface, 'always synchronous, no server-side"
            " tools, default project only' (so no background and no stored state: chains are kept by the store);"
            " the models Bedrock serves there"
        ),
    ),
    Provider(
        "bedrock_mantle",
        "https://bedrock-mantle.{region}.api.aws/v1",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock-mantle",
        template_env=_AWS_REGION,
        capabilities=_MANTLE,
        docs=_RESPONSES_DOCS,
        notes=(
            "from the documentation only: the compatibility surface with background inference and stored state,"
            " gpt-oss among others; SigV4 signs as 'bedrock-mantle' (openai-python's BedrockOpenAI does; LiteLLM"
            " #31475 got IAM denials signing as 'bedrock')"
        ),
    ),
    Provider(
        "bedrock_mantle_openai",
        "https://bedrock-mantle.{region}.api.aws/openai/v1",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock-mantle",
        template_env=_AWS_REGION,
        capabilities=_MANTLE,
        docs=_RESPONSES_DOCS,
        notes=(
            "from the documentation and openai-python's BedrockOpenAI default base: OpenAI's frontier models"
            " (gpt-5.x) live only on this prefix; a model on the wrong prefix fails with 'isn't supported on"
            " this route'"
        ),
    ),
    Provider(
        "bedrock_anthropic",
        "https://bedrock-runtime.{region}.amazonaws.com",
        dialect="anthropic_messages",
        anthropic_route="bedrock",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock",
        template_env=_AWS_REGION,
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html",
        notes=(
            "from the documentation and Anthropic's AnthropicBedrock: Claude's Messages API through InvokeModel"
            " on runtime (/model/{id}/invoke, /invoke-with-response-stream in event-stream frames whose chunks"
            " carry the Messages events), anthropic_version bedrock-2023-05-31 in the body; the bedrock row"
            " reaches the same models over Converse (recorded); thinking blocks replay only to this row"
        ),
    ),
    Provider(
        "bedrock_mantle_anthropic",
        "https://bedrock-mantle.{region}.api.aws/anthropic/v1",
        dialect="anthropic_messages",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock-mantle",
        template_env=_AWS_REGION,
        headers=(("anthropic-version", ANTHROPIC_VERSION),),
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://docs.aws.amazon.com/bedrock/latest/userguide/inference-messages-api.html",
        notes=(
            "from the documentation only: Claude through Anthropic's Messages API on mantle (the anthropic-version"
            " header, the Bedrock API key or SigV4 'bedrock-mantle'); model ids as Bedrock names them; thinking"
            " blocks replay only to this row"
        ),
    ),
    Provider(
        "vertexai",
        _VERTEX + "/google",
        dialect="gemini",
        key_required=False,
        token_auth="google",
        template_env=_GOOGLE_PLACE,
        template_defaults=_GLOBAL,
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.endpoints/generateContent",
        notes=(
            "Gemini through the Gemini dialect on Vertex AI: generateContent / streamGenerateContent?alt=sse under"
            " projects/{project}/locations/{location}/publishers/google; the global location's host has no region"
            " prefix; OAuth tokens from Application Default Credentials (polyresponses[google]) or token_provider=;"
            " recorded Vertex traffic (google-genai's v1beta1 paths) replayed through this row in the tests"
        ),
    ),
    Provider(
        "vertexai_express",
        "https://aiplatform.googleapis.com/v1/publishers/google",
        dialect="gemini",
        api_key_env="GOOGLE_API_KEY",
        auth_header="x-goog-api-key",
        auth_scheme="",
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://cloud.google.com/vertex-ai/generative-ai/docs/start/express-mode/overview",
        notes=(
            "from the documentation: Vertex AI express mode, an API key and no project or location (google-genai"
            " reads GOOGLE_API_KEY for it too, so the key of the gemini row, if set, is used here as well)"
        ),
    ),
    Provider(
        "vertexaianthropic",
        _VERTEX + "/anthropic",
        dialect="anthropic_messages",
        key_required=False,
        token_auth="google",
        anthropic_route="vertex",
        template_env=_GOOGLE_PLACE,
        template_defaults=_GLOBAL,
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude",
        notes=(
            "from the documentation and Anthropic's AnthropicVertex: Claude's Messages API at"
            " models/{model}:rawPredict (:streamRawPredict), anthropic_version vertex-2023-10-16 in the body and"
            " no model there; model ids as Vertex names them (claude-sonnet-4-5@20250929); thinking blocks replay"
            " only to this row"
        ),
    ),
    Provider(
        "azure",
        "https://{resource}.services.ai.azure.com/models",
        dialect="chat_completions",
        api_key_env="AZURE_API_KEY",
        base_url_env="AZURE_AI_CHAT_ENDPOINT",
        key_required=False,
        token_auth="azure",
        auth_header="api-key",
        auth_scheme="",
        template_env=(("resource", ("AZURE_AI_FOUNDRY_RESOURCE",)),),
        query=(("api-version", "2024-05-01-preview"),),
        chat=ChatOptions(max_tokens_field="max_tokens", reasoning_field=None),
        capabilities=Capabilities(tools=FUNCTIONS, reasoning=False, structured_output=False, image_input=False),
        docs="https://learn.microsoft.com/azure/ai-foundry/model-inference/reference/reference-model-inference-chat-completions",
        notes=(
            "from the documentation: Azure AI Foundry's model inference endpoint (Chat Completions with"
            " api-version), api-key header (AZURE_API_KEY, as any-llm) or Entra ID tokens (polyresponses[azure],"
            " token_provider=); AZURE_AI_CHAT_ENDPOINT gives the whole endpoint as any-llm reads it; model = the"
            " deployment; Foundry's Responses API is the azureopenai row"
        ),
    ),
    Provider(
        "azureanthropic",
        "https://{resource}.services.ai.azure.com/anthropic/v1",
        dialect="anthropic_messages",
        api_key_env="AZURE_ANTHROPIC_API_KEY",
        key_fallback_env=("ANTHROPIC_FOUNDRY_API_KEY",),
        base_url_env="AZURE_ANTHROPIC_API_BASE",
        key_required=False,
        token_auth="azure",
        auth_header="x-api-key",
        auth_scheme="",
        headers=(("anthropic-version", ANTHROPIC_VERSION),),
        template_env=(("resource", ("AZURE_ANTHROPIC_RESOURCE", "ANTHROPIC_FOUNDRY_RESOURCE")),),
        token_scope="https://ai.azure.com/.default",  # AnthropicFoundry's README, "Using Azure AD Token Provider"
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://learn.microsoft.com/azure/ai-foundry/foundry-models/how-to/use-foundry-models-claude",
        notes=(
            "from the documentation and Anthropic's AnthropicFoundry: Claude's Messages API on the Foundry"
            " resource, x-api-key (any-llm's and Anthropic's variables) or Entra ID bearer tokens; thinking blocks"
            " replay only to this row"
        ),
    ),
    Provider(
        "watsonx",
        "https://{region}.ml.cloud.ibm.com",
        dialect="chat_completions",
        api_key_env="WATSONX_API_KEY",
        key_fallback_env=("WATSONX_APIKEY",),
        base_url_env="WATSONX_URL",
        token_auth="ibm",
        auth_header="",
        auth_scheme="",
        template_env=(("region", ("WATSONX_REGION",)), ("project", ("WATSONX_PROJECT_ID",))),
        template_defaults=(("region", "us-south"),),
        body_template=(("project_id", "project"),),
        query=(("version", "2026-10-14"),),
        chat=ChatOptions(
            max_tokens_field="max_tokens",
            reasoning_field=None,
            reasoning_effort=True,
            path="/ml/v1/text/chat",
            stream_path="/ml/v1/text/chat_stream",
            model_field="model_id",
            tool_choice_option=True,
            stream_usage=False,
        ),
        capabilities=Capabilities(tools=FUNCTIONS, image_input=False),
        docs="https://cloud.ibm.com/apidocs/watsonx-ai#text-chat",
        notes=(
            "from IBM's ibm-watsonx-ai 1.8.1 (the request it builds) and IBM Cloud's IAM docs: POST /ml/v1/text/chat"
            " (streams from /ml/v1/text/chat_stream, no stream field) with model_id and project_id in the body,"
            " tool_choice_option for auto/none/required, version=2026-10-14 (the SDK's API_VERSION_PARAM); the"
            " key (WATSONX_API_KEY as any-llm, or WATSONX_APIKEY as IBM's SDKs) is exchanged at IAM for a bearer"
            " token and never sent to the API; project from project= or WATSONX_PROJECT_ID; WATSONX_URL as"
            " any-llm reads it"
        ),
    ),
)
"""Merged into ``PROVIDERS`` after the hosted rows."""
