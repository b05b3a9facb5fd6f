"""The HTTP routes: a thin Starlette shell over :class:`~polyresponses.server._gateway.Gateway`.

Routes and shapes follow OpenAI's API reference and the OpenResponses specification (2026-04-24):
SSE with an ``event:`` line equal to each event's ``type``, a terminal ``data: [DONE]``, comment
keep-alives while the upstream is silent; errors as ``{"error": {...}}`` with the spec's status.
Every handler runs inside :func:`_guarded`, so nothing but that error shape ever leaves (no
tracebacks), and every route that names a stored object checks its owner first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute

from polyresponses.router._errors import NotFoundError, PolyresponsesError
from polyresponses.router._wire import to_reply
from polyresponses.server._background import POLL_AFTER_MS
from polyresponses.server._config import GatewayConfig
from polyresponses.server._errors import GatewayError, as_gateway_error
from polyresponses.server._gateway import Created, Gateway, Principal, api_shape, this_machine_only

__all__ = ["create_app"]

log = logging.getLogger("polyresponses.server")

Handler = Callable[[Request, Gateway, Principal], Awaitable[Response]]

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _error_response(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _guarded(handler: Handler, *, authenticated: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, run, and turn any failure into the spec's error shape (logged without secrets)."""

    async def endpoint(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        try:
            if not gateway.config.keys:
                _loopback_only(request)
            principal = await gateway.admit(request.headers.get("authorization")) if authenticated else Principal("-")
            return await handler(request, gateway, principal)
        except Exception as error:
            failure = as_gateway_error(error)
            if failure.status >= 500 and not isinstance(error, GatewayError | PolyresponsesError):
                # Not an error the library shaped (those never carry keys): only its type goes to the log.
                log.error("%s %s failed: %s", request.method, request.url.path, type(error).__name__)
            return _error_response(failure)

    return endpoint


def _loopback_only(request: Request) -> None:
    """No gateway keys: this machine only (:func:`this_machine_only`), and no ``POST`` that is not JSON (a
    cross-site form or ``text/plain`` post, which browsers send without asking; JSON needs a CORS
    preflight this server never grants)."""
    this_machine_only(request.headers.get("host"), request.headers.get("origin"))
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise GatewayError(415, "send the body as Content-Type: application/json", code="unsupported_media_type")


async def _json_body(request: Request, gateway: Gateway) -> Any:
    """The body as JSON, refused with 413 past ``max_body_bytes`` (before it is all read) and 400 when malformed."""
    limit = gateway.config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise GatewayError(413, f"request body larger than {limit} bytes", "invalid_request", "request_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"request body larger than {limit} bytes", "invalid_request", "request_too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise GatewayError(400, "the request body is empty: send a JSON object", code="invalid_json")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise GatewayError(400, f"the request body is not valid JSON: {error}", code="invalid_json") from None


def _sse(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {data['type']}\ndata: {text}\n\n".encode()


class _Ended:
    """The producer's last word: the events ran out, or ``error`` was raised while reading them."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def _with_keepalive(events: AsyncIterator[dict[str, Any]], every: float) -> AsyncIterator[bytes]:
    """SSE bytes: each event, ``: keep-alive`` comments while none arrives for ``every`` seconds, then ``[DONE]``.

    The events are read by one producer task into a one-slot queue (backpressure: it never runs ahead
    of the client by more than one event), so waiting with a timeout never cancels the stream itself.
    Leaving early (the client went away) cancels the producer, which closes ``events`` and with them
    the upstream request; the producer is awaited shielded, so the close completes even while the
    server's own cancellation is delivered again and again.
    """
    queue: asyncio.Queue[dict[str, Any] | _Ended] = asyncio.Queue(maxsize=1)

    async def produce() -> None:
        try:
            async with contextlib.aclosing(events) as iterator:  # type: ignore[type-var]
                async for data in iterator:
                    await queue.put(data)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            await queue.put(_Ended(error))
            return
        await queue.put(_Ended())

    producer = asyncio.ensure_future(produce())
    try:
        while True:
            try:
                async with asyncio.timeout(every if every > 0 else None):  # no task per event, unlike wait_for
                    item = await queue.get()  # a cancelled get takes nothing from the queue
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if isinstance(item, _Ended):
                if item.error is not None:  # not an error the router shaped (those became events): a bug
                    log.error("stream failed: %s", type(item.error).__name__)
                    failure = {"type": "error", "code": "server_error", "message": "the gateway failed mid-stream"}
                    yield _sse({**failure, "param": None})
                break
            yield _sse(item)
        yield b"data: [DONE]\n\n"
    finally:
        producer.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.shield(producer)


def _stream_response(
    gateway: Gateway, events: AsyncIterator[dict[str, Any]], headers: dict[str, str] | None = None
) -> StreamingResponse:
    return StreamingResponse(
        _with_keepalive(events, gateway.config.keepalive_seconds),
        media_type="text/event-stream",
        headers={**_SSE_HEADERS, **(headers or {})},
    )


# ------------------------------------------------------------------------------------------ responses


async def create_response(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``POST /v1/responses``: JSON, SSE, or a queued background response."""
    created = await gateway.prepare_create(principal, await _json_body(request, gateway))
    if created.background:
        queued = await gateway.jobs.submit(created)
        if created.stream:
            return _stream_response(gateway, gateway.jobs.follow(queued["id"], -1))
        return JSONResponse(queued, headers={"openai-poll-after-ms": str(POLL_AFTER_MS)})
    if created.stream:
        stream = await gateway.open_stream(created)
        return _stream_response(gateway, gateway.events(created, stream), _notices(created))
    body = await gateway.respond(created)
    return JSONResponse(body, headers=_notices(created))


def _notices(created: Created) -> dict[str, str]:
    """``x-polyresponses-dropped-tools``: the hosted tools left out of this request (comma separated)."""
    return {"x-polyresponses-dropped-tools": ",".join(created.dropped_tools)} if created.dropped_tools else {}


async def list_responses(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET /v1/responses``: the key's stored responses, newest first (an extension; see ``_listing``)."""
    from polyresponses.server._listing import list_responses as page

    return JSONResponse(await page(gateway, principal, request.query_params))


async def retrieve_response(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET /v1/responses/{id}`` (``?stream=true&starting_after=N`` for a background response)."""
    ident = request.path_params["response_id"]
    provider = await gateway.check_owned(principal, "response", ident)
    job = await gateway.jobs.job(principal, ident)
    if _flag(request, "stream"):
        if job is None:
            raise GatewayError(
                400, "stream=true is only for background responses", param="stream", code="invalid_value"
            )
        after = _int_query(request, "starting_after", -1)
        return _stream_response(gateway, gateway.jobs.follow(ident, after))
    if job is not None:
        headers = {"openai-poll-after-ms": str(POLL_AFTER_MS)} if job.active else {}
        return JSONResponse(job.response, headers=headers)
    include = request.query_params.getlist("include") or request.query_params.getlist("include[]") or None
    response = await gateway.client(provider).responses.retrieve(ident, include=include)
    return JSONResponse(api_shape(to_reply(response)))


async def delete_response(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``DELETE /v1/responses/{id}``."""
    ident = request.path_params["response_id"]
    provider = await gateway.check_owned(principal, "response", ident)
    job = await gateway.jobs.job(principal, ident)
    if job is not None and job.active:
        raise GatewayError(400, "cancel a running background response before deleting it", code="response_in_progress")
    if job is None:  # a background response exists only here (the gateway ran it); others at the provider too
        with contextlib.suppress(NotFoundError):  # already gone there: what the gateway holds goes below
            await gateway.client(provider).responses.delete(ident)
    await asyncio.to_thread(gateway.ledger.disown, "response", ident)
    await asyncio.to_thread(gateway.store.delete_response, ident)
    return JSONResponse({"id": ident, "object": "response.deleted", "deleted": True})


async def cancel_response(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``POST /v1/responses/{id}/cancel``: background responses only, idempotent."""
    ident = request.path_params["response_id"]
    await gateway.check_owned(principal, "response", ident)
    job = await gateway.jobs.job(principal, ident)
    if job is None:
        raise GatewayError(400, "only background responses can be cancelled", code="invalid_value")
    return JSONResponse(await gateway.jobs.cancel(job))


async def input_items(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET /v1/responses/{id}/input_items``."""
    ident = request.path_params["response_id"]
    provider = await gateway.check_owned(principal, "response", ident)
    page = await gateway.client(provider).responses.input_items.list(ident, **_list_query(request))
    return JSONResponse(to_reply(page))


async def input_tokens(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``POST /v1/responses/input_tokens``: the provider's own counting endpoint, where it has one."""
    body = await _json_body(request, gateway)
    created = await gateway.prepare_create(principal, body)
    counted = await created.client.responses.input_tokens.count(model=created.model, **created.params)
    return JSONResponse(to_reply(counted))


async def compact(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``POST /v1/responses/compact``: native where the provider has it, else summarised by the same model."""
    from polyresponses.server._compaction import compact as run

    return JSONResponse(await run(gateway, principal, await _json_body(request, gateway)))


# -------------------------------------------------------------------------------------- conversations


async def create_conversation(request: Request, gateway: Gateway, principal: Principal) -> Response:
    from polyresponses.router._client import _validated_body

    body = await _json_body(request, gateway)
    if not isinstance(body, dict):
        raise GatewayError(400, "the request body must be a JSON object", code="invalid_json")
    checked = _validated_body("CreateConversationBody", body, "gateway")
    conversation = await asyncio.to_thread(gateway.conversations().create_conversation, checked)
    await asyncio.to_thread(gateway.ledger.own, "conversation", conversation.id, principal.owner, "gateway")
    return JSONResponse(to_reply(conversation))


async def conversation(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET``, ``POST`` (metadata) and ``DELETE /v1/conversations/{id}``."""
    from polyresponses.router._client import _validated_body

    ident = request.path_params["conversation_id"]
    await gateway.check_owned(principal, "conversation", ident)
    local = gateway.conversations()
    if request.method == "GET":
        return JSONResponse(to_reply(await asyncio.to_thread(local.retrieve_conversation, ident)))
    if request.method == "DELETE":
        deleted = await asyncio.to_thread(local.delete_conversation, ident)
        await asyncio.to_thread(gateway.ledger.disown, "conversation", ident)
        return JSONResponse(to_reply(deleted))
    body = await _json_body(request, gateway)
    checked = _validated_body(
        "UpdateConversationBody", body if isinstance(body, dict) else {"metadata": body}, "gateway"
    )
    return JSONResponse(to_reply(await asyncio.to_thread(local.update_conversation, ident, checked)))


async def conversation_items(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET`` (a page) and ``POST`` (add) ``/v1/conversations/{id}/items``."""
    from polyresponses.router._client import _validated_body

    ident = request.path_params["conversation_id"]
    await gateway.check_owned(principal, "conversation", ident)
    local = gateway.conversations()
    if request.method == "GET":
        query = _list_query(request)
        page = await asyncio.to_thread(
            local.list_items, ident, after=query.get("after"), limit=query.get("limit"), order=query.get("order")
        )
        return JSONResponse(to_reply(page))
    body = await _json_body(request, gateway)
    checked = _validated_body("CreateConversationBody", body if isinstance(body, dict) else {"items": body}, "gateway")
    return JSONResponse(to_reply(await asyncio.to_thread(local.add_items, ident, checked)))


async def conversation_item(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET`` and ``DELETE /v1/conversations/{id}/items/{item_id}``."""
    ident, item = request.path_params["conversation_id"], request.path_params["item_id"]
    await gateway.check_owned(principal, "conversation", ident)
    local = gateway.conversations()
    if request.method == "GET":
        return JSONResponse(to_reply(await asyncio.to_thread(local.retrieve_item, ident, item)))
    return JSONResponse(to_reply(await asyncio.to_thread(local.delete_item, ident, item)))


# ------------------------------------------------------------------------------------------ the rest


async def models(_request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``GET /v1/models``: the aliases this key may use, and each provider as ``provider:*``."""
    from polyresponses.router._providers import PROVIDERS

    created = int(time.time())
    data = []
    for name, alias in sorted(gateway.config.aliases.items()):
        with contextlib.suppress(GatewayError):
            gateway.resolve_model(principal, name)
            data.append({"id": name, "object": "model", "created": created, "owned_by": alias.model.partition(":")[0]})
    key = principal.key
    for name in sorted(PROVIDERS):
        if key is None or not key.models or any(p == f"{name}:*" or p.startswith(f"{name}:") for p in key.models):
            data.append({"id": f"{name}:*", "object": "model", "created": created, "owned_by": name})
    return JSONResponse({"object": "list", "data": data})


async def healthz(_request: Request, _gateway: Gateway, _principal: Principal) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(_request: Request, gateway: Gateway, _principal: Principal) -> Response:
    try:
        await asyncio.to_thread(gateway.ledger.ping)
    except Exception:
        raise GatewayError(503, "the store is not reachable", "server_error", "store_unavailable") from None
    return JSONResponse({"status": "ready"})


async def metrics(_request: Request, gateway: Gateway, _principal: Principal) -> Response:
    return PlainTextResponse(gateway.metrics.render(), media_type="text/plain; version=0.0.4")


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("true", "1")


def _int_query(request: Request, name: str, default: int) -> int:
    from polyresponses.server._listing import int_param

    value = int_param(request.query_params, name, default)
    assert value is not None
    return value


def _list_query(request: Request) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if (after := request.query_params.get("after")) is not None:
        query["after"] = after
    if "limit" in request.query_params:
        query["limit"] = _int_query(request, "limit", 20)
    if (order := request.query_params.get("order")) is not None:
        if order not in ("asc", "desc"):
            raise GatewayError(400, "order must be 'asc' or 'desc'", param="order", code="invalid_value")
        query["order"] = order
    include = request.query_params.getlist("include") or request.query_params.getlist("include[]")
    if include:
        query["include"] = include
    return query


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        error = GatewayError(405, f"{request.method} is not allowed on {request.url.path}", code="method_not_allowed")
    elif status == 404:
        error = GatewayError(404, f"no route {request.method} {request.url.path}", "not_found", "unknown_route")
    else:
        error = GatewayError(status, "the request failed", "server_error" if status >= 500 else "invalid_request")
    return _error_response(error)


def create_app(config: GatewayConfig | None = None, gateway: Gateway | None = None) -> Starlette:
    """The ASGI app for ``config`` (or a ready ``gateway``); its lifespan starts and stops the gateway."""
    from polyresponses.server._websocket import responses_websocket

    gateway = gateway or Gateway(config or GatewayConfig())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.aclose()

    routes = [
        Route("/v1/responses", _guarded(create_response), methods=["POST"]),
        Route("/v1/responses", _guarded(list_responses), methods=["GET"]),
        WebSocketRoute("/v1/responses", responses_websocket),
        Route("/v1/responses/input_tokens", _guarded(input_tokens), methods=["POST"]),
        Route("/v1/responses/compact", _guarded(compact), methods=["POST"]),
        Route("/v1/responses/{response_id}", _guarded(retrieve_response), methods=["GET"]),
        Route("/v1/responses/{response_id}", _guarded(delete_response), methods=["DELETE"]),
        Route("/v1/responses/{response_id}/cancel", _guarded(cancel_response), methods=["POST"]),
        Route("/v1/responses/{response_id}/input_items", _guarded(input_items), methods=["GET"]),
        Route("/v1/conversations", _guarded(create_conversation), methods=["POST"]),
        Route("/v1/conversations/{conversation_id}", _guarded(conversation), methods=["GET", "POST", "DELETE"]),
        Route("/v1/conversations/{conversation_id}/items", _guarded(conversation_items), methods=["GET", "POST"]),
        Route(
            "/v1/conversations/{conversation_id}/items/{item_id}",
            _guarded(conversation_item),
            methods=["GET", "DELETE"],
        ),
        Route("/v1/models", _guarded(models), methods=["GET"]),
        Route("/healthz", _guarded(healthz, authenticated=False), methods=["GET"]),
        Route("/readyz", _guarded(readyz, authenticated=False), methods=["GET"]),
        Route("/metrics", _guarded(metrics), methods=["GET"]),
    ]
    from polyresponses.server.console import routes as console_routes

    routes.extend(console_routes())
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _not_found})
    app.state.gateway = gateway
    return app
