"""Microsoft Entra ID bearer tokens for Azure AI Foundry and Azure OpenAI, from any azure-core credential.

The HTTP layer calls an :class:`AzureTokenProvider` on every request attempt, so the provider caches the token and
asks its credential again only when the token expires within the margin. Which identity to use (``az login``, a
service principal in the environment, a managed identity, workload identity, ...) is azure-identity's job: its
``DefaultAzureCredential`` is the reference chain of every Azure SDK, imported only on the first call (the
``[azure]`` extra; ``import azure.identity`` takes a few hundred milliseconds).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["COGNITIVE_SERVICES_SCOPE", "AzureTokenProvider"]

# Azure AI Foundry and Azure OpenAI accept Entra ID tokens for this scope (Microsoft Learn, "Authenticate with
# Microsoft Entra ID" for Azure OpenAI / Foundry Models: get_bearer_token_provider(..., this scope)).
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
_EXTRA = "pip install 'polyresponses[azure]'"
# The three ways DefaultAzureCredential most often finds an identity (azure-identity README, "DefaultAzureCredential"
# and "Environment variables"); AZURE_CLIENT_ID alone selects a user-assigned managed identity.
_HINT = (
    "run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (a service principal), or run "
    "where a managed identity is assigned (AZURE_CLIENT_ID selects a user-assigned one)"
)
# azure-identity already redacts the CLI's "accessToken" from its messages; a JWT anywhere else is hidden too.
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")


class AzureTokenProvider:
    """A ``Callable[[], str]`` returning a current Entra ID bearer token for ``scope``.

    ``credential`` is any azure-core ``TokenCredential`` (an object with ``get_token(*scopes)`` returning an
    ``AccessToken(token, expires_on)``); ``None`` builds azure-identity's ``DefaultAzureCredential`` on the first
    call. The token is cached and fetched again once it expires within ``refresh_margin`` seconds by ``clock``
    (epoch seconds). Thread-safe: when many threads find the token due, one calls the credential and the rest
    wait for its token. A fetch that fails while the cached token has not yet expired leaves that token in use
    (the next call tries again); after expiry the error propagates. Calls may block on the credential's I/O (the
    ``az`` CLI, instance metadata), so async code calls the provider in a worker thread.

    Raises ``ImportError`` naming the ``[azure]`` extra when azure-identity is needed and missing, and
    ``LookupError`` saying what to configure when the credential cannot authenticate (azure-core's
    ``ClientAuthenticationError``, which includes azure-identity's ``CredentialUnavailableError``).
    """

    def __init__(
        self,
        credential: Any = None,
        *,
        scope: str = COGNITIVE_SERVICES_SCOPE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (token, expires_on in epoch seconds)

    def __repr__(self) -> str:
        credential = self._credential
        kind = "DefaultAzureCredential (not built)" if credential is None else type(credential).__name__
        cached = self._token
        state = "no token" if cached is None else f"token expires {datetime.fromtimestamp(cached[1], UTC):%FT%TZ}"
        return f"AzureTokenProvider({kind}, scope={self._scope!r}, {state}, refresh_margin={self._margin})"

    def _fresh(self, cached: tuple[str, float] | None, now: float) -> bool:
        return cached is not None and cached[1] - now > self._margin

    def __call__(self) -> str:
        """The bearer token to send now, fetched from the credential if none is cached or it is due."""
        now = self._clock()
        cached = self._token  # one reference read: the fast path takes no lock
        if cached is not None and self._fresh(cached, now):
            return cached[0]
        # Due but not expired: while another thread fetches, this one sends the still valid token rather than
        # wait (a credential chain can take seconds, and in the gateway each waiter holds a worker thread).
        if not self._lock.acquire(blocking=not (cached is not None and now < cached[1])):
            assert cached is not None
            return cached[0]
        try:
            cached = self._token  # another thread may have fetched it while this one waited
            if cached is not None and self._fresh(cached, now):
                return cached[0]
            try:
                fetched = self._fetch()
            except Exception:
                if cached is not None and now < cached[1]:
                    return cached[0]
                raise
            self._token = fetched
            return fetched[0]
        finally:
            self._lock.release()

    def _fetch(self) -> tuple[str, float]:
        """One ``get_token`` call (under the lock), its authentication failures turned into ``LookupError``."""
        if self._credential is None:
            self._credential = _default_credential()
        credential = self._credential
        try:
            access = credential.get_token(self._scope)
        except Exception as error:
            if not _is_authentication_error(error):
                raise
            detail = _JWT.sub("***", str(error)).strip()
            raise LookupError(
                f"{type(credential).__name__} could not get a Microsoft Entra ID token for {self._scope}: "
                f"{_HINT}. {type(error).__name__}: {detail}"
            ) from error
        return str(access.token), float(access.expires_on)


def _default_credential() -> Any:
    """azure-identity's ``DefaultAzureCredential``, imported now: the first call pays the import, not ``import``."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as error:
        raise ImportError(
            f"Microsoft Entra ID tokens need azure-identity: {_EXTRA} (or pass a credential, or use an API key)"
        ) from error
    return DefaultAzureCredential()


def _is_authentication_error(error: Exception) -> bool:
    """Whether ``error`` is azure-core's ``ClientAuthenticationError`` (``CredentialUnavailableError`` subclasses it).

    Looked up in ``sys.modules`` rather than imported: if azure-core is not loaded, the credential cannot have
    raised its exception, and a duck-typed credential keeps working without azure-core installed.
    """
    module = sys.modules.get("azure.core.exceptions")
    authentication_error = getattr(module, "ClientAuthenticationError", None)
    return isinstance(authentication_error, type) and isinstance(error, authentication_error)
