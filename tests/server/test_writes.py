"""Where the gateway's store and ledger writes run (``Gateway.write``): on the event loop when nothing can
make them wait (SQLite whose lock and file are free at once, or memory), in a worker thread otherwise;
and the WAL those loop-side commits no longer checkpoint, copied back by a thread once a second.

"Another process" is another SQLite connection holding ``BEGIN IMMEDIATE``, as a second gateway on the
same file would; the loop must keep running meanwhile, and nothing may be written twice or lost.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyresponses.server import GatewayConfig
from polyresponses.server._gateway import Gateway
from polyresponses.store import SQLiteStore, StoredResponse, defer, flush
from polyresponses.store._records import WouldWait

pytestmark = pytest.mark.anyio


def _record(ident: str) -> StoredResponse:
    return StoredResponse(ident, "openai", True, json.dumps({"id": ident, "object": "response"}), created_at=1)


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite3"


def _busy_timeout(store: SQLiteStore) -> int:
    with store._read() as db:
        return int(db.execute("PRAGMA busy_timeout").fetchone()[0])


class HeldWriteLock:
    """Another process's write transaction on ``path``, held until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self._db.execute("COMMIT")
        self._db.close()


def test_a_write_that_would_wait_writes_nothing_and_says_so(store_file: Path) -> None:
    store = SQLiteStore(store_file)
    store.save_responses([(_record("resp_0"), [])])
    held = HeldWriteLock(store_file)
    try:
        started = time.monotonic()
        with pytest.raises(WouldWait), store.nowait():
            store.save_responses([(_record("resp_1"), [])])
        assert time.monotonic() - started < 0.5, "it waited for the other writer"
    finally:
        held.release()
    assert store.get_response("resp_1") is None
    assert _busy_timeout(store) == 30_000, "writes elsewhere wait again"
    with store.nowait():  # the file is free now
        store.save_responses([(_record("resp_1"), [])])
    assert store.get_response("resp_1") is not None


def test_a_store_busy_in_another_thread_is_not_waited_for(store_file: Path) -> None:
    store = SQLiteStore(store_file)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store._read():
            holding.set()
            done.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        holding.wait(5)
        with pytest.raises(WouldWait), store.nowait():
            pass
    finally:
        done.set()
        thread.join()


def test_a_store_not_yet_open_is_opened_where_waiting_is_allowed(store_file: Path) -> None:
    """Opening sets the journal mode and writes the schema: a write of its own, which may wait."""
    store = SQLiteStore(store_file)
    with pytest.raises(WouldWait), store.nowait():
        pass
    assert not store_file.exists()


def test_a_flush_that_did_not_write_keeps_its_turns(store_file: Path) -> None:
    store = SQLiteStore(store_file)
    store.save_responses([(_record("resp_0"), [])])
    defer(store, _record("resp_1"), [])
    held = HeldWriteLock(store_file)
    try:
        with pytest.raises(WouldWait), store.nowait():
            flush(store)
    finally:
        held.release()
    flush(store)
    assert store.get_response("resp_1") is not None


@pytest.fixture
def gateway(store_file: Path) -> Iterator[Gateway]:
    opened = Gateway(GatewayConfig(store=str(store_file)), {})
    try:
        yield opened
    finally:
        opened.ledger.close()


async def test_the_gateway_writes_on_the_loop_when_nothing_is_in_the_way(gateway: Gateway) -> None:
    await gateway.start()
    try:
        where = await gateway.write(threading.get_ident)
        assert where == threading.get_ident()
    finally:
        await gateway.aclose()


async def test_the_gateway_waits_for_another_writer_in_a_thread(gateway: Gateway, store_file: Path) -> None:
    """Another process holds the file's write lock: the write goes to a thread, the loop keeps running,
    and the write lands once the lock is released."""
    await gateway.start()
    held = HeldWriteLock(store_file)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def own() -> tuple[bool, int]:
        return gateway.ledger.own("response", "resp_1", "alice", "openai"), threading.get_ident()

    ticker = asyncio.ensure_future(tick())
    try:
        writing = asyncio.ensure_future(gateway.write(own))
        await asyncio.sleep(0.3)
        assert not writing.done(), "the write did not wait for the other writer"
        assert ticks >= 10, f"the loop stalled while the write waited ({ticks} ticks in 0.3 s)"
        held.release()
        owned, where = await asyncio.wait_for(writing, 5)
        assert owned and where != threading.get_ident()
        assert gateway.ledger.provider_of("response", "resp_1", "alice") == "openai"
    finally:
        ticker.cancel()
        await gateway.aclose()


async def test_commits_on_the_loop_leave_checkpoints_to_a_thread(gateway: Gateway, store_file: Path) -> None:
    """The gateway's connections do not checkpoint when they commit; within a period the WAL is copied
    into the database file all the same."""
    await gateway.start()
    try:
        with gateway.ledger.database.read() as db:
            assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        before = store_file.stat().st_size
        for number in range(300):  # ~1.5 MB: more than the database file held
            record = StoredResponse(f"resp_{number}", "openai", True, "x" * 5000, created_at=1)
            await gateway.write(functools.partial(gateway.store.save_responses, [(record, [])]))
        assert store_file.stat().st_size == before, "a commit on the loop checkpointed"
        deadline = time.monotonic() + 5
        while store_file.stat().st_size < before + 1_000_000 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert store_file.stat().st_size >= before + 1_000_000, "the WAL was never copied back"
    finally:
        await gateway.aclose()


async def test_a_due_batch_on_the_loop_does_not_wait_for_another_writer(store_file: Path) -> None:
    """``defer`` runs on event loops (a stream's mirror record): a due batch the file is busy for stays
    queued, and the next flush writes it."""
    store = SQLiteStore(store_file)
    store.save_responses([(_record("resp_0"), [])])
    held = HeldWriteLock(store_file)
    try:
        started = time.monotonic()
        for number in range(1, 65):  # _BATCH: the last one makes the batch due
            defer(store, _record(f"resp_{number}"), [])
        assert time.monotonic() - started < 0.5, "the loop waited for the other writer"
    finally:
        held.release()
    assert store.get_response("resp_64") is None
    flush(store)
    assert store.get_response("resp_1") is not None and store.get_response("resp_64") is not None


async def test_a_gateway_not_started_writes_in_a_thread(gateway: Gateway) -> None:
    """Its commits still checkpoint (start() turns that off), so they must not run on the loop."""
    assert await gateway.write(threading.get_ident) != threading.get_ident()
