"""AWS credentials: the environment, the refreshing cache, botocore's chain on temporary files, the missing extra.

No test reads the real ~/.aws or reaches the network: every botocore test runs in ``aws_home`` (HOME and the
config files in a temporary directory, the chain's other variables removed, instance metadata disabled).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from polyresponses.auth import (
    REFRESH_MARGIN,
    AwsCredentials,
    CredentialSource,
    aws_region,
    botocore_chain,
    default_credentials,
    environment_credentials,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN+abc/def=="


def test_environment_credentials() -> None:
    assert environment_credentials({}) is None
    assert environment_credentials({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}) is None
    static = environment_credentials({"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": SECRET})
    assert static == AwsCredentials("AKIDENV", SECRET, None, None)
    temporary = environment_credentials(
        {"AWS_ACCESS_KEY_ID": "ASIAENV", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
    )
    assert temporary == AwsCredentials("ASIAENV", SECRET, TOKEN)
    empty_token = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": ""}
    assert environment_credentials(empty_token) == static


def test_half_set_environment_keys_name_the_missing_one_and_no_secret() -> None:
    with pytest.raises(ValueError, match="AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"):
        environment_credentials({"AWS_ACCESS_KEY_ID": "AKIDENV"})
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not") as caught:
        environment_credentials({"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN})
    assert SECRET not in str(caught.value) and TOKEN not in str(caught.value)


def test_region_precedence() -> None:
    assert aws_region({}) is None
    assert aws_region({"AWS_DEFAULT_REGION": "eu-west-1"}) == "eu-west-1"
    assert aws_region({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}) == "us-west-2"
    assert aws_region({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-1"}) == "eu-west-1"


# --- CredentialSource ---------------------------------------------------------------------------------------


class CountingLoader:
    """Hands out credentials numbered by call, each expiring ``lifetime`` seconds after the fake clock's now."""

    def __init__(self, clock: Callable[[], float], lifetime: float | None = 3600.0, delay: float = 0.0) -> None:
        self.clock, self.lifetime, self.delay = clock, lifetime, delay
        self.calls = 0
        self.fail: Exception | None = None

    def __call__(self) -> AwsCredentials:
        self.calls += 1
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        expires = None if self.lifetime is None else self.clock() + self.lifetime
        return AwsCredentials(f"ASIA{self.calls:04d}", SECRET, TOKEN, expires)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_loaded_before_the_first_current() -> None:
    clock = FakeClock()
    loader = CountingLoader(clock)
    source = CredentialSource(loader, clock=clock)
    assert loader.calls == 0
    assert "not loaded" in repr(source)
    assert source.current().access_key_id == "ASIA0001"


def test_refreshes_within_the_margin_of_expiry_and_not_before() -> None:
    clock = FakeClock()
    loader = CountingLoader(clock, lifetime=3600.0)
    source = CredentialSource(loader, clock=clock)
    first = source.current()
    assert first.expires_at is not None
    clock.now = first.expires_at - REFRESH_MARGIN - 1  # still more than the margin left
    assert source.current() is first
    assert loader.calls == 1
    clock.now = first.expires_at - REFRESH_MARGIN + 1  # within the margin: load again
    second = source.current()
    assert (second.access_key_id, loader.calls) == ("ASIA0002", 2)
    assert source.current() is second  # the fresh ones are cached in turn
    # ``now`` given explicitly overrides the clock.
    assert second.expires_at is not None
    assert source.current(now=second.expires_at + 10).access_key_id == "ASIA0003"
    assert REFRESH_MARGIN == 300.0


def test_static_credentials_are_never_reloaded() -> None:
    clock = FakeClock()
    loader = CountingLoader(clock, lifetime=None)
    source = CredentialSource(loader, clock=clock)
    first = source.current()
    clock.now += 10 * 365 * 86400
    assert source.current() is first
    assert loader.calls == 1


def test_a_failed_refresh_keeps_unexpired_credentials_and_raises_after_expiry() -> None:
    clock = FakeClock()
    loader = CountingLoader(clock, lifetime=3600.0)
    source = CredentialSource(loader, clock=clock)
    first = source.current()
    assert first.expires_at is not None
    loader.fail = LookupError("STS unreachable")
    clock.now = first.expires_at - 60  # due, but still valid
    assert source.current() is first
    assert source.current() is first
    assert loader.calls == 3  # each call within the margin tries again
    clock.now = first.expires_at + 1
    with pytest.raises(LookupError, match="STS unreachable"):
        source.current()
    loader.fail = None
    assert source.current().access_key_id == "ASIA0005"


def test_the_first_load_failing_propagates() -> None:
    clock = FakeClock()
    loader = CountingLoader(clock)
    loader.fail = LookupError("no credentials")
    with pytest.raises(LookupError):
        CredentialSource(loader, clock=clock).current()


@pytest.mark.parametrize("phase", ["first load", "refresh"])
def test_many_threads_share_one_load(phase: str) -> None:
    clock = FakeClock()
    loader = CountingLoader(clock, lifetime=3600.0, delay=0.05)
    source = CredentialSource(loader, clock=clock)
    if phase == "refresh":
        first = source.current()
        assert first.expires_at is not None
        clock.now = first.expires_at + 1  # expired: every thread must wait for the one refresh
    calls_before = loader.calls
    barrier = threading.Barrier(32)
    seen: list[AwsCredentials] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            seen.append(source.current())
        except BaseException as error:  # reported below; a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert loader.calls - calls_before == 1
    assert len(seen) == 32 and len({id(credentials) for credentials in seen}) == 1


