"""Who is looking: the console's sign-in, a cookie sealed by the gateway's secret.

A browser cannot send ``Authorization: Bearer`` on navigation, so the console asks for the gateway key
once (``POST /console/login``), checks it exactly as the API does, and sets a cookie holding the key's
*name* and an expiry, sealed with the gateway's AES-GCM secret (the compaction sealer: every replica
shares it, so any replica accepts the cookie). The key itself is never stored, in the cookie or
anywhere. The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``, ``Secure`` over HTTPS;
every state-changing console request must also come from the console's own origin (``Origin``
checked), so another site cannot act with it. With no gateway keys configured the gateway answers
this machine only, and the console needs no sign-in (one owner, as the API).
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING

from polyresponses.server._errors import GatewayError
from polyresponses.server._gateway import ANONYMOUS, Principal, this_machine_only

if TYPE_CHECKING:
    from starlette.requests import Request

    from polyresponses.server._gateway import Gateway

__all__ = ["COOKIE", "SESSION_SECONDS", "cookie_for", "principal_of", "same_origin"]

COOKIE = "polyresponses_console"
SESSION_SECONDS = 8 * 3600
_PURPOSE = "console:"


def cookie_for(gateway: Gateway, principal: Principal, now: float | None = None) -> str:
    """The cookie value that stands for ``principal`` until ``SESSION_SECONDS`` from now."""
    expires = int((now or time.time()) + SESSION_SECONDS)
    name = base64.urlsafe_b64encode(principal.owner.encode()).decode().rstrip("=")
    return f"{name}~{gateway.sealer.seal(json.dumps({'exp': expires}), _PURPOSE + principal.owner)}"


def principal_of(gateway: Gateway, request: Request) -> Principal | None:
    """The signed-in principal, or ``None`` (no cookie, a forged or expired one, a key since removed)."""
    keys = gateway.config.keys
    if not keys:
        this_machine_only(request.headers.get("host"), request.headers.get("origin"))
        return Principal(ANONYMOUS)
    value = request.cookies.get(COOKIE, "")
    name, _, sealed = value.partition("~")
    try:
        owner = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    key = next((key for key in keys if key.name == owner), None)
    opened = gateway.sealer.open(sealed, _PURPOSE + owner) if key is not None and sealed else None
    if opened is None:
        return None
    try:
        expires = int(json.loads(opened)["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    return Principal(owner, key) if expires > time.time() else None


def same_origin(request: Request) -> None:
    """Refuse a state-changing request that a page of another origin sent (CSRF), beside SameSite."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is None or origin.split("://", 1)[-1] != host:
        raise GatewayError(403, "console requests must come from the console's own page", code="cross_origin")
