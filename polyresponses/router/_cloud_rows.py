"""The clouds' provider rows (issue 13): AWS Bedrock's surfaces, one row each, still rows of data.

A cloud row differs from a hosted one in two fields only: its base URL holds ``{region}`` (filled from
the environment when the client is made) and, for AWS, ``aws_signing_name`` says which SigV4 service
signs its requests when no bearer key is given (``polyresponses.auth``). Which surface serves which
model family is in each row's ``notes``; facts seen in recorded traffic are ``facts="recorded"``.
"""

from __future__ import annotations

from polyresponses.router._provider_model import FUNCTIONS, Capabilities, Endpoint, Provider
from polyresponses.router.dialects.anthropic_messages import ANTHROPIC_VERSION

__all__ = ["CLOUD_ROWS"]

_BEDROCK_KEY = "AWS_BEARER_TOKEN_BEDROCK"
"""The Bedrock API key (Bedrock user guide, "API keys"), sent as a bearer token on every surface."""

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
        "https://bedrock-mantle.{region}.api.aws/anthropic/v1",
        dialect="anthropic_messages",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock-mantle",
        headers=(("anthropic-version", ANTHROPIC_VERSION),),
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://docs.aws.amazon.com/bedrock/latest/userguide/inference-messages-api.html",
        notes=(
            "from the documentation only: Claude through Anthropic's Messages API on mantle (the anthropic-version"
            " header, the Bedrock API key or SigV4 'bedrock-mantle'); model ids as Bedrock names them; thinking"
            " blocks replay only to this row"
        ),
    ),
)
"""Merged into ``PROVIDERS`` after the hosted rows."""
