"""An AWS row without a bearer key signs its requests: end to end through the clients, botocore as referee.

The request the client sends (captured by ``httpx.MockTransport``) carries a SigV4 ``authorization``
that botocore's ``SigV4Auth`` computes byte for byte for the same request, clock and credentials, with
the signing name of the row's host (``bedrock`` on runtime, ``bedrock-mantle`` on mantle); a bearer key
wins over credentials; no credentials at all is refused before the network, naming what to set, and
no secret reaches a repr or an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import httpx
import pytest

from polyresponses import AsyncClient, Client, MissingAPIKeyError
from polyresponses.auth._signer import SigV4Signer, region_of
from polyresponses.router._providers import PROVIDERS

_ACCESS = "AKIDPOLYRESPONSESTEST"
_SECRET = "polyresponses/secret/key/that/must/not/leak"
_TOKEN = "session-token-that-must-not-leak"
_REPLY = {"output": {"message": {"role": "assistant", "content": [{"text": "Hi."}]}}, "stopReason": "end_turn"}
_RESPONSES_REPLY = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "m",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hi.", "annotations": []}],
        }
    ],
}


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Static keys in the environment and nothing else AWS (no profile files, no instance metadata)."""
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", _ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", _SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", _TOKEN)
    yield


class _Capture:
    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json=self.reply)


def _botocore_authorization(request: httpx.Request, service: str, region: str) -> str:
    """botocore's SigV4 for the same method, URL, content type and body, at the request's own x-amz-date."""
    when = datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda remove_tzinfo=True: when.replace(tzinfo=None) if remove_tzinfo else when
    try:
        referee = botocore.awsrequest.AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={"Content-Type": request.headers["content-type"]},
        )
        credentials = botocore.credentials.Credentials(_ACCESS, _SECRET, _TOKEN)
        botocore.auth.SigV4Auth(credentials, service, region).add_auth(referee)
    finally:
        botocore.auth.get_current_datetime = original
    assert referee.headers["X-Amz-Security-Token"] == _TOKEN
    return str(referee.headers["Authorization"])


@pytest.mark.usefixtures("aws_environment")
@pytest.mark.parametrize(
    ("row", "service", "reply", "path"),
    [
        ("bedrock", "bedrock", _REPLY, "/model/us.amazon.nova-micro-v1%3A0/converse"),
        ("bedrock_openai", "bedrock", _RESPONSES_REPLY, "/openai/v1/responses"),
        ("bedrock_mantle", "bedrock-mantle", _RESPONSES_REPLY, "/v1/responses"),
    ],
)
def test_requests_are_signed_as_botocore_signs_them(row: str, service: str, reply: dict[str, Any], path: str) -> None:
    capture = _Capture(reply)
    with Client(row, store=False, transport=httpx.MockTransport(capture)) as client:
        response = client.responses.create(model="us.amazon.nova-micro-v1:0", input="hi")
    assert response.output_text == "Hi."
    (request,) = capture.sent
    assert request.url.host.endswith(".us-west-2.amazonaws.com") or request.url.host.endswith(".us-west-2.api.aws")
    assert request.url.raw_path.decode() == path
    authorization = request.headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={_ACCESS}/")
    assert f"/us-west-2/{service}/aws4_request" in authorization
    assert authorization == _botocore_authorization(request, service, "us-west-2")
    assert request.headers["x-amz-security-token"] == _TOKEN
    assert "x-amz-content-sha256" not in request.headers  # as botocore: Bedrock is not S3


@pytest.mark.anyio
@pytest.mark.usefixtures("aws_environment")
async def test_the_async_client_signs_too() -> None:
    capture = _Capture(_REPLY)
    client = AsyncClient("bedrock", store=False, transport=httpx.MockTransport(capture))
    await client.responses.create(model="us.amazon.nova-micro-v1:0", input="hi")
    await client.close()
    (request,) = capture.sent
    assert request.headers["authorization"] == _botocore_authorization(request, "bedrock", "us-west-2")


@pytest.mark.usefixtures("aws_environment")
def test_each_retry_is_signed_afresh() -> None:
    sent: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            return httpx.Response(503, json={"message": "try again"})
        return httpx.Response(200, json=_REPLY)

    with Client("bedrock", store=False, max_retries=1, transport=httpx.MockTransport(flaky)) as client:
        client.responses.create(model="m", input="hi")
    assert len(sent) == 2
    for request in sent:
        assert request.headers["authorization"] == _botocore_authorization(request, "bedrock", "us-west-2")
        assert request.headers["authorization"].count("Signature=") == 1  # replaced, not appended


@pytest.mark.usefixtures("aws_environment")
def test_a_bedrock_api_key_wins_over_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key")
    capture = _Capture(_REPLY)
    with Client("bedrock", store=False, transport=httpx.MockTransport(capture)) as client:
        client.responses.create(model="m", input="hi")
    (request,) = capture.sent
    assert request.headers["authorization"] == "Bearer bedrock-key"
    assert "x-amz-date" not in request.headers


