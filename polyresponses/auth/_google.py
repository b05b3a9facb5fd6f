"""OAuth access tokens for Google Cloud (Vertex AI) from google-auth's credentials, cached and refreshed before expiry.

Where credentials come from is google-auth's job: Application Default Credentials (ADC) are the reference behaviour of
every Google SDK (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's well-known file, workload identity, the metadata
server). google-auth, the ``[google]`` extra, is imported on the first token, never at import. Its refreshes go over
:class:`_UrllibRequest`, a standard-library transport, so neither ``requests`` nor httpx is needed here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from email.message import Message

    import google.auth.transport

__all__ = ["CLOUD_PLATFORM_SCOPE", "GoogleTokenProvider", "google_location", "google_project"]

# The scope Vertex AI's REST reference lists for every method (and what google-genai and anthropic[vertex] ask for).
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_EXTRA = "pip install 'polyresponses[google]'"
# google-auth's own requests transport waits this long when a caller gives no timeout (transport/requests.py
# _DEFAULT_TIMEOUT); its token-endpoint calls give none (oauth2/_client.py), and a refresh must not hang forever.
_DEFAULT_TIMEOUT = 120.0
_ADC_HELP = (
    "set GOOGLE_APPLICATION_CREDENTIALS to a service-account or external-account key file, run "
    "`gcloud auth application-default login`, or run where a metadata server provides a service account"
)


def google_project(environ: Mapping[str, str] = os.environ) -> str | None:
    """The project from ``GOOGLE_CLOUD_PROJECT``, ``GCLOUD_PROJECT`` (google-auth's and google-genai's variables,
    google/auth/environment_vars.py) or ``ANTHROPIC_VERTEX_PROJECT_ID`` (anthropic's Vertex client), else ``None``."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "ANTHROPIC_VERTEX_PROJECT_ID"):
        if value := environ.get(name):
            return value
    return None


def google_location(environ: Mapping[str, str] = os.environ) -> str | None:
    """The location from ``GOOGLE_CLOUD_LOCATION`` (google-genai) or ``CLOUD_ML_REGION`` (anthropic's Vertex
    client), else ``None``; empty counts as unset."""
    return environ.get("GOOGLE_CLOUD_LOCATION") or environ.get("CLOUD_ML_REGION") or None


class _Response:
    """A finished HTTP exchange as google-auth reads it (google.auth.transport.Response: status, headers, data)."""

    def __init__(self, status: int, headers: Message, data: bytes) -> None:
        self.status = status
        self.headers = headers  # case-insensitive .get, as google-auth's metadata code expects ("metadata-flavor")
        self.data = data


class _UrllibRequest:
    """google.auth.transport.Request on ``urllib.request``: token endpoints, STS and the metadata server.

    Error statuses are responses (google-auth reads their bodies and decides on retries); failing to reach the
    server is google-auth's ``TransportError``, as its interface requires. Proxies come from the environment, as
    with google-auth's requests transport. Registered as a virtual subclass of the interface on first use.
    """

    def __init__(self, transport_error: type[Exception], timeout: float = _DEFAULT_TIMEOUT) -> None:
        self._transport_error = transport_error
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,  # noqa: ARG002 - requests-specific options (verify, cert) that urllib has no use for
    ) -> _Response:
        # Imported here: urllib.request pulls in http.client, email and ssl (~20 ms), needed only to refresh.
        import http.client
        import urllib.error
        import urllib.request

        try:
            request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
            with urllib.request.urlopen(request, timeout=timeout or self._timeout) as reply:
                return _Response(reply.status, reply.headers, reply.read())
        except urllib.error.HTTPError as error:
            with error:
                return _Response(error.code, error.headers, error.read())
        except (OSError, http.client.HTTPException, ValueError) as error:  # URLError and timeouts are OSErrors
            raise self._transport_error(f"{method} {url} failed: {error}") from error


