"""Where AWS credentials and the region come from: the environment first, then (with the ``[aws]`` extra)
botocore's full provider chain, cached and refreshed ahead of expiry by :class:`CredentialSource`.

Static keys in the environment are read here without importing botocore, so the common case stays cheap;
profiles, SSO, ``credential_process``, web identity, and container and instance roles are botocore's job
(its chain is the reference behaviour of every AWS SDK), imported only when first needed.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from polyresponses.auth._sigv4 import AwsCredentials

__all__ = [
    "REFRESH_MARGIN",
    "CredentialSource",
    "aws_region",
    "botocore_chain",
    "default_credentials",
    "environment_credentials",
    "profile_region",
]

# botocore refreshes temporary credentials 15 minutes ahead (advisory) and insists 10 minutes ahead
# (mandatory; botocore/credentials.py _DEFAULT_*_REFRESH_TIMEOUT); 5 minutes here is enough for a request
# signed now to arrive while its credentials are valid, and asking botocore earlier finds its fresh copy.
REFRESH_MARGIN = 5 * 60.0
# When a refreshable botocore credential hides its expiry, ask it again this often (it refreshes itself).
_RECHECK_AFTER = 15 * 60.0
_EXTRA = "pip install 'polyresponses[aws]'"
# Variables that configure botocore's chain (boto3 "Configuring credentials", and the SDKs reference guide's
# "Standardized credential providers"): their presence means the caller wants that chain.
_CHAIN_VARIABLES = ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
_CHAIN_PREFIXES = ("AWS_CONTAINER_CREDENTIALS_",)


def environment_credentials(environ: Mapping[str, str] = os.environ) -> AwsCredentials | None:
    """Static keys from ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``.

    ``None`` when neither key is set (empty counts as unset). One key without the other is a mistake
    botocore also refuses (PartialCredentialsError), so it raises ``ValueError`` naming the missing one.
    """
    access_key = environ.get("AWS_ACCESS_KEY_ID") or None
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY") or None
    if access_key is None and secret_key is None:
        return None
    if access_key is None or secret_key is None:
        present, missing = (
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
            if secret_key is None
            else ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
        )
        raise ValueError(f"{present} is set but {missing} is not; set both, or neither to use a profile")
    return AwsCredentials(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None)


def profile_region(environ: Mapping[str, str] = os.environ) -> str | None:
    """The region of the configured AWS profile (``region`` in ``~/.aws/config`` or ``AWS_CONFIG_FILE``), as the
    AWS SDKs read it after the variables; ``None`` without botocore (``[aws]``) or without a profile setting.
    Read only where a profile is configured: botocore costs ~150 ms to import."""
    if not any(environ.get(name) for name in ("AWS_PROFILE", "AWS_CONFIG_FILE")) or not _botocore_installed():
        return None
    import botocore.exceptions
    import botocore.session

    try:
        session = botocore.session.Session(profile=environ.get("AWS_PROFILE") or None)
        region = session.get_config_variable("region")
    except botocore.exceptions.BotoCoreError:
        return None
    return str(region) if region else None


def aws_region(environ: Mapping[str, str] = os.environ) -> str | None:
    """The region from ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (the SDKs' order), else ``None``."""
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


class CredentialSource:
    """Credentials from a loader, cached, and loaded again when they expire within ``refresh_margin`` seconds.

    Thread-safe: when many threads find the credentials due, one calls the loader and the rest wait for its
    result. A loader that fails while the cached credentials have not yet expired leaves them in use (the
    next call tries again), as botocore does within its advisory window; once they have expired, the error
    propagates. ``current`` may block on the loader's I/O (botocore's chain can call STS or instance
    metadata), so async code calls it in a worker thread. Nothing is loaded before the first ``current``.
    """

    def __init__(
        self,
        loader: Callable[[], AwsCredentials],
        *,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._loader = loader
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials: AwsCredentials | None = None

    def __repr__(self) -> str:
        cached = self._credentials
        shown = "not loaded" if cached is None else f"{cached!r}"  # AwsCredentials' repr hides the secrets
        return f"CredentialSource({shown}, refresh_margin={self._margin})"

    def _fresh(self, credentials: AwsCredentials, now: float) -> bool:
        return credentials.expires_at is None or credentials.expires_at - now > self._margin

    def current(self, now: float | None = None) -> AwsCredentials:
        """The credentials to sign with now (epoch seconds; the clock when ``None``), loading them if due."""
        when = self._clock() if now is None else now
        cached = self._credentials  # one reference read: the fast path takes no lock
        if cached is not None and self._fresh(cached, when):
            return cached
        # Due but not expired: while another thread refreshes, this one signs with the still valid credentials
        # rather than wait (STS or instance metadata can take seconds; in the gateway each waiter is a thread).
        valid = cached is not None and cached.expires_at is not None and when < cached.expires_at
        if not self._lock.acquire(blocking=not valid):
            assert cached is not None
            return cached
        try:
            cached = self._credentials  # another thread may have loaded them while this one waited
            if cached is not None and self._fresh(cached, when):
                return cached
            try:
                loaded = self._loader()
            except Exception:
                if cached is not None and cached.expires_at is not None and when < cached.expires_at:
                    return cached
                raise
            self._credentials = loaded
            return loaded
        finally:
            self._lock.release()


def botocore_chain(profile: str | None = None) -> Callable[[], AwsCredentials]:
    """A loader for :class:`CredentialSource` over botocore's default chain, for ``profile`` (or ``AWS_PROFILE``).

    botocore is imported now, so a missing ``[aws]`` extra is an ``ImportError`` here; the chain is resolved
    on the loader's first call (that is where files are read and roles assumed), raising ``LookupError`` if
    it finds nothing. botocore reads the process environment (``os.environ``) itself. Each later call takes
    botocore's frozen credentials, which refresh themselves, with their expiry.
    """
    try:
        import botocore.exceptions
        import botocore.session
    except ImportError as error:
        raise ImportError(
            f"AWS credentials from profiles, SSO or roles need botocore: {_EXTRA} "
            "(or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        ) from error

    lock = threading.Lock()
    resolved: list[Any] = []  # the botocore Credentials object, once the chain found one

    def load() -> AwsCredentials:
        with lock:
            if not resolved:
                try:
                    found = botocore.session.Session(profile=profile).get_credentials()
                except botocore.exceptions.ProfileNotFound as error:
                    raise LookupError(
                        f"AWS profile {profile or os.environ.get('AWS_PROFILE')!r} is not in the AWS config "
                        "or credentials file (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE; ~/.aws by default)"
                    ) from error
                if found is None:
                    raise LookupError(
                        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
                        "AWS_SESSION_TOKEN), or a profile through AWS_PROFILE"
                        + (f" (looked in profile {profile!r})" if profile else "")
                        + ", or run where a container or instance role is available"
                    )
                resolved.append(found)
            credentials = resolved[0]
            # get_frozen_credentials refreshes first when botocore finds them due; read the expiry after it.
            frozen = credentials.get_frozen_credentials()
            return AwsCredentials(
                frozen.access_key, frozen.secret_key, frozen.token or None, _expiry(credentials, time.time())
            )

    return load


def _expiry(credentials: object, now: float) -> float | None:
    """The expiry of botocore credentials in epoch seconds; ``None`` for static ones.

    botocore has no public accessor: RefreshableCredentials keeps it in ``_expiry_time`` (an aware datetime,
    botocore/credentials.py), so it is read defensively. A refreshable credential whose expiry cannot be read
    is asked again after a while rather than trusted forever.
    """
    expiry = getattr(credentials, "_expiry_time", None)
    if isinstance(expiry, datetime):
        return (expiry if expiry.tzinfo is not None else expiry.replace(tzinfo=UTC)).timestamp()
    if callable(getattr(credentials, "refresh_needed", None)):
        return now + REFRESH_MARGIN + _RECHECK_AFTER
    return None


def default_credentials(environ: Mapping[str, str] = os.environ) -> CredentialSource | None:
    """The credentials to use when none are given, or ``None`` when there is nowhere to look.

    1. ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``): static, no botocore.
    2. Else botocore's chain (profile from ``AWS_PROFILE``), when botocore is installed or a variable that
       configures the chain is set (``AWS_PROFILE``, ``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``,
       ``AWS_WEB_IDENTITY_TOKEN_FILE``, ``AWS_CONTAINER_CREDENTIALS_*``). botocore is imported on the first
       ``current()``, which raises ``ImportError`` naming the extra if it is missing, or ``LookupError`` if
       the chain finds nothing (off AWS, that search may wait on instance metadata unless
       ``AWS_EC2_METADATA_DISABLED=true``).
    3. Else ``None``.
    """
    static = environment_credentials(environ)
    if static is not None:
        return CredentialSource(lambda: static)
    configured = any(environ.get(name) for name in _CHAIN_VARIABLES) or any(
        name.startswith(_CHAIN_PREFIXES) and value for name, value in environ.items()
    )
    if not (configured or _botocore_installed()):
        return None
    profile = environ.get("AWS_PROFILE") or None
    chain: list[Callable[[], AwsCredentials]] = []

    def load() -> AwsCredentials:
        # CredentialSource calls its loader under its lock, so this lazy import runs once.
        if not chain:
            chain.append(botocore_chain(profile))
        return chain[0]()

    return CredentialSource(load)


def _botocore_installed() -> bool:
    """Whether botocore could be imported, found without importing it (import stays cheap)."""
    try:
        return importlib.util.find_spec("botocore") is not None
    except (ImportError, ValueError):
        return False
