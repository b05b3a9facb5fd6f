"""The pure core shared by the sync and async shells: resolve a provider, build and check a request.

Nothing here does I/O; the shells in ``_client`` call these, send what they return, and hand the
reply back to the dialect. Written once, so the sync and async paths cannot drift apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, assert_never

from pydantic import BaseModel

from polyresponses.router._capabilities import check_request
from polyresponses.router._errors import InvalidRequestError, MissingAPIKeyError, UnsupportedFeatureError
from polyresponses.router._provider_model import TEMPLATE_FIELDS
from polyresponses.router._providers import PROVIDERS, Provider
from polyresponses.router._tool_policy import HostedTools, ToolPolicy, apply_tool_policy
from polyresponses.router._wire import to_wire, validate_request
from polyresponses.router.dialects import StreamTranslatorLike, WireRequest
from polyresponses.router.dialects import anthropic_messages as anthropic_dialect
from polyresponses.router.dialects import bedrock_converse as bedrock_dialect
from polyresponses.router.dialects import chat_completions as chat_dialect
from polyresponses.router.dialects import cohere_v2 as cohere_dialect
from polyresponses.router.dialects import gemini as gemini_dialect
from polyresponses.router.dialects import openai_responses as responses_dialect
from polyresponses.router.dialects._bedrock_invoke import InvokeStreamTranslator

if TYPE_CHECKING:
    from polyresponses.mcp._request import McpRequest
    from polyresponses.types import Response

__all__ = [
    "OPTION_KEYS",
    "DialectPlan",
    "build_body",
    "get_provider",
    "plan_create",
    "resolve_target_parts",
    "split_options",
    "template_values",
]

DialectPlan = tuple[WireRequest, Callable[[bytes], "Response"], Callable[[], StreamTranslatorLike]]
"""``(request to send, whole-reply parser, stream translator factory)`` for one create call."""


def plan_create(provider: Provider, body: dict[str, Any]) -> DialectPlan:
    """Route by wire dialect: the request, the reply parser and the stream translator for ``body``."""
    name = provider.name
    match provider.dialect:
        case "openai_responses":
            return (
                responses_dialect.build_create(body),
                partial(responses_dialect.parse_response, provider=name),
                partial(responses_dialect.StreamTranslator, name),
            )
        case "chat_completions":
            return (
                chat_dialect.build_create(body, provider=name, options=provider.chat),
                partial(chat_dialect.parse_response, provider=name, request=body),
                partial(chat_dialect.ChatStreamTranslator, name, body),
            )
        case "anthropic_messages":
            request = anthropic_dialect.build_create(body, provider=name)
            translator = partial(anthropic_dialect.AnthropicStreamTranslator, name, body)
            match provider.anthropic_route:
                case "messages":
                    pass
                case "vertex":
                    request = anthropic_dialect.for_vertex(request)
                case "bedrock":
                    request = anthropic_dialect.for_bedrock(request)
                    if request.stream:
                        return (
                            request,
                            partial(anthropic_dialect.parse_response, provider=name, request=body),
                            lambda: InvokeStreamTranslator(translator()),
                        )
                case _:
                    assert_never(provider.anthropic_route)
            return request, partial(anthropic_dialect.parse_response, provider=name, request=body), translator
        case "gemini":
            return (
                gemini_dialect.build_create(body, provider=name),
                partial(gemini_dialect.parse_response, provider=name, request=body),
                partial(gemini_dialect.GeminiStreamTranslator, name, body),
            )
        case "cohere_v2":
            return (
                cohere_dialect.build_create(body, provider=name),
                partial(cohere_dialect.parse_response, provider=name, request=body),
                partial(cohere_dialect.CohereStreamTranslator, name, body),
            )
        case "bedrock_converse":
            return (
                bedrock_dialect.build_create(body, provider=name),
                partial(bedrock_dialect.parse_response, provider=name, request=body),
                partial(bedrock_dialect.BedrockStreamTranslator, name, body),
            )
        case _:
            assert_never(provider.dialect)


OPTION_KEYS = frozenset({"extra_headers", "extra_body", "timeout", "max_retries"})


def get_provider(name: str) -> Provider:
    """The provider row for ``name``; an unknown name lists the known ones."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}") from None


