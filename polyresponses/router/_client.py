"""``Client`` and ``AsyncClient``: thin shells over the pure core, shaped like openai-python.

``client.responses.create(model=..., input=...)`` takes openai-python's keyword names, so moving
from ``openai.OpenAI(base_url=...)`` is one import. The shells only plan (pure ``_core``), send
(``_http``) and parse (the dialect); sync and async differ in ``await`` and nothing else.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Unpack, assert_never, cast, overload

from polyresponses.router._capabilities import check_endpoint
from polyresponses.router._conversations import AsyncConversations, Conversations
from polyresponses.router._core import (
    build_body,
    get_provider,
    plan_create,
    resolve_target_parts,
    split_options,
    template_values,
)
from polyresponses.router._emulated import LocalEndpoints
from polyresponses.router._errors import (
    APIResponseValidationError,
    InvalidRequestError,
    MissingAPIKeyError,
    UnsupportedFeatureError,
    secrets_scrubbed,
)
from polyresponses.router._http import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncHTTP,
    AsyncHTTPClient,
    AsyncTransport,
    HTTPClient,
    RequestSigner,
    SyncHTTP,
    Target,
    Transport,
)
from polyresponses.router._params import CreateParams
from polyresponses.router._providers import with_dialect
from polyresponses.router._response import ParsedResponse, finalise
from polyresponses.router._state import Recorder, not_found, prepare
from polyresponses.router._stream import AsyncStream, Stream, _Call
from polyresponses.router._tool_policy import HostedTools, ToolPolicy
from polyresponses.router._wire import to_wire, validate_as
from polyresponses.router.dialects import StreamTranslatorLike, WireRequest
from polyresponses.router.dialects import openai_responses as dialect
from polyresponses.store import ResponseStore, open_store

if TYPE_CHECKING:
    from pydantic import BaseModel

    from polyresponses.auth._tokens import TokenProvider
    from polyresponses.mcp import McpOptions
    from polyresponses.mcp._drive import McpPlan
    from polyresponses.router._providers import Dialect, Endpoint, Provider
    from polyresponses.types import (
        CompactResource,
        ConversationItem,
        ConversationItemList,
        ConversationResource,
        DeletedConversationResource,
        Response,
        ResponseItemList,
        TokenCountsResource,
    )

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound="BaseModel")


def _to_parsed(response: Response, response_format: type[T], provider: str) -> ParsedResponse[T]:
    """``response`` as a ``ParsedResponse`` whose ``output_parsed`` is the text validated as the format."""
    from polyresponses.router._structured import parse_output

    text = response.output_text
    parsed: T | None = None
    if text:
        try:
            parsed = parse_output(response_format, text)
        except ValueError as error:
            raise APIResponseValidationError(
                f"output_text is not a valid {getattr(response_format, '__name__', response_format)}: {error}",
                provider=provider,
                body=text,
            ) from error
    result = ParsedResponse[Any].model_construct(_fields_set=set(response.model_fields_set), **dict(response))
    result.output_parsed = parsed
    return cast("ParsedResponse[T]", result)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A planned call: what to send, how, and what to turn the reply into."""

    wire: WireRequest
    max_retries: int
    timeout: float | None
    extra_headers: Mapping[str, str] | None
    finalise: Callable[[Response], Any]
    parse: Callable[[bytes], Response]
    """The dialect's reply parser."""
    translator: Callable[[], StreamTranslatorLike]
    """The dialect's stream translator factory."""
    recorder: Recorder | None = None
    """Records the final response in the store (and says on it what was emulated); ``None``: nothing to do."""
    tools: ToolPolicy | None = None
    """Namespaces flattened / hosted tools left out for this provider: maps the reply back, names the drops."""
    mcp: McpPlan | None = None
    """``mcp`` tools the router runs for this provider (:mod:`polyresponses.mcp`); ``None``: none."""


@dataclass(frozen=True, slots=True)
class _Routed(Generic[R]):
    """A call decided once for both shells: answered from the store (``local``), or ``wire`` sent and parsed."""

    local: Callable[[], R] | None
    wire: WireRequest | None = None
    parse: Callable[[bytes], R] | None = None


def _body_template(provider: Provider, endpoint: Mapping[str, str | None]) -> dict[str, str]:
    if not provider.body_template:
        return {}
    values = template_values(provider, [name for _, name in provider.body_template], os.environ, endpoint)
    return {field: values[name] for field, name in provider.body_template}


def _optional_format(text_format: Any, response_format: Any, client: _Base) -> Any:
    """``stream``'s format type, under either name, if any; both is a clear error."""
    if text_format is not None and response_format is not None:
        raise InvalidRequestError(client.provider.name, "text_format", "give text_format or response_format, not both")
    return text_format if text_format is not None else response_format


