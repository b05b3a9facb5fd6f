"""The console's pages. Each reads through the gateway's own core (the listing, the store, the providers,
the metrics) as the signed-in key: it sees only that key's objects, and never a provider key."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from polyresponses.router._errors import PolyresponsesError
from polyresponses.server._errors import GatewayError, as_gateway_error
from polyresponses.server._listing import list_responses, stored_response
from polyresponses.server._metrics import BUCKETS, WINDOW_MINUTES, Minute, percentile
from polyresponses.server.console._html import e, items, layout, table, when
from polyresponses.server.console._session import COOKIE, SESSION_SECONDS, cookie_for, principal_of, same_origin
from polyresponses.store import flush

if TYPE_CHECKING:
    from starlette.requests import Request

    from polyresponses.server._gateway import Gateway, Principal

__all__ = ["HEADERS", "console_page", "login", "logout"]

log = logging.getLogger("polyresponses.server.console")

HEADERS = {
    # No inline script or style anywhere: what a model wrote can never run (its text is escaped too).
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # not no-referrer: Chromium then sends "Origin: null" on our own forms
    "Cache-Control": "no-store",
}

Page = Callable[["Request", "Gateway", "Principal"], Awaitable[Response]]


FORM_LIMIT = 64 * 1024
"""The largest console form (a key, a model name): anything larger is refused before it is parsed."""


def _failure(error: Exception) -> GatewayError:
    """``error`` as the spec's error, as the API shapes it; one the library did not shape is logged by type."""
    if isinstance(error, HTTPException):  # Starlette's own (a malformed form)
        return GatewayError(error.status_code, str(error.detail), code="invalid_request")
    if not isinstance(error, GatewayError | PolyresponsesError):
        log.error("console request failed: %s", type(error).__name__)
    return as_gateway_error(error)


