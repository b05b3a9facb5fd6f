"""Auth strategies beside the HTTP layer, out of the pure dialects: AWS SigV4 signing and AWS credentials.

Signing (:func:`sign`) is the standard library only; the credential chain beyond environment keys
(:func:`botocore_chain`) imports botocore, the ``[aws]`` extra, when first used, never at import.
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
from polyresponses.auth._sigv4 import UNSIGNED_HEADERS, AwsCredentials, sign

__all__ = [
    "REFRESH_MARGIN",
    "UNSIGNED_HEADERS",
    "AwsCredentials",
    "CredentialSource",
    "aws_region",
    "botocore_chain",
    "default_credentials",
    "environment_credentials",
    "sign",
]