def _format_type(text_format: type[T] | None, response_format: type[T] | None, client: _Base) -> type[T]:
    """The one format type ``parse`` was given, under either name; none or both is a clear error."""
    if (text_format is None) == (response_format is None):
        said = "both" if text_format is not None else "neither"
        raise InvalidRequestError(
            client.provider.name, "text_format", f"parse takes text_format (or response_format), {said} given"
        )
    chosen = text_format if text_format is not None else response_format
    assert chosen is not None
    return chosen


def _has_key(provider: Provider) -> bool:
    """Whether the environment holds a key for ``provider`` (which then wins over cloud credentials)."""
    return any(os.environ.get(name) for name in (provider.api_key_env, *provider.key_fallback_env) if name)


def _signer(
    provider: Provider,
    base_url: str,
    secret: str | None,
    token_provider: TokenProvider | None,
    region: str | None = None,
) -> RequestSigner | None:
    """How requests are authenticated beyond a key header: the caller's token provider, the row's cloud
    credentials (Google ADC, Entra ID) or AWS SigV4; refused before the network when none exists."""
    if token_provider is not None:
        from polyresponses.auth._tokens import BearerSigner

        return BearerSigner(token_provider)
    if provider.token_auth == "ibm" and secret is not None:  # the key buys IAM tokens; it is never sent itself
        from polyresponses.auth._ibm import IbmIamTokenProvider
        from polyresponses.auth._tokens import BearerSigner

        return BearerSigner(IbmIamTokenProvider(secret))
    if secret is not None:
        return None
    if provider.token_auth is not None:
        from polyresponses.auth._tokens import BearerSigner, cloud_token_provider

        try:
            return BearerSigner(cloud_token_provider(provider.token_auth, provider.token_scope))
        except ImportError as missing:
            key = f"pass api_key=... or set {provider.api_key_env}, or " if provider.api_key_env else ""
            detail = f"no credentials: {key}pass token_provider=..., or {missing}"
            raise MissingAPIKeyError(provider.name, provider.api_key_env or "<credentials>", detail) from None
    if provider.aws_signing_name is None:
        return None
    from polyresponses.auth._signer import aws_signer

    try:
        signer = aws_signer(provider.aws_signing_name, base_url, region=region)
    except ImportError as missing:
        key = f"pass api_key=... or set {provider.api_key_env}, or " if provider.api_key_env else ""
        raise MissingAPIKeyError(provider.name, provider.api_key_env or "<credentials>", f"{key}{missing}") from None
    if signer is None:
        raise MissingAPIKeyError(
            provider.name,
            provider.api_key_env or "AWS_ACCESS_KEY_ID",
            f"no credentials: pass api_key=... (a Bedrock API key) or set {provider.api_key_env}, or set"
            " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with polyresponses[aws])",
        )
    return signer


StoreSetting = ResponseStore | str | os.PathLike[str] | bool | None
"""A client's ``store=``: a store object, a SQLite path, ``False`` (off) or ``None`` (the default store)."""


