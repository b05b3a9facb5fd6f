"""The request signer an AWS provider row gets: SigV4 over the credentials the environment gives.

The HTTP layer (``router._http``) calls it on every attempt with the request as it will be sent (method,
URL, the headers to sign, the body bytes) and adds the headers it returns, so a retry is signed afresh
and refreshed credentials are picked up. Only ``content-type`` (and the host, which :func:`sign` adds) is
signed: the headers httpx adds on the way out may change without breaking the signature.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from polyresponses.auth._aws import (
    CredentialSource,
    _botocore_installed,  # pyright: ignore[reportPrivateUsage]
    aws_region,
    default_credentials,
    environment_credentials,
)
from polyresponses.auth._sigv4 import sign

__all__ = ["AwsCredentialsError", "SigV4Signer", "aws_signer", "region_of"]

_REGION_IN_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.")
"""The region label of an AWS endpoint host (``bedrock-runtime.us-east-1.amazonaws.com``)."""


class AwsCredentialsError(LookupError):
    """No AWS credentials could be found or loaded; says where they were looked for, never a secret."""


@dataclass(frozen=True, slots=True)
class SigV4Signer:
    """Signs a request for ``service`` in ``region`` with the current credentials of ``source``."""

    source: CredentialSource = field(repr=False)
    region: str
    service: str

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        try:
            credentials = self.source.current()
        except ImportError:
            raise
        except Exception as error:  # botocore's chain found nothing, or a refresh failed: say so, not how
            raise AwsCredentialsError(
                f"AWS credentials for SigV4 ({self.service}, {self.region}) could not be loaded"
                f" ({type(error).__name__}): set AWS_BEARER_TOKEN_BEDROCK, AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (the profile chain needs polyresponses[aws])"
            ) from None
        signed = {name: value for name, value in headers.items() if name.lower() == "content-type"}
        # Bedrock is signed as botocore signs it: no x-amz-content-sha256 (botocore adds it for S3 only).
        return sign(
            method,
            url,
            signed,
            body,
            credentials=credentials,
            region=self.region,
            service=self.service,
            content_sha256_header=False,
        )


def region_of(url: str) -> str | None:
    """The region in an AWS endpoint URL's host, if it names one."""
    match = _REGION_IN_HOST.search("." + (urlsplit(url).hostname or "") + ".")
    return match.group(1) if match else None


def aws_signer(
    service: str, base_url: str, environ: Mapping[str, str] = os.environ, *, region: str | None = None
) -> SigV4Signer | None:
    """A signer for ``service`` at ``base_url``, or ``None`` where the environment holds no AWS credentials.

    The region is the client's ``region=``, else the host's (a base URL names it, a VPC endpoint's too),
    else ``AWS_REGION``/``AWS_DEFAULT_REGION``.
    """
    source = default_credentials(environ)
    if source is None:
        return None
    if environment_credentials(environ) is None and not _botocore_installed():
        # A profile or role is configured but only botocore can read it: said now, not at the first request.
        raise ImportError("AWS credentials beyond static keys need botocore: pip install 'polyresponses[aws]'")
    region = region or region_of(base_url) or aws_region(environ)
    if region is None:  # a ValueError, as every other gap in a client's configuration
        raise ValueError(f"SigV4 for {service} needs a region: pass region=..., set AWS_REGION, or use a regional URL")
    return SigV4Signer(source, region, service)
