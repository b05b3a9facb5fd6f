"""The response store backends: one contract for both, then SQLite under processes, threads and kill -9."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from polyresponses import MemoryStore, ResponseStore, SQLiteStore, StoredConversation, StoredItem, StoredResponse
from polyresponses.store import STORE_ENV, default_store_path, open_store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ResponseStore]:
    made: ResponseStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "store.sqlite3")
    yield made
    made.close()


def _record(response_id: str, **fields: object) -> StoredResponse:
    return StoredResponse(response_id, "anthropic", False, json.dumps({"id": response_id, "output": []}), **fields)  # type: ignore[arg-type]


def _items(*ids: str) -> list[StoredItem]:
    return [StoredItem(ident, {"type": "message", "role": "user", "content": ident}) for ident in ids]


def test_both_backends_satisfy_the_protocol(store: ResponseStore) -> None:
    assert isinstance(store, ResponseStore)


def test_a_response_round_trips_with_its_input_items(store: ResponseStore) -> None:
    record = _record("resp_1", previous_response_id="resp_0")
    assert store.save_response(record, _items("a", "b"))
    assert store.get_response("resp_1") == record
    assert [(item.id, item.position) for item in store.input_items("resp_1") or []] == [("a", 0), ("b", 1)]
    assert store.get_item("resp_1", "b") == StoredItem(
        "b", {"type": "message", "role": "user", "content": "b"}, None, 1
    )


def test_saving_again_replaces_the_response_and_its_items(store: ResponseStore) -> None:
    store.save_response(_record("resp_1"), _items("a", "b"))
    store.save_response(_record("resp_1"), _items("c"))
    assert [item.id for item in store.input_items("resp_1") or []] == ["c"]


def test_deleting_a_response_deletes_its_items(store: ResponseStore) -> None:
    store.save_response(_record("resp_1"), _items("a"))
    assert store.delete_response("resp_1")
    assert store.get_response("resp_1") is None
    assert store.input_items("resp_1") is None
    assert store.get_item("resp_1", "a") is None
    assert not store.delete_response("resp_1")


@pytest.mark.parametrize(
    ("after", "limit", "order", "ids", "has_more"),
    [
        (None, 2, "asc", ["i0", "i1"], True),
        ("i1", 2, "asc", ["i2", "i3"], True),
        ("i3", 2, "asc", ["i4"], False),
        (None, 2, "desc", ["i4", "i3"], True),
        ("i3", 5, "desc", ["i2", "i1", "i0"], False),
        (None, 5, "asc", ["i0", "i1", "i2", "i3", "i4"], False),
        ("i4", 5, "asc", [], False),
        ("nope", 5, "asc", [], False),
    ],
)
def test_pages_follow_the_cursor(
    store: ResponseStore, after: str | None, limit: int, order: str, ids: list[str], has_more: bool
) -> None:
    store.save_response(_record("resp_1"), _items(*(f"i{n}" for n in range(5))))
    page = store.page("resp_1", after=after, limit=limit, order=order)  # type: ignore[arg-type]
    assert page is not None
    assert ([item.id for item in page[0]], page[1]) == (ids, has_more)


def test_a_page_of_an_unknown_owner_is_none(store: ResponseStore) -> None:
    assert store.page("resp_nope", after=None, limit=5, order="asc") is None


def test_a_conversation_grows_in_order_and_its_turns_remember_where_they_began(store: ResponseStore) -> None:
    store.create_conversation(StoredConversation("conv_1", {"topic": "x"}, 1), _items("a"))
    added = store.add_conversation_items("conv_1", _items("b", "c"))
    assert [item.position for item in added or []] == [1, 2]
    turn = _record("resp_1", conversation_id="conv_1", conversation_position=3)
    assert store.save_response(turn, _items("d"), _items("d", "e"))
    assert [item.id for item in store.conversation_items("conv_1") or []] == ["a", "b", "c", "d", "e"]
    assert [item.id for item in store.conversation_items("conv_1", before=3) or []] == ["a", "b", "c"]
    assert store.delete_conversation_item("conv_1", "b")
    assert not store.delete_conversation_item("conv_1", "b")
    assert [item.position for item in store.conversation_items("conv_1") or []] == [0, 2, 3, 4]
    assert store.update_conversation("conv_1", {"topic": "y"}) == StoredConversation("conv_1", {"topic": "y"}, 1)
    assert store.delete_conversation("conv_1")
    assert store.get_conversation("conv_1") is None
    assert store.conversation_items("conv_1") is None
    assert store.get_response("resp_1") is not None  # a conversation's responses outlive it, as on OpenAI


def test_a_turn_of_a_deleted_conversation_writes_nothing(store: ResponseStore) -> None:
    assert not store.save_response(_record("resp_1", conversation_id="conv_gone", conversation_position=0), _items("a"))
    assert store.get_response("resp_1") is None
    assert store.add_conversation_items("conv_gone", _items("a")) is None
    assert store.update_conversation("conv_gone", {}) is None


def test_the_sqlite_file_uses_wal_and_says_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store.sqlite3"
    store = SQLiteStore(path)
    store.save_response(_record("resp_1"), _items("a"))
    store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "1"


def test_a_store_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteStore(path)
    store.get_response("resp_x")
    store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    newer = SQLiteStore(path)
    with pytest.raises(RuntimeError, match="schema version 2"):
        newer.get_response("resp_x")


def test_the_default_location_follows_the_platform_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform.startswith("linux"):
        assert default_store_path({"XDG_DATA_HOME": "/data"}) == Path("/data/polyresponses/store.sqlite3")
        assert default_store_path({}) == Path.home() / ".local/share/polyresponses/store.sqlite3"
    monkeypatch.setenv(STORE_ENV, "off")
    assert open_store(None) is None
    monkeypatch.setenv(STORE_ENV, ":memory:")
    assert isinstance(open_store(None), MemoryStore)
    assert open_store(None) is open_store(True)  # one store per location per process
    assert open_store(False) is None


# ------------------------------------------------------------------------- processes and threads

_WORKERS = 4
_TURNS = 30
_ITEMS_PER_TURN = 3


def _worker(path: str, worker: int) -> None:
    """One writer: a chain of turns, each also appended to a conversation every writer shares."""
    store = SQLiteStore(path)
    previous: str | None = None
    for turn in range(_TURNS):
        if previous is not None:
            assert store.get_response(previous) is not None  # reads see the writer's own commits
        response_id = f"resp_w{worker}_t{turn}"
        inputs = _items(*(f"{response_id}_in{n}" for n in range(_ITEMS_PER_TURN)))
        record = StoredResponse(
            response_id,
            "chat",
            False,
            json.dumps({"id": response_id, "output": [{"type": "message", "n": turn}]}),
            previous_response_id=previous,
            conversation_id="conv_shared",
            conversation_position=0,
        )
        assert store.save_response(record, inputs, inputs[:1])
        previous = response_id
    store.close()


def _assert_everything_landed(path: Path) -> None:
    store = SQLiteStore(path)
    for worker in range(_WORKERS):
        chain: list[str] = []
        current = store.get_response(f"resp_w{worker}_t{_TURNS - 1}")
        while current is not None:
            chain.append(current.id)
            assert len(store.input_items(current.id) or []) == _ITEMS_PER_TURN
            current = store.get_response(current.previous_response_id) if current.previous_response_id else None
        assert len(chain) == _TURNS
    shared = store.conversation_items("conv_shared") or []
    assert [item.position for item in shared] == list(range(_WORKERS * _TURNS))
    for worker in range(_WORKERS):  # each writer's turns appear in the order it wrote them
        mine = [item.id for item in shared if item.id.startswith(f"resp_w{worker}_")]
        assert mine == [f"resp_w{worker}_t{turn}_in0" for turn in range(_TURNS)]
    store.close()


def test_several_processes_writing_chains_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with closing(SQLiteStore(path)) as setup:
        setup.create_conversation(StoredConversation("conv_shared"), [])
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(str(path), worker)) for worker in range(_WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    _assert_everything_landed(path)


def test_several_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with closing(SQLiteStore(path)) as setup:
        setup.create_conversation(StoredConversation("conv_shared"), [])
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            _worker(str(path), worker)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(_WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_everything_landed(path)


_WRITER = textwrap.dedent(
    """
    import sys
    from polyresponses import SQLiteStore, StoredConversation, StoredItem, StoredResponse

    store = SQLiteStore(sys.argv[1])
    if store.get_conversation("conv_k") is None:
        store.create_conversation(StoredConversation("conv_k"), [])
    n = 0
    while True:
        rid = f"resp_{sys.argv[2]}_{n}"
        big = {"type": "message", "role": "user", "content": "x" * 2000}
        items = [StoredItem(f"{rid}_{i}", big) for i in range(50)]
        record = StoredResponse(
            rid, "chat", False, '{"output": []}', conversation_id="conv_k", conversation_position=0
        )
        store.save_response(record, items, items)
        n += 1
        if n == 20:
            print("ready", flush=True)
    """
)


def test_a_process_killed_while_writing_leaves_the_store_consistent(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    for round_ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), f"r{round_}"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.05 * round_)  # kill at a different point of its transactions each round
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            counts = db.execute(
                "SELECT r.id, count(i.id) FROM responses r LEFT JOIN items i ON i.owner = r.id GROUP BY r.id"
            ).fetchall()
            assert counts and all(count == 50 for _, count in counts)  # every turn whole, or absent
            positions = [row[0] for row in db.execute("SELECT position FROM items WHERE owner = 'conv_k' ORDER BY 1")]
            assert positions == list(range(len(counts) * 50))
            (next_position,) = db.execute("SELECT next_position FROM conversations WHERE id = 'conv_k'").fetchone()
            assert next_position == len(positions)
