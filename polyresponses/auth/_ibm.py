"""IBM Cloud IAM: an API key exchanged for a bearer token, as watsonx.ai wants it. Standard library only.

IBM Cloud docs, "Generating an IBM Cloud IAM token by using an API key": ``POST
https://iam.cloud.ibm.com/identity/token`` with the form ``grant_type=urn:ibm:params:oauth:grant-type:apikey``
and ``apikey``; the reply's ``access_token`` is valid for ``expires_in`` seconds (an hour). The token is cached
and exchanged again 5 minutes before it expires; while one thread exchanges, the others send the still valid
token. The API key goes only to IAM, never to the model API, and neither appears in a repr or an error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

__all__ = ["IAM_TOKEN_URL", "IbmIamTokenProvider"]

IAM_TOKEN_URL = "https://iam.cloud.ibm.com/identity/token"
_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


class IbmIamTokenProvider:
    """A current IAM access token for ``api_key``, exchanged ``refresh_margin`` seconds before it expires."""

    def __init__(
        self,
        api_key: str,
        *,
        url: str | None = None,
        refresh_margin: float = 300.0,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api_key = api_key
        self._url = url or IAM_TOKEN_URL  # read when made: a deployment (or a test) may point it elsewhere
        self._margin = refresh_margin
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    def __repr__(self) -> str:
        state = "no token yet" if self._token is None else f"token until {self._token[1]:.0f}"
        return f"IbmIamTokenProvider({self._url!r}, {state})"

    def __call__(self) -> str:
        now = self._clock()
        cached = self._token
        if cached is not None and cached[1] - now > self._margin:
            return cached[0]
        # Due but not expired: while another thread exchanges, this one sends the still valid token.
        if not self._lock.acquire(blocking=not (cached is not None and now < cached[1])):
            assert cached is not None
            return cached[0]
        try:
            cached = self._token
            if cached is not None and cached[1] - self._clock() > self._margin:
                return cached[0]
            try:
                self._token = self._exchange()
            except LookupError:
                if cached is not None and self._clock() < cached[1]:
                    return cached[0]  # still valid: use it, and try again on the next call
                raise
            return self._token[0]
        finally:
            self._lock.release()

    def _exchange(self) -> tuple[str, float]:
        import urllib.error
        import urllib.request

        form = urlencode({"grant_type": _GRANT, "apikey": self._api_key}).encode()
        request = urllib.request.Request(
            self._url,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as reply:
                payload = json.loads(reply.read())
        except urllib.error.HTTPError as error:
            with error:
                detail = _error_text(error.read()).replace(self._api_key, "***")
            raise LookupError(f"IBM Cloud IAM refused the API key exchange ({error.code}{detail})") from None
        except (OSError, ValueError) as error:  # unreachable, timed out, or not JSON
            raise LookupError(f"IBM Cloud IAM could not be asked for a token ({type(error).__name__})") from None
        token, lifetime = payload.get("access_token"), payload.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise LookupError("IBM Cloud IAM answered without an access_token and expires_in")
        return token, self._clock() + float(lifetime)


def _error_text(body: bytes) -> str:
    """IAM's ``errorCode``/``errorMessage`` (they name the problem, never the key), if the body has them."""
    try:
        payload = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    parts = [str(payload[key]) for key in ("errorCode", "errorMessage") if isinstance(payload.get(key), str)]
    return f": {' '.join(parts)}" if parts else ""
