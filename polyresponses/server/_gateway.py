"""The gateway's core: who is asking, which provider answers, and one create path for every transport.

The HTTP routes (:mod:`._app`), the WebSocket mode (:mod:`._websocket`) and background jobs
(:mod:`._background`) all go through :class:`Gateway`, which in turn goes through the library's
``AsyncClient`` (one per provider row, all sharing one response store): request validation,
dialects, capability checks, state emulation and stream translation are the router's, never a
second copy. What the gateway adds is what a shared server needs: gateway keys, ownership of every
stored object (another key's id is answered exactly as a missing one), aliases with default
parameters, and refusing what a client must not choose (the upstream, transport options).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from polyresponses.router._client import AsyncClient
from polyresponses.router._errors import APIError, MissingAPIKeyError, PolyresponsesError
from polyresponses.router._http import fast_async_transport
from polyresponses.router._model_string import parse_model_string
from polyresponses.router._providers import PROVIDERS, Capabilities, Provider
from polyresponses.router._wire import to_reply
from polyresponses.server._config import (
    ConfigError,
    GatewayConfig,
    GatewayKey,
    ProviderSettings,
    is_loopback,
    key_digest,
)
from polyresponses.server._errors import GatewayError, as_gateway_error, not_found
from polyresponses.server._metrics import Metrics
from polyresponses.server.ledger import Ledger, open_ledger
from polyresponses.store import ResponseStore, default_store_path, flush, open_store
from polyresponses.store._records import NoWaitWrites, OwnerClaim, WouldWait

if TYPE_CHECKING:
    from polyresponses.router._client import _Plan
    from polyresponses.router._emulated import LocalEndpoints
    from polyresponses.router._stream import AsyncStream
    from polyresponses.server._compaction import Sealer
    from polyresponses.types import Response

__all__ = [
    "ANONYMOUS",
    "GATEWAY_ROW",
    "Created",
    "Gateway",
    "Principal",
    "api_shape",
    "failed_events",
    "ledger_path",
    "this_machine_only",
]

log = logging.getLogger("polyresponses.server")

T = TypeVar("T")
_CHECKPOINT_SECONDS = 1.0

ANONYMOUS = "-"
"""The owner of everything made when no gateway keys are configured (the server then binds loopback only)."""

_REFUSED_FIELDS = {
    "api_key": "the gateway holds the provider keys",
    "extra_headers": "transport options are the operator's",
    "extra_body": "send the fields in the body itself",
    "timeout": "transport options are the operator's",
    "max_retries": "transport options are the operator's",
    "client_args": "transport options are the operator's",
    "provider": "name the provider in model, as 'provider:model'",
    "dialect": "the operator sets a provider's dialect",
}
_BASE_URL_FIELDS = ("api_base", "base_url")

GATEWAY_ROW = Provider(name="gateway", base_url="", key_required=False, capabilities=Capabilities())
"""What the store answers as for conversations, which belong to the gateway, not to one provider."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the owner name stored with their objects, and their key's limits."""

    owner: str
    key: GatewayKey | None = None


@dataclass(slots=True)
class Created:
    """A create request resolved and checked, ready to send."""

    principal: Principal
    provider: str
    model: str
    """The model as the provider names it."""
    label: str
    """The model as metrics show it: the alias, or ``provider:model``."""
    client: AsyncClient
    params: dict[str, Any]
    """The body fields without ``model``, ``stream`` and ``background``."""
    stream: bool = False
    background: bool = False
    started: float = field(default_factory=time.perf_counter)
    dropped_tools: list[str] = field(default_factory=list)
    """Hosted tools left out because the provider cannot run them (``drop_unsupported_hosted_tools``)."""

    def _planned(self, plan: _Plan) -> _Plan:
        """Note what the plan left out (the reply says so in a header; the log warns)."""
        if plan.tools is not None and plan.tools.dropped:
            self.dropped_tools = list(plan.tools.dropped)
            log.warning(
                "left out hosted tool(s) %s: provider %r cannot run them", ", ".join(self.dropped_tools), self.provider
            )
        return plan


