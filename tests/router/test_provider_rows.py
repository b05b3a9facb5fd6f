"""Every provider row, end to end over real HTTP, and the table checked against the facts we hold outside it.

A row is data, so a typo in it (a host, a path, a key variable, an auth header) fails no type check;
these tests make it fail CI instead:

* each row is reached through a loopback HTTP server: the client resolves the row exactly as a user's
  would (its default base URL, or its ``base_url_env`` for hosts that differ per account), a transport
  redirects the connection to 127.0.0.1, and the server checks the request line (the dialect's path under
  the row's base URL), the auth header (the row's shape, the key from the row's variable) and the body (the
  dialect's own schema: the openai, anthropic, google-genai and cohere SDKs' request types), then answers
  with a real recorded reply in that dialect, which must parse;
* a row that claims ``facts="recorded"`` must have its URL in the recorded traffic;
* rows any-llm also has must agree with any-llm's key variable and base URL, or say here why not;
* every any-llm provider is a row or has a reason in ``NOT_ROWS``.
"""

from __future__ import annotations

import json
import os
import re
import typing
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import pydantic
import pytest
from pydantic import ConfigDict, TypeAdapter

from polyresponses import Client
from polyresponses.router._core import resolve_target_parts
from polyresponses.router._hosted_rows import HOSTED_ROWS, NOT_ROWS
from polyresponses.router._provider_model import Dialect, Provider
from polyresponses.router._providers import PROVIDERS
from tests._loopback import LoopbackServer, RecordedRequest, json_reply
from tests._recorded import Exchange, exchanges

_KEY = "sk-row-test-0123456789"
_MODEL = "m"
_PATHS: dict[Dialect, str] = {
    "openai_responses": "/responses",
    "chat_completions": "/chat/completions",
    "anthropic_messages": "/messages",
    "gemini": f"/models/{_MODEL}:generateContent",
    "cohere_v2": "/chat",
    "bedrock_converse": f"/model/{_MODEL}/converse",
}
"""Where each dialect posts a non-streamed create, relative to the base URL (each dialect's API reference)."""

_FOLDERS: dict[Dialect, str] = {
    "openai_responses": "openai_responses",
    "chat_completions": "chat_completions",
    "anthropic_messages": "anthropic_messages",
    "gemini": "gemini",
    "cohere_v2": "cohere",
    "bedrock_converse": "bedrock_converse",
}
"""The recorded-traffic folder of each dialect."""

_TEMPLATE = {"region": "eu-central-1", "project": "test-project", "resource": "test-resource"}
_IAM_TOKEN = "iam-token-for-the-row-test"
"""What each placeholder's first variable is set to for templated rows."""

_EXAMPLE_HOST = "https://account.example.test"
"""What a per-account host variable (DATABRICKS_HOST, ...) is set to for rows without a default host."""


# ----------------------------------------------------------------------------- recorded replies


def _plain_text_reply(exchange: Exchange, dialect: Dialect) -> bool:
    """A 200 JSON reply holding only text: what a minimal create gets back in ``dialect``."""
    reply = exchange.response_json
    if exchange.status != 200 or not isinstance(reply, dict) or exchange.method != "POST":
        return False
    path = urlsplit(exchange.uri).path
    match dialect:
        case "openai_responses":
            return path.endswith("/responses") and [i["type"] for i in reply.get("output", [])] == ["message"]
        case "chat_completions":
            message = (reply.get("choices") or [{}])[0].get("message", {})
            return path.endswith("/chat/completions") and bool(message.get("content")) and not message.get("tool_calls")
        case "anthropic_messages":
            return path.endswith("/messages") and [b["type"] for b in reply.get("content", [])] == ["text"]
        case "gemini":
            parts = ((reply.get("candidates") or [{}])[0].get("content") or {}).get("parts") or []
            return path.endswith(":generateContent") and bool(parts) and all(set(p) <= {"text"} for p in parts)
        case "cohere_v2":
            content = (reply.get("message") or {}).get("content") or []
            return path.endswith("/v2/chat") and bool(content) and all(c.get("type") == "text" for c in content)
        case "bedrock_converse":
            blocks = ((reply.get("output") or {}).get("message") or {}).get("content") or []
            return path.endswith("/converse") and bool(blocks) and all(set(b) == {"text"} for b in blocks)