class GoogleTokenProvider:
    """A current OAuth access token for each call, from google-auth credentials, refreshed ``refresh_margin``
    seconds before they expire.

    With ``credentials=None`` the first call finds Application Default Credentials (``google.auth.default``), scoped
    to ``scopes``; given credentials are scoped the same way when they need it. The HTTP layer calls this on every
    attempt, so a fresh token is one attribute read and no lock; when it is due, one thread refreshes and the others
    wait for its token (google-auth's credentials are not thread-safe). A refresh that fails while the token has
    not yet expired leaves it in use (the next call tries again); otherwise the failure is a ``LookupError``. The
    first call and refreshes block on I/O, so async code calls this in a worker thread. Expiry is judged by
    ``clock`` (epoch seconds), not google-auth's clock.
    """

    def __init__(
        self,
        credentials: Any = None,
        *,
        scopes: Sequence[str] = (CLOUD_PLATFORM_SCOPE,),
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._given = credentials is not None
        self._credentials: Any = credentials
        self._scopes = tuple(scopes)
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = False  # google-auth imported, credentials found and scoped, transport made
        self._transport: _UrllibRequest | None = None
        self._project: str | None = None
        self._token: tuple[str, float | None] | None = None  # (token, expiry in epoch seconds): one atomic read

    def __repr__(self) -> str:
        source = type(self._credentials).__name__ if self._credentials is not None else "application default"
        cached = self._token
        if cached is None:
            state = "no token"
        elif cached[1] is None:
            state = "token without expiry"
        else:
            state = f"token expiring {datetime.fromtimestamp(cached[1], UTC).isoformat()}"
        return f"GoogleTokenProvider({source}, {state}, scopes={list(self._scopes)}, refresh_margin={self._margin})"

    @property
    def project(self) -> str | None:
        """The project Application Default Credentials reported; ``None`` when unknown or not yet loaded."""
        return self._project

    def _fresh(self, token: tuple[str, float | None], now: float) -> bool:
        return token[1] is None or token[1] - now > self._margin

    def __call__(self) -> str:
        """The access token to send now, refreshing it first when it is missing or expires within the margin."""
        cached = self._token  # the fast path takes no lock
        if cached is not None and self._fresh(cached, self._clock()):
            return cached[0]
        # Due but not expired: while another thread refreshes, this one sends the still valid token rather than
        # wait (a refresh can take seconds, and in the gateway each waiter holds a worker thread).
        valid = cached is not None and (cached[1] is None or self._clock() < cached[1])
        if not self._lock.acquire(blocking=not valid):
            assert cached is not None
            return cached[0]
        try:
            now = self._clock()
            cached = self._token  # another thread may have refreshed while this one waited
            if cached is not None and self._fresh(cached, now):
                return cached[0]
            if not self._loaded:
                self._load()
            current = _token_of(self._credentials)  # given credentials may arrive fresh, or be refreshed elsewhere
            if current is None or not self._fresh(current, now):
                from google.auth import exceptions

                try:
                    self._credentials.refresh(self._transport)
                except exceptions.GoogleAuthError as error:
                    if cached is not None and (cached[1] is None or now < cached[1]):
                        return cached[0]  # still valid: use it, and try again on the next call
                    help_ = "" if self._given else f"; {_ADC_HELP}"
                    raise LookupError(
                        f"could not refresh the Google access token ({self._source()}): {_describe(error)}{help_}"
                    ) from error
                current = _token_of(self._credentials)
                if current is None:
                    raise LookupError(f"refreshing the Google credentials ({self._source()}) gave no access token")
            self._token = current
            return current[0]
        finally:
            self._lock.release()

    def _source(self) -> str:
        if self._given:
            return f"given {type(self._credentials).__name__}"
        return f"application default credentials, {type(self._credentials).__name__}"

    def _load(self) -> None:
        """Import google-auth, find the credentials (ADC unless given) and scope them; under the lock, once."""
        try:
            import google.auth
            import google.auth.exceptions
            import google.auth.transport
        except ImportError as error:
            raise ImportError(f"Google Cloud credentials need google-auth: {_EXTRA}") from error
        google.auth.transport.Request.register(_UrllibRequest)
        google.auth.transport.Response.register(_Response)
        transport = _UrllibRequest(google.auth.exceptions.TransportError)
        if self._given:
            credentials = self._credentials  # scoped as google.auth.credentials.with_scopes_if_required would
            if getattr(credentials, "requires_scopes", False):
                credentials = credentials.with_scopes(self._scopes)
        else:
            try:
                # The transport lets ADC probe the metadata server and resolve workload identity (_default.py).
                credentials, project = google.auth.default(
                    scopes=self._scopes, request=cast("google.auth.transport.Request", transport)
                )
            except google.auth.exceptions.GoogleAuthError as error:  # DefaultCredentialsError, or a failed probe
                raise LookupError(
                    "no Google credentials found: looked for Application Default Credentials "
                    f"(GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json, the metadata "
                    f"server): {_describe(error)}; {_ADC_HELP}"
                ) from error
            self._project = project or None
        self._credentials, self._transport, self._loaded = credentials, transport, True


def _token_of(credentials: Any) -> tuple[str, float | None] | None:
    """google-auth's token and expiry (a naive UTC datetime, google/auth/_helpers.py utcnow) in epoch seconds."""
    token, expiry = credentials.token, credentials.expiry
    if not token:
        return None
    if expiry is None:
        return (token, None)
    return (token, (expiry if expiry.tzinfo is not None else expiry.replace(tzinfo=UTC)).timestamp())


def _describe(error: BaseException) -> str:
    """The error's type and first message, never its other arguments (RefreshError carries the whole response)."""
    first = error.args[0] if error.args else ""
    if isinstance(first, BaseException):  # compute_engine wraps the TransportError in a RefreshError
        return f"{type(error).__name__}: {_describe(first)}"
    text = first if isinstance(first, str) else type(first).__name__
    return f"{type(error).__name__}: {text[:300]}"
