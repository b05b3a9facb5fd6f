"""The WebSocket mode on ``/v1/responses``, over every provider (stateless ones included).

As the OpenResponses specification (2026-04-24, "WebSocket transport") describes it, and as Codex
CLI uses it: the client sends ``response.create`` frames (the create body without ``stream`` and
``background``), the server answers each with the same events a stream would carry, one frame
each. At most one response is in flight per connection (frames are read one after another). The
most recent response is kept in connection-local memory, so a chain by ``previous_response_id``
works with ``store: false``; an older id is hydrated from the store when the caller owns it, and
anything else is ``previous_response_not_found``. A continuation that fails evicts the id it
referenced. The connection is closed after ``ws_max_seconds`` with
``websocket_connection_limit_reached``. Errors are ``{"type": "error", "status", "error": {...}}``.
``generate: false`` (OpenAI's warm-up, which Codex sends first) answers an empty completed response
without asking the provider, and keeps its input in connection memory for the next turn.

For a provider that keeps no state the gateway itself checks, before sending, that every
``function_call_output`` answers a ``call_id`` in the history (the check OpenAI makes), so a
broken chain is a clear 400 instead of a confused model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from polyresponses.router._state import as_items, chain_items
from polyresponses.server._errors import GatewayError, as_gateway_error
from polyresponses.server._gateway import Created, Gateway, Principal, this_machine_only

__all__ = ["responses_websocket"]

_TERMINAL = frozenset({"response.completed", "response.incomplete"})


@dataclass(slots=True)
class _Connection:
    """Connection-local memory: the most recent response and the whole context it ended."""

    principal: Principal
    opened: float = field(default_factory=time.monotonic)
    last_id: str | None = None
    last_context: list[dict[str, Any]] = field(default_factory=list)
    last_stored: bool = False
    """The most recent response is in the store too: continuing it goes through the store, so the new
    record keeps its ``previous_response_id`` link (connection memory serves ``store: false`` chains)."""


def _error_frame(error: GatewayError) -> dict[str, Any]:
    return {"type": "error", "status": error.status, "error": error.error_object()}


async def responses_websocket(websocket: WebSocket) -> None:
    """``GET /v1/responses`` upgraded to a WebSocket."""
    gateway: Gateway = websocket.app.state.gateway
    try:
        if not gateway.config.keys:
            this_machine_only(websocket.headers.get("host"), websocket.headers.get("origin"))
        principal = gateway.authenticate(websocket.headers.get("authorization"))  # frames count
    except GatewayError:
        await websocket.close(code=1008)  # refused before the handshake completes: the client sees 403
        return
    await websocket.accept()
    gateway.metrics.websocket_connections += 1
    connection = _Connection(principal)
    limit = gateway.config.ws_max_seconds
    try:
        while True:
            remaining = limit - (time.monotonic() - connection.opened)
            try:
                message = await asyncio.wait_for(websocket.receive(), timeout=max(remaining, 0.001))
            except TimeoutError:
                await _send(
                    websocket,
                    _error_frame(
                        GatewayError(
                            400,
                            f"the connection reached its {limit:g}-second limit; open a new one",
                            code="websocket_connection_limit_reached",
                        )
                    ),
                )
                await websocket.close(code=1000)
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # a binary frame
                frame = GatewayError(400, "send response.create frames as text (JSON)", code="invalid_frame")
                await _send(websocket, _error_frame(frame))
                continue
            if len(text.encode()) > gateway.config.max_ws_frame_bytes:
                await _send(websocket, _error_frame(GatewayError(413, "frame too large", code="request_too_large")))
                await websocket.close(code=1009)
                return
            await _handle(gateway, websocket, connection, text)
    except WebSocketDisconnect:
        return


async def _send(websocket: WebSocket, data: dict[str, Any]) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        await websocket.send_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False))


async def _handle(gateway: Gateway, websocket: WebSocket, connection: _Connection, text: str) -> None:
    """One ``response.create`` frame, answered by its events (or one error frame)."""
    previous: str | None = None
    try:
        await gateway.check_rate(connection.principal)  # every response counts, whatever the transport
        try:
            frame = json.loads(text)
        except ValueError as error:
            raise GatewayError(400, f"the frame is not valid JSON: {error}", code="invalid_json") from None
        if not isinstance(frame, dict) or frame.get("type") != "response.create":
            raise GatewayError(
                400, 'send {"type": "response.create", ...the create body}', param="type", code="invalid_value"
            )
        body = {key: value for key, value in frame.items() if key not in ("type", "stream", "stream_options")}
        if body.get("background"):
            raise GatewayError(
                400, "background is not available in WebSocket mode", param="background", code="invalid_value"
            )
        body.pop("background", None)
        generate = body.pop("generate", True)
        previous = body.get("previous_response_id")
        context = await _context(gateway, connection, body, previous)
        body["stream"] = True
        created = await gateway.prepare_create(connection.principal, body)
        if generate is False:
            await _warm_up(websocket, connection, created, context)
            return
        if created.params.get("conversation") is None:  # a conversation's calls are in the store, not here
            _check_call_outputs(
                context + as_items(created.params.get("input")), created.client.provider.capabilities.stored_state
            )

        stream = await gateway.open_stream(created)
    except Exception as error:
        await _failed(websocket, connection, previous, as_gateway_error(error))
        return
    final: dict[str, Any] | None = None
    failed = False
    async for data in gateway.events(created, stream):
        response = data.get("response")
        if isinstance(response, dict) and previous is not None:
            response["previous_response_id"] = previous  # sent as history from memory, or chained by the store
        if data["type"] in _TERMINAL:
            final = response
        failed = failed or data["type"] in ("error", "response.failed")
        await _send(websocket, data)
    if failed or final is None:
        _evict(connection, previous)
        return
    inputs = context + as_items(created.params.get("input"))
    connection.last_id = str(final["id"])
    connection.last_context = [*inputs, *final.get("output", [])]
    connection.last_stored = created.params.get("store") is not False


async def _warm_up(
    websocket: WebSocket, connection: _Connection, created: Created, context: list[dict[str, Any]]
) -> None:
    """``generate: false`` (Codex's prewarm): a response with no output, kept in connection memory so the
    next turn can continue from it; the provider is not asked (there is nothing to generate)."""
    from polyresponses.server._background import empty_response

    ident = f"resp_{uuid.uuid4().hex}"
    running = empty_response(ident, created, "in_progress", background=False)
    done = empty_response(ident, created, "completed", background=False)
    for sequence, (kind, response) in enumerate(
        (("response.created", running), ("response.in_progress", running), ("response.completed", done))
    ):
        await _send(websocket, {"type": kind, "response": response, "sequence_number": sequence})
    connection.last_id = ident
    connection.last_context = context + as_items(created.params.get("input"))
    connection.last_stored = False  # a warm-up is never recorded


async def _context(
    gateway: Gateway, connection: _Connection, body: dict[str, Any], previous: Any
) -> list[dict[str, Any]]:
    """The history before this turn that is not in ``body["input"]``: a connection-local hit is put into the
    input (which works with ``store: false``); an id hydrated from the store is rebuilt by the router."""
    if previous is None:
        return []
    if previous == connection.last_id and not connection.last_stored:
        if body.get("conversation") is not None:
            raise GatewayError(400, "previous_response_id cannot be combined with conversation", param="conversation")
        del body["previous_response_id"]
        body["input"] = [*connection.last_context, *as_items(body.get("input"))]
        return []  # the history is in the input now
    try:
        await gateway.check_owned(connection.principal, "response", previous, "previous_response_id")
    except GatewayError:
        raise GatewayError(
            404,
            f"previous response {previous!r} is not in this connection's memory nor in the store",
            "not_found",
            "previous_response_not_found",
            "previous_response_id",
        ) from None
    record = await asyncio.to_thread(gateway.store.get_response, previous)
    if record is None:
        return []
    return await asyncio.to_thread(chain_items, gateway.store, record, record.provider)


def _check_call_outputs(items: list[dict[str, Any]], provider_keeps_state: bool) -> None:
    """Every ``function_call_output`` must answer a ``function_call`` earlier in the history."""
    if provider_keeps_state:
        return
    calls: set[str] = set()
    for index, item in enumerate(items):
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call") and isinstance(item.get("call_id"), str):
            calls.add(item["call_id"])
        elif kind in ("function_call_output", "custom_tool_call_output") and item.get("call_id") not in calls:
            raise GatewayError(
                400,
                f"No tool call found for function call output with call_id {item.get('call_id')!r}.",
                param=f"input[{index}].call_id",
                code="invalid_value",
            )


async def _failed(websocket: WebSocket, connection: _Connection, previous: Any, error: GatewayError) -> None:
    _evict(connection, previous)
    with contextlib.suppress(Exception):
        await _send(websocket, _error_frame(error))


def _evict(connection: _Connection, previous: Any) -> None:
    """A failed continuation evicts the id it referenced (OpenResponses WebSocket transport)."""
    if previous is not None and previous == connection.last_id:
        connection.last_id = None
        connection.last_context = []
        connection.last_stored = False