@cache
def _recorded_reply(dialect: Dialect) -> dict[str, Any]:
    """The first recorded plain-text reply of the dialect (real provider traffic, ../shared/fixtures)."""
    for exchange in exchanges(_FOLDERS[dialect]):
        if _plain_text_reply(exchange, dialect):
            reply: dict[str, Any] = exchange.response_json
            return reply
    raise AssertionError(f"no recorded plain-text reply for {dialect}")


# ----------------------------------------------------------------------------- the dialects' schemas


def _forbidding(typed: Any) -> TypeAdapter[list[Any]]:
    """A TypedDict from an SDK with unknown keys refused (inside a list, ``extra`` reaches every level)."""
    return TypeAdapter(list[typed], config=ConfigDict(extra="forbid"))


def _check_body(dialect: Dialect, body: dict[str, Any]) -> None:
    """``body`` against the request type of the dialect's own SDK (test-only dependencies, pinned)."""
    match dialect:
        case "openai_responses":
            from openai.types.responses import response_create_params

            _forbidding(response_create_params.ResponseCreateParamsNonStreaming).validate_python([body])
        case "chat_completions":
            from openai.types.chat import completion_create_params

            _forbidding(completion_create_params.CompletionCreateParamsNonStreaming).validate_python([body])
        case "anthropic_messages":
            from anthropic.types import message_create_params

            _forbidding(message_create_params.MessageCreateParamsNonStreaming).validate_python([body])
        case "gemini":
            from google.genai import types

            fields: dict[str, type[pydantic.BaseModel]] = {
                "contents": types.Content,
                "systemInstruction": types.Content,
            }
            fields["tools"] = types.Tool
            fields |= {"toolConfig": types.ToolConfig, "generationConfig": types.GenerationConfig}
            assert set(body) <= set(fields), set(body) - set(fields)
            for name, value in body.items():
                for entry in value if isinstance(value, list) else [value]:
                    fields[name].model_validate_json(json.dumps(entry))
        case "cohere_v2":
            from cohere.v2.client import V2Client

            hints = typing.get_type_hints(V2Client.chat, include_extras=True)
            assert set(body) <= (set(hints) - {"return", "request_options"}) | {"stream"}, set(body)
            for name, value in body.items():
                if name != "stream":
                    TypeAdapter(hints[name]).validate_python(value)
        case "bedrock_converse":
            import botocore.session
            import botocore.validate

            service = botocore.session.get_session().get_service_model("bedrock-runtime")
            shape = service.operation_model("Converse").input_shape
            report = botocore.validate.ParamValidator().validate({"modelId": _MODEL, **body}, shape)
            assert not report.has_errors(), report.generate_report()


# ----------------------------------------------------------------------------- the loopback route