class _Base:
    """What both clients share: the provider row, the resolved target, defaults."""

    def __init__(
        self,
        provider: str,
        api_key: str | None,
        api_base: str | None,
        timeout: float | None,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
        dialect: Dialect | None = None,
        store: StoreSetting = None,
        hosted_tools: HostedTools = "refuse",
        token_provider: TokenProvider | None = None,
        endpoint: Mapping[str, str | None] | None = None,
        mcp: McpOptions | None = None,
    ) -> None:
        self.provider: Provider = with_dialect(get_provider(provider), dialect)
        if mcp is None:
            from polyresponses.mcp import McpOptions

            mcp = McpOptions()
        self.mcp_options: McpOptions = mcp
        """How ``mcp`` tools run where the provider cannot run them (:class:`polyresponses.mcp.McpOptions`)."""
        self.hosted_tools: HostedTools = hosted_tools
        """``"drop"``: leave out offered hosted tools the provider cannot run (see ``_tool_policy``)."""
        self.store: ResponseStore | None = open_store(store)
        """Where responses are recorded and chains rebuilt (see :mod:`polyresponses.store`)."""
        self._local = None if self.store is None else LocalEndpoints(self.store, self.provider)
        if token_provider is not None and api_key is not None:
            raise ValueError(f"[{provider}] give api_key or token_provider, not both")
        token_auth = token_provider is not None or (
            self.provider.token_auth not in (None, "ibm") and api_key is None and not _has_key(self.provider)
        )
        base_url, headers, secret = resolve_target_parts(
            self.provider, api_key, api_base, endpoint=endpoint, token_auth=token_auth
        )
        headers.update(default_headers or {})
        self._default_body: dict[str, str] = _body_template(self.provider, endpoint or {})
        """Fields every create carries (watsonx.ai's ``project_id``), under the caller's ``extra_body``."""
        region = (endpoint or {}).get("region")
        signer = _signer(self.provider, base_url, secret, token_provider if token_auth else None, region)
        self._target = Target(self.provider.name, base_url, headers, secret, signer, dict(self.provider.query))
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider.name!r}, base_url={self.base_url!r})"

    def _plan_create(
        self,
        model: str,
        params: Mapping[str, Any],
        *,
        stream: bool,
        response_format: Any = None,
        response_id: str | None = None,
    ) -> _Plan:
        """Plan ``POST /responses``. ``response_id`` names the response ourselves (the gateway's background
        jobs hand out the id before the provider has answered); it is then recorded as ours, not the
        provider's, so a later turn rebuilds the chain from the store."""
        fields, options = split_options(params)
        body, tools, mcp = build_body(
            self.provider,
            model,
            fields,
            stream=stream,
            response_format=response_format,
            extra_body={**self._default_body, **(options.get("extra_body") or {})} or None,
            local_state=self.store is not None,
            hosted_tools=self.hosted_tools,
            mcp_private_addresses=self.mcp_options.allow_private_addresses,
        )
        finaliser: Callable[[Response], Any] = finalise
        if isinstance(response_format, type):
            finaliser = partial(_finalise_parsed, response_format=response_format, provider=self.provider.name)
        state = prepare(self.store, self.provider, body)
        if tools is not None:
            tools.rename_input(state.body)  # a chain rebuilt from the store names its calls' namespaces
        if response_id is not None:
            if state.recorder is None:
                raise InvalidRequestError(self.provider.name, "store", "a response named in advance must be stored")
            state.recorder.rename(response_id)
        if mcp is None:
            body = state.body
            if "mcp" not in self.provider.capabilities.tools:
                from polyresponses.mcp._request import history_as_text

                body = history_as_text(self.provider.name, body)  # a follow-up without the mcp tool
            wire, parse, translator = plan_create(self.provider, body)
            return self._plan(wire, options, finaliser, parse, translator, state.recorder, tools)
        from polyresponses.mcp._drive import McpPlan

        mcp_plan = McpPlan.new(mcp, state.body, self.mcp_options, response_id)
        if state.recorder is not None and response_id is None:
            state.recorder.rename(mcp_plan.response_id)  # one response over several provider turns: our id
        from polyresponses.mcp._request import planning_body

        wire, parse, translator = plan_create(self.provider, planning_body(state.body))
        plan = self._plan(wire, options, finaliser, parse, translator, state.recorder, tools)
        return replace(plan, mcp=mcp_plan)

    def _turn_plan(self, plan: _Plan, body: dict[str, Any]) -> _Plan:
        """One provider turn of an MCP loop: ``body`` planned by the dialect, sent as ``plan`` says,
        recorded by no one (the loop's whole response is)."""
        wire, parse, translator = plan_create(self.provider, body)
        return replace(plan, wire=wire, parse=parse, translator=translator, recorder=None, mcp=None)

    def _plan(
        self,
        wire: WireRequest,
        options: Mapping[str, Any],
        finaliser: Callable[[Response], Any] = finalise,
        parse: Callable[[bytes], Response] | None = None,
        translator: Callable[[], StreamTranslatorLike] | None = None,
        recorder: Recorder | None = None,
        tools: ToolPolicy | None = None,
    ) -> _Plan:
        name = self.provider.name
        return _Plan(
            wire,
            max_retries=options.get("max_retries", self.max_retries),
            timeout=options.get("timeout"),
            extra_headers=options.get("extra_headers"),
            finalise=finaliser,
            parse=parse or partial(dialect.parse_response, provider=name),
            translator=translator or partial(dialect.StreamTranslator, name),
            recorder=recorder,
            tools=tools,
        )

    def _call(self, plan: _Plan) -> _Call:
        return _Call(
            self._target,
            plan.wire,
            plan.max_retries,
            plan.timeout,
            plan.extra_headers,
            plan.finalise,
            plan.parse,
            plan.translator,
            plan.recorder,
            plan.tools,
        )

    def _response(self, reply: bytes, plan: _Plan) -> Response:
        """The reply as a ``Response`` by the plan's dialect; its errors never show the key."""
        with secrets_scrubbed(self._target.secret):
            response = plan.parse(reply)
        if plan.tools is not None:
            plan.tools.restore_response(response)
        if plan.recorder is not None:
            plan.recorder.patch_response(response)
        return response

    def _verbatim(self, reply: bytes) -> bytes | None:
        """``reply`` when it is the ``Response`` JSON itself (the Responses dialect): the store keeps it as is."""
        return reply if self.provider.dialect == "openai_responses" else None

    def _finalised(self, response: Response, finaliser: Callable[[Response], T]) -> T:
        """``response`` passed through ``finaliser`` (structured output); errors never show the key."""
        with secrets_scrubbed(self._target.secret):
            return finaliser(response)

    def _model(self, model: type[M], reply: bytes) -> M:
        """The reply as ``model``; its errors never show the key."""
        with secrets_scrubbed(self._target.secret):
            return dialect.parse_model(model, reply, provider=self.provider.name)

    def _endpoint(self, name: Endpoint, ident: str | None = None, what: str = "response") -> None:
        """Raise unless the provider has the route: not-found when the store was asked first, else unsupported."""
        if self._local is not None and ident is not None and name not in self.provider.capabilities.endpoints:
            raise not_found(self.provider.name, what, ident)
        check_endpoint(self.provider, name)

    # Stored-state calls: each decided once here (store or provider), then run by the sync or async shell.

    def _retrieve(self, response_id: str, include: list[str] | None) -> _Routed[Response]:
        if self._local is not None and (stored := self._local.try_retrieve(response_id)) is not None:
            return _Routed(lambda: stored)
        self._endpoint("retrieve", response_id)
        return _Routed(None, dialect.build_retrieve(response_id, include=include), self._parse_response)

    def _input_items(
        self,
        response_id: str,
        after: str | None,
        limit: int | None,
        order: Literal["asc", "desc"] | None,
        include: list[str] | None,
    ) -> _Routed[ResponseItemList]:
        from polyresponses.types import ResponseItemList

        if self._local is not None:
            page = self._local.try_input_items(response_id, after=after, limit=limit, order=order)
            if page is not None:
                return _Routed(lambda: page)
        self._endpoint("input_items", response_id)
        wire = dialect.build_input_items(response_id, after=after, limit=limit, order=order, include=include)
        return _Routed(None, wire, self._parser(ResponseItemList))

    def _parse_response(self, reply: bytes) -> Response:
        """A whole Responses-API reply (retrieve): the dialect's parser, with the key kept out of errors."""
        with secrets_scrubbed(self._target.secret):
            return dialect.parse_response(reply, provider=self.provider.name)

    def _conversation_route(self, conversation_id: str | None) -> LocalEndpoints | None:
        """The store when it answers for ``conversation_id`` (``None``: a new conversation); ``None`` to ask
        the provider. A conversation the store holds is always answered from it; an unknown one is a 404
        when the provider has no routes; with neither a store nor the routes, unsupported."""
        if conversation_id is None:
            if "conversations" in self.provider.capabilities.endpoints:
                return None
            if self._local is None:
                check_endpoint(self.provider, "conversations")  # raises: no route and no store
            return self._local
        if self._local is not None and self._local.has_conversation(conversation_id):
            return self._local
        self._endpoint("conversations", conversation_id, "conversation")
        return None

    def _routed(
        self,
        conversation_id: str | None,
        local: Callable[[LocalEndpoints], R],
        wire: Callable[[], WireRequest],
        parse: Callable[[bytes], R],
    ) -> _Routed[R]:
        store = self._conversation_route(conversation_id)
        if store is not None:
            return _Routed(partial(local, store))
        return _Routed(None, wire(), parse)

    def _parser(self, model: type[M]) -> Callable[[bytes], M]:
        return partial(self._model, model)

    def _create_conversation(
        self, items: Sequence[Any] | None, metadata: Mapping[str, str] | None
    ) -> _Routed[ConversationResource]:
        from polyresponses.types import ConversationResource

        body = _validated_body("CreateConversationBody", _given(items=items, metadata=metadata), self.provider.name)
        return self._routed(
            None,
            lambda store: store.create_conversation(body),
            lambda: dialect.build_conversation("POST", body=body),
            self._parser(ConversationResource),
        )

    def _retrieve_conversation(self, conversation_id: str) -> _Routed[ConversationResource]:
        from polyresponses.types import ConversationResource

        return self._routed(
            conversation_id,
            lambda store: store.retrieve_conversation(conversation_id),
            lambda: dialect.build_conversation("GET", conversation_id),
            self._parser(ConversationResource),
        )

    def _update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> _Routed[ConversationResource]:
        from polyresponses.types import ConversationResource

        body = _validated_body("UpdateConversationBody", {"metadata": metadata}, self.provider.name)
        return self._routed(
            conversation_id,
            lambda store: store.update_conversation(conversation_id, body),
            lambda: dialect.build_conversation("POST", conversation_id, body=body),
            self._parser(ConversationResource),
        )

    def _delete_conversation(self, conversation_id: str) -> _Routed[DeletedConversationResource]:
        from polyresponses.types import DeletedConversationResource

        return self._routed(
            conversation_id,
            lambda store: store.delete_conversation(conversation_id),
            lambda: dialect.build_conversation("DELETE", conversation_id),
            self._parser(DeletedConversationResource),
        )

    def _list_items(
        self,
        conversation_id: str,
        after: str | None,
        limit: int | None,
        order: Literal["asc", "desc"] | None,
        include: list[str] | None,
    ) -> _Routed[ConversationItemList]:
        from polyresponses.types import ConversationItemList

        return self._routed(
            conversation_id,
            lambda store: store.list_items(conversation_id, after=after, limit=limit, order=order),
            lambda: dialect.build_conversation(
                "GET", conversation_id, items=True, after=after, limit=limit, order=order, include=include
            ),
            self._parser(ConversationItemList),
        )

    def _add_items(
        self, conversation_id: str, items: Sequence[Any], include: Sequence[str] | None
    ) -> _Routed[ConversationItemList]:
        from polyresponses.types import ConversationItemList

        body = _validated_body("CreateConversationBody", {"items": items}, self.provider.name)
        return self._routed(
            conversation_id,
            lambda store: store.add_items(conversation_id, body),
            lambda: dialect.build_conversation(
                "POST", conversation_id, items=True, body=body, include=list(include) if include is not None else None
            ),
            self._parser(ConversationItemList),
        )

    def _retrieve_item(self, conversation_id: str, item_id: str) -> _Routed[ConversationItem]:
        return self._routed(
            conversation_id,
            lambda store: store.retrieve_item(conversation_id, item_id),
            lambda: dialect.build_conversation("GET", conversation_id, item_id),
            self._conversation_item,
        )

    def _delete_item(self, conversation_id: str, item_id: str) -> _Routed[ConversationResource]:
        from polyresponses.types import ConversationResource

        return self._routed(
            conversation_id,
            lambda store: store.delete_item(conversation_id, item_id),
            lambda: dialect.build_conversation("DELETE", conversation_id, item_id),
            self._parser(ConversationResource),
        )

    def _input_tokens(self, body: Mapping[str, Any]) -> _Routed[TokenCountsResource]:
        """``POST /responses/input_tokens``, or the provider's own counting route in its dialect."""
        from polyresponses.router.dialects import token_counts
        from polyresponses.types import TokenCountsResource

        name = self.provider.name
        checked = _validated_body("TokenCountsBody", body, name)
        if self.provider.anthropic_route != "messages":
            # Claude on Vertex AI and on Bedrock's InvokeModel counts on routes of their own, not wired here.
            raise UnsupportedFeatureError(name, "input_tokens.count on this cloud surface")
        match self.provider.dialect:
            case "anthropic_messages":
                wire, field = token_counts.build_anthropic_count(checked, provider=name), "input_tokens"
            case "gemini":
                vertex = "aiplatform.googleapis.com" in self.provider.base_url  # Vertex's body shape
                wire = token_counts.build_gemini_count(checked, provider=name, vertex=vertex)
                field = "totalTokens"
            case "bedrock_converse":
                wire, field = token_counts.build_bedrock_count(checked, provider=name), "inputTokens"
            case "openai_responses" | "chat_completions" | "cohere_v2":
                self._endpoint("input_tokens")  # refused unless the row lists the route (Cohere's has none)
                return _Routed(None, dialect.build_input_tokens(checked), self._parser(TokenCountsResource))
            case _:
                assert_never(self.provider.dialect)
        parse = token_counts.parse_count(field)
        return _Routed(None, wire, lambda reply: self._scrubbed(parse, reply))

    def _scrubbed(self, parse: Callable[[bytes, str], R], reply: bytes) -> R:
        with secrets_scrubbed(self._target.secret):
            return parse(reply, self.provider.name)

    def _conversation_item(self, reply: bytes) -> ConversationItem:
        with secrets_scrubbed(self._target.secret):
            return dialect.parse_conversation_item(reply, provider=self.provider.name)


