"""AWS Signature Version 4 on the standard library: a pure function from a request to the headers that sign it.

Follows "Create a signed AWS API request" (docs.aws.amazon.com/IAM/latest/UserGuide/
reference_sigv-create-signed-request.html, cited below as "Step N"). botocore's ``SigV4Auth`` is the referee
(tests/auth/test_sigv4.py): for the same request, time and credentials our ``authorization`` header is byte
for byte its ``Authorization``, so we sign exactly the headers it signs. Signing needs no SDK, so static keys
work without the ``[aws]`` extra; only the credential chain (``_aws.py``) needs botocore.

Bedrock's model ids are percent-encoded in the path (``us.amazon.nova-micro-v1%3A0``); every service but S3
encodes the path once more for the canonical URI (``%253A``), which is the classic way to get a 403.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

__all__ = ["UNSIGNED_HEADERS", "AwsCredentials", "sign"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"  # Step 3: the ISO 8601 basic format of x-amz-date
_DEFAULT_PORTS = {"http": 80, "https": 443}
UNSIGNED_HEADERS = frozenset(
    {
        # botocore's SIGNED_HEADERS_BLACKLIST (botocore/auth.py): hop-by-hop headers and ones that proxies or
        # tracing add or rewrite in flight, so signing them would break the signature. Kept identical so a
        # request we sign equals the one botocore signs.
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
"""Header names (lowercase) that :func:`sign` leaves out of SignedHeaders, as botocore does."""


def _check_text(name: str, value: object, *, optional: bool = False) -> None:
    """Refuse a credential that could not go into a header; the message names the field, never its value."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"AwsCredentials.{name} must be a non-empty string")
    # Keys and tokens are ASCII (base64 and upper-case ids). Anything else, and above all CR/LF, would make
    # the token an invalid (or injected) header and could make an encode error quote the secret.
    if not value.isascii() or not value.isprintable() or value != value.strip():
        raise ValueError(f"AwsCredentials.{name} must be printable ASCII without surrounding whitespace")


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """One set of AWS credentials. The secret and the session token stay out of ``repr``.

    ``expires_at`` is in epoch seconds; ``None`` means static keys that never expire.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None

    def __post_init__(self) -> None:
        _check_text("access_key_id", self.access_key_id)
        _check_text("secret_access_key", self.secret_access_key)
        _check_text("session_token", self.session_token, optional=True)


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime | None = None,
    content_sha256_header: bool = True,
) -> dict[str, str]:
    """Sign a request and return the headers to add to it (lowercase names), replacing any of the same name.

    They are ``x-amz-date``, ``x-amz-security-token`` (with a session token), ``x-amz-content-sha256``
    (unless ``content_sha256_header=False``) and ``authorization``. Every given header is signed except
    :data:`UNSIGNED_HEADERS`, plus ``host`` (from the URL, without a default port, unless given), so the
    request must be sent with exactly these headers and ``body``; an HTTP client may still add unsigned ones
    (content-length, user-agent). Header names that differ only in case are joined with commas, in order.

    botocore's ``SigV4Auth`` does not send ``x-amz-content-sha256`` outside S3; Bedrock accepts it and it
    costs nothing, so it is on by default (signed like any header: botocore signs the same request the same
    way when it carries the header). ``content_sha256_header=False`` is byte-equal to plain botocore and to
    AWS's published test vectors. A given ``x-amz-content-sha256`` (e.g. ``UNSIGNED-PAYLOAD``) is then used
    as the payload hash, as botocore does.

    ``now`` defaults to the current time; a naive datetime is taken as UTC. Pure: no I/O, and no error
    message or repr carries the secret.
    """
    when = datetime.now(UTC) if now is None else (now.replace(tzinfo=UTC) if now.tzinfo is None else now)
    amz_date = when.astimezone(UTC).strftime(_TIMESTAMP)
    datestamp = amz_date[:8]
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in _DEFAULT_PORTS:
        raise ValueError("sign() needs an absolute http(s) URL with a host")

    added = {"x-amz-date": amz_date}
    if credentials.session_token is not None:
        added["x-amz-security-token"] = credentials.session_token
    # Step 1 "HashedPayload": hex SHA-256 of the body (of b"" when there is none).
    payload_hash = hashlib.sha256(body).hexdigest()
    if content_sha256_header:
        added["x-amz-content-sha256"] = payload_hash

    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        lname = name.lower()
        # A given Authorization or one of our own headers is from an earlier attempt: ours replace it
        # (botocore's _modify_request_before_signing deletes them before signing a retry).
        if lname in UNSIGNED_HEADERS or lname == "authorization" or lname in added:
            continue
        values.setdefault(lname, []).append(value)
    if "x-amz-content-sha256" in values:
        payload_hash = ",".join(values["x-amz-content-sha256"])
    if "host" not in values:
        values["host"] = [_host(url)]
    for name, value in added.items():
        values[name] = [value]

    # Step 1 "CanonicalHeaders": lowercase names, sorted; values trimmed with inner runs of whitespace
    # collapsed to one space (botocore: " ".join(value.split())), repeated names comma-joined in order.
    names = sorted(values)
    canonical_headers = "".join(f"{n}:{','.join(' '.join(v.split()) for v in values[n])}\n" for n in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            _canonical_uri(parts.path, service),
            _canonical_query(parts.query),
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    # Step 2 "Create a hash of the canonical request" and Step 3 "Create a string to sign".
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    # Step 4 "Derive a signing key": HMAC chain over date, region, service and "aws4_request".
    key = ("AWS4" + credentials.secret_access_key).encode("ascii")
    for part in (datestamp, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    # Step 5 "Calculate the signature" and Step 6 "Add the signature to the request".
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    added["authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return added


def _host(url: str) -> str:
    """The Host header for a URL: lowercase host, IPv6 in brackets, no userinfo, no default port (botocore's)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _canonical_uri(path: str, service: str) -> str:
    """Step 1 "CanonicalURI": the path URI-encoded once more, after removing dot segments and empty ones.

    The docs: "Normalize URI paths according to RFC 3986 ... each path segment must be URI-encoded twice
    (except for Amazon S3 which only gets URI-encoded once)". The path of a URL is already encoded once, so
    encoding it again ('%' -> '%25', everything but unreserved characters and '/') is that second time;
    raw characters (a space, UTF-8) are encoded here for the first. S3 signs the path as sent.
    """
    if service == "s3":
        return path or "/"
    return quote(_remove_dot_segments(path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, plus dropping empty segments ("//"), which AWS services also ignore.

    botocore's remove_dot_segments (botocore/utils.py) does the same: a leading '/' is kept, a trailing one
    only when a segment remains, and '..' never climbs above the root.
    """
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and kept else ""
    return lead + "/".join(kept) + trail


def _canonical_query(query: str) -> str:
    """Step 1 "CanonicalQueryString": each name and value URI-encoded, sorted by name then value.

    The URL's query is decoded and encoded again, so '%3a', ':' and '%3A' all become '%3A' (unreserved
    characters stay raw, everything else is %XX in upper case, UTF-8 for non-ASCII). '+' is a literal plus,
    as in RFC 3986, not a space: send a space as %20. For a query already in this form the result equals
    botocore's, which signs the URL's query as given.
    """
    pairs: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))