class _ToLoopback(httpx.BaseTransport):
    """Sends every request to the loopback server, keeping the URL the client meant (for the asserts)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.urls: list[str] = []
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _expected_base(row: Provider) -> str:
    if row.name == "azureopenai":  # _core appends Azure's /openai/v1 to any endpoint (its v1 API)
        return _EXAMPLE_HOST + "/openai/v1"
    base = row.base_url.replace("{region_prefix}", _TEMPLATE["region"] + "-")
    for name, value in _TEMPLATE.items():
        base = base.replace("{" + name + "}", value)
    return base or _EXAMPLE_HOST + row.base_path


def _environment(row: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The row's own variables only: its key, and its host where it has no default one."""
    for variable in {p.api_key_env for p in PROVIDERS.values()} | {p.base_url_env for p in PROVIDERS.values()}:
        if variable:
            monkeypatch.delenv(variable, raising=False)
    for fallback in {name for p in PROVIDERS.values() for name in p.key_fallback_env}:  # read when the row's is unset
        monkeypatch.delenv(fallback, raising=False)
    if row.api_key_env:
        monkeypatch.setenv(row.api_key_env, _KEY)
    for other in PROVIDERS.values():
        for _, variables in other.template_env:
            for variable in variables:
                monkeypatch.delenv(variable, raising=False)
    for name, variables in row.template_env:
        monkeypatch.setenv(variables[0], _TEMPLATE[name])
    if not row.base_url:
        assert row.base_url_env, f"{row.name}: no default base URL and no variable to give one"
        monkeypatch.setenv(row.base_url_env, _EXAMPLE_HOST)


def _check_request(row: Provider, request: RecordedRequest, url: str) -> None:
    routes = {"vertex": f"/models/{_MODEL}:rawPredict", "bedrock": f"/model/{_MODEL}/invoke"}
    path = routes.get(row.anthropic_route, _PATHS[row.dialect])
    if row.dialect == "chat_completions" and row.chat.path != "/chat/completions":
        path = row.chat.path
    expected = _expected_base(row) + path
    if row.query:
        expected += "?" + "&".join(f"{name}={value}" for name, value in row.query)
    assert url == expected, f"{row.name}: sent to {url}, the row says {expected}"
    assert request.method == "POST" and request.path.split("?")[0] == urlsplit(expected).path
    headers = {name.lower(): value for name, value in request.headers.items()}
    if row.token_auth == "ibm":  # the key buys an IAM token; it never reaches the API
        assert headers.get("authorization") == f"Bearer {_IAM_TOKEN}" and _KEY not in json.dumps(headers)
    elif row.api_key_env:
        assert headers.get(row.auth_header.lower()) == f"{row.auth_scheme} {_KEY}".strip(), headers
    elif row.token_auth is not None:
        assert headers.get("authorization") == f"Bearer {_KEY}", headers
    else:
        assert _KEY not in json.dumps(headers)
    if row.auth_header and row.auth_header.lower() != "authorization" and row.api_key_env:
        assert "authorization" not in headers, f"{row.name} authenticates with {row.auth_header} only"
    for name, value in row.headers:
        assert headers.get(name.lower()) == value
    body = request.json()
    if row.chat.model_field != "model":  # watsonx.ai: model_id and its project; the rest is OpenAI's chat body
        body["model"] = body.pop(row.chat.model_field)
        for field, _ in row.body_template:
            assert body.pop(field) == _TEMPLATE["project"]
        if "tool_choice_option" in body:
            body["tool_choice"] = body.pop("tool_choice_option")
    if row.anthropic_route != "messages":  # the cloud's route: the model is in the path, the version in the body
        version = {"vertex": "vertex-2023-10-16", "bedrock": "bedrock-2023-05-31"}[row.anthropic_route]
        assert "model" not in body and body.pop("anthropic_version") == version
        body["model"] = _MODEL
    _check_body(row.dialect, body)


