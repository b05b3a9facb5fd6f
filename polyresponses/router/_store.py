"""The response store: where responses and conversations live for providers that keep no state.

OpenAI keeps responses and conversations on its servers; most providers keep nothing, so
``previous_response_id`` and ``conversation`` fail there. Every response created through
polyresponses with ``store`` left true is recorded here (for every provider, native ones included),
which is what lets a chain continue on a stateless provider, or on another provider altogether.

The interface (:class:`ResponseStore`) speaks plain records of wire JSON, so a networked backend
(Redis, Postgres) is a new class and nothing else; the dialects never see it. Two backends ship:

- :class:`SQLiteStore`, the default: one file (WAL journal, so readers never block the writer and
  several processes and threads can share it), every write one transaction (a process killed
  mid-write leaves the previous consistent state);
- :class:`MemoryStore`, for tests and short scripts.

What is stored: the ``Response`` as returned (output items with reasoning, function calls and
provider data included; instructions and tools too), the caller's input items of that turn, and
conversation items. Never API keys: the request headers are not part of any record.

On-disk schema (``schema_version`` 1), see :data:`_SCHEMA`: ``responses`` (one row per response,
its JSON in ``response``), ``items`` (the input items of a response, ``owner`` = its id, and the
items of a conversation, ``owner`` = the conversation id; ordered by ``position``) and
``conversations``.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, cast, runtime_checkable

__all__ = [
    "STORE_ENV",
    "defer",
    "flush",
    "MemoryStore",
    "Order",
    "ResponseStore",
    "SQLiteStore",
    "StoredConversation",
    "StoredItem",
    "StoredResponse",
    "default_store_path",
    "open_store",
    "paginate",
]

STORE_ENV = "POLYRESPONSES_STORE"
"""Where the default store lives: a file path, ``:memory:`` (one store per process) or ``off``."""

Order = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One item (wire JSON) with the id it is listed under and the provider that produced it.

    ``item`` is kept exactly as it was given or returned: replaying it must send what was sent.
    ``provider`` is ``None`` for items the caller wrote; ``position`` is set by the store.
    """

    id: str
    item: dict[str, Any]
    provider: str | None = None
    position: int = -1


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A recorded response and where it sits in its chain."""

    id: str
    provider: str
    """The provider row that produced it (its items replay natively there)."""
    native: bool
    """The provider keeps it too, so that provider's own ``previous_response_id`` can point at it."""
    body: str
    """The ``Response`` as JSON text: kept as text, since a provider's reply can be stored as it came."""
    created_at: int = field(default_factory=lambda: int(time.time()))
    previous_response_id: str | None = None
    conversation_id: str | None = None
    conversation_position: int | None = None
    """How many items the conversation held when this response was asked for: its context prefix."""

    @property
    def response(self) -> dict[str, Any]:
        """The ``Response`` as a JSON object."""
        return _object(self.body)


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """An emulated conversation (``ConversationResource`` without its ``object`` tag)."""

    id: str
    metadata: dict[str, str] = field(default_factory=dict[str, str])
    created_at: int = field(default_factory=lambda: int(time.time()))


@runtime_checkable
class ResponseStore(Protocol):
    """What the router needs from a store. Every method is one atomic operation.

    Methods return ``None`` (or ``False``) for an unknown id instead of raising: the router turns
    that into its own ``NotFoundError`` naming the provider and what was asked for.
    """

    def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        """Record ``record`` with its input items; append ``conversation_items`` to its conversation.

        All or nothing. ``False`` (nothing written) when the record names a conversation that no
        longer exists. A record with an id already stored replaces it.
        """
        ...

    def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        """Record several responses with their input items, all in one transaction (conversations untouched)."""
        ...

    def get_response(self, response_id: str) -> StoredResponse | None: ...

    def delete_response(self, response_id: str) -> bool:
        """Delete a response and its input items; ``False`` if it was not stored."""
        ...

    def input_items(self, response_id: str) -> list[StoredItem] | None:
        """All input items of a response in the order given; ``None`` if it is not stored."""
        ...

    def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None: ...

    def get_conversation(self, conversation_id: str) -> StoredConversation | None: ...

    def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        """Replace the metadata; ``None`` if the conversation is not stored."""
        ...

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation and its items (responses made in it stay)."""
        ...

    def add_conversation_items(self, conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
        """Append items; the stored items (positions set), or ``None`` if the conversation is not stored."""
        ...

    def conversation_items(self, conversation_id: str, *, before: int | None = None) -> list[StoredItem] | None:
        """All items of a conversation in order (only positions below ``before`` when given)."""
        ...

    def get_item(self, owner: str, item_id: str) -> StoredItem | None:
        """One item of a response's input or of a conversation, by its id."""
        ...

    def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool: ...

    def page(self, owner: str, *, after: str | None, limit: int, order: Order) -> tuple[list[StoredItem], bool] | None:
        """One page of a response's input items or a conversation's items: ``(items, has_more)``.

        ``after`` is an item id (the spec's cursor); an unknown ``after`` gives an empty page.
        ``None`` when ``owner`` is not stored.
        """
        ...

    def close(self) -> None: ...


