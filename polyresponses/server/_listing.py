"""``GET /v1/responses``: a key's stored responses, newest first. An extension: OpenAI has no list route.

Users of other gateways ask for one, and the console's Responses page reads it. The owner rows of the
ledger give the key's responses in order (an index on ``(owner, kind, created_at, id)``); each is
read from the store, or from its job while a background response runs. Query parameters:

- ``limit`` (1-100, default 20) and ``after`` (the id of the last response of the previous page);
- ``provider``, ``model`` and ``status`` (exact matches), ``created_after`` and ``created_before``
  (unix seconds, inclusive).

The reply is the Responses API's list envelope (``object: "list"``, ``data``, ``first_id``,
``last_id``, ``has_more``); each entry is the response as ``GET /v1/responses/{id}`` returns it, plus
``_gateway: {"provider", "native"}`` (``native``: the provider keeps the response and ran it as
asked; otherwise the gateway emulated state, background or tools for it). Another key's id as
``after`` is a 404, as everywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polyresponses.server._errors import GatewayError, not_found
from polyresponses.store import flush

if TYPE_CHECKING:
    from polyresponses.server._gateway import Gateway, Principal

__all__ = ["int_param", "list_responses"]

_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled", "queued", "in_progress"})


def int_param(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    """The integer query parameter ``name`` (``default`` when absent); a 400 naming it when it is not one."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise GatewayError(400, f"{name} must be an integer", param=name, code="invalid_value") from None


async def list_responses(gateway: Gateway, principal: Principal, query: Mapping[str, str]) -> dict[str, Any]:
    """The list envelope for ``query`` (see the module docstring)."""
    limit = int_param(query, "limit", 20)
    assert limit is not None
    if not 1 <= limit <= 100:
        raise GatewayError(400, "limit must be an integer from 1 to 100", param="limit", code="invalid_value")
    status = query.get("status")
    if status is not None and status not in _STATUSES:
        raise GatewayError(400, f"status must be one of {', '.join(sorted(_STATUSES))}", param="status")
    since, until = int_param(query, "created_after", None), int_param(query, "created_before", None)
    return await asyncio.to_thread(
        _page,
        gateway,
        principal.owner,
        limit,
        query.get("after"),
        query.get("provider"),
        query.get("model"),
        status,
        since,
        until,
    )


def _page(
    gateway: Gateway,
    owner: str,
    limit: int,
    after: str | None,
    provider: str | None,
    model: str | None,
    status: str | None,
    since: int | None,
    until: int | None,
) -> dict[str, Any]:
    ledger, store = gateway.ledger, gateway.store
    flush(store)  # this process's deferred mirror writes are visible to its own list
    cursor: tuple[int, str] | None = None
    if after is not None:
        created = ledger.created_at("response", after, owner)
        if created is None:
            error = not_found("Response", after)
            error.param = "after"
            raise error
        cursor = (created, after)
    data: list[dict[str, Any]] = []
    has_more = False
    while len(data) <= limit:
        rows = ledger.owned(
            "response", owner, limit=limit + 1, provider=provider, before=cursor, since=since, until=until
        )
        for ident, row_provider, created in rows:
            cursor = (created, ident)
            entry = _entry(gateway, ident, row_provider)
            if entry is None or (model is not None and entry.get("model") != model):
                continue
            if status is not None and entry.get("status") != status:
                continue
            if len(data) == limit:
                has_more = True
                break
            data.append(entry)
        if has_more or len(rows) <= limit:
            break
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else "",
        "last_id": data[-1]["id"] if data else "",
        "has_more": has_more,
    }


def _entry(gateway: Gateway, ident: str, provider: str) -> dict[str, Any] | None:
    """One response as the list shows it; ``None`` when neither the store nor a job holds it (deleted)."""
    from polyresponses.server._gateway import api_shape

    job = gateway.ledger.job(ident)
    if job is not None:
        return {**api_shape(dict(job.response)), "_gateway": {"provider": provider, "native": False}}
    record = gateway.store.get_response(ident)
    if record is None:
        return None
    response = api_shape(json.loads(record.body))
    return {**response, "_gateway": {"provider": provider, "native": record.native}}