@pytest.fixture
def iam_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """IBM Cloud IAM on loopback, handing out one token for any API key."""
    with LoopbackServer(path_prefix="") as server:
        server.default = json_reply({"access_token": _IAM_TOKEN, "expires_in": 3600, "token_type": "Bearer"})
        monkeypatch.setattr("polyresponses.auth._ibm.IAM_TOKEN_URL", f"{server.url}/identity/token")
        yield server


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer(path_prefix="") as server:
        yield server


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_every_row_is_reachable_in_its_dialect(
    name: str, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    row = PROVIDERS[name]
    _environment(row, monkeypatch)
    if row.token_auth == "ibm":  # IBM Cloud IAM on loopback: the key is exchanged there first
        iam: LoopbackServer = request.getfixturevalue("iam_server")
        assert iam.url
    loopback.default = json_reply(_recorded_reply(row.dialect))
    transport = _ToLoopback(int(urlsplit(loopback.url).port or 0))
    tokens = (lambda: _KEY) if row.token_auth is not None and not row.api_key_env else None
    with Client(name, store=False, max_retries=0, transport=transport, token_provider=tokens) as client:
        response = client.responses.create(model=_MODEL, input="Say hi.")
    transport.close()
    assert response.status == "completed" and response.output_text, response
    assert len(loopback.requests) == 1 and not loopback.errors
    _check_request(row, loopback.requests[0], transport.urls[0])


def test_a_host_variable_gets_the_api_path_and_api_base_is_taken_as_it_is() -> None:
    databricks = PROVIDERS["databricks"]
    environ = {"DATABRICKS_TOKEN": "dapi", "DATABRICKS_HOST": "https://w.cloud.databricks.com/"}
    assert (
        resolve_target_parts(databricks, None, None, environ)[0] == "https://w.cloud.databricks.com/serving-endpoints"
    )
    environ["DATABRICKS_HOST"] = "https://w.cloud.databricks.com/serving-endpoints"
    assert (
        resolve_target_parts(databricks, None, None, environ)[0] == "https://w.cloud.databricks.com/serving-endpoints"
    )
    assert resolve_target_parts(databricks, None, "https://proxy.test/x", environ)[0] == "https://proxy.test/x"
    with pytest.raises(ValueError, match="DATABRICKS_HOST"):
        resolve_target_parts(databricks, "k", None, {})


# ----------------------------------------------------------------------------- the rows' shape


_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*")
_AUTH = {("Authorization", "Bearer"), ("x-api-key", ""), ("api-key", ""), ("x-goog-api-key", "")}
_AUTH |= {("x-portkey-api-key", ""), ("", "")}  # no header: watsonx.ai's key is exchanged at IAM
"""Every auth header shape a row may use: a bearer token, or a raw key in a vendor header."""


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_rows_are_well_formed(name: str) -> None:
    row = PROVIDERS[name]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", row.name)
    for variable in (row.api_key_env, row.base_url_env):
        assert variable is None or _VARIABLE.fullmatch(variable), variable
    assert (row.auth_header, row.auth_scheme) in _AUTH
    assert row.base_path == "" or (row.base_path.startswith("/") and not row.base_path.endswith("/"))
    assert not row.base_path or (row.base_url_env and not row.base_url), "base_path completes a host variable"
    if row in HOSTED_ROWS:
        assert row.docs.startswith("https://"), "hosted rows cite the page their facts come from"
        assert row.notes, "hosted rows say where their facts come from"


@cache
def _recorded_urls() -> frozenset[str]:
    return frozenset(e.uri.split("?")[0] for folder in set(_FOLDERS.values()) for e in exchanges(folder))


@pytest.mark.parametrize("name", [n for n, p in PROVIDERS.items() if p.facts == "recorded"])
def test_recorded_rows_were_seen_in_recorded_traffic(name: str) -> None:
    row = PROVIDERS[name]
    path = _PATHS[row.dialect]
    if row.dialect == "gemini":
        seen = any(
            re.fullmatch(re.escape(row.base_url) + r"/models/[^/]+:generateContent", u) for u in _recorded_urls()
        )
    elif row.dialect == "bedrock_converse":
        base = re.escape(row.base_url).replace(re.escape("{region}"), r"[a-z]{2}(-[a-z]+)+-\d")
        seen = any(re.fullmatch(base + r"/model/[^/]+/converse(-stream)?", u) for u in _recorded_urls())
    else:
        seen = row.base_url + path in _recorded_urls()
    assert seen, f"{name} claims recorded facts but {row.base_url}{path} is not in ../shared/fixtures/recorded"


# ----------------------------------------------------------------------------- any-llm


def _any_llm() -> Any:
    try:
        import any_llm.providers.registry
        from any_llm import AnyLLM
    except ImportError as error:  # pragma: no cover - the test group pins any-llm-sdk
        message = f"any-llm-sdk is not installed ({error}): pip install --group test"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AnyLLM, any_llm.providers.registry.PROVIDER_REGISTRY


@cache
def _any_llm_names() -> frozenset[str]:
    from any_llm.constants import LLMProvider

    _, registry = _any_llm()
    return frozenset({member.value for member in LLMProvider} | set(registry))


def test_every_any_llm_provider_is_a_row_or_has_a_reason() -> None:
    names = _any_llm_names()
    missing = sorted(names - set(PROVIDERS) - set(NOT_ROWS))
    assert not missing, f"any-llm providers with no row and no reason in NOT_ROWS: {missing}"
    assert not set(NOT_ROWS) & set(PROVIDERS), "a provider is either a row or in NOT_ROWS"
    assert set(NOT_ROWS) <= names, f"stale NOT_ROWS entries: {sorted(set(NOT_ROWS) - names)}"


_KEY_DIFFERS = {
    "cohere": "CO_API_KEY is what cohere-python reads first; COHERE_API_KEY (any-llm's) is read too",
    "lmstudio": "LM_API_TOKEN is LM Studio's documented variable",
    "gemini": "any-llm names 'GEMINI_API_KEY/GOOGLE_API_KEY'; the row reads GEMINI_API_KEY, then GOOGLE_API_KEY",
    "ollama": "OLLAMA_API_KEY is Ollama Cloud's key; any-llm talks to a local server only",
}
_BASE_DIFFERS = {
    "dashscope": "the international host; any-llm's mainland default is the dashscope_cn row",
    "edenai": "Eden AI's docs give https://api.edenai.run/v3/llm for the OpenAI SDK",
    "minimax": "MiniMax's Anthropic-compatible endpoint, which it recommends; any-llm speaks its chat endpoint",
    "nebius": "api.studio.nebius.com (issue 4's row); any-llm keeps api.studio.nebius.ai",
    "lmstudio": "any-llm's 'localhost:1234' is a host for its lmstudio SDK, not an OpenAI base URL",
    "perplexity": "the Agent API's /v1 (Responses); any-llm's root served the Sonar chat API retired 2026-09-27",
}
"""Where a row deliberately differs from any-llm, and why; any other difference is a typo on one side."""


def _plain(value: object) -> str | None:
    return None if value in (None, "", "None") else str(value)


def test_rows_agree_with_any_llm_on_key_variable_and_base_url() -> None:
    any_llm, _ = _any_llm()
    shared = sorted(_any_llm_names() & set(PROVIDERS))
    disagreements: list[str] = []
    for name in shared:
        row, provider = PROVIDERS[name], any_llm.get_provider_class(name)
        theirs_key = _plain(provider.ENV_API_KEY_NAME)
        if name not in _KEY_DIFFERS and theirs_key != row.api_key_env:
            disagreements.append(f"{name}: key variable {row.api_key_env!r}, any-llm {theirs_key!r}")
        theirs_base = _plain(getattr(provider, "API_BASE", None))
        if name not in _BASE_DIFFERS and theirs_base and theirs_base.rstrip("/") != row.base_url:
            disagreements.append(f"{name}: base URL {row.base_url!r}, any-llm {theirs_base!r}")
    assert not disagreements, "\n".join(disagreements)
    assert len(shared) >= 30, shared  # the comparison has teeth


def test_hosted_rows_do_not_shadow_older_rows() -> None:
    names = [row.name for row in HOSTED_ROWS]
    assert len(names) == len(set(names))
    assert all(PROVIDERS[row.name] is row for row in HOSTED_ROWS), "a hosted row reuses an older row's name"
