"""What the gateway keeps beside the response store: who owns what, its background jobs, rate counters.

Tables, in the store's own database (so one SQLite file, or one PostgreSQL schema, holds a
deployment's whole state; on PostgreSQL they are version 2 of the store's schema):

- ``gateway_owners(kind, id, owner, provider, created_at)``: every response and conversation the
  gateway handed out, with the gateway key that made it and the provider row that answers for it.
  A stored object without a row here is answered as missing to every key (never as everyone's).
- ``gateway_jobs(id, owner, provider, status, response, runner, lease_until, cancel_requested)``:
  background responses; ``response`` is the latest snapshot, ``lease_until`` is renewed by the
  process running it (``runner``), and a job whose lease ran out (its process died) is claimed by
  exactly one other process and ended ``failed``.
- ``gateway_events(id, seq, event)``: each background response's events by ``sequence_number``,
  the log that ``GET /v1/responses/{id}?stream=true&starting_after=N`` replays from any replica.
- ``gateway_rate(owner, at)``: each key's requests of the last minute, counted in the database so
  that every replica enforces one limit.
- ``gateway_sealing_keys(key_id, created_at)``: the ids (never the secrets) of the keys that sealed
  compaction items, so a replica holding another secret says so instead of failing to open them.

The logic is written once (:class:`Ledger`) over a small :class:`Database` adapter per backend
(``_sqlite``, ``_postgres``): placeholders, table names, row locking and notifications are all
that differ. Every write is one transaction; the methods block, and the server calls them in a
worker thread, or on its event loop where they cannot wait (``Gateway.write``: SQLite under
``nowait()``, whose writes fail at once rather than wait for another process).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from polyresponses.store._records import CLAIM_SQL, dumps

__all__ = ["ACTIVE", "Database", "Job", "Ledger", "ObjectKind", "open_ledger"]

ObjectKind = Literal["response", "conversation"]

ACTIVE = ("queued", "in_progress")
_ACTIVE_SQL = "('queued', 'in_progress')"


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
        return self.status in ACTIVE


Connection = Any
"""A sqlite3 or psycopg connection: ``execute(sql, args)`` with ``fetchone``/``fetchall``/``rowcount``."""


class Database(Protocol):
    """One backend's connection handling and SQL spelling."""

    location: str
    listens: bool
    """Whether other processes' writes arrive as notifications (PostgreSQL's ``LISTEN``)."""

    def read(self) -> AbstractContextManager[Connection]: ...

    def write(self) -> AbstractContextManager[Connection]:
        """One transaction, committed when the block ends (rolled back on an exception)."""
        ...

    def sql(self, text: str) -> str:
        """``text`` (``?`` placeholders, ``{t}`` before table names, ``{skip_locked}``) in this backend's SQL."""
        ...

    def many(self, db: Connection, text: str, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def lock(self, db: Connection, key: str) -> None:
        """Serialize the transactions that name ``key`` until this one ends."""
        ...

    def notify(self, db: Connection, kind: str, ident: str) -> None:
        """Tell the other processes (after commit) that job ``ident`` changed: ``e`` events, ``c`` cancel."""
        ...

    def close(self) -> None: ...


class Ledger:
    """Ownership, background jobs and rate counters on one :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.listens = database.listens

    def __repr__(self) -> str:
        return f"Ledger({self.database.location!r})"

    def close(self) -> None:
        self.database.close()

    def _q(self, text: str) -> str:
        return self.database.sql(text)

    def _one(self, text: str, args: tuple[Any, ...]) -> Any:
        with self.database.read() as db:
            return db.execute(self._q(text), args).fetchone()

    def ping(self) -> None:
        """Raise when the database cannot be read (``/readyz``)."""
        self._one("SELECT 1 FROM {t}gateway_owners LIMIT 1", ())

    # ownership

    def own(self, kind: ObjectKind, ident: str, owner: str, provider: str) -> bool:
        """Record ``owner`` as the owner of ``ident``; ``False`` when another owner has it (it keeps it)."""
        with self.database.write() as db:  # one statement: the row as it is after the insert, whoever won
            row = db.execute(self._q(CLAIM_SQL), (kind, ident, owner, provider, int(time.time()))).fetchone()
        return row is not None and row[0] == owner

    def provider_of(self, kind: ObjectKind, ident: str, owner: str) -> str | None:
        """The provider answering for ``ident`` when ``owner`` owns it; ``None`` when missing or not theirs."""
        row = self._one(
            "SELECT provider FROM {t}gateway_owners WHERE kind = ? AND id = ? AND owner = ?", (kind, ident, owner)
        )
        return None if row is None else str(row[0])

    def owned(
        self,
        kind: ObjectKind,
        owner: str,
        *,
        limit: int,
        provider: str | None = None,
        before: tuple[int, str] | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[tuple[str, str, int]]:
        """``owner``'s objects of ``kind`` as ``(id, provider, created_at)``, newest first, at most ``limit``:
        those after the cursor ``before`` (a ``(created_at, id)`` already shown), of ``provider``, created in
        ``[since, until]``. Ties in ``created_at`` are ordered by id, so a page never repeats or skips."""
        clauses: list[str] = ["kind = ?", "owner = ?"]
        args: list[str | int] = [kind, owner]
        if provider is not None:
            clauses.append("provider = ?")
            args.append(provider)
        if before is not None:
            clauses.append("(created_at, id) < (?, ?)")  # a row value: the index range serves it
            args.extend([before[0], before[1]])
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("created_at <= ?")
            args.append(until)
        text = (
            "SELECT id, provider, created_at FROM {t}gateway_owners WHERE "
            + " AND ".join(clauses)
            + " ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        with self.database.read() as db:
            rows = db.execute(self._q(text), (*args, limit)).fetchall()
        return [(str(ident), str(found), int(created)) for ident, found, created in rows]

    def created_at(self, kind: ObjectKind, ident: str, owner: str) -> int | None:
        """When ``owner``'s ``ident`` was recorded; ``None`` when missing or not theirs (a list cursor)."""
        row = self._one(
            "SELECT created_at FROM {t}gateway_owners WHERE kind = ? AND id = ? AND owner = ?", (kind, ident, owner)
        )
        return None if row is None else int(row[0])

    def disown(self, kind: ObjectKind, ident: str) -> None:
        """Forget ``ident``: its owner row and, for a background response, its job and event log."""
        with self.database.write() as db:
            db.execute(self._q("DELETE FROM {t}gateway_owners WHERE kind = ? AND id = ?"), (kind, ident))
            if kind == "response":
                db.execute(self._q("DELETE FROM {t}gateway_jobs WHERE id = ?"), (ident,))
                db.execute(self._q("DELETE FROM {t}gateway_events WHERE id = ?"), (ident,))

    # background jobs

    def create_job(
        self, ident: str, owner: str, provider: str, response: dict[str, Any], runner: str, lease: float
    ) -> None:
        """The job, claimed by ``runner``, and its ownership in one transaction (never a job without owner)."""
        now = time.time()
        with self.database.write() as db:
            db.execute(
                self._q("INSERT INTO {t}gateway_owners VALUES ('response', ?, ?, ?, ?)"),
                (ident, owner, provider, int(now)),
            )
            db.execute(
                self._q("INSERT INTO {t}gateway_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                (ident, owner, provider, response["status"], dumps(response), runner, now + lease, False),
            )

    def job(self, ident: str) -> Job | None:
        row = self._one(
            "SELECT id, owner, provider, status, response, runner, lease_until, cancel_requested"
            " FROM {t}gateway_jobs WHERE id = ?",
            (ident,),
        )
        return None if row is None else _job(row)

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
        guard = f"WHERE id = ? AND runner = ? AND status IN {_ACTIVE_SQL}"
        with self.database.write() as db:
            # The guard is the UPDATE itself, not a SELECT before it: the UPDATE locks the row, so a finish
            # or a takeover committing meanwhile is seen (PostgreSQL re-checks the WHERE clause against the
            # row as committed, READ COMMITTED) and waits for this transaction, never the other way round.
            if snapshot is not None and snapshot.get("status") in ACTIVE:
                held = db.execute(
                    self._q("UPDATE {t}gateway_jobs SET status = ?, response = ? " + guard),
                    (snapshot["status"], dumps(snapshot), ident, runner),
                ).rowcount
            else:
                keep = "UPDATE {t}gateway_jobs SET runner = runner "
                held = db.execute(self._q(keep + guard), (ident, runner)).rowcount
            if not held:
                return False
            self._events(db, ident, events)
            self.database.notify(db, "e", ident)
        return True

    def _events(self, db: Connection, ident: str, events: Sequence[tuple[int, dict[str, Any]]]) -> None:
        self.database.many(
            db,
            self._q("INSERT INTO {t}gateway_events VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
            [(ident, seq, dumps(event)) for seq, event in events],
        )

    def events(self, ident: str, after: int) -> list[dict[str, Any]]:
        with self.database.read() as db:
            rows = db.execute(
                self._q("SELECT event FROM {t}gateway_events WHERE id = ? AND seq > ? ORDER BY seq"), (ident, after)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def renew(self, runner: str, lease: float, idents: Iterable[str]) -> None:
        """Extend the leases of ``runner``'s jobs ``idents`` (those it is running now: a job it holds but
        no longer runs, such as one it claimed from a dead process and failed to end, must expire so that
        a sweep ends it)."""
        wanted = list(idents)
        if not wanted:
            return
        marks = ", ".join("?" for _ in wanted)
        with self.database.write() as db:
            db.execute(
                self._q(
                    f"UPDATE {{t}}gateway_jobs SET lease_until = ? WHERE runner = ? AND id IN ({marks})"
                    f" AND status IN {_ACTIVE_SQL}"
                ),
                (time.time() + lease, runner, *wanted),
            )

    def request_cancel(self, ident: str) -> None:
        """Set the cancel flag; the process running the job sees it (at once where the database notifies)."""
        with self.database.write() as db:
            db.execute(self._q("UPDATE {t}gateway_jobs SET cancel_requested = ? WHERE id = ?"), (True, ident))
            self.database.notify(db, "c", ident)

    def stopped(self, runner: str, idents: Iterable[str]) -> set[str]:
        """Of ``runner``'s jobs ``idents``, those it must stop: cancel asked, ended or taken over elsewhere."""
        wanted = list(idents)
        if not wanted:
            return set()
        marks = ", ".join("?" for _ in wanted)
        with self.database.read() as db:
            rows = db.execute(
                self._q(
                    f"SELECT id FROM {{t}}gateway_jobs WHERE id IN ({marks})"
                    f" AND (cancel_requested OR status NOT IN {_ACTIVE_SQL} OR runner <> ?)"
                ),
                (*wanted, runner),
            ).fetchall()
        found = {str(row[0]) for row in rows}
        return found | (set(wanted) - self._existing(wanted))

    def _existing(self, idents: list[str]) -> set[str]:
        marks = ", ".join("?" for _ in idents)
        with self.database.read() as db:
            rows = db.execute(self._q(f"SELECT id FROM {{t}}gateway_jobs WHERE id IN ({marks})"), tuple(idents))
            return {str(row[0]) for row in rows.fetchall()}

    def finish(
        self,
        ident: str,
        response: dict[str, Any],
        events: Sequence[tuple[int, dict[str, Any]]],
        runner: str | None = None,
    ) -> bool:
        """End an active job with ``response`` and its last events; ``False`` (nothing written) when it had
        already ended, so of a completion and a cancel racing exactly one wins. ``runner``: only while that
        process still holds it (a cancel or a shutdown end it whoever runs it)."""
        holder, args = ("", ()) if runner is None else (" AND runner = ?", (runner,))
        with self.database.write() as db:
            changed = db.execute(
                self._q(
                    f"UPDATE {{t}}gateway_jobs SET status = ?, response = ? WHERE id = ? AND status IN {_ACTIVE_SQL}"
                    + holder
                ),
                (response["status"], dumps(response), ident, *args),
            ).rowcount
            if changed:
                self._events(db, ident, events)
                self.database.notify(db, "e", ident)
        return bool(changed)

    def claim_expired(self, runner: str, lease: float, now: float | None = None) -> list[Job]:
        """Take over the active jobs whose runner stopped renewing its lease (it died): each one is claimed
        by exactly one process (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serializes),
        which then ends it. The claimed jobs, as they were."""
        moment = time.time() if now is None else now
        with self.database.write() as db:
            rows = db.execute(
                self._q(
                    "SELECT id, owner, provider, status, response, runner, lease_until, cancel_requested"
                    f" FROM {{t}}gateway_jobs WHERE status IN {_ACTIVE_SQL} AND lease_until < ?"
                    " ORDER BY lease_until LIMIT 100 {skip_locked}"
                ),
                (moment,),
            ).fetchall()
            jobs = [_job(row) for row in rows]
            if jobs:
                marks = ", ".join("?" for _ in jobs)
                db.execute(
                    self._q(f"UPDATE {{t}}gateway_jobs SET runner = ?, lease_until = ? WHERE id IN ({marks})"),
                    (runner, moment + lease, *(job.id for job in jobs)),
                )
        return jobs

    def last_seq(self, ident: str) -> int:
        row = self._one("SELECT MAX(seq) FROM {t}gateway_events WHERE id = ?", (ident,))
        return -1 if row is None or row[0] is None else int(row[0])

    # rate limits and sealing keys

    def count_request(self, owner: str, per_minute: int, now: float | None = None) -> int | None:
        """Count one request of ``owner``; past ``per_minute`` in the last 60 seconds, the seconds until one
        of them ages out (the refused request is not counted). A sliding log in the database, so that every
        process and replica counts against one limit; one key's counts are taken one transaction at a
        time (an advisory lock on PostgreSQL, SQLite's write lock), so two replicas cannot both admit the
        last request."""
        moment = time.time() if now is None else now
        with self.database.write() as db:
            self.database.lock(db, f"rate:{owner}")
            db.execute(self._q("DELETE FROM {t}gateway_rate WHERE owner = ? AND at <= ?"), (owner, moment - 60.0))
            count, oldest = db.execute(
                self._q("SELECT COUNT(*), MIN(at) FROM {t}gateway_rate WHERE owner = ?"), (owner,)
            ).fetchone()
            if count >= per_minute:
                return max(1, int(oldest + 60.0 - moment) + 1)
            db.execute(self._q("INSERT INTO {t}gateway_rate VALUES (?, ?)"), (owner, moment))
        return None

    def register_key(self, key_id: str) -> None:
        with self.database.write() as db:
            db.execute(
                self._q("INSERT INTO {t}gateway_sealing_keys VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (key_id, int(time.time())),
            )

    def known_key(self, key_id: str) -> bool:
        return self._one("SELECT 1 FROM {t}gateway_sealing_keys WHERE key_id = ?", (key_id,)) is not None


def open_ledger(location: str, store: Any = None) -> Ledger:
    """The ledger beside the store at ``location`` (a SQLite path, ``:memory:`` or a PostgreSQL URL);
    on PostgreSQL it shares ``store``'s connection pool."""
    from polyresponses.store._postgres import PostgresStore, is_postgres_url

    if is_postgres_url(location):
        from polyresponses.server.ledger._postgres import PostgresDatabase

        if not isinstance(store, PostgresStore):
            store = PostgresStore(location)
        return Ledger(PostgresDatabase(store))
    from polyresponses.server.ledger._sqlite import SQLiteDatabase

    return Ledger(SQLiteDatabase(location))


def _job(row: Any) -> Job:
    return Job(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], float(row[6]), bool(row[7]))
