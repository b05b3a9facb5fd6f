"""Who is looking: the console's sign-in, a cookie sealed by the gateway's secret.

A browser cannot send ``Authorization: Bearer`` on navigation, so the console asks for the gateway key
once (``POST /console/login``), checks it exactly as the API does, and sets a cookie holding the key's
*name*, a fingerprint of the key (a rotated key ends its sessions) and an expiry, sealed under a key
derived from the gateway's secret for this purpose only (every replica shares the secret, so any
replica accepts the cookie; no compaction item can pass for one). The key itself is never stored, in the cookie or
anywhere. The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``, ``Secure`` over HTTPS;
every state-changing console request must also come from the console's own origin (``Origin``
checked), so another site cannot act with it. With no gateway keys configured the gateway answers
this machine only, and the console needs no sign-in (one owner, as the API).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING

from polyresponses.server._errors import GatewayError
from polyresponses.server._gateway import ANONYMOUS, Principal, this_machine_only

if TYPE_CHECKING:
    from starlette.requests import Request

    from polyresponses.server._compaction import Sealer
    from polyresponses.server._config import GatewayKey
    from polyresponses.server._gateway import Gateway

__all__ = ["COOKIE", "SESSION_SECONDS", "cookie_for", "principal_of", "same_origin"]

COOKIE = "polyresponses_console"
SESSION_SECONDS = 8 * 3600


def _sealer(gateway: Gateway) -> Sealer:
    """The console's own sealer: derived from the gateway secret, so no compaction item can pass for a cookie."""
    return gateway.sealer.derived("polyresponses console session v1")


def _fingerprint(key: GatewayKey) -> str:
    """Which key the session was made with: a rotated key (same name, new secret) ends its sessions."""
    return hashlib.sha256(b"console" + key.digest).hexdigest()[:32]


def cookie_for(gateway: Gateway, principal: Principal, now: float | None = None) -> str:
    """The cookie value that stands for ``principal`` until ``SESSION_SECONDS`` from now."""
    expires = int((now or time.time()) + SESSION_SECONDS)
    name = base64.urlsafe_b64encode(principal.owner.encode()).decode().rstrip("=")
    claims = {"exp": expires, "key": _fingerprint(principal.key) if principal.key is not None else ""}
    return f"{name}~{_sealer(gateway).seal(json.dumps(claims), principal.owner)}"


def principal_of(gateway: Gateway, request: Request) -> Principal | None:
    """The signed-in principal, or ``None`` (no cookie; a forged, expired or tampered one; one made with a key
    since removed or rotated)."""
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
    opened = _sealer(gateway).open(sealed, owner) if key is not None and sealed else None
    if key is None or opened is None:
        return None
    try:
        claims = json.loads(opened)
        expires, fingerprint = float(claims["exp"]), str(claims["key"])
    except (ValueError, KeyError, TypeError, OverflowError):
        return None
    if not hmac.compare_digest(fingerprint, _fingerprint(key)) or not expires > time.time():
        return None
    return Principal(owner, key)


def same_origin(request: Request) -> None:
    """Refuse a state-changing request that a page of another origin sent (CSRF), beside SameSite."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is None or origin.split("://", 1)[-1] != host:
        raise GatewayError(403, "console requests must come from the console's own page", code="cross_origin")
