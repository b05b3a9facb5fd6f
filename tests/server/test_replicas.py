"""Three gateway processes over one store: state, jobs and limits shared by every replica.

Each replica is a real ``polyresponses serve`` process on its own loopback port with the same config
(``[store] url = "postgresql://..."``), in front of the scripted Chat Completions upstream (Mistral's
wire format, a provider that keeps no state: every chain below lives only in the shared store). The
tests marked by ``store_url`` run twice: over PostgreSQL (replicas on many hosts) and over one SQLite
file (several gateway processes on one host), which must keep every one of these behaviours.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyresponses.testing import check_stream
from tests._loopback import LoopbackServer
from tests._postgres import PostgresServer
from tests._recorded import sse_data
from tests.server._running import free_port, serve_process
from tests.server._scripted import ScriptedChat
from tests.server.conftest import ALICE, BOB

ALICE_HEADERS = {"Authorization": f"Bearer {ALICE}"}
BOB_HEADERS = {"Authorization": f"Bearer {BOB}"}
LEASE_SECONDS = 10.0


class Replicas:
    """``count`` gateway processes over the database at ``store_url``; ``urls[i]`` is replica i's ``/v1``."""

    def __init__(self, tmp_path: Path, store_url: str, upstream_url: str, count: int = 3, **settings: Any) -> None:
        self.config = tmp_path / "gateway.toml"
        extra = "[server]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
        self.config.write_text(
            extra + f'[store]\nurl = "{store_url}"\n'
            f'[providers.mistral]\nbase_url = "{upstream_url}"\ndialect = "chat_completions"\n'
            '[keys.alice]\nenv = "TEST_ALICE_KEY"\n[keys.bob]\nenv = "TEST_BOB_KEY"\n'
        )
        self.environ = {"MISTRAL_API_KEY": "k", "TEST_ALICE_KEY": ALICE, "TEST_BOB_KEY": BOB}
        self.ports = [free_port() for _ in range(count)]
        self.urls = [f"http://127.0.0.1:{port}/v1" for port in self.ports]
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Replicas:
        try:
            for port in self.ports:
                self.processes.append(serve_process(self.config, port, self.environ))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer(default=ScriptedChat()) as server:
        yield server


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared" / "store.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def replicas(tmp_path: Path, store_url: str, upstream: LoopbackServer) -> Iterator[Replicas]:
    with Replicas(tmp_path, store_url, upstream.url) as running:
        yield running


@pytest.fixture
def pg_replicas(tmp_path: Path, postgres_url: str, upstream: LoopbackServer) -> Iterator[Replicas]:
    with Replicas(tmp_path, postgres_url, upstream.url) as running:
        yield running


