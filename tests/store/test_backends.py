"""One contract, every backend: memory, SQLite and PostgreSQL, each called directly and through ``async_store``.

The router and the gateway only know :class:`ResponseStore` (and its awaited twin), so a backend that
answers one method differently from the others breaks chains and conversations only where it is
deployed. Every test here therefore runs unchanged on all six combinations: a difference between
backends is a failure of this file, not a surprise in production.

The tests are written once, against the awaited interface. The ``sync`` subjects put the blocking store
behind an adapter that calls it right on the test's thread (:class:`_Inline`), so those runs exercise the
blocking methods themselves; the ``async`` subjects are :func:`async_store`, a worker thread per call, as
the async client and the gateway use it. The PostgreSQL runs need the real server of ``tests/_postgres.py``
(they skip where PostgreSQL is not installed, and fail in CI).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from polyresponses.store import (
    AsyncResponseStore,
    ChainReader,
    MemoryStore,
    Order,
    PostgresStore,
    ResponseStore,
    SQLiteStore,
    StoredConversation,
    StoredItem,
    StoredResponse,
    async_store,
)

pytestmark = pytest.mark.anyio

Backend = Literal["memory", "sqlite", "postgres"]
Mode = Literal["sync", "async"]


class _Inline:
    """A blocking :class:`ResponseStore` behind the awaited interface, each call made on the caller's thread.

    Why not ``async_store``: that would hop to a worker thread, and the ``sync`` runs are there to call
    the blocking methods exactly as a synchronous client does. Nothing is awaited inside, so the same
    test body drives either interface.
    """

    def __init__(self, store: ResponseStore) -> None:
        self._store = store

    @property
    def sync(self) -> ResponseStore:
        return self._store

    async def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        return self._store.save_response(record, input_items, conversation_items)

    async def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        self._store.save_responses(turns)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        return self._store.get_response(response_id)

    async def delete_response(self, response_id: str) -> bool:
        return self._store.delete_response(response_id)

    async def input_items(self, response_id: str) -> list[StoredItem] | None:
        return self._store.input_items(response_id)

    async def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None:
        self._store.create_conversation(conversation, items)

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return self._store.get_conversation(conversation_id)

    async def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        return self._store.update_conversation(conversation_id, metadata)

    async def delete_conversation(self, conversation_id: str) -> bool:
        return self._store.delete_conversation(conversation_id)

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[StoredItem]
    ) -> list[StoredItem] | None:
        return self._store.add_conversation_items(conversation_id, items)

    async def conversation_items(self, conversation_id: str, *, before: int | None = None) -> list[StoredItem] | None:
        return self._store.conversation_items(conversation_id, before=before)

    async def get_item(self, owner: str, item_id: str) -> StoredItem | None:
        return self._store.get_item(owner, item_id)

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        return self._store.delete_conversation_item(conversation_id, item_id)

    async def page(
        self, owner: str, *, after: str | None, limit: int, order: Order
    ) -> tuple[list[StoredItem], bool] | None:
        return self._store.page(owner, after=after, limit=limit, order=order)

    async def close(self) -> None:
        self._store.close()


@dataclass(frozen=True, slots=True)
class Subject:
    """The store under test and how it is called."""

    backend: Backend
    mode: Mode
    store: AsyncResponseStore

    async def concurrently(self, workers: int, work: Callable[[int], Coroutine[Any, Any, None]]) -> None:
        """Run ``work(0)`` … ``work(workers - 1)`` at the same time, the way each interface is used.

        ``async``: tasks on this loop, so their calls overlap in ``async_store``'s worker threads (the
        gateway's case). ``sync``: one thread per worker, released together, each driving the blocking
        store on its own thread (a threaded application's case). Any worker's failure fails the test.
        """
        if self.mode == "async":
            await asyncio.gather(*(work(worker) for worker in range(workers)))
            return
        start = threading.Barrier(workers)

        def run(worker: int) -> None:
            start.wait(timeout=30)
            asyncio.run(work(worker))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in [pool.submit(run, worker) for worker in range(workers)]:
                done.result(timeout=300)


_BACKENDS: tuple[Backend, ...] = ("memory", "sqlite", "postgres")
_MODES: tuple[Mode, ...] = ("sync", "async")


@pytest.fixture(
    params=[(backend, mode) for backend in _BACKENDS for mode in _MODES],
    ids=[f"{backend}-{mode}" for backend in _BACKENDS for mode in _MODES],
)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    backend: Backend
    mode: Mode
    backend, mode = request.param
    made: ResponseStore
    if backend == "memory":
        made = MemoryStore()
    elif backend == "sqlite":
        made = SQLiteStore(tmp_path / "store.sqlite3")
    else:
        # Asked for here, not in the signature: the memory and SQLite runs need no PostgreSQL server.
        made = PostgresStore(request.getfixturevalue("postgres_url"))
    try:
        yield Subject(backend, mode, _Inline(made) if mode == "sync" else async_store(made))
    finally:
        made.close()


# ----------------------------------------------------------------------------------------- helpers


def _record(
    response_id: str,
    *,
    provider: str = "anthropic",
    native: bool = False,
    body: str | None = None,
    created_at: int = 1_700_000_000,
    previous_response_id: str | None = None,
    conversation_id: str | None = None,
    conversation_position: int | None = None,
) -> StoredResponse:
    return StoredResponse(
        response_id,
        provider,
        native,
        json.dumps({"id": response_id, "object": "response", "output": []}) if body is None else body,
        created_at=created_at,
        previous_response_id=previous_response_id,
        conversation_id=conversation_id,
        conversation_position=conversation_position,
    )


def _message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _items(*ids: str, provider: str | None = None) -> list[StoredItem]:
    return [StoredItem(ident, _message(f"text of {ident}"), provider) for ident in ids]


def _ids(items: Sequence[StoredItem] | None) -> list[str]:
    assert items is not None
    return [item.id for item in items]


def _positions(items: Sequence[StoredItem] | None) -> list[int]:
    assert items is not None
    return [item.position for item in items]


def _placed(item: StoredItem, position: int) -> StoredItem:
    """``item`` as the store hands it back: the same id, JSON and provider, at ``position``."""
    return StoredItem(item.id, item.item, item.provider, position)


# -------------------------------------------------------------------------------------- interface


async def test_the_subject_speaks_both_interfaces(subject: Subject) -> None:
    assert isinstance(subject.store, AsyncResponseStore)
    assert isinstance(subject.store.sync, ResponseStore)
    assert async_store(subject.store) is subject.store  # an awaited store is not wrapped twice


# -------------------------------------------------------------------------------------- responses


async def test_a_response_round_trips_with_every_field_and_its_input_items(subject: Subject) -> None:
    store = subject.store
    record = _record("resp_1", provider="openai", native=True, created_at=2**40, previous_response_id="resp_0")
    inputs = [*_items("in_a", provider="openai"), *_items("in_b")]
    assert await store.save_response(record, inputs) is True
    assert await store.get_response("resp_1") == record
    assert await store.input_items("resp_1") == [_placed(inputs[0], 0), _placed(inputs[1], 1)]
    assert await store.get_item("resp_1", "in_b") == _placed(inputs[1], 1)


async def test_a_response_without_input_items_has_an_empty_list_not_none(subject: Subject) -> None:
    assert await subject.store.save_response(_record("resp_1"), [])
    assert await subject.store.input_items("resp_1") == []
    assert await subject.store.page("resp_1", after=None, limit=10, order="asc") == ([], False)


async def test_saving_an_id_again_replaces_the_record_and_all_of_its_input_items(subject: Subject) -> None:
    store = subject.store
    assert await store.save_response(_record("resp_1", provider="anthropic"), _items("a", "b", "c"))
    replacement = _record("resp_1", provider="gemini", native=True, body='{"id":"resp_1","v":2}')
    assert await store.save_response(replacement, _items("d"))
    assert await store.get_response("resp_1") == replacement
    assert _ids(await store.input_items("resp_1")) == ["d"]
    assert _positions(await store.input_items("resp_1")) == [0]
    assert await store.get_item("resp_1", "a") is None


async def test_deleting_a_response_removes_its_input_items_and_nothing_else(subject: Subject) -> None:
    store = subject.store
    await store.save_response(_record("resp_1"), _items("a", "b"))
    await store.save_response(_record("resp_2", previous_response_id="resp_1"), _items("c"))
    assert await store.delete_response("resp_1") is True
    assert await store.get_response("resp_1") is None
    assert await store.input_items("resp_1") is None
    assert await store.get_item("resp_1", "a") is None
    assert await store.page("resp_1", after=None, limit=10, order="asc") is None
    assert await store.delete_response("resp_1") is False
    survivor = await store.get_response("resp_2")  # a chain's later turn outlives the earlier one
    assert survivor is not None and survivor.previous_response_id == "resp_1"
    assert _ids(await store.input_items("resp_2")) == ["c"]


async def test_a_batch_of_responses_is_saved_whole(subject: Subject) -> None:
    store = subject.store
    turns: list[tuple[StoredResponse, Sequence[StoredItem]]] = [
        (
            _record(f"resp_{n}", native=True, previous_response_id=f"resp_{n - 1}" if n else None),
            _items(f"in_{n}_a", f"in_{n}_b"),
        )
        for n in range(5)
    ]
    await store.save_responses(turns)
    for record, inputs in turns:
        assert await store.get_response(record.id) == record
        assert await store.input_items(record.id) == [_placed(item, n) for n, item in enumerate(inputs)]
    await store.save_responses([])  # an empty batch is nothing to do, not an error
    await store.save_responses([(_record("resp_0", provider="xai"), _items("again"))])  # replaces, as save_response
    assert _ids(await store.input_items("resp_0")) == ["again"]


async def test_a_batch_leaves_conversations_alone(subject: Subject) -> None:
    """Mirror records are written in batches (``defer``); even one naming a conversation only records itself."""
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), _items("a"))
    named = _record("resp_1", conversation_id="conv_1", conversation_position=1)
    orphan = _record("resp_2", conversation_id="conv_gone", conversation_position=0)
    await store.save_responses([(named, _items("x")), (orphan, _items("y"))])
    assert _ids(await store.conversation_items("conv_1")) == ["a"]
    assert await store.get_response("resp_1") == named
    assert await store.get_response("resp_2") == orphan
    assert await store.get_conversation("conv_gone") is None


# ---------------------------------------------------------------------------------- conversations


async def test_a_conversation_round_trips_with_its_items_in_order(subject: Subject) -> None:
    store = subject.store
    conversation = StoredConversation("conv_1", {"topic": "weather", "lang": "en"}, 1_700_000_123)
    items = [*_items("a", "b"), *_items("c", provider="openai")]
    await store.create_conversation(conversation, items)
    assert await store.get_conversation("conv_1") == conversation
    assert await store.conversation_items("conv_1") == [_placed(item, n) for n, item in enumerate(items)]
    assert await store.get_item("conv_1", "c") == _placed(items[2], 2)


async def test_creating_an_existing_conversation_replaces_it_and_restarts_its_positions(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1", {"v": "1"}, 100), _items("a", "b", "c"))
    replacement = StoredConversation("conv_1", {"v": "2"}, 200)
    await store.create_conversation(replacement, _items("x"))
    assert await store.get_conversation("conv_1") == replacement
    assert await store.conversation_items("conv_1") == [_placed(_items("x")[0], 0)]
    assert await store.get_item("conv_1", "a") is None
    assert _positions(await store.add_conversation_items("conv_1", _items("y"))) == [1]


async def test_updating_a_conversation_replaces_its_metadata_only(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1", {"a": "1", "b": "2"}, 100), _items("x"))
    updated = await store.update_conversation("conv_1", {"c": "3"})
    assert updated == StoredConversation("conv_1", {"c": "3"}, 100)
    assert await store.get_conversation("conv_1") == updated
    assert await store.update_conversation("conv_1", {}) == StoredConversation("conv_1", {}, 100)
    assert _ids(await store.conversation_items("conv_1")) == ["x"]


async def test_deleting_a_conversation_removes_its_items_but_not_its_responses(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), _items("a"))
    turn = _record("resp_1", conversation_id="conv_1", conversation_position=1)
    assert await store.save_response(turn, _items("q"), _items("q", "answer"))
    assert await store.delete_conversation("conv_1") is True
    assert await store.get_conversation("conv_1") is None
    assert await store.conversation_items("conv_1") is None
    assert await store.get_item("conv_1", "a") is None
    assert await store.page("conv_1", after=None, limit=10, order="asc") is None
    assert await store.delete_conversation("conv_1") is False
    assert await store.get_response("resp_1") == turn  # as on OpenAI: the responses outlive the conversation
    assert _ids(await store.input_items("resp_1")) == ["q"]


async def test_added_items_continue_the_positions(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), _items("a"))
    added = await store.add_conversation_items("conv_1", _items("b", "c", provider="openai"))
    assert added == [_placed(item, n + 1) for n, item in enumerate(_items("b", "c", provider="openai"))]
    assert await store.add_conversation_items("conv_1", []) == []
    assert _positions(await store.add_conversation_items("conv_1", _items("d"))) == [3]
    assert _ids(await store.conversation_items("conv_1")) == ["a", "b", "c", "d"]


async def test_an_empty_conversation_starts_at_position_zero(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), [])
    assert await store.conversation_items("conv_1") == []
    assert await store.page("conv_1", after=None, limit=10, order="desc") == ([], False)
    assert _positions(await store.add_conversation_items("conv_1", _items("a", "b"))) == [0, 1]


async def test_a_turn_appends_to_its_conversation_after_the_existing_items(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), _items("a", "b"))
    first = _record("resp_1", conversation_id="conv_1", conversation_position=2)
    assert await store.save_response(first, _items("q1"), _items("q1", "r1")) is True
    second = _record("resp_2", conversation_id="conv_1", conversation_position=4, previous_response_id="resp_1")
    assert await store.save_response(second, _items("q2"), _items("q2", "r2")) is True
    assert _ids(await store.conversation_items("conv_1")) == ["a", "b", "q1", "r1", "q2", "r2"]
    assert _positions(await store.conversation_items("conv_1")) == [0, 1, 2, 3, 4, 5]
    assert await store.get_response("resp_2") == second
    # The second turn's context is the prefix the first left behind: its conversation_position.
    assert _ids(await store.conversation_items("conv_1", before=second.conversation_position)) == ["a", "b", "q1", "r1"]
    assert _ids(await store.input_items("resp_2")) == ["q2"]  # its own input, apart from the conversation's copy


@pytest.mark.parametrize("gone", ["deleted", "never created"])
async def test_a_turn_of_a_missing_conversation_writes_nothing(subject: Subject, gone: str) -> None:
    store = subject.store
    if gone == "deleted":
        await store.create_conversation(StoredConversation("conv_1"), _items("a"))
        await store.delete_conversation("conv_1")
    await store.save_response(_record("resp_1"), _items("old"))  # an earlier record under the same id stays
    turn = _record("resp_1", conversation_id="conv_1", conversation_position=1)
    assert await store.save_response(turn, _items("new"), _items("new", "answer")) is False
    assert await store.get_response("resp_1") == _record("resp_1")
    assert _ids(await store.input_items("resp_1")) == ["old"]
    assert await store.get_conversation("conv_1") is None  # not brought back by the append
    assert await store.conversation_items("conv_1") is None
    assert await store.get_item("conv_1", "new") is None
    assert await store.add_conversation_items("conv_1", _items("b")) is None
    assert await store.get_item("conv_1", "b") is None


@pytest.mark.parametrize(
    ("before", "expected"), [(0, []), (1, ["a"]), (3, ["a", "b", "c"]), (99, ["a", "b", "c", "d"])]
)
async def test_conversation_items_before_a_position_are_the_prefix(
    subject: Subject, before: int, expected: list[str]
) -> None:
    await subject.store.create_conversation(StoredConversation("conv_1"), _items("a", "b", "c", "d"))
    assert _ids(await subject.store.conversation_items("conv_1", before=before)) == expected


async def test_deleting_an_item_leaves_a_gap_that_is_never_reused(subject: Subject) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), _items("a", "b", "c"))
    assert await store.delete_conversation_item("conv_1", "b") is True
    assert await store.delete_conversation_item("conv_1", "b") is False
    assert await store.delete_conversation_item("conv_1", "nope") is False
    assert await store.get_item("conv_1", "b") is None
    assert _positions(await store.conversation_items("conv_1")) == [0, 2]
    assert _positions(await store.add_conversation_items("conv_1", _items("d"))) == [3]
    assert _ids(await store.conversation_items("conv_1", before=3)) == ["a", "c"]
    assert await store.delete_conversation_item("conv_1", "d") is True
    assert _positions(await store.add_conversation_items("conv_1", _items("e"))) == [4]  # not 3 again


async def test_items_of_two_owners_never_mix(subject: Subject) -> None:
    store = subject.store
    await store.save_response(_record("resp_1"), _items("shared", "r_only"))
    await store.create_conversation(StoredConversation("conv_1"), [StoredItem("shared", _message("conv copy"))])
    assert await store.delete_conversation_item("conv_1", "shared")
    found = await store.get_item("resp_1", "shared")  # the response's item of the same id is untouched
    assert found is not None and found.item == _message("text of shared")
    assert await store.get_item("conv_1", "r_only") is None
    assert await store.page("conv_1", after="r_only", limit=10, order="asc") == ([], False)


# ------------------------------------------------------------------------------------------ pages


@pytest.mark.parametrize("owner", ["resp_1", "conv_1"])
@pytest.mark.parametrize(
    ("after", "limit", "order", "ids", "has_more"),
    [
        (None, 2, "asc", ["i0", "i1"], True),
        ("i1", 2, "asc", ["i2", "i3"], True),
        ("i2", 2, "asc", ["i3", "i4"], False),  # exactly the rest: no more
        ("i3", 2, "asc", ["i4"], False),
        ("i4", 2, "asc", [], False),
        (None, 5, "asc", ["i0", "i1", "i2", "i3", "i4"], False),
        (None, 100, "asc", ["i0", "i1", "i2", "i3", "i4"], False),
        (None, 2, "desc", ["i4", "i3"], True),
        ("i3", 2, "desc", ["i2", "i1"], True),
        ("i2", 2, "desc", ["i1", "i0"], False),
        ("i0", 2, "desc", [], False),
        (None, 1, "desc", ["i4"], True),
        ("unknown", 5, "asc", [], False),
        ("unknown", 5, "desc", [], False),
    ],
)
async def test_a_page_follows_the_cursor(
    subject: Subject, owner: str, after: str | None, limit: int, order: Order, ids: list[str], has_more: bool
) -> None:
    items = _items(*(f"i{n}" for n in range(5)))
    if owner.startswith("resp_"):
        await subject.store.save_response(_record(owner), items)
    else:
        await subject.store.create_conversation(StoredConversation(owner), items)
    page = await subject.store.page(owner, after=after, limit=limit, order=order)
    assert page is not None
    assert (_ids(page[0]), page[1]) == (ids, has_more)


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_walking_the_pages_of_a_conversation_with_gaps_visits_every_item_once(
    subject: Subject, order: Order
) -> None:
    store = subject.store
    await store.create_conversation(StoredConversation("conv_1"), _items(*(f"i{n}" for n in range(10))))
    for gone in ("i0", "i4", "i5", "i9"):
        await store.delete_conversation_item("conv_1", gone)
    await store.add_conversation_items("conv_1", _items("i10", "i11"))
    seen: list[StoredItem] = []
    after: str | None = None
    while True:
        page = await store.page("conv_1", after=after, limit=3, order=order)
        assert page is not None
        seen += page[0]
        if not page[1]:
            break
        after = page[0][-1].id
    expected = await store.conversation_items("conv_1")
    assert expected is not None
    assert seen == (expected if order == "asc" else expected[::-1])
    assert _ids(seen)[:3] == (["i1", "i2", "i3"] if order == "asc" else ["i11", "i10", "i8"])


async def test_a_page_after_a_deleted_item_is_empty(subject: Subject) -> None:
    await subject.store.create_conversation(StoredConversation("conv_1"), _items("a", "b", "c"))
    await subject.store.delete_conversation_item("conv_1", "b")
    assert await subject.store.page("conv_1", after="b", limit=10, order="asc") == ([], False)


# ------------------------------------------------------------------------------------ unknown ids


async def test_unknown_ids_answer_none_or_false_and_create_nothing(subject: Subject) -> None:
    store = subject.store
    await store.save_response(_record("resp_known"), _items("a"))
    await store.create_conversation(StoredConversation("conv_known"), _items("b"))
    assert await store.get_response("resp_x") is None
    assert await store.delete_response("resp_x") is False
    assert await store.input_items("resp_x") is None
    assert await store.get_conversation("conv_x") is None
    assert await store.update_conversation("conv_x", {"k": "v"}) is None
    assert await store.delete_conversation("conv_x") is False
    assert await store.add_conversation_items("conv_x", _items("c")) is None
    assert await store.conversation_items("conv_x") is None
    assert await store.conversation_items("conv_x", before=5) is None
    assert await store.get_item("conv_x", "c") is None
    assert await store.get_item("resp_x", "a") is None
    assert await store.get_item("resp_known", "zzz") is None
    assert await store.get_item("conv_known", "a") is None  # an id of another owner
    assert await store.delete_conversation_item("conv_x", "c") is False
    assert await store.delete_conversation_item("conv_known", "zzz") is False
    for order in ("asc", "desc"):
        assert await store.page("resp_x", after=None, limit=10, order=order) is None
        assert await store.page("conv_x", after="c", limit=10, order=order) is None
    # None of the misses above left anything behind.
    assert await store.get_conversation("conv_x") is None
    assert await store.input_items("resp_x") is None
    assert await store.page("conv_x", after=None, limit=10, order="asc") is None
    assert _ids(await store.input_items("resp_known")) == ["a"]
    assert _ids(await store.conversation_items("conv_known")) == ["b"]


# ------------------------------------------------------------------------------- concurrent writers


async def test_concurrent_appends_to_one_conversation_get_unique_contiguous_positions(subject: Subject) -> None:
    store = subject.store
    workers, appends = 8, 25
    await store.create_conversation(StoredConversation("conv_shared"), [])
    given: list[int] = []
    given_lock = threading.Lock()

    async def append(worker: int) -> None:
        for n in range(appends):
            added = await store.add_conversation_items("conv_shared", _items(f"w{worker}_{n}"))
            assert added is not None and len(added) == 1
            with given_lock:
                given.append(added[0].position)

    await subject.concurrently(workers, append)
    everything = await store.conversation_items("conv_shared")
    assert _positions(everything) == list(range(workers * appends))
    assert sorted(given) == list(range(workers * appends))  # each append was told the position it got
    for worker in range(workers):  # and each writer's items stand in the order it wrote them
        mine = [ident for ident in _ids(everything) if ident.startswith(f"w{worker}_")]
        assert mine == [f"w{worker}_{n}" for n in range(appends)]


async def test_concurrent_turns_in_one_conversation_each_land_whole(subject: Subject) -> None:
    store = subject.store
    workers, turns = 8, 10
    await store.create_conversation(StoredConversation("conv_shared"), _items("system"))

    async def talk(worker: int) -> None:
        for n in range(turns):
            rid = f"resp_w{worker}_{n}"
            record = _record(rid, conversation_id="conv_shared", conversation_position=0)
            assert await store.save_response(record, _items(f"{rid}_q"), _items(f"{rid}_q", f"{rid}_a"))

    await subject.concurrently(workers, talk)
    everything = await store.conversation_items("conv_shared")
    assert _positions(everything) == list(range(1 + workers * turns * 2))
    ids = _ids(everything)[1:]
    for question, answer in zip(ids[::2], ids[1::2], strict=True):  # a turn's items are never split by another's
        assert question.endswith("_q") and answer == question.removesuffix("_q") + "_a"
    for worker in range(workers):
        for n in range(turns):
            assert _ids(await store.input_items(f"resp_w{worker}_{n}")) == [f"resp_w{worker}_{n}_q"]


async def test_concurrent_writers_of_distinct_responses_lose_nothing(subject: Subject) -> None:
    store = subject.store
    workers, each = 8, 50

    async def write(worker: int) -> None:
        for n in range(each):
            rid = f"resp_w{worker}_{n}"
            assert await store.save_response(_record(rid, created_at=n), _items(f"{rid}_a", f"{rid}_b"))

    await subject.concurrently(workers, write)
    for worker in range(workers):
        for n in range(each):
            rid = f"resp_w{worker}_{n}"
            assert await store.get_response(rid) == _record(rid, created_at=n)
            assert _ids(await store.input_items(rid)) == [f"{rid}_a", f"{rid}_b"]


async def test_concurrent_replacements_of_one_response_leave_one_whole_version(subject: Subject) -> None:
    """Two replicas recording the same id (a retried turn) must not fail or mix their input items."""
    store = subject.store
    workers, rounds = 8, 10

    async def replace(worker: int) -> None:
        for n in range(rounds):
            body = json.dumps({"id": "resp_same", "writer": worker, "round": n})
            assert await store.save_response(
                _record("resp_same", body=body), _items(*(f"w{worker}_{k}" for k in range(3)))
            )

    await subject.concurrently(workers, replace)
    final = await store.get_response("resp_same")
    assert final is not None
    writer = final.response["writer"]
    assert _ids(await store.input_items("resp_same")) == [f"w{writer}_{k}" for k in range(3)]
    assert _positions(await store.input_items("resp_same")) == [0, 1, 2]


async def test_a_delete_racing_a_write_leaves_an_owner_whole_or_gone(subject: Subject) -> None:
    """A deleted response or conversation must take its items with it, even those written at that moment.

    Whichever of the two goes first, afterwards the owner exists with all of its items or neither is
    left: items without their owner would outlive a user's deletion (and ``get_item`` would still serve
    them), an owner without its items would replay a truncated context.
    """
    store = subject.store
    fresh = [f"i{k}" for k in range(10)]
    appended = [f"c{k}" for k in range(10)]
    for n in range(60):
        rid, cid, replacing = f"resp_{n}", f"conv_{n}", n % 2 == 1
        if replacing:  # odd rounds race a replacement and an append, even rounds a first save and a create
            await store.save_response(_record(rid), _items("old"))
            await store.create_conversation(StoredConversation(cid), _items("first"))

        async def write_or_delete(worker: int, rid: str = rid, cid: str = cid, replacing: bool = replacing) -> None:
            if worker == 0:
                await store.save_response(_record(rid), _items(*fresh))
                if replacing:
                    await store.add_conversation_items(cid, _items(*appended))
                else:
                    await store.create_conversation(StoredConversation(cid), _items(*appended))
            else:
                await store.delete_response(rid)
                await store.delete_conversation(cid)

        await subject.concurrently(2, write_or_delete)
        if await store.get_response(rid) is None:
            assert await store.input_items(rid) is None
            assert await store.get_item(rid, "i0") is None
            assert await store.get_item(rid, "old") is None
        else:
            assert _ids(await store.input_items(rid)) == fresh
        if await store.get_conversation(cid) is None:
            assert await store.get_item(cid, "first") is None
            assert await store.get_item(cid, "c0") is None
        else:
            assert not replacing  # an existing conversation is deleted whichever goes first
            assert _ids(await store.conversation_items(cid)) == appended


# ---------------------------------------------------------------------------------- JSON fidelity

_AWKWARD_TEXT = (
    "naïve café – 日本語 – עברית – Ελληνικά – 👩‍💻🇺🇳 – e\u0301 – \u2028\u2029 – "
    'tab\t newline\n cr\r quote" backslash\\ slash/ nul\u0000 bell\u0007 bom\ufeff'
)
_AWKWARD_ITEM: dict[str, Any] = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": _AWKWARD_TEXT}],
    "zeta": {"z": 1, "a": 2, "m": 3},  # key order kept, not sorted
    "numbers": [0, -1, 2**63 - 1, 2**70, -(2**70), 0.1, 1e300, -2.5e-300, 1.0],
    "literals": [True, False, None, "", [], {}],
    "deep": [[[[[[[[[[{"level": 10, "✓": "ünïcödé key"}]]]]]]]]]],
    "日本": {"ключ": "значение"},
}


async def test_items_and_metadata_keep_every_json_value_exactly(subject: Subject) -> None:
    store = subject.store
    item = StoredItem("msg_awkward", _AWKWARD_ITEM, "gemini")
    await store.save_response(_record("resp_1"), [item])
    metadata = {"titel": "Grüße 👋", "日本語": "テキスト", "empty": "", "quote": '"\\'}
    await store.create_conversation(StoredConversation("conv_1", metadata, 1), [item])
    for owner in ("resp_1", "conv_1"):
        found = await store.get_item(owner, "msg_awkward")
        assert found == _placed(item, 0)
        # Equal is not enough: key order and number spelling survive too (what is replayed is what was sent).
        assert json.dumps(found.item) == json.dumps(_AWKWARD_ITEM)
    conversation = await store.get_conversation("conv_1")
    assert conversation is not None and conversation.metadata == metadata
    assert list(conversation.metadata) == list(metadata)


async def test_an_item_with_a_lone_surrogate_round_trips(subject: Subject) -> None:
    """``"\\ud83d"`` is valid JSON (a stream cut in the middle of an emoji's UTF-16 pair); json.loads accepts
    it and hands the store a string UTF-8 cannot encode. Recording the turn must not fail on it."""
    store = subject.store
    parsed: dict[str, Any] = json.loads('{"type":"message","role":"assistant","content":"cut \\ud83d here \\ude00"}')
    item = StoredItem("msg_cut", parsed)
    assert await store.save_response(_record("resp_1"), [item])
    await store.create_conversation(StoredConversation("conv_1", {"note": "\ud83d"}), [item])
    assert await store.input_items("resp_1") == [_placed(item, 0)]
    assert await store.conversation_items("conv_1") == [_placed(item, 0)]
    conversation = await store.get_conversation("conv_1")
    assert conversation is not None and conversation.metadata == {"note": "\ud83d"}


@pytest.mark.parametrize(
    "body",
    [
        '{"id":"resp_1","output":[]}',
        '{\n  "id" : "resp_1",\n  "output" : [ ],\n  "note": "spaces and newlines as sent"\n}\n',
        '{"id":"resp_1","text":"caf\\u00e9 \\ud83d\\ude00 raw: café 😀","n":1.0e+2,"z":1,"a":2}',
        '{"id":"resp_1","text":"' + "x" * 1_000_000 + '"}',
    ],
    ids=["compact", "pretty", "escapes-and-raw-unicode", "one-megabyte"],
)
async def test_a_body_is_stored_as_the_exact_text_given(subject: Subject, body: str) -> None:
    await subject.store.save_response(_record("resp_1", body=body), [])
    found = await subject.store.get_response("resp_1")
    assert found is not None
    assert found.body == body
    assert found.response == json.loads(body)


# ------------------------------------------------------------------------------------------ chains


async def test_a_chain_is_read_newest_first_with_every_records_input_items(subject: Subject) -> None:
    store = subject.store.sync
    assert isinstance(store, ChainReader)
    previous: str | None = None
    for turn in range(5):
        await subject.store.save_response(
            _record(f"r{turn}", previous_response_id=previous), _items(f"i{turn}a", f"i{turn}b")
        )
        previous = f"r{turn}"
    records, inputs = store.chain("r3")
    assert [record.id for record in records] == ["r3", "r2", "r1", "r0"]
    assert {owner: _ids(items) for owner, items in inputs.items()} == {
        f"r{turn}": [f"i{turn}a", f"i{turn}b"] for turn in range(4)
    }
    assert [record.id for record in store.chain("r4", limit=2)[0]] == ["r4", "r3"]
    assert store.chain("missing") == ([], {})


async def test_a_chain_stops_at_a_turn_that_is_gone_and_names_it(subject: Subject) -> None:
    store = subject.store.sync
    assert isinstance(store, ChainReader)
    await subject.store.save_response(_record("a"), [])
    await subject.store.save_response(_record("b", previous_response_id="a"), [])
    await subject.store.save_response(_record("c", previous_response_id="b"), [])
    assert await subject.store.delete_response("a")
    records, _ = store.chain("c")
    assert [record.id for record in records] == ["c", "b"]
    assert records[-1].previous_response_id == "a"  # the caller reports the gap


async def test_context_items_are_the_same_read_at_once_or_turn_by_turn(subject: Subject) -> None:
    """The one-transaction chain read gives exactly what the interface's per-record reads give."""
    from polyresponses.router._state import context_items

    store = subject.store.sync
    conversation = StoredConversation("conv_chain")
    await subject.store.create_conversation(conversation, _items("c0", "c1"))
    first = _record("t0", conversation_id="conv_chain", conversation_position=1)
    assert await subject.store.save_response(first, _items("t0in"))
    previous = "t0"
    for turn in range(1, 4):
        body = json.dumps({"id": f"t{turn}", "output": [{"type": "message", "id": f"out{turn}", "role": "assistant"}]})
        await subject.store.save_response(
            _record(f"t{turn}", previous_response_id=previous, body=body), _items(f"t{turn}in")
        )
        previous = f"t{turn}"
    last = await subject.store.get_response("t3")
    assert last is not None

    class OneByOne:
        """The store seen through the plain interface only (no ``chain``)."""

        def __getattr__(self, name: str) -> Any:
            if name == "chain":
                raise AttributeError(name)
            return getattr(store, name)

    at_once = context_items(store, last, "anthropic")
    turn_by_turn = context_items(OneByOne(), last, "anthropic")
    assert not isinstance(OneByOne(), ChainReader)
    assert at_once == turn_by_turn
    assert _ids(at_once) == ["c0", "t0in", "t1in", "out1", "t2in", "out2", "t3in"]
