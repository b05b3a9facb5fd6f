"""The ledger's job protocol where writers race: a late writer never revives an ended job, a lease is
renewed only for the jobs its process runs, and a job is interrupted once however many cancels
arrive. On SQLite and on the real PostgreSQL server of ``tests/_postgres.py``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from polyresponses.server._background import (
    _interrupt,  # pyright: ignore[reportPrivateUsage]
    _Running,  # pyright: ignore[reportPrivateUsage]
)
from polyresponses.server.ledger import Ledger, open_ledger
from polyresponses.store import PostgresStore


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        opened = open_ledger(str(tmp_path / "store.sqlite3"))
    else:
        url: str = request.getfixturevalue("postgres_url")
        opened = open_ledger(url, PostgresStore(url))
    try:
        yield opened
    finally:
        opened.close()


def _queued(ident: str) -> dict[str, Any]:
    return {"id": ident, "object": "response", "status": "queued", "output": []}


def _event(seq: int) -> tuple[int, dict[str, Any]]:
    return seq, {"type": "response.output_text.delta", "sequence_number": seq, "delta": "x"}


def test_a_late_writer_does_not_revive_an_ended_job(ledger: Ledger) -> None:
    ledger.create_job("resp_1", "alice", "mistral", _queued("resp_1"), "runner-a", 10)
    assert ledger.append_events("resp_1", "runner-a", [_event(0)], {**_queued("resp_1"), "status": "in_progress"})
    assert ledger.finish("resp_1", {**_queued("resp_1"), "status": "cancelled"}, [])

    late_snapshot = {**_queued("resp_1"), "status": "in_progress"}
    assert not ledger.append_events("resp_1", "runner-a", [_event(1)], late_snapshot)
    job = ledger.job("resp_1")
    assert job is not None and job.status == "cancelled" and job.response["status"] == "cancelled"
    assert [event["sequence_number"] for event in ledger.events("resp_1", -1)] == [0]


def test_another_runner_cannot_write_to_a_job(ledger: Ledger) -> None:
    ledger.create_job("resp_2", "alice", "mistral", _queued("resp_2"), "runner-a", 10)
    assert not ledger.append_events("resp_2", "runner-b", [_event(0)], None)
    assert ledger.events("resp_2", -1) == []


def test_an_append_racing_a_finish_on_postgres_is_refused(postgres_url: str) -> None:
    """The finish's UPDATE holds the row, uncommitted, while the append starts: the append waits for it
    and then, seeing the job ended, writes nothing (a guard read before the write would have let it)."""
    store = PostgresStore(postgres_url)
    ledger = open_ledger(postgres_url, store)
    try:
        ledger.create_job("resp_3", "alice", "mistral", _queued("resp_3"), "runner-a", 10)
        outcome: list[bool] = []
        with psycopg.connect(postgres_url) as finisher:
            finisher.execute(
                "UPDATE polyresponses.gateway_jobs SET status = 'completed' WHERE id = 'resp_3'"
            )  # not committed yet
            appender = threading.Thread(
                target=lambda: outcome.append(
                    ledger.append_events(
                        "resp_3", "runner-a", [_event(0)], {**_queued("resp_3"), "status": "in_progress"}
                    )
                )
            )
            appender.start()
            time.sleep(0.3)
            assert appender.is_alive(), "the append did not wait for the row the finish holds"
            finisher.commit()
        appender.join(10)
        assert outcome == [False]
        job = ledger.job("resp_3")
        assert job is not None and job.status == "completed"
        assert ledger.events("resp_3", -1) == []
    finally:
        ledger.close()


def test_only_the_jobs_a_process_runs_are_renewed(ledger: Ledger) -> None:
    for ident in ("resp_run", "resp_held"):
        ledger.create_job(ident, "alice", "mistral", _queued(ident), "runner-a", 1)
    before = {ident: _lease(ledger, ident) for ident in ("resp_run", "resp_held")}
    ledger.renew("runner-a", 60, ["resp_run"])
    assert _lease(ledger, "resp_run") > before["resp_run"] + 30
    assert _lease(ledger, "resp_held") == before["resp_held"]  # expires, so that a sweep ends it
    ledger.renew("runner-a", 60, [])  # nothing running: nothing written


def _lease(ledger: Ledger, ident: str) -> float:
    job = ledger.job(ident)
    assert job is not None
    return job.lease_until


def test_a_job_is_interrupted_once_and_its_cleanup_completes() -> None:
    async def scenario() -> list[str]:
        steps: list[str] = []

        async def job() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                steps.append("cancelled")
                await asyncio.sleep(0.05)  # writing how it ended
                steps.append("ended")
                raise

        running = _Running("resp_4")
        running.task = asyncio.create_task(job())
        await asyncio.sleep(0)
        for _ in range(3):  # the cancel request, its notification, the keeper's check
            _interrupt(running)
            await asyncio.sleep(0.01)
        with pytest.raises(asyncio.CancelledError):
            await running.task
        _interrupt(running)  # a finished task: nothing to do
        _interrupt(None)
        return steps

    assert asyncio.run(scenario()) == ["cancelled", "ended"]


def test_owned_objects_newest_first_with_a_stable_cursor(ledger: Ledger) -> None:
    for ident, created in (("a", 10), ("b", 20), ("c", 20), ("d", 30)):
        with ledger.database.write() as db:
            db.execute(
                ledger.database.sql("INSERT INTO {t}gateway_owners VALUES ('response', ?, ?, ?, ?)"),
                (ident, "alice", "openai" if ident != "c" else "anthropic", created),
            )
    ledger.own("response", "x", "bob", "openai")
    assert ledger.owned("response", "alice", limit=10) == [
        ("d", "openai", 30),
        ("c", "anthropic", 20),
        ("b", "openai", 20),
        ("a", "openai", 10),
    ]
    assert [row[0] for row in ledger.owned("response", "alice", limit=2, before=(20, "c"))] == ["b", "a"]
    assert [row[0] for row in ledger.owned("response", "alice", limit=9, provider="openai", since=15)] == ["d", "b"]
    assert [row[0] for row in ledger.owned("response", "alice", limit=9, until=20)] == ["c", "b", "a"]
    assert ledger.created_at("response", "c", "alice") == 20
    assert ledger.created_at("response", "x", "alice") is None  # bob's: as missing
