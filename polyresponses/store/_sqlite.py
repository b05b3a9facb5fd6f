"""The default store: one SQLite file, shared by the threads and processes of one host."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from polyresponses.store._records import (
    CLAIM_SQL,
    Order,
    StoredConversation,
    StoredItem,
    StoredResponse,
    WouldWait,
    dumps,
    loads_object,
)

__all__ = [
    "CHAIN_SQL",
    "SQLITE_MINIMUM",
    "SQLiteStore",
    "WouldWait",
    "default_store_path",
    "is_busy",
    "make_private",
    "require_sqlite",
    "without_waiting",
]

CHAIN_SQL = """
WITH RECURSIVE chain(id, depth) AS (
    SELECT id, 0 FROM responses WHERE id = %s
    UNION ALL
    SELECT r.previous_response_id, chain.depth + 1 FROM chain JOIN responses r ON r.id = chain.id
    WHERE r.previous_response_id IS NOT NULL AND chain.depth + 1 < %s
)
SELECT r.id, r.provider, r.native, r.response, r.created_at, r.previous_response_id, r.conversation_id,
       r.conversation_position
FROM chain JOIN responses r ON r.id = chain.id ORDER BY chain.depth
"""
"""A ``previous_response_id`` chain, newest first, in one statement (``%s`` placeholders: the response id
and the record limit; PostgreSQL's store runs it with its schema prefixed)."""


SQLITE_MINIMUM = (3, 35, 0)
"""``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (the owner claim, one statement) needs 3.35
(https://www.sqlite.org/lang_returning.html); Python 3.11's own builds ship 3.39 and later."""


def require_sqlite() -> None:
    """Refuse, naming both versions, a Python linked against an SQLite too old for the store's SQL."""
    if sqlite3.sqlite_version_info < SQLITE_MINIMUM:
        needed = ".".join(map(str, SQLITE_MINIMUM))
        raise RuntimeError(
            f"the SQLite store needs SQLite {needed} or later; this Python is linked against {sqlite3.sqlite_version}"
        )


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


def make_private(path: Path, *, directory: bool | None = None) -> None:
    """Create the SQLite file ``path`` readable by its user only, and tighten it if it exists.

    The database is created 0600 before SQLite opens it (SQLite then creates the ``-wal`` and
    ``-shm`` files with the database's own mode); existing files with group or other bits are
    chmod'ed to 0600. A directory this call creates is 0700; an existing directory is tightened
    only when ``directory`` is true (the default data directory, which is polyresponses' own: a
    user's store in a shared project folder leaves that folder as it is).
    """
    parent = path.parent
    if not parent.exists():
        # Each missing level made here, 0700: ``mkdir(parents=True)`` would make the upper ones with the
        # umask's mode (0777 under umask 0), and whoever can write a parent can swap the directory below.
        missing = [parent]
        while not missing[-1].parent.exists():
            missing.append(missing[-1].parent)
        for level in reversed(missing):
            try:
                level.mkdir(mode=0o700)
            except FileExistsError:
                continue  # made meanwhile by another process: not ours to change
            os.chmod(level, 0o700)  # mkdir's mode is filtered by the umask
    elif directory:
        _tighten(parent, 0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        _tighten(each, 0o600)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if current & 0o077:
        os.chmod(path, mode)


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


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "busy" or "locked" (another connection holds what it needed)."""
    if isinstance(error, WouldWait):
        return True
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary code: BUSY_RECOVERY is BUSY too
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def without_waiting(
    lock: threading.RLock, connection: Callable[[], sqlite3.Connection], busy_timeout: float
) -> Iterator[None]:
    """Hold ``lock`` and make the connection's writes fail at once rather than wait for another writer.

    For a caller that must not block (an event loop): it writes here when nothing is in the way, and
    gets :class:`WouldWait` (nothing written) to go and wait elsewhere otherwise. ``lock`` is re-entered
    by the writes inside. A commit may still checkpoint the WAL (a sync of the file) unless the owner
    checkpoints itself (``manual_checkpoints``).
    """
    if not lock.acquire(blocking=False):
        raise WouldWait
    try:
        db = connection()
        db.execute("PRAGMA busy_timeout = 0")
        try:
            yield
        except sqlite3.OperationalError as error:
            if is_busy(error):
                raise WouldWait from None
            raise
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    finally:
        lock.release()


class SQLiteStore:
    """The default store: one SQLite file, shared safely by threads and processes.

    WAL journal (readers never wait for the writer; a crash mid-write leaves the last committed
    state), ``synchronous=NORMAL`` (a commit survives a killed process; only a power cut may lose
    the last transactions), writes in ``BEGIN IMMEDIATE`` transactions that wait up to
    ``busy_timeout`` seconds for another writer. One connection per store object, guarded by a lock;
    a forked child opens its own.

    The file holds people's conversations, so it is private to the user (:func:`make_private`): the
    database and its ``-wal``/``-shm`` files 0600, a directory the store creates 0700 (and the
    default data directory tightened to 0700 if it was made looser).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        require_sqlite()
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()  # re-entered by writes under without_waiting()
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self._owners: bool | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        make_private(self.path, directory=self.path == default_store_path())
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

    def nowait(self) -> AbstractContextManager[None]:
        """Writes inside fail with :class:`WouldWait` instead of waiting (:func:`without_waiting`)."""
        return without_waiting(self._lock, self._connected, self.busy_timeout)

    def _connected(self) -> sqlite3.Connection:
        """The open connection; opening one may wait (it sets the journal mode, writes the schema)."""
        if self._connection is None or self._pid != os.getpid():
            raise WouldWait
        return self._connection

    def manual_checkpoints(self) -> None:
        """Commits on this store object stop copying the WAL into the database (a sync of the file, which
        an event loop must not wait for): its owner calls :meth:`checkpoint` from a thread instead."""
        with self._lock:
            self._connect().execute("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> None:
        """Copy the WAL into the database as far as no reader stops it (``PASSIVE``)."""
        with self._lock:
            self._connect().execute("PRAGMA wal_checkpoint(PASSIVE)")

    # responses

    def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        with self._write() as db:
            if record.conversation_id is not None and _append(db, record.conversation_id, conversation_items) is None:
                return False
            _save(db, record, input_items)
            if record.claim is not None and record.claim.id == record.id and self._has_owners(db):
                row = db.execute(
                    CLAIM_SQL.replace("{t}", ""),
                    ("response", record.id, record.claim.owner, record.claim.provider, record.created_at),
                ).fetchone()
                record.claim.granted = row is not None and row[0] == record.claim.owner
            return True

    def _has_owners(self, db: sqlite3.Connection) -> bool:
        """Whether the file holds the gateway's owner table (a gateway runs over it)."""
        if self._owners is None:
            found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gateway_owners'")
            self._owners = found.fetchone() is not None
        return self._owners

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

    def chain(
        self, response_id: str, *, limit: int = 10_000
    ) -> tuple[list[StoredResponse], dict[str, list[StoredItem]]]:
        with self._read() as db:
            rows = db.execute(CHAIN_SQL.replace("%s", "?"), (response_id, limit)).fetchall()
            records = [StoredResponse(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]
            items: dict[str, list[StoredItem]] = {record.id: [] for record in records}
            for start in range(0, len(records), 500):  # SQLite's bound-parameter limit, with room to spare
                owners = [record.id for record in records[start : start + 500]]
                marks = ", ".join("?" for _ in owners)
                for row in db.execute(
                    f"SELECT owner, id, item, provider, position FROM items WHERE owner IN ({marks})"
                    " ORDER BY owner, position",
                    owners,
                ):
                    items[row[0]].append(StoredItem(row[1], loads_object(row[2]), row[3], row[4]))
        return records, items

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
                (conversation.id, conversation.created_at, dumps(conversation.metadata)),
            )
            db.execute("DELETE FROM items WHERE owner = ?", (conversation.id,))
            _append(db, conversation.id, items)

    def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        with self._read() as db:
            return _conversation(db, conversation_id)

    def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        with self._write() as db:
            db.execute("UPDATE conversations SET metadata = ? WHERE id = ?", (dumps(dict(metadata)), conversation_id))
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
        [(record.id, i, item.id, item.provider, dumps(item.item)) for i, item in enumerate(input_items)],
    )


def _items(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[StoredItem]:
    rows = db.execute(f"SELECT id, item, provider, position FROM items {where}", args).fetchall()
    return [StoredItem(row[0], loads_object(row[1]), row[2], row[3]) for row in rows]


def _conversation(db: sqlite3.Connection, conversation_id: str) -> StoredConversation | None:
    row = db.execute("SELECT id, metadata, created_at FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return None if row is None else StoredConversation(row[0], loads_object(row[1]), row[2])


def _append(db: sqlite3.Connection, conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
    """Append to a conversation inside the caller's transaction; ``None`` if it does not exist."""
    row = db.execute("SELECT next_position FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if row is None:
        return None
    start: int = row[0]
    placed = [replace(item, position=start + offset) for offset, item in enumerate(items)]
    db.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
        [(conversation_id, item.position, item.id, item.provider, dumps(item.item)) for item in placed],
    )
    db.execute("UPDATE conversations SET next_position = ? WHERE id = ?", (start + len(placed), conversation_id))
    return placed
