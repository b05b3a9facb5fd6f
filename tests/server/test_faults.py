"""Faults on both sides of the gateway: a silent upstream (keep-alives), a client that hangs up mid-stream
(the upstream request is seen cancelled), an upstream that stalls past the timeout, abrupt disconnects."""

from __future__ import annotations

import socket
import time

import httpx

from polyresponses.server._gateway import Gateway
from tests._loopback import LoopbackServer, stall
from tests.server._running import RunningGateway
from tests.server._scripted import ScriptedChat
from tests.server.conftest import ALICE, gateway_config


def test_keepalive_comments_while_the_upstream_is_silent(upstream: LoopbackServer) -> None:
    upstream.default = ScriptedChat(delay=0.35, words=3)
    with RunningGateway(gateway_config(upstream.url, keepalive_seconds=0.1), {"MISTRAL_API_KEY": "k"}) as gateway:
        reply = httpx.post(
            f"{gateway.url}/responses",
            json={"model": "mistral:m", "input": "x", "stream": True},
            headers={"Authorization": f"Bearer {ALICE}"},
            timeout=30,
        )
    blocks = reply.text.split("\n\n")
    assert blocks.count(": keep-alive") >= 3
    assert reply.text.endswith("data: [DONE]\n\n") and "response.completed" in reply.text


def test_client_disconnect_cancels_the_upstream_request(upstream: LoopbackServer) -> None:
    upstream.default = ScriptedChat(delay=0.1, words=300)
    with RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway:
        with httpx.stream(
            "POST",
            f"{gateway.url}/responses",
            json={"model": "mistral:m", "input": "x", "stream": True},
            headers={"Authorization": f"Bearer {ALICE}"},
        ) as reply:
            lines = reply.iter_lines()
            while "response.output_text.delta" not in next(lines):
                pass
            # Checked while the client still reads: once it hangs up the gateway may close the upstream at once.
            assert upstream.connections_open == 1, "the upstream was not streaming when the client hung up"
        # 300 words at 0.1 s each would keep the upstream busy for 30 s; closing within 5 s is the cancellation.
        assert upstream.wait_for(lambda server: server.connections_open == 0, timeout=5), "upstream still streaming"
        assert _in_flight(gateway.gateway) == 0


def _in_flight(gateway: Gateway) -> int:
    deadline = time.monotonic() + 5
    while gateway.metrics.in_flight_streams and time.monotonic() < deadline:
        time.sleep(0.02)
    return gateway.metrics.in_flight_streams


def test_upstream_stall_past_the_timeout_is_a_504(upstream: LoopbackServer) -> None:
    upstream.script(stall(5))
    config = gateway_config(upstream.url, upstream_timeout_seconds=0.5)
    with RunningGateway(config, {"MISTRAL_API_KEY": "k"}) as gateway:
        started = time.monotonic()
        reply = httpx.post(
            f"{gateway.url}/responses",
            json={"model": "mistral:m", "input": "x"},
            headers={"Authorization": f"Bearer {ALICE}"},
        )
        assert reply.status_code == 504 and reply.json()["error"]["code"] == "upstream_timeout"
        assert time.monotonic() - started < 3


def test_upstream_refusing_connections_is_a_502_that_does_not_name_it() -> None:
    with RunningGateway(gateway_config("http://127.0.0.1:9/internal-gpu-box/v1"), {"MISTRAL_API_KEY": "k"}) as gateway:
        reply = httpx.post(
            f"{gateway.url}/responses",
            json={"model": "mistral:m", "input": "x"},
            headers={"Authorization": f"Bearer {ALICE}"},
        )
    assert reply.status_code == 502 and reply.json()["error"]["code"] == "upstream_unreachable"
    assert (
        reply.json()["error"]["message"] == "provider 'mistral' is unreachable"
    )  # the operator's URL stays in the log


def test_abrupt_client_disconnect_mid_body_leaves_nothing(upstream: LoopbackServer) -> None:
    with RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway:
        port = int(gateway.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(
                b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + ALICE.encode()
                + b'\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model": "mis'
            )
        time.sleep(0.3)
        assert upstream.attempts == 0
        assert gateway.gateway.ledger._one("SELECT COUNT(*) FROM {t}gateway_owners", ()) == (0,)
        assert httpx.get(f"{gateway.base}/healthz").status_code == 200  # still serving
