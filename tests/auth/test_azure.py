"""Azure Entra ID tokens: azure-identity's real CLI credential and default chain over a stub ``az``, a fake
credential for the cache, its margin and its locking, and the missing extra.

No test reaches the network or a real ``az``: the CLI tests put a stub ``az`` first on PATH (azure-identity finds
it with ``shutil.which``, azure/identity/_credentials/azure_cli.py) and the default chain is narrowed to the CLI
with ``AZURE_TOKEN_CREDENTIALS=AzureCliCredential``, so it never asks instance metadata.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import AzureCliCredential, CredentialUnavailableError

from polyresponses.auth._azure import COGNITIVE_SERVICES_SCOPE, AzureTokenProvider

EXPIRES = 2_000_000_000  # epoch seconds of the stub's first token
# azure-identity turns the scope into an AADv1 resource for the CLI (_scopes_to_resource drops "/.default").
CLI_ARGS = ["account", "get-access-token", "--output", "json", "--resource", "https://cognitiveservices.azure.com"]
JWT = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJjb2duaXRpdmUifQ.c2lnbmF0dXJl"


class Clock:
    """A settable fake clock (epoch seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AzStub:
    """An executable ``az`` on PATH that records each invocation and prints ``cli-token-<n>``.

    Its expiry is read from a file on each run, so a test can move it; ``failure`` makes it print a token to
    stdout anyway, the given message to stderr, and exit 1, as the CLI does when not logged in.
    """

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str | None = None) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        self.log = tmp_path / "az-calls.txt"
        self.log.touch()
        self.expiry_file = tmp_path / "az-expires-on"
        self.expires_on = EXPIRES
        log, expiry = shlex.quote(str(self.log)), shlex.quote(str(self.expiry_file))
        end = "exit 0" if failure is None else f"echo {shlex.quote(failure)} >&2; exit 1"
        script = bin_dir / "az"
        script.write_text(
            textwrap.dedent(f"""\
                #!/bin/sh
                echo "$*" >> {log}
                n=$(wc -l < {log} | tr -d ' ')
                printf '{{"accessToken": "cli-token-%s", "expires_on": %s, "tokenType": "Bearer"}}\\n' \\
                    "$n" "$(cat {expiry})"
                {end}
                """)
        )
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    @property
    def expires_on(self) -> int:
        return int(self.expiry_file.read_text())

    @expires_on.setter
    def expires_on(self, value: int) -> None:
        self.expiry_file.write_text(str(value))

    def calls(self) -> list[list[str]]:
        return [line.split() for line in self.log.read_text().splitlines()]


# --- azure-identity's real credentials over a stub az -------------------------------------------------------


def test_azure_cli_credential_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    az = AzStub(tmp_path, monkeypatch)
    clock = Clock(EXPIRES - 3600)
    provider = AzureTokenProvider(AzureCliCredential(), clock=clock)
    assert provider() == "cli-token-1"
    assert az.calls() == [CLI_ARGS]

    clock.now = EXPIRES - 301  # still more than the margin left: cached
    assert provider() == "cli-token-1"
    assert len(az.calls()) == 1
    assert "cli-token" not in repr(provider) and "AzureCliCredential" in repr(provider)

    az.expires_on = EXPIRES + 3600
    clock.now = EXPIRES - 300  # within the margin: az runs again
    assert provider() == "cli-token-2"
    assert az.calls() == [CLI_ARGS, CLI_ARGS]
    clock.now = EXPIRES + 1000
    assert provider() == "cli-token-2"
    assert len(az.calls()) == 2


def test_default_chain_is_built_on_the_first_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")  # the chain's CLI link only
    az = AzStub(tmp_path, monkeypatch)
    provider = AzureTokenProvider(clock=Clock(EXPIRES - 3600))
    assert "DefaultAzureCredential (not built)" in repr(provider)
    assert az.calls() == []
    assert provider() == "cli-token-1"
    assert provider() == "cli-token-1"
    assert az.calls() == [CLI_ARGS]
    assert "DefaultAzureCredential," in repr(provider)


def test_cli_not_logged_in_is_a_lookup_error_without_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    az = AzStub(tmp_path, monkeypatch, failure="ERROR: Please run 'az login' to setup account.")
    provider = AzureTokenProvider(AzureCliCredential(), clock=Clock(EXPIRES - 3600))
    with pytest.raises(LookupError, match="az login") as caught:
        provider()
    message = str(caught.value)
    assert "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET" in message and "managed identity" in message
    assert "CredentialUnavailableError" in message and COGNITIVE_SERVICES_SCOPE in message
    assert "cli-token" not in message
    assert isinstance(caught.value.__cause__, CredentialUnavailableError)
    assert len(az.calls()) == 1