def _finalise_parsed(response: Response, *, response_format: type[T], provider: str) -> ParsedResponse[T]:
    return _to_parsed(finalise(response), response_format, provider)


def _given(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _validated_body(model_name: str, body: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """Validate a secondary endpoint's body as its generated model and dump it with the one helper."""
    import polyresponses.types as types

    return to_wire(validate_as(getattr(types, model_name), dict(body), provider), given_only=True)


# ---------------------------------------------------------------------------------------------- sync


class Client(_Base):
    """A client for one provider. ``client.responses`` has openai-python's methods.

    ``http_client`` (an ``httpx.Client``) or ``transport`` may be injected; an injected client is
    never closed by us. Use as a context manager, or call :meth:`close`. ``dialect="chat_completions"``
    talks to the provider's ``/chat/completions`` instead (local servers, OpenAI compatible hosts).
    """

    def __init__(
        self,
        provider: str = "openai",
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: HTTPClient | None = None,
        transport: Transport | None = None,
        dialect: Dialect | None = None,
        store: StoreSetting = None,
        hosted_tools: HostedTools = "refuse",
        token_provider: TokenProvider | None = None,
        region: str | None = None,
        project: str | None = None,
        resource: str | None = None,
        mcp: McpOptions | None = None,
    ) -> None:
        endpoint = {"region": region, "project": project, "resource": resource}
        super().__init__(
            provider,
            api_key,
            api_base,
            timeout,
            max_retries,
            default_headers,
            dialect,
            store,
            hosted_tools,
            token_provider,
            endpoint,
            mcp,
        )
        self._http = SyncHTTP(http_client=http_client, transport=transport, timeout=timeout)
        self.responses = Responses(self)
        self.conversations = Conversations(self)
        """``client.conversations``: the Conversations API (:mod:`polyresponses.router._conversations`)."""

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, plan: _Plan) -> bytes:
        response = self._http.send(
            self._target,
            plan.wire,
            max_retries=plan.max_retries,
            timeout=plan.timeout,
            extra_headers=plan.extra_headers,
        )
        return response.content

    def _stream(self, plan: _Plan) -> Stream[Any]:
        if plan.mcp is not None:
            from polyresponses.mcp._drive import McpStream

            return McpStream(self, plan)
        return Stream(self._http, self._call(plan))

    def _create(self, plan: _Plan) -> Response:
        """A planned non-streamed create: sent, parsed, recorded (with its MCP loop, if it has one)."""
        if plan.mcp is not None:
            from polyresponses.mcp._drive import run_sync

            return run_sync(self, plan)
        reply = self._send(plan)
        return self._recorded(self._response(reply, plan), plan, reply)

    def _run(self, routed: _Routed[R]) -> R:
        """A decided call: from the store, or sent and parsed."""
        if routed.local is not None:
            return routed.local()
        assert routed.wire is not None and routed.parse is not None
        return routed.parse(self._send(self._plan(routed.wire, {})))

    def _recorded(self, response: Response, plan: _Plan, reply: bytes) -> Response:
        if plan.recorder is not None:
            plan.recorder.record(response, self._verbatim(reply))
        return response


class Responses:
    """``client.responses``: create, stream, parse, retrieve, delete, cancel, compact, input items, tokens."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.input_items = InputItems(client)
        self.input_tokens = InputTokens(client)

    @overload
    def create(self, *, model: str, stream: Literal[True], **params: Unpack[CreateParams]) -> Stream[Response]: ...
    @overload
    def create(
        self, *, model: str, stream: Literal[False] | None = None, **params: Unpack[CreateParams]
    ) -> Response: ...
    def create(
        self, *, model: str, stream: bool | None = None, **params: Unpack[CreateParams]
    ) -> Response | Stream[Response]:
        """``POST /responses``. With ``stream=True`` the request is sent now and a :class:`Stream` returned."""
        client = self._client
        plan = client._plan_create(model, params, stream=bool(stream))
        if stream:
            return cast("Stream[Response]", client._stream(plan).open())
        return client._create(plan)

    @overload
    def stream(
        self,
        *,
        model: str,
        text_format: None = None,
        response_format: None = None,
        **params: Unpack[CreateParams],
    ) -> Stream[Response]: ...
    @overload
    def stream(
        self, *, model: str, text_format: type[T], response_format: None = None, **params: Unpack[CreateParams]
    ) -> Stream[ParsedResponse[T]]: ...
    @overload
    def stream(
        self, *, model: str, text_format: None = None, response_format: type[T], **params: Unpack[CreateParams]
    ) -> Stream[ParsedResponse[T]]: ...
    def stream(
        self, *, model: str, text_format: Any = None, response_format: Any = None, **params: Unpack[CreateParams]
    ) -> Stream[Any]:
        """A stream to use in ``with``: the request is sent on entry. Parsed at the end with a format type."""
        return self._client._stream(
            self._client._plan_create(
                model, params, stream=True, response_format=_optional_format(text_format, response_format, self._client)
            )
        )

    def parse(
        self,
        *,
        model: str,
        text_format: type[T] | None = None,
        response_format: type[T] | None = None,
        **params: Unpack[CreateParams],
    ) -> ParsedResponse[T]:
        """``create`` with structured output: ``output_parsed`` holds the text validated as the format type,
        given as ``text_format`` (openai-python's name) or ``response_format`` (any-llm's)."""
        client = self._client
        plan = client._plan_create(
            model, params, stream=False, response_format=_format_type(text_format, response_format, client)
        )
        response = client._create(plan)
        return cast("ParsedResponse[T]", client._finalised(response, plan.finalise))

    def retrieve(self, response_id: str, *, include: list[str] | None = None) -> Response:
        """``GET /responses/{id}``; from the response store when the provider does not keep it."""
        return self._client._run(self._client._retrieve(response_id, include))

    def delete(self, response_id: str) -> None:
        """``DELETE /responses/{id}``: at the provider when it keeps it, and from the response store."""
        client = self._client
        if client._local is not None and client._local.try_delete(response_id):
            return
        client._endpoint("delete", response_id)
        client._send(client._plan(dialect.build_delete(response_id), {}))
        if client._local is not None:
            client._local.delete(response_id)

    def cancel(self, response_id: str) -> Response:
        """``POST /responses/{id}/cancel`` (background responses)."""
        self._client._endpoint("cancel")
        plan = self._client._plan(dialect.build_cancel(response_id), {})
        return self._client._response(self._client._send(plan), plan)

    def compact(self, **body: Any) -> CompactResource:
        """``POST /responses/compact``; ``body`` is ``CompactResponseMethodPublicBody``."""
        from polyresponses.types import CompactResource

        client = self._client
        client._endpoint("compact")
        wire = dialect.build_compact(_validated_body("CompactResponseMethodPublicBody", body, client.provider.name))
        return client._model(CompactResource, client._send(client._plan(wire, {})))


class InputItems:
    """``client.responses.input_items``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        response_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        include: list[str] | None = None,
    ) -> ResponseItemList:
        """``GET /responses/{id}/input_items``: one page (from the response store when the provider keeps none)."""
        return self._client._run(self._client._input_items(response_id, after, limit, order, include))