def test_the_source_repr_shows_no_secret() -> None:
    clock = FakeClock()
    source = CredentialSource(CountingLoader(clock), clock=clock)
    source.current()
    assert "ASIA0001" in repr(source)
    assert SECRET not in repr(source) and TOKEN not in repr(source)


# --- botocore's chain ---------------------------------------------------------------------------------------

_CHAIN_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN", "AWS_CREDENTIAL_EXPIRATION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "BOTO_CONFIG",
)  # fmt: skip


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty AWS setup: HOME and both AWS files in tmp_path, no AWS variables, no instance metadata."""
    for name in _CHAIN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    yield tmp_path


def test_botocore_chain_reads_a_profile_from_the_files(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (aws_home / "config").write_text("[profile bedrock-test]\nregion = eu-central-1\n")
    (aws_home / "credentials").write_text(
        f"[bedrock-test]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = {SECRET}\n"
        f"aws_session_token = {TOKEN}\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = {SECRET}\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "bedrock-test")
    assert botocore_chain()() == AwsCredentials("AKIDPROFILE", SECRET, TOKEN, None)
    assert botocore_chain("default")() == AwsCredentials("AKIDDEFAULT", SECRET, None, None)
    source = default_credentials()
    assert source is not None
    assert source.current().access_key_id == "AKIDPROFILE"


def test_botocore_chain_reports_the_expiry_of_refreshable_credentials(aws_home: Path) -> None:
    """credential_process gives RefreshableCredentials: their expiry comes through (botocore's _expiry_time)."""
    process = aws_home / "credential_process.py"
    process.write_text(
        textwrap.dedent(f"""\
            import json
            print(json.dumps({{"Version": 1, "AccessKeyId": "ASIAPROCESS", "SecretAccessKey": "{SECRET}",
                              "SessionToken": "{TOKEN}", "Expiration": "2099-01-02T03:04:05Z"}}))
            """)
    )
    (aws_home / "config").write_text(
        f"[profile process]\ncredential_process = {shlex.quote(sys.executable)} {shlex.quote(str(process))}\n"
    )
    loaded = botocore_chain("process")()
    assert loaded.access_key_id == "ASIAPROCESS" and loaded.session_token == TOKEN
    assert loaded.expires_at == datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def test_botocore_chain_errors_name_the_profile_and_the_variables(aws_home: Path) -> None:
    (aws_home / "credentials").write_text(f"[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = {SECRET}\n")
    with pytest.raises(LookupError, match="'missing-profile'") as missing:
        botocore_chain("missing-profile")()
    with pytest.raises(LookupError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") as nothing:
        botocore_chain()()
    assert "AWS_PROFILE" in str(nothing.value)
    for error in (missing.value, nothing.value):
        assert SECRET not in str(error) and "AKIDOTHER" not in str(error)


@pytest.mark.usefixtures("aws_home")
def test_default_credentials_prefers_the_environment_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)  # the static path must not need botocore
    environ = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_PROFILE": "ignored"}
    source = default_credentials(environ)
    assert source is not None
    assert source.current() == AwsCredentials("AKIDENV", SECRET)


@pytest.mark.usefixtures("aws_home")
def test_default_credentials_without_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)
    assert default_credentials({}) is None
    for configured in ({"AWS_PROFILE": "p"}, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/x"}):
        source = default_credentials(configured)
        assert source is not None  # nothing imported yet: the first current() says what is missing
        with pytest.raises(ImportError, match=r"pip install 'polyresponses\[aws\]'"):
            source.current()


@pytest.mark.usefixtures("aws_home")
def test_default_credentials_with_botocore_installed_tries_the_chain() -> None:
    source = default_credentials({})
    assert source is not None
    with pytest.raises(LookupError, match="no AWS credentials found"):
        source.current()


def test_the_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)
    monkeypatch.setitem(sys.modules, "botocore.session", None)
    with pytest.raises(ImportError, match=r"pip install 'polyresponses\[aws\]'"):
        botocore_chain()


def test_importing_the_package_does_not_import_botocore() -> None:
    code = "import sys, polyresponses.auth; print(sorted(m for m in sys.modules if m.startswith('botocore')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_while_one_thread_refreshes_the_others_sign_with_the_still_valid_credentials() -> None:
    """Within the refresh margin nobody waits for a slow refresh (STS, instance metadata): the refreshing
    thread loads, the others use what is cached, which is still valid."""
    clock = FakeClock()
    loader = CountingLoader(clock, lifetime=3600.0, delay=0.5)
    source = CredentialSource(loader, clock=clock)
    first = source.current()
    assert first.expires_at is not None
    clock.now = first.expires_at - 60  # due (margin 300 s), not expired
    refreshed: list[AwsCredentials] = []
    refresher = threading.Thread(target=lambda: refreshed.append(source.current()))
    refresher.start()
    time.sleep(0.1)  # the refresher holds the lock, inside the slow loader
    started = time.monotonic()
    assert source.current() is first
    assert time.monotonic() - started < 0.2
    refresher.join()
    assert refreshed and refreshed[0] is not first and loader.calls == 2
