"""Auth strategies beside the HTTP layer, out of the pure dialects: AWS SigV4 signing and AWS credentials,
Google Cloud OAuth access tokens and Microsoft Entra ID tokens, and the signers the HTTP layer calls.

Signing (:func:`sign`) is the standard library only; the credential chain beyond environment keys
(:func:`botocore_chain`) imports botocore, the ``[aws]`` extra, when first used, never at import; likewise
:class:`GoogleTokenProvider` imports google-auth (``[google]``) and :class:`AzureTokenProvider`
azure-identity (``[azure]``) on their first token. Any ``Callable[[], str]`` is a token provider
(``Client(..., token_provider=...)``).
"""

from __future__ import annotations

from polyresponses.auth._aws import (
    REFRESH_MARGIN,
    CredentialSource,
    aws_region,
    botocore_chain,
    default_credentials,
    environment_credentials,
)
from polyresponses.auth._azure import COGNITIVE_SERVICES_SCOPE, AzureTokenProvider
from polyresponses.auth._google import CLOUD_PLATFORM_SCOPE, GoogleTokenProvider, google_location, google_project
from polyresponses.auth._sigv4 import UNSIGNED_HEADERS, AwsCredentials, sign
from polyresponses.auth._tokens import TokenProvider

__all__ = [
    "CLOUD_PLATFORM_SCOPE",
    "COGNITIVE_SERVICES_SCOPE",
    "REFRESH_MARGIN",
    "UNSIGNED_HEADERS",
    "AwsCredentials",
    "AzureTokenProvider",
    "CredentialSource",
    "GoogleTokenProvider",
    "TokenProvider",
    "aws_region",
    "botocore_chain",
    "default_credentials",
    "environment_credentials",
    "google_location",
    "google_project",
    "sign",
]