class InputTokens:
    """``client.responses.input_tokens``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def count(self, **body: Any) -> TokenCountsResource:
        """``POST /responses/input_tokens`` (Anthropic's and Gemini's own counting routes for those); ``body``
        is ``TokenCountsBody``."""
        return self._client._run(self._client._input_tokens(body))


# --------------------------------------------------------------------------------------------- async


class AsyncClient(_Base):
    """The ``asyncio`` twin of :class:`Client`; ``http_client`` is an ``httpx.AsyncClient``."""

    def __init__(
        self,
        provider: str = "openai",
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: AsyncHTTPClient | None = None,
        transport: AsyncTransport | None = None,
        dialect: Dialect | None = None,
        store: StoreSetting = None,
        hosted_tools: HostedTools = "refuse",
        token_provider: TokenProvider | None = None,
        region: str | None = None,
        project: str | None = None,
        resource: str | None = None,
        mcp: McpOptions | None = None,
    ) -> None:
        endpoint = {"region": region, "project": project, "resource": resource}
        super().__init__(
            provider,
            api_key,
            api_base,
            timeout,
            max_retries,
            default_headers,
            dialect,
            store,
            hosted_tools,
            token_provider,
            endpoint,
            mcp,
        )
        self._http = AsyncHTTP(http_client=http_client, transport=transport, timeout=timeout)
        self.responses = AsyncResponses(self)
        self.conversations = AsyncConversations(self)
        """``client.conversations``: the Conversations API (:mod:`polyresponses.router._conversations`)."""

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _send(self, plan: _Plan) -> bytes:
        response = await self._http.send(
            self._target,
            plan.wire,
            max_retries=plan.max_retries,
            timeout=plan.timeout,
            extra_headers=plan.extra_headers,
        )
        return response.content

    def _stream(self, plan: _Plan) -> AsyncStream[Any]:
        if plan.mcp is not None:
            from polyresponses.mcp._drive import AsyncMcpStream

            return AsyncMcpStream(self, plan)
        return AsyncStream(self._http, self._call(plan))

    async def _run(self, decide: Callable[[], _Routed[R]]) -> R:
        """Decide the call in a worker thread (it may read the store), then run it there or send it."""
        routed = await asyncio.to_thread(decide)
        if routed.local is not None:
            return await asyncio.to_thread(routed.local)
        assert routed.wire is not None and routed.parse is not None
        return routed.parse(await self._send(self._plan(routed.wire, {})))

    async def _create(self, plan: _Plan) -> Response:
        """A planned non-streamed create: sent, parsed, recorded (with its MCP loop, if it has one)."""
        if plan.mcp is not None:
            from polyresponses.mcp._drive import run_async

            return await run_async(self, plan)
        reply = await self._send(plan)
        return await self._recorded(self._response(reply, plan), plan, reply)

    async def _recorded(self, response: Response, plan: _Plan, reply: bytes) -> Response:
        if plan.recorder is not None:
            await plan.recorder.arecord(response, self._verbatim(reply))
        return response


class AsyncResponses:
    """``async_client.responses``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.input_items = AsyncInputItems(client)
        self.input_tokens = AsyncInputTokens(client)

    @overload
    async def create(
        self, *, model: str, stream: Literal[True], **params: Unpack[CreateParams]
    ) -> AsyncStream[Response]: ...
    @overload
    async def create(
        self, *, model: str, stream: Literal[False] | None = None, **params: Unpack[CreateParams]
    ) -> Response: ...
    async def create(
        self, *, model: str, stream: bool | None = None, **params: Unpack[CreateParams]
    ) -> Response | AsyncStream[Response]:
        """``POST /responses``. With ``stream=True`` the request is sent now and an :class:`AsyncStream` returned."""
        client = self._client
        plan = client._plan_create(model, params, stream=bool(stream))
        if stream:
            return cast("AsyncStream[Response]", await client._stream(plan).open())
        return await client._create(plan)

    @overload
    def stream(
        self,
        *,
        model: str,
        text_format: None = None,
        response_format: None = None,
        **params: Unpack[CreateParams],
    ) -> AsyncStream[Response]: ...
    @overload
    def stream(
        self, *, model: str, text_format: type[T], response_format: None = None, **params: Unpack[CreateParams]
    ) -> AsyncStream[ParsedResponse[T]]: ...
    @overload
    def stream(
        self, *, model: str, text_format: None = None, response_format: type[T], **params: Unpack[CreateParams]
    ) -> AsyncStream[ParsedResponse[T]]: ...
    def stream(
        self, *, model: str, text_format: Any = None, response_format: Any = None, **params: Unpack[CreateParams]
    ) -> AsyncStream[Any]:
        """A stream to use in ``async with``: the request is sent on entry."""
        return self._client._stream(
            self._client._plan_create(
                model, params, stream=True, response_format=_optional_format(text_format, response_format, self._client)
            )
        )

    async def parse(
        self,
        *,
        model: str,
        text_format: type[T] | None = None,
        response_format: type[T] | None = None,
        **params: Unpack[CreateParams],
    ) -> ParsedResponse[T]:
        """``create`` with structured output: ``output_parsed`` holds the text validated as the format type,
        given as ``text_format`` (openai-python's name) or ``response_format`` (any-llm's)."""
        client = self._client
        plan = client._plan_create(
            model, params, stream=False, response_format=_format_type(text_format, response_format, client)
        )
        response = await client._create(plan)
        return cast("ParsedResponse[T]", client._finalised(response, plan.finalise))

    async def retrieve(self, response_id: str, *, include: list[str] | None = None) -> Response:
        """``GET /responses/{id}``; from the response store when the provider does not keep it."""
        return await self._client._run(partial(self._client._retrieve, response_id, include))

    async def delete(self, response_id: str) -> None:
        """``DELETE /responses/{id}``: at the provider when it keeps it, and from the response store."""
        client = self._client
        if client._local is not None and await asyncio.to_thread(client._local.try_delete, response_id):
            return
        client._endpoint("delete", response_id)
        await client._send(client._plan(dialect.build_delete(response_id), {}))
        if client._local is not None:
            await asyncio.to_thread(client._local.delete, response_id)

    async def cancel(self, response_id: str) -> Response:
        """``POST /responses/{id}/cancel`` (background responses)."""
        self._client._endpoint("cancel")
        plan = self._client._plan(dialect.build_cancel(response_id), {})
        return self._client._response(await self._client._send(plan), plan)

    async def compact(self, **body: Any) -> CompactResource:
        """``POST /responses/compact``; ``body`` is ``CompactResponseMethodPublicBody``."""
        from polyresponses.types import CompactResource

        client = self._client
        client._endpoint("compact")
        wire = dialect.build_compact(_validated_body("CompactResponseMethodPublicBody", body, client.provider.name))
        reply = await client._send(client._plan(wire, {}))
        return client._model(CompactResource, reply)


class AsyncInputItems:
    """``async_client.responses.input_items``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(
        self,
        response_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        include: list[str] | None = None,
    ) -> ResponseItemList:
        """``GET /responses/{id}/input_items``: one page (from the response store when the provider keeps none)."""
        return await self._client._run(partial(self._client._input_items, response_id, after, limit, order, include))


class AsyncInputTokens:
    """``async_client.responses.input_tokens``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def count(self, **body: Any) -> TokenCountsResource:
        """``POST /responses/input_tokens`` (Anthropic's and Gemini's own counting routes for those)."""
        return await self._client._run(partial(self._client._input_tokens, body))
