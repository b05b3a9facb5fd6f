"""The in-memory store: for tests and short scripts."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

from polyresponses.store._records import Order, StoredConversation, StoredItem, StoredResponse, WouldWait, paginate

__all__ = ["MemoryStore"]


class MemoryStore:
    """A store in this process's memory: for tests and short scripts. Thread-safe; gone at exit."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entered by writes under nowait()
        self._responses: dict[str, StoredResponse] = {}
        self._conversations: dict[str, StoredConversation] = {}
        self._items: dict[str, list[StoredItem]] = {}
        self._next: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._responses)} responses, {len(self._conversations)} conversations)"

    @contextmanager
    def nowait(self) -> Iterator[None]:
        """Writes inside never wait: this holds the lock (else :class:`WouldWait`), and memory is all they touch."""
        if not self._lock.acquire(blocking=False):
            raise WouldWait
        try:
            yield
        finally:
            self._lock.release()

    def manual_checkpoints(self) -> None:
        """Nothing to copy: there is no file."""

    def checkpoint(self) -> None:
        """Nothing to copy: there is no file."""

    def _append(self, owner: str, items: Sequence[StoredItem]) -> list[StoredItem]:
        start = self._next.get(owner, 0)
        placed = [replace(item, position=start + offset) for offset, item in enumerate(items)]
        self._items.setdefault(owner, []).extend(placed)
        self._next[owner] = start + len(placed)
        return placed

    def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        with self._lock:
            if record.conversation_id is not None and record.conversation_id not in self._conversations:
                return False
            self._save(record, input_items)
            if record.conversation_id is not None:
                self._append(record.conversation_id, conversation_items)
            return True

    def _save(self, record: StoredResponse, input_items: Sequence[StoredItem]) -> None:
        self._responses[record.id] = record
        self._items.pop(record.id, None)
        self._next.pop(record.id, None)
        self._append(record.id, input_items)

    def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        # As the SQL backends: the whole batch at once, every record kept (even one naming a conversation
        # that is gone: conversations are not this call's business).
        with self._lock:
            for record, input_items in turns:
                self._save(record, input_items)

    def get_response(self, response_id: str) -> StoredResponse | None:
        return self._responses.get(response_id)

    def chain(
        self, response_id: str, *, limit: int = 10_000
    ) -> tuple[list[StoredResponse], dict[str, list[StoredItem]]]:
        with self._lock:
            records: list[StoredResponse] = []
            current = self._responses.get(response_id)
            while current is not None and len(records) < limit:
                records.append(current)
                previous = current.previous_response_id
                current = self._responses.get(previous) if previous is not None else None
            return records, {record.id: list(self._items.get(record.id, ())) for record in records}

    def delete_response(self, response_id: str) -> bool:
        with self._lock:
            self._items.pop(response_id, None)
            self._next.pop(response_id, None)
            return self._responses.pop(response_id, None) is not None

    def input_items(self, response_id: str) -> list[StoredItem] | None:
        with self._lock:
            return list(self._items.get(response_id, ())) if response_id in self._responses else None

    def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None:
        with self._lock:
            self._conversations[conversation.id] = conversation
            self._items[conversation.id], self._next[conversation.id] = [], 0
            self._append(conversation.id, items)

    def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return self._conversations.get(conversation_id)

    def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        with self._lock:
            current = self._conversations.get(conversation_id)
            if current is None:
                return None
            updated = self._conversations[conversation_id] = replace(current, metadata=dict(metadata))
            return updated

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._lock:
            self._items.pop(conversation_id, None)
            self._next.pop(conversation_id, None)
            return self._conversations.pop(conversation_id, None) is not None

    def add_conversation_items(self, conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
        with self._lock:
            if conversation_id not in self._conversations:
                return None
            return self._append(conversation_id, items)

    def conversation_items(self, conversation_id: str, *, before: int | None = None) -> list[StoredItem] | None:
        with self._lock:
            if conversation_id not in self._conversations:
                return None
            items = self._items.get(conversation_id, [])
            return [item for item in items if before is None or item.position < before]

    def get_item(self, owner: str, item_id: str) -> StoredItem | None:
        with self._lock:
            return next((item for item in self._items.get(owner, ()) if item.id == item_id), None)

    def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        with self._lock:
            items = self._items.get(conversation_id, [])
            kept = [item for item in items if item.id != item_id]
            self._items[conversation_id] = kept
            return len(kept) != len(items)

    def page(self, owner: str, *, after: str | None, limit: int, order: Order) -> tuple[list[StoredItem], bool] | None:
        with self._lock:
            if owner not in self._responses and owner not in self._conversations:
                return None
            items = list(self._items.get(owner, ()))
        return paginate(items, after=after, limit=limit, order=order)

    def close(self) -> None:
        """Nothing to release; kept for the interface."""
