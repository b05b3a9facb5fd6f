"""What a provider row is: its fields, the dialects, tool families and endpoints a row can name.

Split from :mod:`polyresponses.router._providers` (the table itself) so that tables of rows can live
in modules of their own and import these without importing the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from polyresponses.router.dialects.chat_completions import ChatOptions

__all__ = [
    "ALL_ENDPOINTS",
    "TEMPLATE_FIELDS",
    "ALL_TOOLS",
    "AnthropicRoute",
    "FUNCTIONS",
    "FUNCTIONS_MCP",
    "LOCAL_CHAT",
    "NO_TOOLS",
    "Capabilities",
    "ChatOptions",
    "Dialect",
    "Endpoint",
    "FactSource",
    "Provider",
    "TokenAuth",
    "ToolKind",
]

Dialect = Literal[
    "openai_responses", "chat_completions", "anthropic_messages", "gemini", "cohere_v2", "bedrock_converse"
]
"""Wire dialects the router can speak (a module each under ``polyresponses.router.dialects``)."""

Endpoint = Literal["retrieve", "delete", "cancel", "input_items", "compact", "input_tokens", "conversations"]
"""Operations beyond ``POST /responses``; each is an HTTP route of the Responses API reference
(``conversations``: the Conversations API routes). Without the route, a client with a response store
answers ``retrieve``, ``delete``, ``input_items`` and ``conversations`` from the store."""

AnthropicRoute = Literal["messages", "vertex", "bedrock"]
"""The routes an ``anthropic_messages`` row can post to (see :attr:`Provider.anthropic_route`)."""

TokenAuth = Literal["google", "azure", "ibm"]
"""Where a row gets a bearer token: without a key, Google's Application Default Credentials (``[google]``)
or Microsoft Entra ID (``[azure]``); ``ibm``: the row's key is exchanged for one at IBM Cloud IAM (never
sent to the API itself). See :mod:`polyresponses.auth`."""

TEMPLATE_FIELDS = ("region", "project", "resource")
"""The placeholders a base URL may hold (``{region}``, ``{project}``, ``{resource}``; ``{region_prefix}`` is
``"{region}-"``, or empty for Google's ``global`` location); a client's ``region=``, ``project=`` and
``resource=`` fill them, else the row's ``template_env`` variables, else its ``template_defaults``."""

FactSource = Literal["recorded", "documented"]
"""Where a row's facts come from. ``recorded``: real traffic to the row's base URL in its dialect is in the
recorded fixtures (``shared/fixtures/recorded``; a test checks the claim), so its host, path and wire were
seen working; its auth and capability flags still come from the docs. ``documented``: every fact is from
documentation (the provider's own, or where ``notes`` says so another project's code or docs)."""

ToolKind = Literal[
    "function",
    "custom",
    "mcp",
    "web_search",
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer",
    "shell",
    "apply_patch",
    "local_shell",
    "browser_search",
    "x_search",
]
"""Tool families, named after the tool ``type`` values of the Responses API (preview variants fold in),
plus the vendor built-ins Groq (``browser_search``) and xAI (``x_search``) document."""

ALL_TOOLS: frozenset[ToolKind] = frozenset(ToolKind.__args__)  # type: ignore[attr-defined]
ALL_ENDPOINTS: frozenset[Endpoint] = frozenset(Endpoint.__args__)  # type: ignore[attr-defined]
FUNCTIONS: frozenset[ToolKind] = frozenset({"function"})
FUNCTIONS_MCP: frozenset[ToolKind] = frozenset({"function", "mcp"})
NO_TOOLS: frozenset[ToolKind] = frozenset()
LOCAL_CHAT = ChatOptions(max_tokens_field="max_tokens", reasoning_effort=True)
"""vLLM, llama.cpp, Ollama, LM Studio: ``max_tokens`` is what all of them read."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can express. Enforced before the network; see ``_capabilities.check``."""

    streaming: bool = True
    stored_state: bool = False
    """``store: true``, ``previous_response_id`` and ``conversation``: the server keeps responses."""
    background: bool = False
    tools: frozenset[ToolKind] = FUNCTIONS
    reasoning: bool = True
    image_input: bool = True
    structured_output: bool = True
    endpoints: frozenset[Endpoint] = frozenset()


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider: where, how to authenticate, which dialect, what it can do."""

    name: str
    base_url: str
    dialect: Dialect = "openai_responses"
    api_key_env: str | None = None
    """The conventional key variable; ``None`` for local servers that need no key."""
    key_required: bool = True
    base_url_env: str | None = None
    """A variable that overrides ``base_url`` (the one the provider's own SDK reads, where it has one)."""
    base_path: str = ""
    """Appended to a base URL read from ``base_url_env`` that lacks it: for variables that name a host, not
    an API root (``DATABRICKS_HOST`` is the workspace URL; the API lives under ``/serving-endpoints``)."""
    key_fallback_env: tuple[str, ...] = ()
    """Further key variables, read in order when ``api_key_env`` is unset (the ones the vendor's SDK also reads)."""
    template_env: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """For a templated ``base_url``: each placeholder (``TEMPLATE_FIELDS``) and the variables that give it."""
    template_defaults: tuple[tuple[str, str], ...] = ()
    """Placeholder values used when neither the client nor the environment gives one."""
    body_template: tuple[tuple[str, str], ...] = ()
    """Body fields every request carries, each filled like a base URL placeholder (``("project_id",
    "project")``: watsonx.ai's project, from ``project=`` or the row's variables)."""
    query: tuple[tuple[str, str], ...] = ()
    """Query parameters sent with every request (Azure's ``api-version``)."""
    token_auth: TokenAuth | None = None
    """Without a key, a bearer token from this cloud's credentials (or the client's ``token_provider=``)."""
    token_scope: str = ""
    """The OAuth scope those tokens are asked for; empty: the cloud's default (Google's cloud-platform, Azure's
    Cognitive Services)."""
    anthropic_route: AnthropicRoute = "messages"
    """Where an ``anthropic_messages`` row posts: ``POST /messages``, or as a cloud serves Claude (the body
    then carries ``anthropic_version`` and the path the model): Vertex AI's ``:rawPredict``, Bedrock's
    ``InvokeModel`` (its stream in AWS event-stream frames)."""
    aws_signing_name: str | None = None
    """AWS rows: the SigV4 service name (``bedrock``, ``bedrock-mantle``). Without a bearer key (``api_key_env``
    or ``api_key=``) requests are signed with the AWS credentials of the environment (``polyresponses.auth``);
    ``{region}`` in ``base_url`` is filled from ``AWS_REGION``/``AWS_DEFAULT_REGION``."""
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    """Prefix of the header value; empty for raw-key headers such as Azure's ``api-key``."""
    headers: tuple[tuple[str, str], ...] = ()
    """Headers sent with every request (e.g. Anthropic's ``anthropic-version``)."""
    capabilities: Capabilities = field(default_factory=Capabilities)
    chat: ChatOptions = field(default_factory=ChatOptions)
    """How its ``/chat/completions`` differs from OpenAI's, for the chat dialect (native or chosen)."""
    responses: Capabilities | None = None
    """For a row whose own dialect is another: the provider also serves ``POST {base}/responses`` in
    OpenAI's wire, with these capabilities; ``dialect="openai_responses"`` speaks it."""
    mirror_format_as_response_format: bool = False
    """Also send a JSON-schema ``text.format`` as Chat Completions' ``response_format``: for servers whose
    ``/responses`` is a shim over their chat endpoint and drops ``text.format`` (llama.cpp, measured)."""
    docs: str = ""
    notes: str = ""
    facts: FactSource = "documented"
    """Whether the row was seen working in recorded traffic or is taken from documentation only."""
