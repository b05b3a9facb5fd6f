"""Bearer tokens from a provider of them: the client's ``token_provider=``, Google's ADC, Microsoft Entra ID.

A token provider is any ``Callable[[], str]`` returning a currently valid token; it caches and refreshes on
its own (:class:`~polyresponses.auth._google.GoogleTokenProvider`, :class:`~polyresponses.auth._azure.
AzureTokenProvider` do, 5 minutes before expiry). The HTTP layer asks for the token on every attempt, so a
long-lived client never sends an expired one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["BearerSigner", "TokenProvider", "cloud_token_provider"]

TokenProvider = Callable[[], str]
"""Returns a current bearer token (may block while it refreshes; async clients call it in a thread)."""

_EXTRAS = {"google": ("google.auth", "polyresponses[google]"), "azure": ("azure.identity", "polyresponses[azure]")}


@dataclass(frozen=True, slots=True)
class BearerSigner:
    """The request signer of a token-authenticated row: ``Authorization: Bearer <token>``."""

    tokens: TokenProvider = field(repr=False)

    def __call__(self, _method: str, _url: str, _headers: Mapping[str, str], _body: bytes) -> dict[str, str]:
        try:
            token = self.tokens()
        except LookupError:
            raise
        except ImportError:
            raise
        except Exception as error:  # a caller's provider failing: said by kind, never by its message
            raise LookupError(f"the token provider failed ({type(error).__name__})") from None
        if not isinstance(token, str) or not token.strip():
            raise LookupError("the token provider returned no token")
        token = token.strip()  # a token read from a file keeps its newline
        if not (token.isascii() and token.isprintable()) or " " in token:
            # Never quoted: a header value httpx refuses would put the whole token in its error message.
            raise LookupError("the token provider returned a token that is not a valid header value")
        return {"Authorization": f"Bearer {token}"}


def cloud_token_provider(cloud: Literal["google", "azure", "ibm"], scope: str = "") -> TokenProvider:
    """The default credentials of ``cloud`` as a token provider for ``scope`` (empty: the cloud's default);
    its extra's absence is an ImportError now."""
    if cloud == "ibm":  # pragma: no cover - IBM tokens are bought with the row's key (router._client)
        raise ImportError("IBM Cloud IAM tokens are exchanged for the row's API key: give the key")
    module, extra = _EXTRAS[cloud]
    if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
        raise ImportError(f"{cloud} credentials need {module}: pip install '{extra}' (or pass token_provider=...)")
    if cloud == "google":
        from polyresponses.auth._google import GoogleTokenProvider

        return GoogleTokenProvider(scopes=(scope,)) if scope else GoogleTokenProvider()
    from polyresponses.auth._azure import AzureTokenProvider

    return AzureTokenProvider(scope=scope) if scope else AzureTokenProvider()
