"""Regressions found in review: each was reproduced against a running gateway before it was fixed."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from polyresponses.server import GatewayConfig
from polyresponses.server._config import ProviderSettings
from polyresponses.server.ledger import open_ledger
from tests._loopback import LoopbackServer, raw_reply
from tests._recorded import sse_data
from tests.server._running import RunningGateway
from tests.server._scripted import ScriptedChat
from tests.server.conftest import ALICE, gateway_config
from tests.server.test_websocket import _socket, _turn


def _keyless(upstream: LoopbackServer) -> GatewayConfig:
    return GatewayConfig(
        store=":memory:",
        providers={"mistral": ProviderSettings(base_url=upstream.url, dialect="chat_completions")},
        upstream_max_retries=0,
    )


def test_a_keyless_gateway_answers_this_machine_only(upstream: LoopbackServer) -> None:
    with RunningGateway(_keyless(upstream), {"MISTRAL_API_KEY": "k"}) as gateway:
        body = {"model": "mistral:m", "input": "x"}
        assert httpx.post(f"{gateway.url}/responses", json=body).status_code == 200
        rebound = httpx.post(f"{gateway.url}/responses", json=body, headers={"Host": "attacker.example"})
        assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "forbidden_host"
        form = httpx.post(f"{gateway.url}/responses", content=json.dumps(body), headers={"Content-Type": "text/plain"})
        assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
        url = gateway.url.replace("http://", "ws://") + "/responses"
        with pytest.raises(InvalidStatus) as caught, connect(url, origin=Origin("https://evil.example")):
            pass
        assert caught.value.response.status_code == 403
        with connect(url, origin=Origin("http://localhost:3000")) as socket:
            assert _turn(socket, model="mistral:m", input="x")[-1]["type"] == "response.completed"
    assert upstream.attempts == 2


def test_websocket_frames_count_against_the_rate_limit(upstream: LoopbackServer) -> None:
    with (
        RunningGateway(gateway_config(upstream.url, requests_per_minute=2), {"MISTRAL_API_KEY": "k"}) as gateway,
        _socket(gateway) as socket,
    ):
        assert _turn(socket, model="mistral:m", input="a")[-1]["type"] == "response.completed"
        assert _turn(socket, model="mistral:m", input="b")[-1]["type"] == "response.completed"
        limited = _turn(socket, model="mistral:m", input="c")[-1]
        assert limited["status"] == 429 and limited["error"]["code"] == "rate_limit_exceeded"
    assert upstream.attempts == 2


def test_binary_frames_and_deep_json_get_clear_errors(gateway: RunningGateway) -> None:
    with _socket(gateway) as socket:
        socket.send(b"\x00\x01")
        assert json.loads(socket.recv(timeout=5))["error"]["code"] == "invalid_frame"
        assert _turn(socket, model="mistral:m", input="still here")[-1]["type"] == "response.completed"
    deep = "[" * 100_000 + "]" * 100_000
    reply = httpx.post(
        f"{gateway.url}/responses",
        content=deep,
        headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
    )
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_json"


def test_background_requests_are_refused_before_queueing(gateway: RunningGateway, upstream: LoopbackServer) -> None:
    headers = {"Authorization": f"Bearer {ALICE}"}
    for body, param in (({"tools": [{"type": "web_search"}]}, None), ({"temperature": "hot"}, "temperature")):
        reply = httpx.post(
            f"{gateway.url}/responses",
            json={"model": "mistral:m", "input": "x", "background": True, **body},
            headers=headers,
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["param"] == param
    assert upstream.attempts == 0


def test_failed_stream_keeps_the_clients_id_and_always_ends_failed(
    gateway: RunningGateway, upstream: LoopbackServer
) -> None:
    from tests._loopback import sse_reply

    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    upstream.script(
        sse_reply(
            [{**chunk, "type": "x", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "par"}}]}],
            then="drop",
        )
    )
    headers = {"Authorization": f"Bearer {ALICE}"}
    mid = [
        json.loads(d)
        for d in sse_data(
            httpx.post(
                f"{gateway.url}/responses", json={"model": "mistral:m", "input": "x", "stream": True}, headers=headers
            ).text
        )
    ]
    assert mid[0]["type"] == "response.created" and mid[-1]["type"] == "response.failed"
    assert mid[-1]["response"]["id"] == mid[0]["response"]["id"]
    # an error before the first event: still error, then response.failed
    upstream.script(raw_reply("data: {not json}\n\n", content_type="text/event-stream"))
    early = [
        json.loads(d)
        for d in sse_data(
            httpx.post(
                f"{gateway.url}/responses", json={"model": "mistral:m", "input": "x", "stream": True}, headers=headers
            ).text
        )
    ]
    assert [event["type"] for event in early] == ["error", "response.failed"]
    assert [event["sequence_number"] for event in early] == [0, 1]


def test_deleting_a_background_response_deletes_its_log(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    created = alice.responses.create(model="mistral:m", input="x", background=True)
    deadline = time.monotonic() + 10
    while alice.responses.retrieve(created.id).status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.05)
    alice.responses.delete(created.id)
    ledger = gateway.gateway.ledger
    assert ledger.job(created.id) is None and ledger.events(created.id, -1) == []
    with pytest.raises(openai.NotFoundError):
        alice.responses.retrieve(created.id)


def test_a_job_ended_elsewhere_is_never_written_again() -> None:
    ledger = open_ledger(":memory:")
    queued: dict[str, Any] = {"id": "resp_1", "status": "queued"}
    ledger.create_job("resp_1", "alice", "mistral", queued, "runner-a", 10)
    assert ledger.append_events(
        "resp_1", "runner-a", [(0, {"type": "response.created"})], {**queued, "status": "in_progress"}
    )
    failed = {**queued, "status": "failed"}
    assert ledger.finish("resp_1", failed, [(1, {"type": "response.failed"})])  # a sweeper, say
    assert not ledger.append_events("resp_1", "runner-a", [(2, {"type": "x"})], {**queued, "status": "in_progress"})
    assert not ledger.finish(
        "resp_1", {**queued, "status": "completed"}, [(3, {"type": "response.completed"})], "runner-a"
    )
    job = ledger.job("resp_1")
    assert job is not None and job.status == "failed"
    assert [event["type"] for event in ledger.events("resp_1", -1)] == ["response.created", "response.failed"]


def test_graceful_shutdown_ends_running_jobs_failed(upstream: LoopbackServer) -> None:
    upstream.default = ScriptedChat(delay=0.2, words=200)
    running = RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"})
    seen: list[Any] = []
    original = running.gateway.ledger.close

    def close() -> None:  # read the job as shutdown left it, just before the ledger closes
        seen.append(running.gateway.ledger.job(ident))
        original()

    running.gateway.ledger.close = close  # type: ignore[method-assign]
    with running:
        ident = httpx.post(
            f"{running.url}/responses",
            json={"model": "mistral:m", "input": "x", "background": True},
            headers={"Authorization": f"Bearer {ALICE}"},
        ).json()["id"]
        assert upstream.wait_for(lambda server: server.attempts == 1, timeout=5)
        time.sleep(0.3)
    (job,) = seen
    assert job.status == "failed"
    assert job.response["error"]["message"] == "the gateway stopped while this background response was running"