def _create(url: str, headers: dict[str, str] = ALICE_HEADERS, **body: Any) -> dict[str, Any]:
    reply = httpx.post(f"{url}/responses", json={"model": "mistral:m", **body}, headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def _user_texts(request_body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request_body["messages"] if m["role"] == "user" and isinstance(m["content"], str)]


def test_a_chain_alternating_replicas_keeps_every_turn(replicas: Replicas, upstream: LoopbackServer) -> None:
    """Each turn on the next replica: the one that serves turn n rebuilds turns 1..n-1 from the database."""
    previous: str | None = None
    for turn in range(6):
        url = replicas.urls[turn % 3]
        extra: dict[str, Any] = {"previous_response_id": previous} if previous else {}
        reply = _create(url, input=f"turn {turn}", **extra)
        previous = reply["id"]
        sent = upstream.requests[-1].json()
        assert [text for text in _user_texts(sent)] == [f"turn {n}" for n in range(turn + 1)]
        assert reply["output"][0]["content"][0]["text"] == f"echo: turn {turn}"
    for url in replicas.urls:  # the last turn, with its input items, from every replica
        got = httpx.get(f"{url}/responses/{previous}", headers=ALICE_HEADERS)
        assert got.status_code == 200 and got.json()["id"] == previous
        items = httpx.get(
            f"{url}/responses/{previous}/input_items", params={"order": "asc", "limit": 100}, headers=ALICE_HEADERS
        ).json()
        texts = [item["content"][0]["text"] for item in items["data"]]  # the whole context, as OpenAI lists it
        assert texts == [text for n in range(6) for text in (f"turn {n}", f"echo: turn {n}")][:-1]


def test_a_conversation_is_read_from_another_replica(replicas: Replicas) -> None:
    a, b, c = replicas.urls
    conversation = httpx.post(f"{a}/conversations", json={"metadata": {"topic": "replicas"}}, headers=ALICE_HEADERS)
    assert conversation.status_code == 200, conversation.text
    ident = conversation.json()["id"]
    _create(b, input="first", conversation=ident)
    _create(c, input="second", conversation=ident)
    items = httpx.get(f"{a}/conversations/{ident}/items", params={"order": "asc"}, headers=ALICE_HEADERS).json()
    texts = [part["text"] for item in items["data"] for part in item["content"]]
    assert texts == ["first", "echo: first", "second", "echo: second"]
    assert httpx.get(f"{c}/conversations/{ident}", headers=ALICE_HEADERS).json()["metadata"] == {"topic": "replicas"}


def test_another_keys_ids_are_404_on_every_replica(replicas: Replicas) -> None:
    response = _create(replicas.urls[0], input="alice's")
    conversation = httpx.post(f"{replicas.urls[1]}/conversations", json={}, headers=ALICE_HEADERS).json()
    for url in replicas.urls:
        for method, path in (
            ("GET", f"/responses/{response['id']}"),
            ("GET", f"/responses/{response['id']}/input_items"),
            ("DELETE", f"/responses/{response['id']}"),
            ("GET", f"/conversations/{conversation['id']}"),
            ("GET", f"/conversations/{conversation['id']}/items"),
        ):
            reply = httpx.request(method, f"{url}{path}", headers=BOB_HEADERS)
            assert reply.status_code == 404, (url, path, reply.text)
            assert reply.json()["error"]["type"] == "not_found"
        continued = httpx.post(
            f"{url}/responses",
            json={"model": "mistral:m", "input": "x", "previous_response_id": response["id"]},
            headers=BOB_HEADERS,
        )
        assert continued.status_code == 404 and continued.json()["error"]["param"] == "previous_response_id"
    assert httpx.get(f"{replicas.urls[2]}/responses/{response['id']}", headers=ALICE_HEADERS).status_code == 200


def test_background_started_on_a_followed_from_b_cancelled_from_c(
    tmp_path: Path, store_url: str, upstream: LoopbackServer
) -> None:
    """B follows A's job live (woken by NOTIFY, not polling); C's cancel stops A's upstream call."""
    upstream.default = ScriptedChat(delay=0.05, words=2000)
    with Replicas(tmp_path, store_url, upstream.url) as replicas:
        a, b, c = replicas.urls
        queued = _create(a, input="long", background=True)
        assert queued["status"] == "queued"
        seen: list[dict[str, Any]] = []
        with httpx.stream(
            "GET", f"{b}/responses/{queued['id']}", params={"stream": "true"}, headers=ALICE_HEADERS, timeout=30
        ) as stream:
            lines = stream.iter_lines()
            for line in lines:
                if line.startswith("data: ") and line != "data: [DONE]":
                    seen.append(json.loads(line[6:]))
                deltas = [event for event in seen if event["type"] == "response.output_text.delta"]
                if len(deltas) >= 20:
                    break
        first_arrivals = [event["sequence_number"] for event in seen]
        assert first_arrivals == list(range(len(first_arrivals)))  # in order, none missing, from another replica
        assert upstream.connections_open == 1
        cancelled = httpx.post(f"{c}/responses/{queued['id']}/cancel", headers=ALICE_HEADERS, timeout=30)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert upstream.wait_for(lambda server: server.connections_open == 0, timeout=5)  # A stopped its call
        for url in replicas.urls:
            assert httpx.get(f"{url}/responses/{queued['id']}", headers=ALICE_HEADERS).json()["status"] == "cancelled"
        replay = httpx.get(
            f"{b}/responses/{queued['id']}", params={"stream": "true", "starting_after": "3"}, headers=ALICE_HEADERS
        )
        events = [json.loads(data) for data in sse_data(replay.text)]
        assert events[0]["sequence_number"] == 4
        assert [e["sequence_number"] for e in events] == list(range(4, 4 + len(events)))


def test_a_replica_killed_mid_job_leaves_it_failed_on_the_others(
    tmp_path: Path, store_url: str, upstream: LoopbackServer
) -> None:
    upstream.default = ScriptedChat(delay=0.2, words=500)
    with Replicas(tmp_path, store_url, upstream.url) as replicas:
        a, b, _ = replicas.urls
        queued = _create(a, input="x", background=True)
        assert upstream.wait_for(lambda server: server.attempts == 1, timeout=5)
        time.sleep(0.5)
        assert httpx.get(f"{b}/responses/{queued['id']}", headers=ALICE_HEADERS).json()["status"] == "in_progress"
        replicas.processes[0].send_signal(signal.SIGKILL)
        replicas.processes[0].wait()
        killed_at = time.monotonic()
        while (reply := httpx.get(f"{b}/responses/{queued['id']}", headers=ALICE_HEADERS).json())["status"] in (
            "queued",
            "in_progress",
        ):
            assert time.monotonic() - killed_at < LEASE_SECONDS + 5, reply
            time.sleep(0.2)
        assert reply["status"] == "failed"
        assert reply["error"]["message"] == "the gateway process running this background response stopped"
        events = [
            json.loads(data)
            for data in sse_data(
                httpx.get(f"{b}/responses/{queued['id']}", params={"stream": "true"}, headers=ALICE_HEADERS).text
            )
        ]
        assert [event["type"] for event in events][-2:] == ["error", "response.failed"]
        assert [event["sequence_number"] for event in events] == list(range(len(events)))
        check_stream(events)


def test_a_thousand_concurrent_turns_no_lost_turn_no_duplicate_id(pg_replicas: Replicas) -> None:
    replicas = pg_replicas

    async def run() -> list[tuple[str, str, str]]:
        limits = httpx.Limits(max_connections=150)
        async with httpx.AsyncClient(headers=ALICE_HEADERS, limits=limits, timeout=120) as client:

            async def turn(number: int) -> tuple[str, str, str]:
                url = replicas.urls[number % 3]
                reply = await client.post(f"{url}/responses", json={"model": "mistral:m", "input": f"n{number}"})
                assert reply.status_code == 200, reply.text
                data = reply.json()
                return data["id"], data["output"][0]["content"][0]["text"], replicas.urls[(number + 1) % 3]

            return await asyncio.gather(*(turn(number) for number in range(1000)))

    made = asyncio.run(run())
    ids = [ident for ident, _, _ in made]
    assert len(set(ids)) == 1000
    assert sorted(text for _, text, _ in made) == sorted(f"echo: n{number}" for number in range(1000))
    with httpx.Client(headers=ALICE_HEADERS) as client:  # every turn readable from another replica
        for ident, text, other in made:
            got = client.get(f"{other}/responses/{ident}")
            assert got.status_code == 200 and got.json()["output"][0]["content"][0]["text"] == text


def test_the_rate_limit_is_one_limit_across_replicas(tmp_path: Path, store_url: str, upstream: LoopbackServer) -> None:
    with Replicas(tmp_path, store_url, upstream.url, requests_per_minute=4) as replicas:
        statuses = [
            httpx.post(
                f"{replicas.urls[n % 3]}/responses", json={"model": "mistral:m", "input": "x"}, headers=ALICE_HEADERS
            )
            for n in range(6)
        ]
        assert [reply.status_code for reply in statuses] == [200, 200, 200, 200, 429, 429]
        assert 1 <= int(statuses[4].headers["retry-after"]) <= 61
        bob = httpx.post(
            f"{replicas.urls[2]}/responses", json={"model": "mistral:m", "input": "x"}, headers=BOB_HEADERS
        )
        assert bob.status_code == 200  # a limit per key


def test_the_database_restarted_under_load(pg_replicas: Replicas, postgres: PostgresServer) -> None:
    """Requests in flight while PostgreSQL restarts answer 200 or a clear 503; no chain is corrupted; the
    replicas recover without a restart of their own."""
    replicas = pg_replicas
    outcomes: list[tuple[int, str | None]] = []
    chains: list[list[str]] = []

    async def load(stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(headers=ALICE_HEADERS, timeout=60) as client:

            async def chain(number: int) -> None:
                previous: str | None = None
                turns: list[str] = []
                while not stop.is_set():
                    body: dict[str, Any] = {"model": "mistral:m", "input": f"c{number}t{len(turns)}"}
                    if previous is not None:
                        body["previous_response_id"] = previous
                    reply = await client.post(f"{replicas.urls[(number + len(turns)) % 3]}/responses", json=body)
                    code = reply.json()["error"]["code"] if reply.status_code != 200 else None
                    outcomes.append((reply.status_code, code))
                    if reply.status_code == 200:
                        previous = reply.json()["id"]
                        turns.append(previous)
                    else:
                        await asyncio.sleep(0.1)
                chains.append(turns)

            await asyncio.gather(*(chain(number) for number in range(12)))

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(load(stop))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(postgres.stop, "fast")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(postgres.start)
        await asyncio.sleep(4.0)  # the replicas reconnect by themselves
        stop.set()
        await running

    asyncio.run(scenario())
    statuses = {status for status, _ in outcomes}
    assert statuses <= {200, 503}, outcomes
    assert all(code == "store_unavailable" for status, code in outcomes if status == 503)
    assert 503 in statuses  # the outage was seen, and answered clearly
    assert outcomes[-12:] == [(200, None)] * 12  # recovered: the last turns all succeeded
    for turns in chains:  # every acknowledged turn is stored, linked to the one before it
        for index, ident in enumerate(turns):
            got = httpx.get(f"{replicas.urls[index % 3]}/responses/{ident}", headers=ALICE_HEADERS)
            assert got.status_code == 200, got.text
            assert got.json().get("previous_response_id") == (turns[index - 1] if index else None)


def test_a_replica_refuses_to_start_on_a_schema_it_does_not_know(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    from polyresponses.store._postgres import migrate

    migrate(postgres_url)
    with psycopg.connect(postgres_url) as connection:
        connection.execute("UPDATE polyresponses.meta SET value = '99' WHERE key = 'schema_version'")
    replicas = Replicas(tmp_path, postgres_url, "http://127.0.0.1:9/v1", count=1)
    process = subprocess.run(
        [sys.executable, "-m", "polyresponses", "serve", "--config", str(replicas.config), "--port", "0"],
        env={**{k: v for k, v in os.environ.items() if k != "POLYRESPONSES_STORE"}, **replicas.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode != 0
    assert "store schema version 99 is newer than this polyresponses" in process.stderr
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in process.stderr and password not in process.stdout


def test_sealing_over_postgresql_needs_one_secret_on_every_replica() -> None:
    """A secret file beside the store is one machine's: over PostgreSQL the secret must be given, and an
    item sealed under another replica's secret is named as such (not answered as a missing item)."""
    from polyresponses.server._compaction import Sealer, open_compactions
    from polyresponses.server._errors import GatewayError

    with pytest.raises(GatewayError) as refused:
        Sealer.for_store("postgresql://gateway:hunter2@db/gateway", {})
    assert refused.value.code == "secret_not_configured" and "hunter2" not in refused.value.message
    replica_a = Sealer.for_store("postgresql://gateway:hunter2@db/gateway", {"POLYRESPONSES_SECRET": "11" * 32})
    replica_b = Sealer.for_store("postgresql://gateway:hunter2@db/gateway", {"POLYRESPONSES_SECRET": "22" * 32})
    item = {"type": "compaction", "encrypted_content": replica_a.seal("the summary", "alice")}
    opened = open_compactions(replica_a, "alice", [item], lambda _key_id: True)
    assert "the summary" in opened[0]["content"][0]["text"]
    with pytest.raises(GatewayError) as mismatch:
        open_compactions(replica_b, "alice", [item], lambda key_id: key_id == replica_a.key_id)
    assert mismatch.value.code == "secret_mismatch"
    with pytest.raises(GatewayError) as missing:  # a key id this deployment never used: just not found
        open_compactions(replica_b, "alice", [item], lambda _key_id: False)
    assert missing.value.status == 404
