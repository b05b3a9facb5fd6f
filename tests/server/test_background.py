"""Background responses for a provider without a background mode: queued, polled, resumed, cancelled,
and ended in a defined state when the gateway process running one is killed."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from polyresponses.testing import check_stream
from tests._loopback import LoopbackServer
from tests._recorded import sse_data
from tests.server._running import RunningGateway, free_port, serve_process
from tests.server._scripted import ScriptedChat
from tests.server.conftest import ALICE, gateway_config


def _wait_done(client: openai.OpenAI, ident: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.responses.retrieve(ident)
        if response.status not in ("queued", "in_progress"):
            return response
        time.sleep(0.05)
    raise AssertionError(f"{ident} still running after {timeout} s")


def test_queued_at_once_then_completed_and_stored(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    raw = httpx.post(
        f"{gateway.url}/responses",
        json={"model": "mistral:m", "input": "later please", "background": True},
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert raw.status_code == 200 and raw.headers["openai-poll-after-ms"] == "500"
    queued = raw.json()
    assert queued["status"] == "queued" and queued["background"] is True and queued["output"] == []
    done = _wait_done(alice, queued["id"])
    assert done.status == "completed" and done.output_text == "echo: later please" and done.id == queued["id"]
    # the stored turn continues like any other
    follow = alice.responses.create(model="mistral:m", input="and now?", previous_response_id=queued["id"])
    assert follow.output_text == "echo: and now?"
    assert [item.type for item in alice.responses.input_items.list(follow.id).data] == ["message"] * 3


def test_resume_from_any_sequence_number(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    created = alice.responses.create(model="mistral:m", input="a b c d e", background=True)
    _wait_done(alice, created.id)
    headers = {"Authorization": f"Bearer {ALICE}"}
    whole = [
        json.loads(d)
        for d in sse_data(
            httpx.get(f"{gateway.url}/responses/{created.id}", params={"stream": "true"}, headers=headers).text
        )
    ]
    assert check_stream(whole) == []
    assert [event["sequence_number"] for event in whole] == list(range(len(whole)))
    assert all(event["response"]["id"] == created.id for event in whole if "response" in event)
    for after in (0, 3, len(whole) - 2):
        reply = httpx.get(
            f"{gateway.url}/responses/{created.id}", params={"stream": "true", "starting_after": after}, headers=headers
        )
        assert [json.loads(d) for d in sse_data(reply.text)] == whole[after + 1 :]
        assert reply.text.endswith("data: [DONE]\n\n")
    with alice.responses.retrieve(created.id, stream=True, starting_after=2) as stream:
        assert [event.sequence_number for event in stream] == list(range(3, len(whole)))


def test_background_stream_then_resume_live(upstream: LoopbackServer) -> None:
    """A follower that joins mid-run gets the log, then the rest live, then [DONE]."""
    upstream.default = ScriptedChat(delay=0.05, words=30)
    with RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway:
        client = openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0)
        with client.responses.create(model="mistral:m", input="x", background=True, stream=True) as stream:
            first = [next(iter(stream)) for _ in range(5)]
        assert first[0].type == "response.created"
        ident = first[0].response.id
        with client.responses.retrieve(ident, stream=True, starting_after=first[-1].sequence_number) as resumed:
            rest = list(resumed)
        assert rest[0].sequence_number == first[-1].sequence_number + 1
        assert rest[-1].type == "response.completed"
        assert rest[-1].type == "response.completed"
        assert rest[-1].response.output_text == " ".join(f"w{n}" for n in range(1, 31))


def test_cancel_stops_the_upstream_and_ends_cancelled(upstream: LoopbackServer) -> None:
    upstream.default = ScriptedChat(delay=0.2, words=200)
    with RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway:
        client = openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0)
        created = client.responses.create(model="mistral:m", input="x", background=True)
        assert upstream.wait_for(lambda server: server.attempts == 1 and server.connections_open == 1, timeout=5)
        cancelled = client.responses.cancel(created.id)
        assert cancelled.status == "cancelled"
        assert upstream.wait_for(lambda server: server.connections_open == 0, timeout=5)  # the upstream call ended
        assert client.responses.retrieve(created.id).status == "cancelled"
        assert client.responses.cancel(created.id).status == "cancelled"  # idempotent
        time.sleep(0.3)
        assert client.responses.retrieve(created.id).status == "cancelled"  # nothing overwrote it


def test_cancel_and_completion_race_exactly_one_wins(upstream: LoopbackServer) -> None:
    with RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway:
        client = openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0)
        outcomes = set()
        for _ in range(8):
            created = client.responses.create(model="mistral:m", input="quick", background=True)
            answer = client.responses.cancel(created.id)
            final = _wait_done(client, created.id)
            assert answer.status == final.status in ("cancelled", "completed")
            events = list(client.responses.retrieve(created.id, stream=True))
            assert sum(event.type == "response.completed" for event in events) == (final.status == "completed")
            outcomes.add(final.status)
        assert outcomes  # each run ended in exactly one state, whichever won


def test_cancel_only_background(alice: openai.OpenAI) -> None:
    plain = alice.responses.create(model="mistral:m", input="x")
    with pytest.raises(openai.BadRequestError):
        alice.responses.cancel(plain.id)
    with pytest.raises(openai.BadRequestError) as caught:
        alice.responses.create(model="mistral:m", input="x", background=True, store=False)
    assert caught.value.body["param"] == "store"  # type: ignore[index]


def test_killed_mid_job_ends_failed_after_restart(upstream: LoopbackServer, tmp_path: Path) -> None:
    """kill -9 during a background response; the restarted gateway ends it failed (no stuck in_progress)."""
    upstream.default = ScriptedChat(delay=0.2, words=500)
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[store]\nurl = "{tmp_path / "store.sqlite3"}"\n'
        f'[providers.mistral]\nbase_url = "{upstream.url}"\ndialect = "chat_completions"\n'
        '[keys.alice]\nenv = "TEST_GATEWAY_KEY"\n'
    )
    environ = {"MISTRAL_API_KEY": "k", "TEST_GATEWAY_KEY": ALICE}
    port = free_port()
    process = serve_process(config, port, environ)
    url = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {ALICE}"}
    try:
        created = httpx.post(
            f"{url}/responses", json={"model": "mistral:m", "input": "x", "background": True}, headers=headers
        ).json()
        assert upstream.wait_for(lambda server: server.attempts == 1, timeout=5)
        time.sleep(0.5)
        assert httpx.get(f"{url}/responses/{created['id']}", headers=headers).json()["status"] == "in_progress"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    process = serve_process(config, port, environ)
    try:
        deadline = time.monotonic() + 30
        while (reply := httpx.get(f"{url}/responses/{created['id']}", headers=headers).json()).get("status") in (
            "queued",
            "in_progress",
        ):
            assert time.monotonic() < deadline, reply
            time.sleep(0.2)
        assert reply.get("status") == "failed", reply
        assert reply["error"] == {
            "code": "server_error",
            "message": "the gateway process running this background response stopped",
        }
        events = [
            json.loads(d)
            for d in sse_data(
                httpx.get(f"{url}/responses/{created['id']}", params={"stream": "true"}, headers=headers).text
            )
        ]
        assert [event["type"] for event in events][-2:] == ["error", "response.failed"]
        assert [event["sequence_number"] for event in events] == list(range(len(events)))
    finally:
        process.terminate()
        process.wait(timeout=10)
