"""The store for event loops: the same interface, each call awaited in a worker thread.

Why threads and not a second, native-async copy of each backend: SQLite has no async driver at
all, and a second copy of the PostgreSQL backend's SQL on psycopg's async pool would be the same
logic written twice (the sync/async split the project keeps out). A store call is one short
transaction; run in a worker thread it never blocks the loop, and psycopg's pool is thread-safe.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping, Sequence
from typing import Protocol, cast, runtime_checkable

from polyresponses.store._records import Order, ResponseStore, StoredConversation, StoredItem, StoredResponse

__all__ = ["AsyncResponseStore", "async_store"]


@runtime_checkable
class AsyncResponseStore(Protocol):
    """:class:`~polyresponses.store.ResponseStore`, awaited (the same methods, arguments and answers)."""

    @property
    def sync(self) -> ResponseStore:
        """The blocking store underneath, for code that already runs in a worker thread."""
        ...

    async def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool: ...

    async def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None: ...

    async def get_response(self, response_id: str) -> StoredResponse | None: ...

    async def delete_response(self, response_id: str) -> bool: ...

    async def input_items(self, response_id: str) -> list[StoredItem] | None: ...

    async def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None: ...

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None: ...

    async def update_conversation(
        self, conversation_id: str, metadata: Mapping[str, str]
    ) -> StoredConversation | None: ...

    async def delete_conversation(self, conversation_id: str) -> bool: ...

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[StoredItem]
    ) -> list[StoredItem] | None: ...

    async def conversation_items(
        self, conversation_id: str, *, before: int | None = None
    ) -> list[StoredItem] | None: ...

    async def get_item(self, owner: str, item_id: str) -> StoredItem | None: ...

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool: ...

    async def page(
        self, owner: str, *, after: str | None, limit: int, order: Order
    ) -> tuple[list[StoredItem], bool] | None: ...

    async def close(self) -> None: ...


class _Threaded:
    """Any :class:`ResponseStore` as an :class:`AsyncResponseStore`."""

    __slots__ = ("_store",)

    def __init__(self, store: ResponseStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"async_store({self._store!r})"

    @property
    def sync(self) -> ResponseStore:
        return self._store

    async def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        return await asyncio.to_thread(self._store.save_response, record, input_items, conversation_items)

    async def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        await asyncio.to_thread(self._store.save_responses, turns)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        return await asyncio.to_thread(self._store.get_response, response_id)

    async def delete_response(self, response_id: str) -> bool:
        return await asyncio.to_thread(self._store.delete_response, response_id)

    async def input_items(self, response_id: str) -> list[StoredItem] | None:
        return await asyncio.to_thread(self._store.input_items, response_id)

    async def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None:
        await asyncio.to_thread(self._store.create_conversation, conversation, items)

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return await asyncio.to_thread(self._store.get_conversation, conversation_id)

    async def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        return await asyncio.to_thread(self._store.update_conversation, conversation_id, metadata)

    async def delete_conversation(self, conversation_id: str) -> bool:
        return await asyncio.to_thread(self._store.delete_conversation, conversation_id)

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[StoredItem]
    ) -> list[StoredItem] | None:
        return await asyncio.to_thread(self._store.add_conversation_items, conversation_id, items)

    async def conversation_items(self, conversation_id: str, *, before: int | None = None) -> list[StoredItem] | None:
        return await asyncio.to_thread(self._store.conversation_items, conversation_id, before=before)

    async def get_item(self, owner: str, item_id: str) -> StoredItem | None:
        return await asyncio.to_thread(self._store.get_item, owner, item_id)

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        return await asyncio.to_thread(self._store.delete_conversation_item, conversation_id, item_id)

    async def page(
        self, owner: str, *, after: str | None, limit: int, order: Order
    ) -> tuple[list[StoredItem], bool] | None:
        return await asyncio.to_thread(self._store.page, owner, after=after, limit=limit, order=order)

    async def close(self) -> None:
        await asyncio.to_thread(self._store.close)


def async_store(store: ResponseStore | AsyncResponseStore) -> AsyncResponseStore:
    """``store`` for an event loop (an async store is returned as it is).

    An async store is told apart by its coroutine methods: both protocols have the same method names,
    and ``isinstance`` checks names only, so it would wrap an async store as a blocking one (whose calls
    would then hand back unawaited coroutines).
    """
    if isinstance(store, _Threaded) or inspect.iscoroutinefunction(getattr(store, "get_response", None)):
        return cast("AsyncResponseStore", store)
    if isinstance(store, ResponseStore):
        return _Threaded(store)
    return store
