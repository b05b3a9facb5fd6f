"""What the gateway keeps beside the response store: who owns what, and its background jobs.

Tables, in the store's own SQLite file (so one file holds a deployment's whole state):

- ``gateway_owners(kind, id, owner, provider, created_at)``: every response and conversation the
  gateway handed out, with the gateway key that made it and the provider row that answers for it.
  A stored object without a row here is answered as missing to every key (never as everyone's).
- ``gateway_jobs(id, owner, provider, status, response, runner, lease_until, cancel_requested)``:
  background responses; ``response`` is the latest snapshot, ``lease_until`` is renewed by the
  process running it, and a job whose lease ran out (its process died) is ended ``failed``.
- ``gateway_events(id, seq, event)``: each background response's events by ``sequence_number``,
  the log that ``GET /v1/responses/{id}?stream=true&starting_after=N`` replays.

Every write is one transaction; the methods are blocking and the server calls them in a worker
thread, never on its event loop.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Job", "Ledger", "ObjectKind"]

ObjectKind = Literal["response", "conversation"]

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
"""

_ACTIVE = ("queued", "in_progress")


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    owner: str
    provider: str
    status: str
    response: dict[str, Any]
    runner: str
    lease_until: float
    cancel_requested: bool

    @property
    def active(self) -> bool:
        return self.status in _ACTIVE


class Ledger:
    """Ownership and background jobs on one SQLite database (``:memory:`` for one process)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def ping(self) -> None:
        """Raise when the database cannot be read (``/readyz``)."""
        with self._lock:
            self._db.execute("SELECT 1 FROM gateway_owners LIMIT 1").fetchall()

    # ownership

    def own(self, kind: ObjectKind, ident: str, owner: str, provider: str) -> bool:
        """Record ``owner`` as the owner of ``ident``; ``False`` when another owner has it (it keeps it)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO gateway_owners VALUES (?, ?, ?, ?, ?)",
                (kind, ident, owner, provider, int(time.time())),
            )
            row = db.execute("SELECT owner FROM gateway_owners WHERE kind = ? AND id = ?", (kind, ident)).fetchone()
        return row is not None and row[0] == owner

    def provider_of(self, kind: ObjectKind, ident: str, owner: str) -> str | None:
        """The provider answering for ``ident`` when ``owner`` owns it; ``None`` when missing or not theirs."""
        with self._lock:
            row = self._db.execute(
                "SELECT provider FROM gateway_owners WHERE kind = ? AND id = ? AND owner = ?", (kind, ident, owner)
            ).fetchone()
        return None if row is None else str(row[0])

    def disown(self, kind: ObjectKind, ident: str) -> None:
        """Forget ``ident``: its owner row and, for a background response, its job and event log."""
        with self._write() as db:
            db.execute("DELETE FROM gateway_owners WHERE kind = ? AND id = ?", (kind, ident))
            if kind == "response":
                db.execute("DELETE FROM gateway_jobs WHERE id = ?", (ident,))
                db.execute("DELETE FROM gateway_events WHERE id = ?", (ident,))

    # background jobs

    def create_job(
        self, ident: str, owner: str, provider: str, response: dict[str, Any], runner: str, lease: float
    ) -> None:
        """The job and its ownership, in one transaction (a job is never visible without its owner)."""
        now = time.time()
        with self._write() as db:
            db.execute("INSERT INTO gateway_owners VALUES ('response', ?, ?, ?, ?)", (ident, owner, provider, int(now)))
            db.execute(
                "INSERT INTO gateway_jobs VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (ident, owner, provider, response["status"], _dumps(response), runner, now + lease),
            )

    def job(self, ident: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM gateway_jobs WHERE id = ?", (ident,)).fetchone()
        if row is None:
            return None
        return Job(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], bool(row[7]))

    def append_events(
        self,
        ident: str,
        runner: str,
        events: Sequence[tuple[int, dict[str, Any]]],
        snapshot: dict[str, Any] | None,
    ) -> bool:
        """Add events to the job's log and, when given, its latest snapshot (one transaction); ``False``
        (nothing written) when the job is no longer active and ``runner``'s: it ended, or another process
        took it over, and a late writer must not revive it."""
        with self._write() as db:
            active = db.execute(
                f"SELECT 1 FROM gateway_jobs WHERE id = ? AND runner = ? AND status IN {_ACTIVE}", (ident, runner)
            ).fetchone()
            if active is None:
                return False
            db.executemany(
                "INSERT OR IGNORE INTO gateway_events VALUES (?, ?, ?)",
                [(ident, seq, _dumps(event)) for seq, event in events],
            )
            if snapshot is not None and snapshot.get("status") in _ACTIVE:
                db.execute(
                    "UPDATE gateway_jobs SET status = ?, response = ? WHERE id = ?",
                    (snapshot["status"], _dumps(snapshot), ident),
                )
        return True

    def events(self, ident: str, after: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM gateway_events WHERE id = ? AND seq > ? ORDER BY seq", (ident, after)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def renew(self, runner: str, lease: float) -> None:
        """Extend the lease of every active job ``runner`` runs."""
        with self._write() as db:
            db.execute(
                f"UPDATE gateway_jobs SET lease_until = ? WHERE runner = ? AND status IN {_ACTIVE}",
                (time.time() + lease, runner),
            )

    def request_cancel(self, ident: str) -> None:
        with self._write() as db:
            db.execute("UPDATE gateway_jobs SET cancel_requested = 1 WHERE id = ?", (ident,))

    def finish(
        self,
        ident: str,
        response: dict[str, Any],
        events: Sequence[tuple[int, dict[str, Any]]],
        runner: str | None = None,
    ) -> bool:
        """End an active job with ``response`` and its last events; ``False`` (nothing written) when it had
        already ended, so of a completion and a cancel racing exactly one wins. ``runner``: only while that
        process still holds it (a sweeper, a cancel or a shutdown end it whoever runs it)."""
        holder, args = ("", ()) if runner is None else (" AND runner = ?", (runner,))
        with self._write() as db:
            changed = db.execute(
                f"UPDATE gateway_jobs SET status = ?, response = ? WHERE id = ? AND status IN {_ACTIVE}{holder}",
                (response["status"], _dumps(response), ident, *args),
            ).rowcount
            if changed:
                db.executemany(
                    "INSERT OR IGNORE INTO gateway_events VALUES (?, ?, ?)",
                    [(ident, seq, _dumps(event)) for seq, event in events],
                )
        return bool(changed)

    def expired(self, now: float | None = None) -> list[Job]:
        """Active jobs whose runner stopped renewing their lease."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT id FROM gateway_jobs WHERE status IN {_ACTIVE} AND lease_until < ?",
                (time.time() if now is None else now,),
            ).fetchall()
        return [job for (ident,) in rows if (job := self.job(ident)) is not None]

    def last_seq(self, ident: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM gateway_events WHERE id = ?", (ident,)).fetchone()
        return -1 if row is None or row[0] is None else int(row[0])


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
