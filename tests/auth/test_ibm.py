"""IBM Cloud IAM: a watsonx.ai API key exchanged for bearer tokens at a loopback IAM endpoint.

The form is the documented one (``grant_type=urn:ibm:params:oauth:grant-type:apikey``, ``apikey``); a token
is reused while fresh, exchanged again inside the refresh margin (by a fake clock), once however many
threads ask; IAM's refusals and an unreachable IAM are ``LookupError``s that never hold the key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from polyresponses.auth._ibm import IbmIamTokenProvider
from tests._loopback import Exchange, LoopbackServer, json_reply

_KEY = "ibm-api-key-that-must-not-leak"


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def iam() -> Iterator[LoopbackServer]:
    issued = iter(range(1, 1000))

    def token(exchange: Exchange) -> None:
        form = parse_qs(exchange.request.body.decode())
        assert form == {"grant_type": ["urn:ibm:params:oauth:grant-type:apikey"], "apikey": [_KEY]}
        assert exchange.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        time.sleep(0.05)
        json_reply({"access_token": f"iam-{next(issued)}", "expires_in": 3600, "token_type": "Bearer"})(exchange)

    with LoopbackServer(token, path_prefix="") as server:
        yield server


def test_a_token_is_reused_while_fresh_and_exchanged_again_inside_the_margin(iam: LoopbackServer) -> None:
    clock = _Clock()
    tokens = IbmIamTokenProvider(_KEY, url=f"{iam.url}/identity/token", clock=clock)
    assert tokens() == tokens() == "iam-1"
    clock.now += 3600 - 301
    assert tokens() == "iam-1"
    clock.now += 2  # 299 s left: inside the 300 s margin
    assert tokens() == "iam-2"
    assert len(iam.requests) == 2 and iam.requests[0].path == "/identity/token"
    assert _KEY not in repr(tokens)


def test_many_threads_share_one_exchange(iam: LoopbackServer) -> None:
    tokens = IbmIamTokenProvider(_KEY, url=f"{iam.url}/identity/token")
    barrier = threading.Barrier(12)
    seen: list[str] = []

    def call() -> None:
        barrier.wait()
        seen.append(tokens())

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == ["iam-1"] * 12 and len(iam.requests) == 1


def test_a_refused_key_and_an_unreachable_iam_never_show_the_key() -> None:
    refusal = {"errorCode": "BXNIM0415E", "errorMessage": f"Provided API key could not be found: {_KEY}"}
    with LoopbackServer(json_reply(refusal, status=400), path_prefix="") as server:
        with pytest.raises(LookupError, match=r"refused the API key exchange \(400: BXNIM0415E") as refused:
            IbmIamTokenProvider(_KEY, url=f"{server.url}/identity/token")()
        url = server.url
    assert _KEY not in str(refused.value) and "***" in str(refused.value)
    with pytest.raises(LookupError, match="could not be asked for a token") as unreachable:
        IbmIamTokenProvider(_KEY, url=f"{url}/identity/token", timeout=2)()
    assert _KEY not in str(unreachable.value)


def test_a_reply_without_a_token_is_refused() -> None:
    with (
        LoopbackServer(json_reply({"token_type": "Bearer"}), path_prefix="") as server,
        pytest.raises(LookupError, match="without an access_token"),
    ):
        IbmIamTokenProvider(_KEY, url=f"{server.url}/identity/token")()
