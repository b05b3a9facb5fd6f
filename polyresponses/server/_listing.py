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
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polyresponses.server._errors import GatewayError, not_found
from polyresponses.store import flush

if TYPE_CHECKING:
    from polyresponses.server._gateway import Gateway, Principal

__all__ = ["int_param", "list_responses", "stored_response"]

_INTEGER = re.compile(r"-?[0-9]{1,19}")
"""What a query integer may look like: ASCII digits only (``int()`` also takes ``1_0`` and other scripts' digits)."""
_BATCH = 200
"""Owner rows read per query while filters skip some."""
_SCAN_LIMIT = 5000
"""At most this many of a key's rows are read for one page: a filter that matches little stops there, with
``has_more`` and the cursor where it stopped, so no request does unbounded work."""
_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled", "queued", "in_progress"})


def int_param(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    """The integer query parameter ``name`` (``default`` when absent); a 400 naming it when it is not one."""
    raw = query.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw) or not -(2**63) <= int(raw) < 2**63:
        raise GatewayError(400, f"{name} must be an integer of at most 64 bits", param=name, code="invalid_value")
    return int(raw)


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
    scanned = 0
    last_seen: str | None = None
    while not has_more:
        rows = ledger.owned("response", owner, limit=_BATCH, provider=provider, before=cursor, since=since, until=until)
        for ident, row_provider, created in rows:
            if len(data) == limit or scanned >= _SCAN_LIMIT:
                has_more = True
                break
            cursor, scanned, last_seen = (created, ident), scanned + 1, ident
            entry = _entry(gateway, ident, row_provider)
            if entry is None or (model is not None and entry.get("model") != model):
                continue
            if status is not None and entry.get("status") != status:
                continue
            data.append(entry)
        if len(rows) < _BATCH:
            break
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else "",
        # Where the next page starts: the last response shown, or the last one read when a filter stopped early.
        "last_id": data[-1]["id"] if data and not (has_more and scanned >= _SCAN_LIMIT) else (last_seen or ""),
        "has_more": has_more,
    }


def _entry(gateway: Gateway, ident: str, provider: str) -> dict[str, Any] | None:
    """One response as the list shows it; ``None`` when neither the store nor a job holds it (deleted)."""
    found = stored_response(gateway, ident)
    if found is None:
        return None
    response, native = found
    return {**response, "_gateway": {"provider": provider, "native": native}}


def stored_response(gateway: Gateway, ident: str) -> tuple[dict[str, Any], bool] | None:
    """``(the response as retrieve shows it, whether its provider keeps it)``: a running background job's
    latest snapshot, else the store's record (a finished job's when the store has none); ``None`` when
    gone. The caller flushes the store once beforehand (:func:`polyresponses.store.flush`)."""
    from polyresponses.server._gateway import api_shape

    job = gateway.ledger.job(ident)
    record = None if job is not None and job.active else gateway.store.get_response(ident)
    if record is not None:
        return api_shape(json.loads(record.body)), record.native
    return (api_shape(dict(job.response)), False) if job is not None else None