@pytest.mark.usefixtures("aws_environment")
def test_no_credentials_at_all_is_refused_before_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    capture = _Capture(_REPLY)
    # botocore is installed (test group): its chain is searched, finds nothing, and says so at the call.
    with (
        Client("bedrock", store=False, transport=httpx.MockTransport(capture)) as client,
        pytest.raises(MissingAPIKeyError, match="AWS_BEARER_TOKEN_BEDROCK, AWS_ACCESS_KEY_ID"),
    ):
        client.responses.create(model="m", input="hi")
    assert capture.sent == []


@pytest.mark.usefixtures("aws_environment")
def test_without_botocore_and_without_keys_the_client_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import polyresponses.auth._aws as aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    monkeypatch.setattr(aws, "_botocore_installed", lambda: False)
    with pytest.raises(MissingAPIKeyError, match=r"polyresponses\[aws\]"):
        Client("bedrock", store=False)


@pytest.mark.usefixtures("aws_environment")
def test_no_secret_in_reprs_or_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": f"denied for {request.headers['authorization']}"})

    with Client("bedrock", store=False, max_retries=0, transport=httpx.MockTransport(refuse)) as client:
        shown = repr(client) + repr(client._target)  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(Exception) as caught:
            client.responses.create(model="m", input="hi")
    assert client._target.signer is not None  # pyright: ignore[reportPrivateUsage]
    shown += repr(client._target.signer) + str(caught.value) + repr(caught.value)  # pyright: ignore[reportPrivateUsage]
    for secret in (_SECRET, _TOKEN):
        assert secret not in shown
    assert json.dumps(getattr(caught.value, "body", None)).count(_SECRET) == 0


def test_the_region_comes_from_the_host_first() -> None:
    assert region_of("https://bedrock-runtime.eu-west-3.amazonaws.com") == "eu-west-3"
    assert region_of("https://bedrock-mantle.us-gov-west-1.api.aws/v1") == "us-gov-west-1"
    assert region_of("https://proxy.internal.test/bedrock") is None
    assert PROVIDERS["bedrock_mantle"].aws_signing_name == "bedrock-mantle"
    assert PROVIDERS["bedrock_mantle_anthropic"].aws_signing_name == "bedrock-mantle"
    assert PROVIDERS["bedrock_anthropic"].aws_signing_name == "bedrock"
    assert PROVIDERS["bedrock"].aws_signing_name == PROVIDERS["bedrock_openai"].aws_signing_name == "bedrock"
    assert "secret" not in repr(SigV4Signer.__dataclass_fields__["source"])


@pytest.mark.usefixtures("aws_environment")
def test_the_clients_region_signs_a_request_to_a_proxy_without_one() -> None:
    capture = _Capture(_REPLY)
    with Client(
        "bedrock",
        region="ap-south-1",
        api_base="https://bedrock-proxy.internal.test",
        store=False,
        transport=httpx.MockTransport(capture),
    ) as client:
        client.responses.create(model="m", input="hi")
    (request,) = capture.sent
    assert "/ap-south-1/bedrock/aws4_request" in request.headers["authorization"]
    assert request.headers["authorization"] == _botocore_authorization(request, "bedrock", "ap-south-1")


@pytest.mark.usefixtures("aws_environment")
def test_a_profile_without_botocore_is_refused_when_the_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    import polyresponses.auth._signer as signer_module

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setattr(signer_module, "_botocore_installed", lambda: False)
    with pytest.raises(MissingAPIKeyError, match=r"need botocore: pip install 'polyresponses\[aws\]'"):
        Client("bedrock", store=False)


@pytest.mark.usefixtures("aws_environment")
def test_no_region_anywhere_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ValueError, match=r"needs a region: pass region=\.\.\., set AWS_REGION"):
        Client("bedrock", api_base="https://bedrock-proxy.internal.test", store=False)


@pytest.mark.usefixtures("aws_environment")
def test_the_module_functions_take_region_from_client_args(monkeypatch: pytest.MonkeyPatch) -> None:
    import polyresponses

    monkeypatch.delenv("AWS_REGION")
    capture = _Capture(_REPLY)
    response = polyresponses.responses(
        "bedrock:us.amazon.nova-micro-v1:0",
        "hi",
        client_args={"region": "eu-west-1", "transport": httpx.MockTransport(capture), "store": False},
    )
    assert response.output_text == "Hi."
    assert capture.sent[0].url.host == "bedrock-runtime.eu-west-1.amazonaws.com"


@pytest.mark.usefixtures("aws_environment")
def test_the_region_of_the_configured_profile_is_used_when_no_variable_names_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_REGION")
    (tmp_path / "config").write_text("[profile work]\nregion = eu-south-2\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    capture = _Capture(_REPLY)
    with Client("bedrock", store=False, transport=httpx.MockTransport(capture)) as client:
        client.responses.create(model="m", input="hi")
    (request,) = capture.sent
    assert request.url.host == "bedrock-runtime.eu-south-2.amazonaws.com"
    assert "/eu-south-2/bedrock/aws4_request" in request.headers["authorization"]