def ledger_path(config: GatewayConfig, environ: Mapping[str, str]) -> str:
    """Where the gateway keeps its state: the response store's file or database (``:memory:`` stays in
    memory); the ledger's tables live beside the store's."""
    setting = config.store or environ.get("POLYRESPONSES_STORE") or ""
    if setting == ":memory:":
        return ":memory:"
    return setting or str(default_store_path(environ))


class Gateway:
    """One gateway: its config, store, ledger, provider clients, metrics and background jobs."""

    def __init__(self, config: GatewayConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        path = ledger_path(config, self.environ)
        self.store_location = path
        self.store: ResponseStore = _open(path)
        self.ledger: Ledger = open_ledger(path, self.store)
        self.metrics = Metrics()
        self._clients: dict[tuple[str, str | None], AsyncClient] = {}
        self._sealer: Sealer | None = None
        from polyresponses.mcp import McpOptions

        try:
            self._mcp_options = McpOptions(
                max_turns=config.mcp_max_turns,
                call_timeout=config.mcp_call_timeout_seconds,
                allow_private_addresses=config.mcp_allow_private_addresses,
            )
        except ValueError as error:
            raise ConfigError(f"{config.source}: [server] {error}") from None
        from polyresponses.server._background import Jobs

        self.jobs = Jobs(self)
        self._nowait: tuple[NoWaitWrites, NoWaitWrites] | None = None
        """The store and ledger whose writes are tried on the loop (:meth:`write`): set by :meth:`start`
        for SQLite or memory, once their commits no longer checkpoint."""
        self._checkpoints: asyncio.Task[None] | None = None

    @property
    def sealer(self) -> Sealer:
        """Seals and opens the gateway's compaction items (made on first use: it loads ``cryptography``)."""
        if self._sealer is None:
            from polyresponses.server._compaction import Sealer

            self._sealer = Sealer.for_store(self.store_location, self.environ)
        return self._sealer

    async def start(self) -> None:
        """Check the store (its schema: a database this version does not know is refused here, before the
        gateway listens), then start the background jobs' lease keeper."""
        await asyncio.to_thread(self.ledger.ping)
        await self.jobs.start()
        store, database = self.store, self.ledger.database
        if isinstance(store, NoWaitWrites) and isinstance(database, NoWaitWrites):
            # commits on the loop must not sync the file: a thread checkpoints instead
            await asyncio.to_thread(store.manual_checkpoints)
            await asyncio.to_thread(database.manual_checkpoints)
            self._checkpoints = asyncio.ensure_future(self._checkpoint_every(_CHECKPOINT_SECONDS))
            self._nowait = (store, database)

    async def aclose(self) -> None:
        self._nowait = None
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.wait([self._checkpoints])  # its own cancellation stays in it; ours would propagate
        await self.jobs.stop()
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        await asyncio.to_thread(self.ledger.close)

    async def write(self, work: Callable[[], T]) -> T:
        """Run ``work``, a write of the store and the ledger: here on the loop when neither would wait for
        anything (SQLite whose lock and file are free at once, or memory: ~25 us), else in a worker thread
        (PostgreSQL, a busy SQLite file). The thread hop costs ~150 us of every request's latency on the
        benchmark machine (``bench/gateway.py``). ``work`` must be safe to run again: a try that would wait
        writes nothing, and the thread then does the whole of it."""
        if self._nowait is not None:
            store, database = self._nowait
            try:
                with store.nowait(), database.nowait():
                    return work()
            except WouldWait:
                pass
        return await asyncio.to_thread(work)

    async def _checkpoint_every(self, seconds: float) -> None:
        """Copy the WAL into the database from a thread once a period (commits no longer do it: it syncs
        the file). Nothing to copy costs next to nothing."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(self._checkpoint)
            except Exception as error:  # the next period tries again; a checkpoint only bounds the WAL
                log.warning("store checkpoint failed: %s", type(error).__name__)

    def _checkpoint(self) -> None:
        for database in self._nowait or ():  # none once closing: the ledger may be closed under this thread
            database.checkpoint()

    # who is asking

    async def admit(self, authorization: str | None) -> Principal:
        """:meth:`authenticate`, then count the request against the key's rate limit."""
        principal = self.authenticate(authorization)
        await self.check_rate(principal)
        return principal

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller from ``Authorization: Bearer <key>``; with no keys configured, everyone is one owner."""
        keys = self.config.keys
        if not keys:
            principal = Principal(ANONYMOUS)
        else:
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise GatewayError(
                    401, "missing gateway key: send 'Authorization: Bearer <key>'", "invalid_request", "invalid_api_key"
                )
            digest = key_digest(token.strip())
            match = next((key for key in keys if hmac.compare_digest(key.digest, digest)), None)
            if match is None:
                raise GatewayError(401, "invalid gateway key", "invalid_request", "invalid_api_key")
            principal = Principal(match.name, match)
        return principal

    async def check_rate(self, principal: Principal) -> None:
        """Count one request against the key's ``requests_per_minute`` (429 past it), in the ledger: every
        process and replica sharing the store counts against the one limit."""
        per_minute = self.config.requests_per_minute
        if per_minute <= 0:
            return
        retry_after = await self.write(functools.partial(self.ledger.count_request, principal.owner, per_minute))
        if retry_after is not None:
            raise GatewayError(
                429,
                f"rate limit of {per_minute} requests per minute reached for this key",
                "too_many_requests",
                "rate_limit_exceeded",
                headers={"Retry-After": str(retry_after)},
            )

    # which provider answers

    def client(self, provider: str, api_base: str | None = None) -> AsyncClient:
        """The pooled client for ``provider`` (and a client-chosen base URL, when the operator allows it)."""
        cached = self._clients.get((provider, api_base))
        if cached is not None:
            return cached
        settings = self.config.providers.get(provider)
        key: str | None = None
        if settings is not None and settings.api_key_env:
            key = self.environ.get(settings.api_key_env)
            if not key:
                raise MissingAPIKeyError(provider, settings.api_key_env)
        else:
            row = PROVIDERS[provider]
            for variable in (row.api_key_env, *row.key_fallback_env):
                key = (self.environ.get(variable) or None) if variable else None
                if key is not None:
                    break
        base = api_base or (settings.base_url if settings is not None else None)
        dialect = settings.dialect if settings is not None else None
        try:
            client = self._new_client(provider, key, base, dialect, settings)
        except ValueError as error:  # no base URL for a row that has none by default
            raise GatewayError(
                400,
                f"provider {provider!r} is not configured on this gateway: {error}",
                code="provider_not_configured",
                param="model",
            ) from None
        self._clients[(provider, api_base)] = client
        return client

    def _new_client(
        self, provider: str, key: str | None, base: str | None, dialect: str | None, settings: ProviderSettings | None
    ) -> AsyncClient:
        return AsyncClient(
            provider,
            api_key=key,
            api_base=base,
            dialect=dialect,  # type: ignore[arg-type]  # checked by the config loader
            store=self.store,
            hosted_tools="drop" if self.config.drop_unsupported_hosted_tools else "refuse",
            max_retries=self.config.upstream_max_retries,
            timeout=self.config.upstream_timeout_seconds,
            region=settings.region if settings is not None else None,
            project=settings.project if settings is not None else None,
            resource=settings.resource if settings is not None else None,
            mcp=self._mcp_options,
            transport=fast_async_transport(),
        )

    def resolve_model(self, principal: Principal, model: Any) -> tuple[str, str, str, Mapping[str, Any]]:
        """``(provider, model, label, alias defaults)`` for ``model``; 404 when this key may not use it."""
        if not isinstance(model, str) or not model:
            raise GatewayError(
                400,
                "model must be a non-empty string such as 'openai:gpt-4o' or an alias",
                param="model",
                code="invalid_value",
            )
        alias = self.config.aliases.get(model)
        target = alias.model if alias is not None else model
        try:
            provider, name = parse_model_string(target, None, PROVIDERS)
        except ValueError as error:
            raise GatewayError(
                404, f"the model {model!r} does not exist: {error}", "not_found", "model_not_found", "model"
            ) from None
        key = principal.key
        if key is not None and not key.allows(model if alias is not None else None, provider, name):
            raise GatewayError(
                404,
                f"the model {model!r} does not exist or this key may not use it",
                "not_found",
                "model_not_found",
                "model",
            )
        return (
            provider,
            name,
            model if alias is not None else f"{provider}:{name}",
            alias.defaults if alias is not None else {},
        )

    def _api_base(self, body: dict[str, Any]) -> str | None:
        chosen: str | None = None
        for name in _BASE_URL_FIELDS:
            value = body.pop(name, None)
            if value is None:
                continue
            host = urlsplit(value).hostname if isinstance(value, str) else None
            if host is None or host not in self.config.allowed_base_url_hosts:
                raise GatewayError(
                    400,
                    f"{name} is not accepted: the gateway chooses the upstream (the operator may allow hosts "
                    "with allowed_base_url_hosts)",
                    param=name,
                    code="forbidden_parameter",
                )
            chosen = value
        return chosen

    async def check_owned(self, principal: Principal, kind: str, ident: Any, param: str | None = None) -> str:
        """The provider answering for ``ident`` when ``principal`` owns it; the one 404 otherwise."""
        if not isinstance(ident, str) or not ident:
            raise GatewayError(
                400, f"{param or kind + ' id'} must be a non-empty string", param=param, code="invalid_value"
            )
        provider = await asyncio.to_thread(self.ledger.provider_of, kind, ident, principal.owner)  # type: ignore[arg-type]
        if provider is None:
            error = not_found(kind.capitalize(), ident)
            error.param = param
            raise error
        return provider

    async def prepare_create(self, principal: Principal, body: Any) -> Created:
        """Validate what only the gateway checks and resolve the provider; the router checks the rest."""
        if not isinstance(body, dict):
            raise GatewayError(400, "the request body must be a JSON object", code="invalid_json")
        body = dict(body)
        for name, why in _REFUSED_FIELDS.items():
            if name in body:
                raise GatewayError(
                    400, f"{name} is not accepted by the gateway: {why}", param=name, code="forbidden_parameter"
                )
        api_base = self._api_base(body)
        provider, model, label, defaults = self.resolve_model(principal, body.pop("model", None))
        stream = body.pop("stream", False)
        background = body.pop("background", False)
        for name, value in (("stream", stream), ("background", background)):
            if value is not None and not isinstance(value, bool):
                raise GatewayError(400, f"{name} must be a boolean", param=name, code="invalid_type")
        params = {**defaults, **body}
        if _has_sealed_compaction(params.get("input")):
            from polyresponses.server._compaction import open_compactions

            params["input"] = await asyncio.to_thread(
                open_compactions, self.sealer, principal.owner, params["input"], self.ledger.known_key
            )
        if (previous := params.get("previous_response_id")) is not None:
            await self.check_owned(principal, "response", previous, "previous_response_id")
        if (conversation := params.get("conversation")) is not None:
            ident = conversation.get("id") if isinstance(conversation, dict) else conversation
            await self.check_owned(principal, "conversation", ident, "conversation")
        if background and params.get("store") is False:
            raise GatewayError(
                400,
                "background responses must be stored: store=false cannot be combined with background=true",
                param="store",
                code="invalid_value",
            )
        client = self.client(provider, api_base)
        return Created(principal, provider, model, label, client, params, bool(stream), bool(background))

    # one create path

    async def plan(self, created: Created, *, stream: bool, response_id: str | None = None) -> _Plan:
        """The router's plan for ``created`` (validation, capability checks, state, tools): everything that
        can refuse the request, before anything is sent or queued. In a worker thread when it reads the
        store (a chain, a conversation: it may wait for another process's write); inline otherwise, since
        it is then pure and a thread hop costs more than the planning."""
        client = created.client
        rid = response_id or self._own_id(created)
        params = created.params
        try:
            if params.get("previous_response_id") is None and params.get("conversation") is None:
                plan = client._plan_create(created.model, params, stream=stream, response_id=rid)
            else:
                plan = await asyncio.to_thread(
                    client._plan_create, created.model, params, stream=stream, response_id=rid
                )
        except BaseException as error:
            self._failed(created, error)
            raise
        return created._planned(plan)

    async def respond(self, created: Created) -> dict[str, Any]:
        """A whole response (``stream`` false), recorded and owned by the caller before it is handed out."""
        plan = await self.plan(created, stream=False)
        claim = self._claim(created, plan)
        try:
            response = await created.client._create(plan)
        except BaseException as error:
            self._failed(created, error)
            raise
        if created.params.get("store") is not False:
            if claim is None or claim.granted is None:
                await self.own_response(created, response.id, flush_store=True)
            elif not claim.granted:
                raise _id_conflict(created)
        self._done(created, response, 200)
        return api_shape(to_reply(response))

    async def open_stream(self, created: Created, plan: _Plan | None = None) -> AsyncStream[Response]:
        """Send a streamed create: status errors raise here, before anything is sent to the client."""
        plan = plan if plan is not None else await self.plan(created, stream=True)
        try:
            return await created.client._stream(plan).open()
        except BaseException as error:
            self._failed(created, error)
            raise

    async def events(
        self, created: Created, stream: AsyncStream[Response], owned: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """The stream's events as wire JSON; an error mid-stream becomes ``error`` then ``response.failed``.

        The response is owned by the caller before its first event leaves (OpenResponses: the id is
        in ``response.created``), and recorded before its terminal event leaves. Closing this iterator
        closes the upstream request.
        """
        self.metrics.in_flight_streams += 1
        stored = created.params.get("store") is not False
        owned = owned or not stored  # nothing is kept: nothing to own
        sequence = -1
        last: dict[str, Any] | None = None
        final: Response | None = None
        try:
            async for event in stream:
                data = to_reply(event)
                sequence = data.get("sequence_number", sequence + 1)
                response = getattr(event, "response", None)
                if response is not None:
                    last = api_shape(data["response"])
                    if not owned:
                        await self.own_response(created, response.id)
                        owned = True
                    if event.type in ("response.completed", "response.incomplete"):
                        final = response
                        if stored:
                            await self.write(lambda: flush(self.store))
                yield data
        except Exception as error:  # the router's errors, and anything else (not a cancel): never a broken stream
            failure = as_gateway_error(error)
            if not isinstance(error, PolyresponsesError | OSError):
                log.error("stream failed: %s", type(error).__name__)
            self._failed(created, error)
            for data in failed_events(failure, sequence, last, stream, created):
                yield data
            return
        finally:
            self.metrics.in_flight_streams -= 1
            await stream.close()
        self._done(created, final, 200)

    def _own_id(self, created: Created) -> str | None:
        """The gateway's own id for a response the provider does not keep.

        Synthesized ids are made from the provider's message id, which a provider may reuse (local
        servers do); on a shared gateway a reused id would let one key's turn replace another's. A
        provider that keeps its responses (OpenAI) has ids it guarantees unique: those stay, so its own
        ``previous_response_id`` keeps working.
        """
        if created.client.provider.capabilities.stored_state or created.params.get("store") is False:
            return None
        return f"resp_{uuid.uuid4().hex}"

    async def own_response(self, created: Created, response_id: str, *, flush_store: bool = False) -> None:
        """Record the caller as the owner; an id another key already owns is never handed out (a provider
        that repeated an id would otherwise show one key's turn to another). ``flush_store``: first write
        the store's batched mirror records, so every process sees the response (one thread hop for both)."""
        owner = created.principal.owner

        def own() -> bool:
            if flush_store:
                flush(self.store)
            return self.ledger.own("response", response_id, owner, created.provider)

        if not await self.write(own):
            raise _id_conflict(created)

    @staticmethod
    def _claim(created: Created, plan: _Plan) -> OwnerClaim | None:
        """Ask the store to record the caller as owner in the turn's own transaction: for a response
        the store is the only copy of and whose id the gateway chose (one transaction per stored turn,
        instead of the turn's and then the owner's)."""
        recorder = plan.recorder
        if recorder is None or not recorder.keep or recorder.response_id is None or recorder.deferred:
            return None
        recorder.claim = OwnerClaim(recorder.response_id, created.principal.owner, created.provider)
        return recorder.claim

    def _done(self, created: Created, response: Response | None, status: int) -> None:
        seconds = time.perf_counter() - created.started
        self.metrics.request("responses", created.provider, created.label, status, seconds)
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.metrics.usage(created.provider, created.label, usage.input_tokens or 0, usage.output_tokens or 0)

    def _failed(self, created: Created, error: BaseException) -> None:
        if isinstance(error, PolyresponsesError | GatewayError):
            failure = as_gateway_error(error)
            if isinstance(error, APIError):
                self.metrics.upstream_error(created.provider, created.label, failure.code or str(failure.status))
            self._done(created, None, failure.status)

    # conversations (the gateway's own: usable with any model)

    def conversations(self) -> LocalEndpoints:
        from polyresponses.router._emulated import LocalEndpoints

        return LocalEndpoints(self.store, GATEWAY_ROW)


def _id_conflict(created: Created) -> GatewayError:
    log.error("provider %r returned a response id another key owns; the reply was withheld", created.provider)
    return GatewayError(502, "the provider returned a response id already in use", "model_error", "id_conflict")


def this_machine_only(host: str | None, origin: str | None) -> None:
    """For a gateway with no keys, which trusts whoever reaches it: refuse a ``Host`` that is not a loopback
    name (DNS rebinding) and an ``Origin`` that is not loopback (a browser page elsewhere; browsers send
    it on every WebSocket handshake and cross-site request)."""
    if not is_loopback((host or "").rsplit(":", 1)[0].strip("[]")):
        raise GatewayError(403, "this gateway has no keys and answers only loopback hosts", code="forbidden_host")
    if origin is not None and not is_loopback(urlsplit(origin).hostname or ""):
        raise GatewayError(403, "this gateway has no keys and answers only this machine", code="forbidden_origin")


def api_shape(response: dict[str, Any]) -> dict[str, Any]:
    """A response as OpenAI's API writes it: integer timestamps (typed ``number`` in the spec, so parsed
    as floats; clients in typed languages decode them as integers) and no ``output_text`` (an SDK
    convenience the router fills, not part of the API's reply)."""
    response.pop("output_text", None)
    for key in ("created_at", "completed_at"):
        value = response.get(key)
        if isinstance(value, float) and value.is_integer():
            response[key] = int(value)
    return response


def failed_events(
    failure: GatewayError,
    sequence: int,
    last: dict[str, Any] | None,
    stream: AsyncStream[Any] | None,
    created: Created | None = None,
) -> list[dict[str, Any]]:
    """``error`` then ``response.failed`` (OpenResponses: a streamed error is followed by the failed response).

    The failed response is what arrived so far, under the id the client was given (``last``'s: the
    router's partial carries the provider's), or, when nothing arrived, the request's empty response.
    """
    partial = stream._translator.partial() if stream is not None else None
    response = api_shape(to_reply(partial)) if partial is not None else (dict(last) if last is not None else None)
    if response is not None and last is not None:
        response["id"] = last["id"]
    if response is None and created is not None:
        from polyresponses.server._background import empty_response

        response = empty_response(f"resp_{uuid.uuid4().hex}", created, "failed", background=created.background)
    error_event = {
        "type": "error",
        "code": failure.code or failure.type,
        "message": failure.message,
        "param": failure.param,
        "sequence_number": sequence + 1,
    }
    if response is None:
        return [error_event]
    response["status"] = "failed"
    response["error"] = {"code": "server_error", "message": failure.message}
    return [error_event, {"type": "response.failed", "response": response, "sequence_number": sequence + 2}]


def _has_sealed_compaction(items: Any) -> bool:
    from polyresponses.server._compaction import PREFIX

    return isinstance(items, list) and any(
        isinstance(item, dict)
        and item.get("type") == "compaction"
        and str(item.get("encrypted_content", "")).startswith(PREFIX)
        for item in items
    )


def _open(path: str) -> ResponseStore:
    store = open_store(path)
    assert store is not None  # a path or :memory: always opens a store
    return store