def paginate(
    items: Sequence[StoredItem], *, after: str | None, limit: int, order: Order
) -> tuple[list[StoredItem], bool]:
    """One page of ``items`` (oldest first) by the spec's cursor rules: ``(page, has_more)``.

    ``order="desc"`` starts from the newest; ``after`` is the id of the item before the page (an
    unknown id gives an empty page).
    """
    ordered = list(items) if order == "asc" else list(reversed(items))
    if after is not None:
        index = next((i for i, item in enumerate(ordered) if item.id == after), None)
        ordered = [] if index is None else ordered[index + 1 :]
    return ordered[:limit], len(ordered) > limit


# ------------------------------------------------------------------------------------------- memory


class MemoryStore:
    """A store in this process's memory: for tests and short scripts. Thread-safe; gone at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._responses: dict[str, StoredResponse] = {}
        self._conversations: dict[str, StoredConversation] = {}
        self._items: dict[str, list[StoredItem]] = {}
        self._next: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._responses)} responses, {len(self._conversations)} conversations)"

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
            self._responses[record.id] = record
            self._items.pop(record.id, None)
            self._next.pop(record.id, None)
            self._append(record.id, input_items)
            if record.conversation_id is not None:
                self._append(record.conversation_id, conversation_items)
            return True

    def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        for record, input_items in turns:
            self.save_response(record, input_items)

    def get_response(self, response_id: str) -> StoredResponse | None:
        return self._responses.get(response_id)

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


# ------------------------------------------------------------------------------------------- sqlite

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    id                    TEXT PRIMARY KEY,
    provider              TEXT NOT NULL,
    native                INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    previous_response_id  TEXT,
    conversation_id       TEXT,
    conversation_position INTEGER,
    response              TEXT NOT NULL          -- the Response, JSON text
);
CREATE TABLE IF NOT EXISTS conversations (
    id            TEXT PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    metadata      TEXT NOT NULL,                 -- JSON object
    next_position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    owner    TEXT NOT NULL,                      -- a response id (its input) or a conversation id
    position INTEGER NOT NULL,
    id       TEXT NOT NULL,
    provider TEXT,                               -- who produced the item (NULL when the caller wrote it)
    item     TEXT NOT NULL,                      -- the item, wire JSON, as given or returned
    PRIMARY KEY (owner, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_id ON items (owner, id);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _object(text: str) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(text))


class SQLiteStore:
    """The default store: one SQLite file, shared safely by threads and processes.

    WAL journal (readers never wait for the writer; a crash mid-write leaves the last committed
    state), ``synchronous=NORMAL`` (a commit survives a killed process; only a power cut may lose
    the last transactions), writes in ``BEGIN IMMEDIATE`` transactions that wait up to
    ``busy_timeout`` seconds for another writer. One connection per store object, guarded by a lock;
    a forked child opens its own.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = -1

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            _initialise(connection, self.path, self.busy_timeout)
        except BaseException:
            connection.close()
            raise
        self._connection, self._pid = connection, os.getpid()
        return connection

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connect()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            connection = self._connect()
            with _transaction(connection):
                yield connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    # responses

    def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        with self._write() as db:
            if record.conversation_id is not None and not _append(db, record.conversation_id, conversation_items):
                return False
            _save(db, record, input_items)
            return True

    def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        with self._write() as db:
            for record, input_items in turns:
                _save(db, record, input_items)

    def get_response(self, response_id: str) -> StoredResponse | None:
        with self._read() as db:
            row = db.execute(
                "SELECT id, provider, native, response, created_at, previous_response_id, conversation_id,"
                " conversation_position FROM responses WHERE id = ?",
                (response_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredResponse(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6], row[7])

    def delete_response(self, response_id: str) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM items WHERE owner = ?", (response_id,))
            return db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0

    def input_items(self, response_id: str) -> list[StoredItem] | None:
        with self._read() as db:
            if db.execute("SELECT 1 FROM responses WHERE id = ?", (response_id,)).fetchone() is None:
                return None
            return _items(db, "WHERE owner = ? ORDER BY position", (response_id,))

    # conversations

    def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, 0)",
                (conversation.id, conversation.created_at, _dumps(conversation.metadata)),
            )
            db.execute("DELETE FROM items WHERE owner = ?", (conversation.id,))
            _append(db, conversation.id, items)

    def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        with self._read() as db:
            return _conversation(db, conversation_id)

    def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        with self._write() as db:
            db.execute("UPDATE conversations SET metadata = ? WHERE id = ?", (_dumps(dict(metadata)), conversation_id))
            return _conversation(db, conversation_id)

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM items WHERE owner = ?", (conversation_id,))
            return db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0

    def add_conversation_items(self, conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
        with self._write() as db:
            return _append(db, conversation_id, items)

    def conversation_items(self, conversation_id: str, *, before: int | None = None) -> list[StoredItem] | None:
        with self._read() as db:
            if _conversation(db, conversation_id) is None:
                return None
            limit = sys.maxsize if before is None else before
            return _items(db, "WHERE owner = ? AND position < ? ORDER BY position", (conversation_id, limit))

    def get_item(self, owner: str, item_id: str) -> StoredItem | None:
        with self._read() as db:
            found = _items(db, "WHERE owner = ? AND id = ? ORDER BY position LIMIT 1", (owner, item_id))
        return found[0] if found else None

    def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM items WHERE owner = ? AND id = ?", (conversation_id, item_id)).rowcount > 0

    def page(self, owner: str, *, after: str | None, limit: int, order: Order) -> tuple[list[StoredItem], bool] | None:
        with self._read() as db:
            exists = db.execute(
                "SELECT 1 FROM responses WHERE id = ?1 UNION ALL SELECT 1 FROM conversations WHERE id = ?1", (owner,)
            ).fetchone()
            if exists is None:
                return None
            compare, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
            start = sys.maxsize if order == "desc" else -1
            if after is not None:
                row = db.execute("SELECT position FROM items WHERE owner = ? AND id = ?", (owner, after)).fetchone()
                if row is None:
                    return [], False
                start = row[0]
            found = _items(
                db,
                f"WHERE owner = ? AND position {compare} ? ORDER BY position {direction} LIMIT ?",
                (owner, start, limit + 1),
            )
        return found[:limit], len(found) > limit


def _initialise(connection: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Journal mode, durability level, schema (created once, its version checked)."""
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    if connection.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise RuntimeError(f"{path}: the response store needs SQLite's WAL journal mode")
    connection.execute("PRAGMA synchronous = NORMAL")
    with _transaction(connection):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(_SCHEMA_VERSION),))
        elif int(row[0]) != _SCHEMA_VERSION:
            raise RuntimeError(f"{path}: store schema version {row[0]}, this polyresponses reads {_SCHEMA_VERSION}")


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE``: take the write lock up front, so two writers never deadlock on an upgrade."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _save(db: sqlite3.Connection, record: StoredResponse, input_items: Sequence[StoredItem]) -> None:
    """One response row and its input items, replacing any earlier record under the same id."""
    db.execute("DELETE FROM items WHERE owner = ?", (record.id,))
    db.execute(
        "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.id,
            record.provider,
            int(record.native),
            record.created_at,
            record.previous_response_id,
            record.conversation_id,
            record.conversation_position,
            record.body,
        ),
    )
    db.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
        [(record.id, i, item.id, item.provider, _dumps(item.item)) for i, item in enumerate(input_items)],
    )


def _items(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[StoredItem]:
    rows = db.execute(f"SELECT id, item, provider, position FROM items {where}", args).fetchall()
    return [StoredItem(row[0], _object(row[1]), row[2], row[3]) for row in rows]


def _conversation(db: sqlite3.Connection, conversation_id: str) -> StoredConversation | None:
    row = db.execute("SELECT id, metadata, created_at FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return None if row is None else StoredConversation(row[0], _object(row[1]), row[2])


def _append(db: sqlite3.Connection, conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
    """Append to a conversation inside the caller's transaction; ``None`` if it does not exist."""
    row = db.execute("SELECT next_position FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if row is None:
        return None
    start: int = row[0]
    placed = [replace(item, position=start + offset) for offset, item in enumerate(items)]
    db.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
        [(conversation_id, item.position, item.id, item.provider, _dumps(item.item)) for item in placed],
    )
    db.execute("UPDATE conversations SET next_position = ? WHERE id = ?", (start + len(placed), conversation_id))
    return placed


# ------------------------------------------------------------------------------------------ default


def default_store_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The default store file, under the user's data directory.

    ``$XDG_DATA_HOME`` (else ``~/.local/share``) on Linux and BSD, ``~/Library/Application Support``
    on macOS, ``%LOCALAPPDATA%`` on Windows: the places ``platformdirs`` would choose.
    """
    if sys.platform == "win32":
        base = Path(environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "polyresponses" / "store.sqlite3"


_opened: dict[str, ResponseStore] = {}
_opened_lock = threading.Lock()


def open_store(setting: ResponseStore | str | os.PathLike[str] | bool | None) -> ResponseStore | None:
    """The store a client uses, from its ``store=`` argument.

    A store object is used as it is; ``False`` disables local state; a path opens that SQLite
    file; ``None`` or ``True`` reads :data:`STORE_ENV` (a path, ``:memory:`` or ``off``) and falls
    back to :func:`default_store_path`. Stores opened from a path or the environment are shared by
    every client of the process, and opened lazily (the file is created on first use).
    """
    if setting is False:
        return None
    if isinstance(setting, ResponseStore):
        return setting
    if setting is None or setting is True:
        configured = os.environ.get(STORE_ENV, "").strip()
        if configured.lower() in ("off", "false", "0", "none"):
            return None
        location = configured or str(default_store_path())
    else:
        location = os.fspath(setting)
    with _opened_lock:
        store = _opened.get(location)
        if store is None:
            store = _opened[location] = MemoryStore() if location == ":memory:" else SQLiteStore(location)
        return store


# ---------------------------------------------------------------------------------- write-behind


@dataclass(slots=True)
class _Pending:
    """Mirror records waiting to be written to one store in one transaction."""

    store: ResponseStore
    pid: int
    turns: list[tuple[StoredResponse, Sequence[StoredItem]]] = field(default_factory=list)
    since: float = 0.0


_BATCH = 64
_MAX_AGE = 2.0  # seconds
_pending: dict[int, _Pending] = {}
_pending_lock = threading.Lock()


def defer(store: ResponseStore, record: StoredResponse, input_items: Sequence[StoredItem]) -> None:
    """Queue a mirror record: written with others in one transaction, flushed before any read.

    A response the provider keeps itself (OpenAI's) is recorded as a mirror, so that a chain can move
    to another provider later. Writing each one in a transaction of its own would add about 0.2 ms to
    every non-streamed request (measured on SQLite here, against about 1 ms for the whole request on
    a loopback server); batched, it costs a few microseconds. The batch is written when it holds 64
    records, when its oldest is 2 s old (checked at the next record), before anything reads the
    store through the router (:func:`flush`), and at interpreter exit. A process killed meanwhile
    loses the batch, which the provider still holds; where the store is the only copy (stateless
    providers, emulated conversations) nothing is deferred.
    """
    with _pending_lock:
        pending = _pending.get(id(store))
        if pending is None or pending.pid != os.getpid():
            pending = _pending[id(store)] = _Pending(store, os.getpid())
        if not pending.turns:
            pending.since = time.monotonic()
        pending.turns.append((record, input_items))
        due = len(pending.turns) >= _BATCH or time.monotonic() - pending.since > _MAX_AGE
    if due:
        flush(store)


def flush(store: ResponseStore) -> None:
    """Write the mirror records queued for ``store`` (this process's own writes are then readable)."""
    pending = _pending.get(id(store))
    if pending is None or not pending.turns or pending.pid != os.getpid():
        return
    with _pending_lock:
        turns, pending.turns = pending.turns, []
    if turns:
        store.save_responses(turns)


@atexit.register
def _flush_all() -> None:
    for pending in list(_pending.values()):
        try:
            flush(pending.store)
        except Exception as error:  # at exit there is no caller left to raise to
            warnings.warn(
                f"polyresponses: writing queued responses to {pending.store!r} failed: {error!r}", stacklevel=1
            )