async def _form(request: Request) -> Any:
    """The posted form, at most :data:`FORM_LIMIT` bytes (counted as it arrives, whatever Content-Length says)."""
    size, body = 0, bytearray()
    async for chunk in request.stream():
        size += len(chunk)
        if size > FORM_LIMIT:
            raise GatewayError(413, f"a console form is at most {FORM_LIMIT} bytes", code="request_too_large")
        body.extend(chunk)
    request._body = bytes(body)  # Starlette reads the form from the cached body
    return await request.form()


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def console_page(
    handler: Page, *, mutating: bool = False, api: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """Sign-in required (a redirect to the sign-in page), same origin for what changes state, errors as a page
    (``api``: as the API's JSON error, for the playground's script)."""

    async def endpoint(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        try:
            principal = principal_of(gateway, request)
            if principal is None:
                if request.method != "GET":
                    raise GatewayError(401, "sign in to the console first", code="invalid_api_key")
                return RedirectResponse("/console/login", status_code=303, headers=HEADERS)
            if mutating:
                same_origin(request)
                await gateway.check_rate(principal)
            return await handler(request, gateway, principal)
        except Exception as error:
            failure = _failure(error)
            if api:
                return JSONResponse(failure.body(), status_code=failure.status, headers={**HEADERS, **failure.headers})
            body = f'<p class="error">{e(failure.message)}</p><p><a href="/console">Back to the responses</a></p>'
            return _html(layout(f"Error {failure.status}", body, owner=None, current=""), failure.status)

    return endpoint


# -- signing in


async def login(request: Request) -> Response:
    """``GET``: the form; ``POST``: check the key as the API does and set the sealed cookie."""
    gateway: Gateway = request.app.state.gateway
    message = ""
    status = 200
    if request.method == "POST":
        try:
            same_origin(request)
            form = await _form(request)
            key = str(form.get("key") or "")
            principal = gateway.authenticate(f"Bearer {key}")
            response = RedirectResponse("/console", status_code=303, headers=HEADERS)
            response.set_cookie(
                COOKIE,
                cookie_for(gateway, principal),
                max_age=SESSION_SECONDS,
                path="/console",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return response
        except GatewayError as error:
            message, status = f'<p class="error" role="alert">{e(error.message)}</p>', error.status
    body = (
        f'{message}<form method="post" action="/console/login" class="stack">'
        '<label for="key">Gateway key</label>'
        '<input id="key" name="key" type="password" autocomplete="off" required autofocus>'
        '<button type="submit">Sign in</button></form>'
        '<p class="muted">The key is checked and forgotten: the console keeps only a sealed cookie naming it.</p>'
    )
    return _html(layout("Sign in", body, owner=None, current=""), status)


async def logout(request: Request) -> Response:
    same_origin(request)
    response = RedirectResponse("/console/login", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path="/console")
    return response


# -- responses


async def responses_page(request: Request, gateway: Gateway, principal: Principal) -> Response:
    query = {key: value for key, value in request.query_params.items() if value}
    listing = {key: value for key, value in query.items() if key != "since"}
    since = _SINCE.get(query.get("since", ""))
    if since is not None:
        listing["created_after"] = str(int(time.time()) - since)
    page = await list_responses(gateway, principal, {**listing, "limit": query.get("limit", "25")})
    rows = []
    for entry in page["data"]:
        usage = entry.get("usage") or {}
        created, completed = entry.get("created_at"), entry.get("completed_at")
        latency = (
            f"{completed - created:g} s"
            if isinstance(created, int | float) and isinstance(completed, int | float)
            else ""
        )
        meta = entry.get("_gateway") or {}
        rows.append(
            (
                e(when(created)),
                _link(entry["id"]),
                e(meta.get("provider")),
                e(entry.get("model")),
                f'<span class="status status-{e(entry.get("status"))}">{e(entry.get("status"))}</span>',
                e(latency),
                e(usage.get("input_tokens", "")),
                e(usage.get("output_tokens", "")),
                "native" if meta.get("native") else "emulated",
            )
        )
    filters = "".join(
        f'<label>{e(label)} <input name="{name}" value="{e(query.get(name, ""))}"></label>'
        for label, name in (("Provider", "provider"), ("Model", "model"))
    )
    statuses = "".join(
        f'<option value="{s}"{" selected" if query.get("status") == s else ""}>{s or "any"}</option>'
        for s in ("", "completed", "incomplete", "failed", "cancelled", "queued", "in_progress")
    )
    periods = "".join(
        f'<option value="{value}"{" selected" if query.get("since", "") == value else ""}>{label}</option>'
        for value, label in (("", "any time"), ("hour", "last hour"), ("day", "last day"), ("week", "last week"))
    )
    form = (
        f'<form method="get" action="/console" class="filters" aria-label="Filter">{filters}'
        f'<label>Status <select name="status">{statuses}</select></label>'
        f'<label>Created <select name="since">{periods}</select></label><button type="submit">Filter</button></form>'
    )
    more = ""
    if page["has_more"]:
        older = urlencode({**query, "after": page["last_id"]})
        more = f'<p><a href="/console?{e(older)}" rel="next">Older responses →</a></p>'
    headers = (
        "Created (UTC)",
        "Response",
        "Provider",
        "Model",
        "Status",
        "Latency",
        "Tokens in",
        "Tokens out",
        "State",
    )
    body = form + table(headers, rows, empty="No stored responses match.") + more
    return _html(layout("Responses", body, owner=_owner(gateway, principal), current="/console"))


async def response_page(request: Request, gateway: Gateway, principal: Principal) -> Response:
    ident = request.path_params["response_id"]
    await gateway.check_owned(principal, "response", ident)
    await asyncio.to_thread(flush, gateway.store)  # this process's deferred writes, once for the whole page
    loaded = await asyncio.to_thread(_load, gateway, ident)
    if loaded is None:
        raise GatewayError(404, f"no response {ident!r}", "invalid_request_error", "not_found")
    response, inputs = loaded
    chain = await asyncio.to_thread(_chain, gateway, principal, response)
    usage = response.get("usage") or {}
    facts = table(
        ("Status", "Model", "Created (UTC)", "Completed (UTC)", "Tokens in", "Tokens out", "Previous"),
        [
            (
                e(response.get("status")),
                e(response.get("model")),
                e(when(response.get("created_at"))),
                e(when(response.get("completed_at"))),
                e(usage.get("input_tokens", "")),
                e(usage.get("output_tokens", "")),
                _link(response.get("previous_response_id")),
            )
        ],
    )
    steps: list[str] = []
    last = None
    for step in chain:
        current = ' aria-current="step"' if step["id"] == ident else ""
        muted = f"{e(step.get('model'))} · {e(when(step.get('created_at')))}"
        previous = step.get("previous_response_id")
        if steps and previous and previous != last:
            muted += f" · continues {e(previous)}"  # a branch: not the turn listed just before it
        last = step["id"]
        steps.append(f'<li{current}>{_link(step["id"])} <span class="muted">{muted}</span></li>')
    timeline = "".join(steps)
    error = f'<p class="error">{e(json.dumps(response["error"]))}</p>' if response.get("error") else ""
    conversation = response.get("conversation") or {}
    if isinstance(conversation, dict) and conversation.get("id"):
        error += f"<p>In conversation <code>{e(conversation['id'])}</code></p>"
    raw = json.dumps(response, indent=2, ensure_ascii=False)
    no_input = '<p class="empty">(only the chain before it)</p>'
    body = (
        f'{facts}{error}<h2>Chain</h2><ol class="chain">{timeline}</ol>'
        f"<h2>Input</h2>{items(inputs) or no_input}"
        f"<h2>Output</h2>{items(response.get('output') or [])}"
        f"<details><summary>Raw JSON</summary><pre><code>{e(raw)}</code></pre></details>"
    )
    return _html(layout(f"Response {ident}", body, owner=_owner(gateway, principal), current="/console"))


_SINCE = {"hour": 3600, "day": 86400, "week": 7 * 86400}
"""The Responses page's time filter, in seconds back from now."""


def _link(ident: object) -> str:
    """A link to a response's page (the id, provider-chosen, is a path segment: quoted, then escaped)."""
    return f'<a href="/console/responses/{e(quote(str(ident), safe=""))}">{e(ident)}</a>' if ident else ""


def _load(gateway: Gateway, ident: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A response and its own input items (a running background job's have none stored yet)."""
    found = stored_response(gateway, ident)
    if found is None:
        return None
    inputs = [stored.item for stored in gateway.store.input_items(ident) or []]
    return found[0], inputs


def _chain(gateway: Gateway, principal: Principal, response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The turns before ``response`` (by ``previous_response_id``, as far as this key owns them), it, and the
    turns this key made after it (from its newest 200 responses), oldest first."""
    before: list[dict[str, Any]] = []
    seen = {response["id"]}
    previous = response.get("previous_response_id")
    while isinstance(previous, str) and previous not in seen and len(before) < 100:
        seen.add(previous)
        if gateway.ledger.created_at("response", previous, principal.owner) is None:
            break  # not this key's: shown as missing
        loaded = stored_response(gateway, previous)
        if loaded is None:
            break
        before.append(loaded[0])
        previous = loaded[0].get("previous_response_id")
    children: dict[str, list[dict[str, Any]]] = {}
    for ident, _, _ in gateway.ledger.owned("response", principal.owner, limit=200):
        loaded = stored_response(gateway, ident)
        parent = loaded[0].get("previous_response_id") if loaded is not None else None
        if loaded is not None and isinstance(parent, str) and ident not in seen:
            children.setdefault(parent, []).append(loaded[0])
    after: list[dict[str, Any]] = []
    waiting = [str(response["id"])]
    while waiting and len(after) < 200:  # every turn made from it, however many branches, parents first
        parent = waiting.pop(0)
        for child in sorted(children.get(parent, []), key=lambda turn: (turn.get("created_at") or 0, turn["id"])):
            if child["id"] not in seen:
                seen.add(child["id"])
                after.append(child)
                waiting.append(str(child["id"]))
    return [*reversed(before), dict(response), *after]


# -- playground


async def playground_page(_request: Request, gateway: Gateway, principal: Principal) -> Response:
    models = [f"{alias}" for alias in gateway.config.aliases]
    options = "".join(f'<option value="{e(model)}"></option>' for model in models)
    body = (
        '<form id="playground" class="stack" aria-label="Playground">'
        '<label for="prompt">Prompt</label><textarea id="prompt" name="prompt" rows="4" required></textarea>'
        '<label for="instructions">Instructions (optional)</label>'
        '<textarea id="instructions" name="instructions" rows="2"></textarea>'
        '<div class="row"><label>Model <input name="model" list="models" value="" required '
        'placeholder="provider:model or alias"></label>'
        '<label>Model <input name="model" list="models" placeholder="a second model (optional)"></label>'
        '<label>Model <input name="model" list="models" placeholder="a third model (optional)"></label></div>'
        '<div class="row"><label>Reasoning effort <select name="effort"><option value="">default</option>'
        "<option>minimal</option><option>low</option><option>medium</option><option>high</option></select></label>"
        '<label>Max output tokens <input name="max_output_tokens" type="number" min="1" value="256"></label></div>'
        '<label for="tools">Tools (a JSON array, optional)</label>'
        '<textarea id="tools" name="tools" rows="3" spellcheck="false"></textarea>'
        '<button type="submit">Send</button></form>'
        f'<datalist id="models">{options}</datalist>'
        '<div id="results" class="columns" aria-live="polite"></div>'
    )
    page = layout(
        "Playground", body, owner=_owner(gateway, principal), current="/console/playground", scripts=("playground.js",)
    )
    return _html(page)


async def api_responses(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """``POST /console/api/responses``: the API's own create route, as the signed-in key (the playground)."""
    from polyresponses.server._app import create_response

    return await create_response(request, gateway, principal)


# -- providers


async def providers_page(_request: Request, gateway: Gateway, principal: Principal) -> Response:
    return _html(_providers(gateway, principal, None))


async def provider_check(request: Request, gateway: Gateway, principal: Principal) -> Response:
    """The smallest request to one provider: its answer, or the exact error (never a key: errors carry none)."""
    name = request.path_params["provider"]
    form = await _form(request)
    model = str(form.get("model") or "").strip()
    try:
        if not model:
            raise GatewayError(400, "give a model to check with", param="model", code="invalid_value")
        created = await gateway.prepare_create(
            principal,
            {"model": f"{name}:{model}", "input": "Reply with the word OK.", "max_output_tokens": 16, "store": False},
        )
        reply = await gateway.respond(created)
        text = "".join(
            str(part.get("text", ""))
            for item in reply.get("output") or []
            if item.get("type") == "message"
            for part in item.get("content") or []
        )
        result = (name, True, f"{reply.get('status')}: {text.strip() or '(no text)'}")
    except Exception as error:
        failure = as_gateway_error(error)
        result = (name, False, f"{failure.status} {failure.code or failure.type}: {failure.message}")
    return _html(_providers(gateway, principal, result))


def _providers(gateway: Gateway, principal: Principal, result: tuple[str, bool, str] | None) -> str:
    from polyresponses.router._providers import PROVIDERS

    rows = []
    for name, row in sorted(PROVIDERS.items()):
        settings = gateway.config.providers.get(name)
        variables = (
            [settings.api_key_env]
            if settings is not None and settings.api_key_env
            else [v for v in (row.api_key_env, *row.key_fallback_env) if v]
        )
        if not row.key_required:
            key = "not needed"
        elif any(gateway.environ.get(variable) for variable in variables):
            key = "configured"
        elif row.token_auth is not None or row.aws_signing_name is not None:
            key = "cloud credentials"
        else:
            key = "missing"
        tools = ", ".join(sorted(row.capabilities.tools))
        check = (
            f'<form method="post" action="/console/providers/{e(name)}/check" class="inline">'
            f'<label class="sr-only" for="m-{e(name)}">Model for {e(name)}</label>'
            f'<input id="m-{e(name)}" name="model" placeholder="model" required>'
            f'<button type="submit">Check</button></form>'
        )
        rows.append(
            (e(name), e(row.dialect), e(tools), f'<span class="key-{e(key.split()[0])}">{e(key)}</span>', check)
        )
    notice = ""
    if result is not None:
        name, ok, text = result
        notice = f'<p class="{"ok" if ok else "error"}" role="status" id="check-result">{e(name)}: {e(text)}</p>'
    body = notice + table(("Provider", "Dialect", "Tools", "Key", "Check"), rows)
    return layout("Providers", body, owner=_owner(gateway, principal), current="/console/providers")


# -- metrics


async def metrics_page(_request: Request, gateway: Gateway, principal: Principal) -> Response:
    from polyresponses.server.console._charts import bars

    recent = gateway.metrics.recent()
    by_model: dict[tuple[str, str], Minute] = {}
    per_minute: dict[int, Minute] = {}
    for (minute, provider, model), figures in recent.items():
        _add(by_model.setdefault((provider, model), Minute()), figures)
        _add(per_minute.setdefault(minute, Minute()), figures)
    rows = [
        (
            e(provider),
            e(model),
            e(m.requests),
            e(f"{m.errors / m.requests:.1%}" if m.requests else ""),
            e(_seconds(percentile(m.histogram, 0.5))),
            e(_seconds(percentile(m.histogram, 0.99))),
            e(m.tokens_in),
            e(m.tokens_out),
        )
        for (provider, model), m in sorted(by_model.items())
    ]
    latest = int(time.time() // 60)
    minutes = [latest - WINDOW_MINUTES + 1 + n for n in range(WINDOW_MINUTES)]
    requests_chart = bars(
        "Requests per minute", [(m, float(per_minute[m].requests if m in per_minute else 0)) for m in minutes]
    )
    latency_chart = bars(
        "p50 latency per minute (s)",
        [
            (m, min(percentile(per_minute[m].histogram, 0.5) or 0.0, BUCKETS[-1]) if m in per_minute else 0.0)
            for m in minutes
        ],
    )
    body = (
        '<p class="muted">The last hour on this gateway process, by minute (each replica counts its own).</p>'
        + requests_chart
        + latency_chart
        + table(("Provider", "Model", "Requests", "Errors", "p50", "p99", "Tokens in", "Tokens out"), rows)
    )
    return _html(layout("Metrics", body, owner=_owner(gateway, principal), current="/console/metrics"))


def _add(total: Minute, figures: Minute) -> None:
    total.requests += figures.requests
    total.errors += figures.errors
    total.tokens_in += figures.tokens_in
    total.tokens_out += figures.tokens_out
    total.histogram = [a + b for a, b in zip(total.histogram, figures.histogram, strict=True)]


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"> {BUCKETS[-1]:g} s" if value > BUCKETS[-1] else f"≤ {value:g} s"


def _owner(gateway: Gateway, principal: Principal) -> str | None:
    return principal.owner if gateway.config.keys else None
