"""The ledger's tables in the SQLite store's own file: one host, any number of gateway processes.

Processes sharing the file see each other's writes at once (WAL), but SQLite has no notifications:
the gateway's followers and cancel checks poll (every 0.25 s and 0.5 s), which one host affords.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from polyresponses.store._sqlite import default_store_path, make_private, require_sqlite, without_waiting

__all__ = ["SQLiteDatabase"]

_BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another process's transaction (outside :meth:`SQLiteDatabase.nowait`)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_owners (
    kind TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, provider TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateway_jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, provider TEXT NOT NULL, status TEXT NOT NULL,
    response TEXT NOT NULL, runner TEXT NOT NULL, lease_until REAL NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gateway_events (
    id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateway_rate (owner TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS gateway_rate_by_owner ON gateway_rate (owner, at);
CREATE TABLE IF NOT EXISTS gateway_sealing_keys (key_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS gateway_owners_by_owner ON gateway_owners (owner, kind, created_at DESC, id DESC);
"""


class SQLiteDatabase:
    """One connection guarded by a lock; writes in ``BEGIN IMMEDIATE`` transactions."""

    listens = False

    def __init__(self, path: str | Path) -> None:
        require_sqlite()
        self.location = str(path)
        if self.location != ":memory:":
            make_private(Path(self.location), directory=Path(self.location) == default_store_path())
        self._db = sqlite3.connect(self.location, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()  # re-entered by writes under nowait()
        with self._lock:
            if self.location != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def nowait(self) -> AbstractContextManager[None]:
        """Writes inside fail with ``WouldWait`` instead of waiting (the store's :func:`without_waiting`)."""
        return without_waiting(self._lock, lambda: self._db, _BUSY_TIMEOUT)

    def manual_checkpoints(self) -> None:
        """Commits stop copying the WAL into the database (a sync of the file): the owner calls
        :meth:`checkpoint` from a thread instead (the store's ``manual_checkpoints``)."""
        with self._lock:
            self._db.execute("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> None:
        """Copy the WAL into the database as far as no reader stops it (``PASSIVE``)."""
        if self.location != ":memory:":
            with self._lock:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def sql(self, text: str) -> str:
        return text.replace("{t}", "").replace("{skip_locked}", "")

    def many(self, db: sqlite3.Connection, text: str, rows: Sequence[tuple[Any, ...]]) -> None:
        db.executemany(text, rows)

    def lock(self, db: sqlite3.Connection, key: str) -> None:
        """Nothing to take: ``BEGIN IMMEDIATE`` already holds the database's one write lock."""

    def notify(self, db: sqlite3.Connection, kind: str, ident: str) -> None:
        """Nothing to send: the other processes on this host poll."""

    def close(self) -> None:
        with self._lock:
            self._db.close()