def resolve_target_parts(
    provider: Provider,
    api_key: str | None,
    api_base: str | None,
    environ: Mapping[str, str] = os.environ,
    *,
    endpoint: Mapping[str, str | None] | None = None,
    token_auth: bool = False,
) -> tuple[str, dict[str, str], str | None]:
    """``(base_url, auth headers, secret)`` for ``provider``: arguments first, then its variables.

    ``endpoint``: the client's ``region``/``project``/``resource`` for a templated base URL.
    ``token_auth``: the client authenticates with a bearer token instead (no key needed).
    Raises :class:`MissingAPIKeyError` (naming the variable) when a key is needed and absent, before
    anything touches the network.
    """
    key = api_key
    for variable in (provider.api_key_env, *provider.key_fallback_env) if key is None else ():
        key = environ.get(variable) if variable else None
        if key:
            break
    if not key and provider.key_required and not token_auth:
        raise MissingAPIKeyError(provider.name, provider.api_key_env or "<none>")
    from_env = None if api_base else (environ.get(provider.base_url_env) if provider.base_url_env else None)
    base = api_base or from_env or provider.base_url
    if not base:
        where = f"pass api_base=... or set {provider.base_url_env}" if provider.base_url_env else "pass api_base=..."
        raise ValueError(f"[{provider.name}] has no default base URL: {where}")
    base = _fill_template(provider, base.rstrip("/"), environ, endpoint or {})
    if from_env and provider.base_path and not base.endswith(provider.base_path):
        base += provider.base_path  # the variable names a host (DATABRICKS_HOST), the API lives under a path
    if provider.name == "azureopenai" and not base.endswith("/openai/v1"):
        # Azure OpenAI v1 API: {endpoint}/openai/v1/responses (Microsoft Learn, "Azure OpenAI v1 API").
        base += "/openai/v1"
    headers = dict(provider.headers)
    if key and not token_auth and provider.auth_header:  # no header: the key is exchanged (IBM Cloud IAM)
        headers[provider.auth_header] = f"{provider.auth_scheme} {key}".strip()
    return base, headers, (key or None) if not token_auth else None


_TEMPLATE_VALUE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
"""A region, project or resource name: a DNS label (they become host names or path segments)."""


def _fill_template(provider: Provider, base: str, environ: Mapping[str, str], given: Mapping[str, str | None]) -> str:
    """Fill ``{region}``, ``{project}``, ``{resource}`` (and ``{region_prefix}``) in a row's base URL."""
    names = [name for name in TEMPLATE_FIELDS if "{" + name in base]
    for name, value in template_values(provider, names, environ, given).items():
        prefix = "" if value == "global" else f"{value}-"  # Vertex AI: the global location has no host prefix
        base = base.replace("{" + name + "_prefix}", prefix).replace("{" + name + "}", value)
    return base


def template_values(
    provider: Provider, names: Iterable[str], environ: Mapping[str, str], given: Mapping[str, str | None]
) -> dict[str, str]:
    """Each of ``names`` (``region``, ``project``, ``resource``): the client's argument, else the row's
    variables, else (AWS) the profile's region, else the row's default; checked as a DNS label before it
    reaches a host, a path or a body. A missing one is a ``ValueError`` naming where to give it."""
    sources = dict(provider.template_env)
    defaults = dict(provider.template_defaults)
    values: dict[str, str] = {}
    for name in names:
        value, origin = given.get(name), f"{name}="
        for variable in sources.get(name, ()) if not value else ():
            value, origin = environ.get(variable, "").strip(), variable
            if value:
                break
        if not value and name == "region" and provider.aws_signing_name is not None:
            from polyresponses.auth._aws import profile_region

            value, origin = profile_region(environ) or "", "the AWS profile's region"
        if not value and name in defaults:
            value, origin = defaults[name], "the default"
        if not value:
            variables = " or ".join(sources.get(name, ())) or "a variable"
            raise ValueError(f"[{provider.name}] needs a {name}: pass {name}=... or set {variables}")
        if not _TEMPLATE_VALUE.fullmatch(value):
            raise ValueError(f"[{provider.name}] {origin} {value!r} is not a valid {name} name")
        values[name] = value
    return values


