"""Google access tokens: real google-auth flows against loopback servers, the refreshing cache, the missing extra.

No test reads the real gcloud configuration or reaches the network: every ADC test runs in ``adc_env`` (HOME and
CLOUDSDK_CONFIG in a temporary directory, the project variables removed, the metadata-server probe disabled or
pointed at a loopback server). The token endpoint verifies what google-auth sends as Google's would: an RS256 JWT
bearer assertion signed with the service account's key (RFC 7523; developers.google.com/identity/protocols/oauth2/
service-account, "Preparing to make an authorized API call").
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from polyresponses.auth import CLOUD_PLATFORM_SCOPE, GoogleTokenProvider, google_location, google_project
from tests._loopback import Exchange, LoopbackServer, RecordedRequest, json_reply, raw_reply

CLIENT_EMAIL = "polyresponses-test@test-project.iam.gserviceaccount.com"
KEY_ID = "0123456789abcdef0123456789abcdef01234567"
# service_account.py signs every assertion for Google's token endpoint, whatever token_uri the key file names.
AUDIENCE = "https://oauth2.googleapis.com/token"
_ADC_VARIABLES = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
)


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class TokenEndpoint:
    """Google's OAuth token endpoint for the JWT-bearer grant: checks the assertion, grants ``ya29.test-N``."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self.public_key = public_key
        self.expires_in = 3600
        self.delay = 0.0
        self.granted = 0
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        problem = self._check(exchange.request)
        if problem is not None:
            self.problems.append(problem)
            json_reply({"error": "invalid_request", "error_description": problem}, status=400)(exchange)
            return
        if self.delay:
            exchange.pause(self.delay)
        with self._lock:
            self.granted += 1
            token = f"ya29.test-{self.granted}"
        json_reply({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})(exchange)

    def _check(self, request: RecordedRequest) -> str | None:
        if (request.method, request.path) != ("POST", "/token"):
            return f"unexpected {request.method} {request.path}"
        if request.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return f"content type {request.headers.get('Content-Type')!r}"
        form = urllib.parse.parse_qs(request.body.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return f"grant_type {form.get('grant_type')}"
        header, claims, signature = form["assertion"][0].split(".")
        try:
            self.public_key.verify(
                _b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception as error:  # cryptography's InvalidSignature
            return f"bad signature: {type(error).__name__}"
        head, payload = json.loads(_b64decode(header)), json.loads(_b64decode(claims))
        if (head.get("alg"), head.get("kid")) != ("RS256", KEY_ID):
            return f"JWT header {head}"
        expected = {"iss": CLIENT_EMAIL, "aud": AUDIENCE, "scope": CLOUD_PLATFORM_SCOPE}
        if {name: payload.get(name) for name in expected} != expected:
            return f"JWT claims {payload}"
        if payload["exp"] - payload["iat"] != 3600 or abs(payload["iat"] - time.time()) > 60:
            return f"JWT times iat={payload['iat']} exp={payload['exp']}"
        return None


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def adc_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """ADC sees only what a test puts here: no gcloud files, no project variables, no metadata server."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # gcloud's well-known file (_cloud_sdk.py)
    for name in _ADC_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    try:
        from google.auth.compute_engine import _metadata
    except ImportError:  # without requests, google-auth skips the metadata server (_default.py _get_gce_credentials)
        pass
    else:  # _metadata reads NO_GCE_CHECK when first imported, so the module's flag is what counts
        monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)
    return tmp_path


@pytest.fixture
def endpoint(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[TokenEndpoint, LoopbackServer]]:
    token_endpoint = TokenEndpoint(rsa_key.public_key())
    with LoopbackServer(default=token_endpoint, path_prefix="") as server:
        yield token_endpoint, server
        assert token_endpoint.problems == []
        assert server.errors == []


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _key_info(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": KEY_ID,
        "private_key": _pem(key),
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


@pytest.fixture
def key_file(
    adc_env: Path,
    rsa_key: rsa.RSAPrivateKey,
    endpoint: tuple[TokenEndpoint, LoopbackServer],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    path = adc_env / "service-account.json"
    path.write_text(json.dumps(_key_info(rsa_key, f"{endpoint[1].url}/token")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_no_secrets(text: str, key: rsa.RSAPrivateKey) -> None:
    body = "".join(_pem(key).splitlines()[1:-1])
    assert "ya29." not in text
    assert body[:40] not in text and body[-40:] not in text
    assert "eyJ" not in text  # no JWT (assertion) either


# ------------------------------------------------------------------------------------------ service account, ADC


@pytest.mark.usefixtures("key_file")
def test_service_account_from_adc_cached_while_fresh(
    endpoint: tuple[TokenEndpoint, LoopbackServer], rsa_key: rsa.RSAPrivateKey
) -> None:
    token_endpoint, server = endpoint
    clock = FakeClock()
    provider = GoogleTokenProvider(clock=clock)
    assert provider.project is None and server.attempts == 0  # nothing is loaded before the first token
    assert provider() == "ya29.test-1"
    assert provider.project == "test-project"
    clock.now += 3600 - 300 - 1  # still more than the margin before expiry
    assert [provider() for _ in range(5)] == ["ya29.test-1"] * 5
    assert server.attempts == 1
    assert "GoogleTokenProvider(" in repr(provider)
    _assert_no_secrets(repr(provider), rsa_key)


@pytest.mark.usefixtures("key_file")
def test_refreshes_within_the_margin(endpoint: tuple[TokenEndpoint, LoopbackServer]) -> None:
    token_endpoint, server = endpoint
    clock = FakeClock()
    provider = GoogleTokenProvider(clock=clock, refresh_margin=600)
    assert provider() == "ya29.test-1"
    clock.now += 3600 - 600 + 1  # now due: within the margin, though google-auth's own clock says valid
    token_endpoint.expires_in = 7200
    assert provider() == "ya29.test-2"
    assert provider() == "ya29.test-2"  # the new token is fresh for the same fake clock
    assert server.attempts == 2


@pytest.mark.usefixtures("key_file")
def test_many_threads_one_refresh(endpoint: tuple[TokenEndpoint, LoopbackServer]) -> None:
    token_endpoint, server = endpoint
    clock = FakeClock()
    provider = GoogleTokenProvider(clock=clock)
    assert provider() == "ya29.test-1"
    clock.now += 3700  # expired: nobody may send it, so the others pile up behind the refresh
    token_endpoint.expires_in, token_endpoint.delay = 7200, 0.2
    barrier = threading.Barrier(16)
    results: list[str] = []

    def call() -> None:
        barrier.wait()
        results.append(provider())

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["ya29.test-2"] * 16
    assert server.attempts == 2


@pytest.mark.usefixtures("adc_env")
def test_given_service_account_credentials_are_scoped(
    rsa_key: rsa.RSAPrivateKey, endpoint: tuple[TokenEndpoint, LoopbackServer]
) -> None:
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        _key_info(rsa_key, f"{endpoint[1].url}/token")
    )
    assert credentials.requires_scopes  # unscoped: the endpoint checks the provider asked for cloud-platform
    provider = GoogleTokenProvider(credentials)
    assert provider() == "ya29.test-1"
    assert provider.project is None  # only ADC reports a project


# ------------------------------------------------------------------------------------------ failures


@pytest.mark.usefixtures("key_file")
def test_rejected_grant_is_lookup_error_without_secrets(
    endpoint: tuple[TokenEndpoint, LoopbackServer], rsa_key: rsa.RSAPrivateKey
) -> None:
    server = endpoint[1]
    # RefreshError keeps the whole response; only its message may reach ours.
    rejection = {"error": "invalid_grant", "error_description": "Invalid JWT Signature.", "debug": "ya29.leaked"}
    server.script(json_reply(rejection, status=400))
    provider = GoogleTokenProvider()
    with pytest.raises(LookupError, match="invalid_grant: Invalid JWT Signature") as caught:
        provider()
    message = str(caught.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "gcloud auth application-default login" in message
    _assert_no_secrets(message, rsa_key)
    assert provider() == "ya29.test-1"  # the next call tries again
    assert server.attempts == 2


@pytest.mark.usefixtures("key_file")
def test_failed_refresh_keeps_a_token_that_has_not_expired(
    endpoint: tuple[TokenEndpoint, LoopbackServer], rsa_key: rsa.RSAPrivateKey
) -> None:
    server = endpoint[1]
    clock = FakeClock()
    provider = GoogleTokenProvider(clock=clock)
    assert provider() == "ya29.test-1"
    clock.now += 3600 - 100  # due, not expired
    server.default = json_reply({"error": "invalid_grant", "error_description": "account disabled"}, status=400)
    assert provider() == "ya29.test-1"
    clock.now += 200  # expired
    with pytest.raises(LookupError, match="account disabled") as caught:
        provider()
    _assert_no_secrets(str(caught.value), rsa_key)


def test_unreachable_token_endpoint_is_lookup_error(
    adc_env: Path, rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = adc_env / "service-account.json"
    path.write_text(json.dumps(_key_info(rsa_key, f"http://127.0.0.1:{_closed_port()}/token")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    started = time.monotonic()
    with pytest.raises(LookupError, match="TransportError: POST http://127.0.0.1:.* failed") as caught:
        GoogleTokenProvider()()
    assert time.monotonic() - started < 5
    _assert_no_secrets(str(caught.value), rsa_key)


@pytest.mark.usefixtures("adc_env")
def test_no_application_default_credentials() -> None:
    provider = GoogleTokenProvider()
    with pytest.raises(LookupError, match="no Google credentials found") as caught:
        provider()
    message = str(caught.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "gcloud auth application-default login" in message
    assert provider.project is None


def test_missing_key_file(adc_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc_env / "absent.json"))
    with pytest.raises(LookupError, match=r"absent\.json was not found"):
        GoogleTokenProvider()()


# ------------------------------------------------------------------------------------------ given tokens


def test_given_access_token_without_refresh_ability() -> None:
    from google.oauth2.credentials import Credentials

    expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)  # google-auth's naive UTC
    clock = FakeClock()
    provider = GoogleTokenProvider(Credentials(token="ya29.given", expiry=expiry), clock=clock)  # type: ignore[no-untyped-call]
    assert provider() == "ya29.given"
    assert "ya29" not in repr(provider)
    clock.now += 3600 - 60  # due; it cannot refresh, but the token is still valid
    assert provider() == "ya29.given"
    clock.now += 120
    with pytest.raises(LookupError, match="RefreshError") as caught:
        provider()
    assert "ya29" not in str(caught.value)


def test_given_expired_access_token() -> None:
    from google.oauth2.credentials import Credentials

    expiry = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    with pytest.raises(LookupError, match="given Credentials.*necessary fields") as caught:
        GoogleTokenProvider(Credentials(token="ya29.stale", expiry=expiry))()  # type: ignore[no-untyped-call]
    assert "ya29" not in str(caught.value)


# ------------------------------------------------------------------------------------------ metadata server


@pytest.mark.usefixtures("adc_env")
def test_adc_on_the_metadata_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cloud Run / GCE / GKE: ADC finds the metadata server through this module's transport (compute_engine/
    _metadata.py), which must return the Metadata-Flavor header however google-auth spells it."""
    pytest.importorskip("requests", reason="google-auth's compute_engine imports requests")
    from google.auth.compute_engine import _metadata

    flavor = {"Metadata-Flavor": "Google"}

    def metadata(exchange: Exchange) -> None:
        path = urllib.parse.urlsplit(exchange.request.path)
        if exchange.request.headers.get("Metadata-Flavor") != "Google":
            reply = raw_reply("missing Metadata-Flavor", status=403, content_type="text/plain")
        elif path.path == "/":
            reply = raw_reply("", content_type="text/plain", headers=flavor)
        elif path.path == "/computeMetadata/v1/project/project-id":
            reply = raw_reply("metadata-project", content_type="application/text", headers=flavor)
        elif path.path == "/computeMetadata/v1/instance/service-accounts/default/":
            reply = json_reply({"email": CLIENT_EMAIL, "scopes": [CLOUD_PLATFORM_SCOPE]}, headers=flavor)
        elif path.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            scopes = urllib.parse.parse_qs(path.query).get("scopes")
            reply = json_reply({"access_token": f"ya29.mds-{scopes}", "expires_in": 3599}, headers=flavor)
        else:
            reply = raw_reply("not found", status=404, content_type="text/plain")
        reply(exchange)

    with LoopbackServer(default=metadata, path_prefix="") as server:
        host = server.url.removeprefix("http://")
        monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", False)
        monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", host)  # read when _metadata is imported
        monkeypatch.setenv("GCE_METADATA_IP", host)
        monkeypatch.setenv("GCE_METADATA_MTLS_MODE", "none")
        provider = GoogleTokenProvider()
        assert provider() == f"ya29.mds-{[CLOUD_PLATFORM_SCOPE]}"
        assert provider.project == "metadata-project"
        assert server.errors == []


# ------------------------------------------------------------------------------------------ missing extra, env


def test_missing_google_auth_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("google.auth", "google.auth.exceptions", "google.auth.transport"):
        monkeypatch.setitem(sys.modules, name, None)
    for provider in (GoogleTokenProvider(), GoogleTokenProvider(object())):
        with pytest.raises(ImportError, match=r"pip install 'polyresponses\[google\]'"):
            provider()


def test_google_project_precedence() -> None:
    assert google_project({}) is None
    assert google_project({"ANTHROPIC_VERTEX_PROJECT_ID": "a"}) == "a"
    assert google_project({"GCLOUD_PROJECT": "g", "ANTHROPIC_VERTEX_PROJECT_ID": "a"}) == "g"
    everything = {"GOOGLE_CLOUD_PROJECT": "c", "GCLOUD_PROJECT": "g", "ANTHROPIC_VERTEX_PROJECT_ID": "a"}
    assert google_project(everything) == "c"
    assert google_project({"GOOGLE_CLOUD_PROJECT": "", "GCLOUD_PROJECT": "g"}) == "g"


def test_google_location_precedence() -> None:
    assert google_location({}) is None
    assert google_location({"CLOUD_ML_REGION": "us-east5"}) == "us-east5"
    assert google_location({"GOOGLE_CLOUD_LOCATION": "global", "CLOUD_ML_REGION": "us-east5"}) == "global"
    assert google_location({"GOOGLE_CLOUD_LOCATION": "", "CLOUD_ML_REGION": "us-east5"}) == "us-east5"