def test_default_chain_without_az_is_a_lookup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    monkeypatch.setenv("PATH", str(tmp_path))  # no az anywhere
    with pytest.raises(LookupError, match="DefaultAzureCredential could not get .*az login") as caught:
        AzureTokenProvider()()
    assert "Azure CLI not found on path" in str(caught.value)
    assert type(caught.value.__cause__) is ClientAuthenticationError  # the chain's summary of its links


# --- the cache, with a fake credential ----------------------------------------------------------------------


class FakeCredential:
    """A TokenCredential handing out ``token-<n>`` expiring ``lifetime`` seconds after the clock's now."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0, delay: float = 0.0) -> None:
        self.clock, self.lifetime, self.delay = clock, lifetime, delay
        self.scopes: list[tuple[str, ...]] = []
        self.fail: Exception | None = None

    def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.append(scopes)
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return AccessToken(f"token-{len(self.scopes)}", int(self.clock() + self.lifetime))


def test_many_threads_share_one_get_token() -> None:
    clock = Clock(1_000_000.0)
    credential = FakeCredential(clock, delay=0.05)
    provider = AzureTokenProvider(credential, clock=clock)
    barrier = threading.Barrier(32)
    results: list[str] = []

    def call() -> None:
        barrier.wait()
        results.append(provider())

    threads = [threading.Thread(target=call) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["token-1"] * 32
    assert credential.scopes == [(COGNITIVE_SERVICES_SCOPE,)]


def test_refresh_margin_and_scope() -> None:
    clock = Clock(1_000_000.0)
    credential = FakeCredential(clock, lifetime=100.0)
    provider = AzureTokenProvider(credential, scope="api://custom/.default", refresh_margin=30.0, clock=clock)
    assert provider() == "token-1"  # expires at 1_000_100
    clock.now = 1_000_069.0
    assert provider() == "token-1"
    clock.now = 1_000_070.0  # exactly the margin left: due
    assert provider() == "token-2"
    assert credential.scopes == [("api://custom/.default",)] * 2

    short = FakeCredential(clock, lifetime=10.0)  # shorter than the margin: every call asks
    provider = AzureTokenProvider(short, refresh_margin=30.0, clock=clock)
    assert [provider(), provider()] == ["token-1", "token-2"]


def test_a_failed_refresh_keeps_an_unexpired_token() -> None:
    clock = Clock(1_000_000.0)
    credential = FakeCredential(clock, lifetime=600.0)
    provider = AzureTokenProvider(credential, clock=clock)
    assert provider() == "token-1"  # expires at 1_000_600
    credential.fail = ClientAuthenticationError(message="AADSTS700024: client assertion expired")
    clock.now = 1_000_500.0
    assert provider() == "token-1"
    clock.now = 1_000_600.0
    with pytest.raises(LookupError, match="AADSTS700024"):
        provider()
    credential.fail = None
    assert provider() == "token-4"


def test_errors_hide_tokens_and_others_pass_through() -> None:
    clock = Clock(1_000_000.0)
    credential = FakeCredential(clock)
    credential.fail = ClientAuthenticationError(message=f"bad response containing {JWT}")
    provider = AzureTokenProvider(credential, clock=clock)
    with pytest.raises(LookupError, match="FakeCredential could not get") as caught:
        provider()
    assert JWT not in str(caught.value) and "bad response containing ***" in str(caught.value)
    credential.fail = RuntimeError("not an authentication failure")
    with pytest.raises(RuntimeError, match="not an authentication failure"):
        provider()


def test_repr_shows_no_token() -> None:
    clock = Clock(1_000_000.0)
    provider = AzureTokenProvider(FakeCredential(clock), clock=clock)
    assert repr(provider) == (
        f"AzureTokenProvider(FakeCredential, scope={COGNITIVE_SERVICES_SCOPE!r}, no token, refresh_margin=300.0)"
    )
    token = provider()
    assert token not in repr(provider)
    assert "token expires 1970-01-12T14:46:40Z" in repr(provider)


# --- the extra --------------------------------------------------------------------------------------------


def test_missing_azure_identity_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("azure", "azure.identity", "azure.core", "azure.core.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)
    provider = AzureTokenProvider()
    for _ in range(2):  # not cached as a failure: installing the extra later works
        with pytest.raises(ImportError, match=r"pip install 'polyresponses\[azure\]'"):
            provider()

    clock = Clock(1_000_000.0)
    credential = FakeCredential(clock)  # a duck-typed credential needs neither package
    provider = AzureTokenProvider(credential, clock=clock)
    assert provider() == "token-1"
    clock.now += 3600
    credential.fail = RuntimeError("its own failure")  # passed through: no azure-core class to match
    with pytest.raises(RuntimeError, match="its own failure"):
        provider()


def test_importing_the_module_does_not_import_azure() -> None:
    code = (
        "import sys; from polyresponses.auth._azure import AzureTokenProvider; AzureTokenProvider(); "
        "print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