def split_options(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate per-call transport options from body fields."""
    body = {k: v for k, v in params.items() if k not in OPTION_KEYS}
    options = {k: v for k, v in params.items() if k in OPTION_KEYS}
    return body, options


def build_body(
    provider: Provider,
    model: str,
    fields: Mapping[str, Any],
    *,
    stream: bool,
    response_format: Any = None,
    extra_body: Mapping[str, Any] | None = None,
    local_state: bool = False,
    hosted_tools: HostedTools = "refuse",
    mcp_private_addresses: bool = True,
) -> tuple[dict[str, Any], ToolPolicy | None, McpRequest | None]:
    """The checked wire body for ``POST /responses``.

    Steps: drop ``None`` fields; tools from callables; ``response_format`` into ``text.format``;
    foreign pydantic models (e.g. openai-python's) dumped; validate as ``CreateResponse`` (a bad
    value names its field path); dump with the one serialisation helper; refuse what the provider
    cannot express (``local_state``: the client's response store stands in for server-side state),
    after namespaces are flattened and, with ``hosted_tools="drop"``, offered hosted tools it cannot
    run are left out (:mod:`polyresponses.router._tool_policy`; the policy maps the reply back).
    ``mcp`` tools a provider cannot run are taken out and returned: the router runs them
    (:mod:`polyresponses.mcp`); ``mcp_private_addresses`` false refuses servers on literal private
    addresses (the gateway's outbound policy).
    """
    if not isinstance(model, str) or not model:
        raise InvalidRequestError(provider.name, "model", "must be a non-empty string")
    body: dict[str, Any] = {"model": model}
    for key, value in fields.items():
        if value is not None:
            body[key] = _jsonable(value)
    if "tools" in body:
        from polyresponses.router._tools import prepare_tools  # only requests with tools pay for it

        body["tools"] = prepare_tools(body["tools"])
    if response_format is not None:
        from polyresponses.router._structured import text_format_for

        text = dict(body.get("text") or {})
        if "format" in text:
            raise InvalidRequestError(
                provider.name, "text.format", "give either response_format or text.format, not both"
            )
        text["format"] = text_format_for(response_format)
        body["text"] = text
    if stream:
        body["stream"] = True
    if extra_body:
        body.update({k: _jsonable(v) for k, v in extra_body.items()})
    wire = to_wire(validate_request(body, provider.name, exempt=extra_body or ()), given_only=True)
    mcp = None
    if "tools" in wire and "mcp" not in provider.capabilities.tools:
        from polyresponses.mcp._request import take_mcp_tools

        mcp = take_mcp_tools(provider.name, wire, allow_private=mcp_private_addresses)
        if mcp is not None and "function" not in provider.capabilities.tools:
            raise UnsupportedFeatureError(
                provider.name, "mcp tools", "it takes no function tools, which the router needs to run MCP for it"
            )
    if provider.dialect != "openai_responses":
        _require_call_ids(provider.name, wire.get("input"))
    policy = apply_tool_policy(provider, wire, hosted_tools)
    check_request(provider, wire, local_state=local_state)
    if provider.mirror_format_as_response_format:
        _mirror_format(wire)
    return wire, policy, mcp


def _require_call_ids(provider: str, items: Any) -> None:
    """A tool output without ``call_id`` (the spec lets OpenAI pair programmatic calls otherwise) cannot be
    paired with its call on any other wire format: refused, naming the item, before anything is sent."""
    for index, item in enumerate(items if isinstance(items, list) else ()):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in ("function_call_output", "custom_tool_call_output") and not item.get("call_id"):
            raise InvalidRequestError(
                provider, f"input[{index}].call_id", f"a {kind} needs the call_id of the call it answers"
            )


def _mirror_format(wire: dict[str, Any]) -> None:
    """Add Chat Completions' ``response_format`` for a JSON-schema ``text.format`` (see the provider flag).

    llama-server turns ``/v1/responses`` into a chat request and reads ``response_format`` but not
    ``text.format`` (measured on llama.cpp b11434: with ``text.format`` alone SmolLM2 writes prose).
    """
    text_format = (wire.get("text") or {}).get("format") or {}
    if text_format.get("type") == "json_schema" and "response_format" not in wire:
        schema = {key: text_format[key] for key in ("name", "schema", "strict", "description") if key in text_format}
        wire["response_format"] = {"type": "json_schema", "json_schema": schema}


def _jsonable(value: Any) -> Any:
    """Pydantic models (ours or another SDK's) as wire dicts; sequences of them element-wise."""
    if isinstance(value, BaseModel):
        return to_wire(value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
