"""The store on PostgreSQL: one database shared by every replica of an application or a gateway.

psycopg 3 with its connection pool (the ``[postgres]`` extra, imported when a store is first used,
never by ``import polyresponses``). Every method is one transaction on one pooled connection, so a
turn is committed before ``create`` returns and every replica reads it the moment the call returns
(read-your-writes). Statements are prepared on the server at their first use on a connection
(psycopg's ``prepare_threshold=0``): a turn's few statements are parsed and planned once per
connection, not once per request.

The schema lives in its own PostgreSQL schema, ``polyresponses``, beside whatever else the database
holds, and is versioned (:data:`SCHEMA_VERSION`, :data:`MIGRATIONS`): ``polyresponses store migrate``
creates or upgrades it, a fresh database is created on first use, and a database whose version this
polyresponses does not know (older: migrate first; newer: upgrade polyresponses) is refused with a
clear error rather than read wrongly. Version 2 adds the gateway's tables (ownership, background
jobs and their event logs, rate-limit counters, sealing key ids): one schema holds a deployment's
whole state, so one migration moves it.

A database that cannot be reached raises :class:`StoreUnavailableError` (the gateway answers 503);
the URL's password never appears in an error, a log line or ``repr`` (:func:`redact_url`).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from polyresponses.router._errors import PolyresponsesError
from polyresponses.store._records import (
    CLAIM_SQL,
    Order,
    StoredConversation,
    StoredItem,
    StoredResponse,
    dumps,
    loads_object,
)
from polyresponses.store._sqlite import CHAIN_SQL

if TYPE_CHECKING:
    import psycopg
    from psycopg import Connection  # for _open, where the name psycopg is the driver module found at run time
    from psycopg_pool import ConnectionPool

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresStore",
    "StoreUnavailableError",
    "connection_settings",
    "is_postgres_url",
    "migrate",
    "read_version",
    "redact_url",
]

T = TypeVar("T")

MIGRATIONS: tuple[str, ...] = (
    # 1: the response store (the same tables as SQLite's schema_version 1).
    """
    CREATE TABLE polyresponses.responses (
        id                    text PRIMARY KEY,
        provider              text NOT NULL,
        native                boolean NOT NULL,
        created_at            bigint NOT NULL,
        previous_response_id  text,
        conversation_id       text,
        conversation_position integer,
        response              text NOT NULL          -- the Response, JSON text as returned
    );
    CREATE TABLE polyresponses.conversations (
        id            text PRIMARY KEY,
        created_at    bigint NOT NULL,
        metadata      text NOT NULL,                 -- JSON object
        next_position integer NOT NULL DEFAULT 0
    );
    CREATE TABLE polyresponses.items (
        owner    text NOT NULL,                      -- a response id (its input) or a conversation id
        position integer NOT NULL,
        id       text NOT NULL,
        provider text,                               -- who produced the item (NULL: the caller wrote it)
        item     text NOT NULL,                      -- wire JSON, as given or returned
        PRIMARY KEY (owner, position)
    );
    CREATE INDEX items_by_id ON polyresponses.items (owner, id);
    """,
    # 2: what the gateway keeps (polyresponses/server/ledger): ownership, background jobs with their
    # leases and event logs, per-key rate-limit windows, and the key ids that sealed compactions.
    """
    CREATE TABLE polyresponses.gateway_owners (
        kind       text NOT NULL,
        id         text NOT NULL,
        owner      text NOT NULL,
        provider   text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE polyresponses.gateway_jobs (
        id               text PRIMARY KEY,
        owner            text NOT NULL,
        provider         text NOT NULL,
        status           text NOT NULL,
        response         text NOT NULL,             -- the latest snapshot, JSON
        runner           text NOT NULL,             -- the process holding the lease
        lease_until      double precision NOT NULL, -- unix seconds
        cancel_requested boolean NOT NULL DEFAULT false
    );
    CREATE INDEX gateway_jobs_active ON polyresponses.gateway_jobs (lease_until)
        WHERE status IN ('queued', 'in_progress');
    CREATE TABLE polyresponses.gateway_events (
        id    text NOT NULL,
        seq   integer NOT NULL,
        event text NOT NULL,
        PRIMARY KEY (id, seq)
    );
    CREATE TABLE polyresponses.gateway_rate (
        owner text NOT NULL,
        at    double precision NOT NULL              -- unix seconds of one request
    );
    CREATE INDEX gateway_rate_by_owner ON polyresponses.gateway_rate (owner, at);
    CREATE TABLE polyresponses.gateway_sealing_keys (
        key_id     text PRIMARY KEY,
        created_at bigint NOT NULL
    );
    """,
    # 3: a key's own objects, newest first (GET /v1/responses, the console's list).
    """
    CREATE INDEX gateway_owners_by_owner ON polyresponses.gateway_owners (owner, kind, created_at DESC, id DESC);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_CLAIM_SQL = CLAIM_SQL.replace("{t}", "polyresponses.").replace("?", "%s")
_CHAIN_SQL = CHAIN_SQL.replace("FROM responses", "FROM polyresponses.responses").replace(
    "JOIN responses", "JOIN polyresponses.responses"
)
_FRESH_SECONDS = 0.1
"""A pooled connection used this recently is handed out without a liveness check. Shorter than any
database restart (PostgreSQL takes well over a second to stop and start), so a connection skipped by the
check was alive after the last restart; under load connections come back within milliseconds and the
check is still skipped for nearly every turn (with 1 s, a pool warmed just before a quick restart handed
out a dead connection: seen as a flaky test under a loaded machine)."""
_LOCK_KEY = 0x706F6C79  # "poly": the advisory lock that serializes migrations across replicas


class StoreUnavailableError(PolyresponsesError):
    """The store's database cannot be reached or failed mid-transaction (nothing of the call was kept)."""


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def redact_url(location: str) -> str:
    """``location`` without its password (URL or ``key=value`` connection string), for messages and ``repr``.

    Not parsed: a password with an unencoded ``/``, ``?``, ``#`` or ``@``, or a bad %-escape, would
    misparse and leak. In a URL the user info ends at the last ``@`` (over-redacting a rare ``@`` in
    the query rather than showing a password), and a ``password=`` query parameter is hidden too
    (libpq accepts one, https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING)."""
    if "://" in location:
        scheme, rest = location.split("://", 1)
        if "@" in rest:
            userinfo, host = rest.rsplit("@", 1)
            if ":" in userinfo:
                rest = f"{userinfo.split(':', 1)[0]}:***@{host}"
        rest = re.sub(r"([?&]password=)[^&#]*", r"\1***", rest)
        return f"{scheme}://{rest}"
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", location)


_CONNECTION_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
"""libpq settings a URL may override: a database that does not answer fails a connect within 5 s
(libpq's default is to wait for ever), and TCP keepalives find a dead peer behind a silent network
in about a minute instead of the kernel's two hours."""


def connection_settings(url: str) -> dict[str, Any]:
    """The defaults of :data:`_CONNECTION_DEFAULTS` that ``url`` does not set; a malformed ``url`` is a
    ``ValueError`` that does not repeat it (psycopg's message quotes the bad token, password or not)."""
    psycopg, _ = _driver()
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        given = None  # raised below, outside this block: not even the error's hidden context keeps the token
    if given is None:
        raise ValueError(f"malformed PostgreSQL URL {redact_url(url)!r}")
    return {key: value for key, value in _CONNECTION_DEFAULTS.items() if key not in given}


def _driver() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise ImportError(
            "a postgresql:// store needs psycopg 3 and its pool: pip install 'polyresponses[postgres]'"
        ) from None
    return psycopg, psycopg_pool


@contextmanager
def translated(location: str) -> Iterator[None]:
    """psycopg's connection and pool failures as :class:`StoreUnavailableError` (password-free)."""
    psycopg, psycopg_pool = _driver()
    try:
        yield
    except (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        psycopg_pool.PoolTimeout,
        psycopg.errors.ReadOnlySqlTransaction,  # SQLSTATE 25006: the URL reached a standby (after a failover)
    ) as error:
        detail = redact_url(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
        raise StoreUnavailableError(f"the response store at {redact_url(location)} is unavailable: {detail}") from None


def schema_version(connection: psycopg.Connection[Any]) -> int:
    """The version of the ``polyresponses`` schema in this database (0: none yet)."""
    exists = connection.execute("SELECT to_regclass('polyresponses.meta')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = connection.execute("SELECT value FROM polyresponses.meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def read_version(url: str) -> int:
    """The schema version of the database at ``url`` (0: none yet)."""
    psycopg, _ = _driver()
    with translated(url), psycopg.connect(url, **connection_settings(url)) as connection:
        return schema_version(connection)


def migrate(url: str, target: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Create or upgrade the schema to ``target``: ``(version before, version after)``.

    One transaction under an advisory lock, so replicas starting together migrate once and a failed
    step leaves the previous version intact. A database newer than this polyresponses is refused.
    """
    psycopg, _ = _driver()
    with translated(url), psycopg.connect(url, **connection_settings(url)) as connection, connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        before = schema_version(connection)
        if before > SCHEMA_VERSION:
            raise RuntimeError(_newer(url, before))
        if before == 0:
            connection.execute("CREATE SCHEMA IF NOT EXISTS polyresponses")
            connection.execute("CREATE TABLE polyresponses.meta (key text PRIMARY KEY, value text NOT NULL)")
            connection.execute("INSERT INTO polyresponses.meta VALUES ('schema_version', '0')")
        for step in range(before, target):
            connection.execute(MIGRATIONS[step])
        after = max(before, target)
        connection.execute("UPDATE polyresponses.meta SET value = %s WHERE key = 'schema_version'", (str(after),))
    return before, after


def _newer(url: str, version: int) -> str:
    return (
        f"{redact_url(url)}: store schema version {version} is newer than this polyresponses "
        f"(which knows up to {SCHEMA_VERSION}); upgrade polyresponses"
    )


class PostgresStore:
    """The response store on PostgreSQL (see the module docstring), safe for threads and processes.

    ``min_size``/``max_size`` bound the pool per process; with N replicas the database sees up to
    N × ``max_size`` connections. The pool is opened at first use, and again in a forked child.
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 10.0) -> None:
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {redact_url(url)!r} (expected postgresql://...)")
        self._settings = connection_settings(url)  # a missing extra or a malformed URL is reported now
        self.url = url
        self.min_size, self.max_size, self.timeout = min_size, max_size, timeout
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._pid = -1
        self._used: dict[int, float] = {}
        """When each pooled connection (by ``id``) was last handed back."""

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.url)!r})"

    @property
    def pool(self) -> ConnectionPool[Any]:
        """This process's pool (opened, schema checked); shared with the gateway's ledger."""
        if self._pool is not None and self._pid == os.getpid():
            return self._pool
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = self._open()
                self._pid = os.getpid()
            return self._pool

    def _open(self) -> ConnectionPool[Any]:
        psycopg, psycopg_pool = _driver()
        with translated(self.url), psycopg.connect(self.url, **self._settings) as connection:
            version = schema_version(connection)
        if version == 0:
            migrate(self.url)  # a fresh database: create the schema (an existing one is upgraded only on request)
        elif version < SCHEMA_VERSION:
            raise RuntimeError(
                f"{redact_url(self.url)}: store schema version {version}, this polyresponses needs "
                f"{SCHEMA_VERSION}: run 'polyresponses store migrate {redact_url(self.url)}'"
            )
        elif version > SCHEMA_VERSION:
            raise RuntimeError(_newer(self.url, version))

        def check(connection: Connection[Any]) -> None:
            """Checked at checkout: after a database restart a pooled connection is dead, and the
            request that draws it must get a fresh one instead of an error.

            A connection used within the last :data:`_FRESH_SECONDS` is not checked: the check is a
            round trip of its own (a tenth of a stored turn's database time, measured), and a
            connection that just worked is alive unless the database restarted since (no restart is
            that quick; one in flight fails the request with a clear 503 like the others then).

            The pool pauses before each next draw (1 s, 2 s, 4 s...), and after a restart every idle
            connection is dead: drawn one by one, a warm pool of ten outlasts the request's timeout.
            So the first dead one has them all checked, and the dead replaced, at once.
            """
            if time.monotonic() - self._used.get(id(connection), 0.0) < _FRESH_SECONDS:
                return
            try:
                psycopg_pool.ConnectionPool.check_connection(connection)
            except Exception:
                pool.check()
                raise

        pool: ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            self.url,
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.timeout,
            kwargs={"prepare_threshold": 0, **self._settings},
            check=check,
            # A connection that cannot be made is retried with a growing pause, which after a long
            # outage would keep the store failing for about as long again once the database is back.
            # Given up after ``timeout`` instead, it is tried afresh at the next request.
            reconnect_timeout=self.timeout,
            open=False,
            name="polyresponses",
        )
        with translated(self.url):
            pool.open(wait=True, timeout=self.timeout)
        return pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection for one transaction, committed when the block ends (rolled back on an
        exception); failures as :class:`StoreUnavailableError`. The gateway's ledger uses it too."""
        with translated(self.url), self.pool.connection() as connection:
            try:
                yield connection
            finally:
                self._used[id(connection)] = time.monotonic()

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` in one transaction on a pooled connection (committed when it returns)."""
        with self.connection() as connection:
            return work(connection)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

    # responses

    def save_response(
        self,
        record: StoredResponse,
        input_items: Sequence[StoredItem],
        conversation_items: Sequence[StoredItem] = (),
    ) -> bool:
        def work(db: psycopg.Connection[Any]) -> bool:
            if record.conversation_id is not None and _append(db, record.conversation_id, conversation_items) is None:
                return False
            claim = record.claim if record.claim is not None and record.claim.id == record.id else None
            with db.pipeline():  # the statements go out together: one round trip, not one each
                _save(db, record, input_items)
                if claim is not None:  # the owner in the same transaction (schema version 2 has its table)
                    owned = db.execute(
                        _CLAIM_SQL, ("response", record.id, claim.owner, claim.provider, record.created_at)
                    )
            if claim is not None:
                row = owned.fetchone()
                claim.granted = row is not None and row[0] == claim.owner
            return True

        return self.run(work)

    def save_responses(self, turns: Sequence[tuple[StoredResponse, Sequence[StoredItem]]]) -> None:
        def work(db: psycopg.Connection[Any]) -> None:
            with db.pipeline():
                for record, input_items in turns:
                    _save(db, record, input_items)

        self.run(work)

    def get_response(self, response_id: str) -> StoredResponse | None:
        row = self.run(
            lambda db: db.execute(
                "SELECT id, provider, native, response, created_at, previous_response_id, conversation_id,"
                " conversation_position FROM polyresponses.responses WHERE id = %s",
                (response_id,),
            ).fetchone()
        )
        if row is None:
            return None
        return StoredResponse(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6], row[7])

    def chain(
        self, response_id: str, *, limit: int = 10_000
    ) -> tuple[list[StoredResponse], dict[str, list[StoredItem]]]:
        def work(db: psycopg.Connection[Any]) -> tuple[list[StoredResponse], dict[str, list[StoredItem]]]:
            rows = db.execute(_CHAIN_SQL, (response_id, limit)).fetchall()
            records = [StoredResponse(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]
            items: dict[str, list[StoredItem]] = {record.id: [] for record in records}
            if records:
                for row in db.execute(
                    "SELECT owner, id, item, provider, position FROM polyresponses.items WHERE owner = ANY(%s)"
                    " ORDER BY owner, position",
                    ([record.id for record in records],),
                ):
                    items[row[0]].append(StoredItem(row[1], loads_object(row[2]), row[3], row[4]))
            return records, items

        return self.run(work)

    def delete_response(self, response_id: str) -> bool:
        def work(db: psycopg.Connection[Any]) -> bool:
            # The row first, then the items unless the row is there (again): see _delete_owned.
            deleted = db.execute("DELETE FROM polyresponses.responses WHERE id = %s", (response_id,)).rowcount > 0
            _delete_owned(db, "responses", response_id)
            return deleted

        return self.run(work)

    def input_items(self, response_id: str) -> list[StoredItem] | None:
        def work(db: psycopg.Connection[Any]) -> list[StoredItem] | None:
            if db.execute("SELECT 1 FROM polyresponses.responses WHERE id = %s", (response_id,)).fetchone() is None:
                return None
            return _items(db, "WHERE owner = %s ORDER BY position", (response_id,))

        return self.run(work)

    # conversations

    def create_conversation(self, conversation: StoredConversation, items: Sequence[StoredItem]) -> None:
        def work(db: psycopg.Connection[Any]) -> None:
            db.execute(
                "INSERT INTO polyresponses.conversations VALUES (%s, %s, %s, 0) ON CONFLICT (id) DO UPDATE"
                " SET created_at = excluded.created_at, metadata = excluded.metadata, next_position = 0",
                (conversation.id, conversation.created_at, dumps(conversation.metadata)),
            )
            db.execute("DELETE FROM polyresponses.items WHERE owner = %s", (conversation.id,))
            _append(db, conversation.id, items)

        self.run(work)

    def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return self.run(lambda db: _conversation(db, conversation_id))

    def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> StoredConversation | None:
        def work(db: psycopg.Connection[Any]) -> StoredConversation | None:
            db.execute(
                "UPDATE polyresponses.conversations SET metadata = %s WHERE id = %s",
                (dumps(dict(metadata)), conversation_id),
            )
            return _conversation(db, conversation_id)

        return self.run(work)

    def delete_conversation(self, conversation_id: str) -> bool:
        def work(db: psycopg.Connection[Any]) -> bool:
            deleted = db.execute("DELETE FROM polyresponses.conversations WHERE id = %s", (conversation_id,))
            _delete_owned(db, "conversations", conversation_id)
            return deleted.rowcount > 0

        return self.run(work)

    def add_conversation_items(self, conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
        return self.run(lambda db: _append(db, conversation_id, items))

    def conversation_items(self, conversation_id: str, *, before: int | None = None) -> list[StoredItem] | None:
        def work(db: psycopg.Connection[Any]) -> list[StoredItem] | None:
            if _conversation(db, conversation_id) is None:
                return None
            limit = 2**31 - 1 if before is None else before
            return _items(db, "WHERE owner = %s AND position < %s ORDER BY position", (conversation_id, limit))

        return self.run(work)

    def get_item(self, owner: str, item_id: str) -> StoredItem | None:
        found = self.run(
            lambda db: _items(db, "WHERE owner = %s AND id = %s ORDER BY position LIMIT 1", (owner, item_id))
        )
        return found[0] if found else None

    def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        return self.run(
            lambda db: (
                db.execute(
                    "DELETE FROM polyresponses.items WHERE owner = %s AND id = %s", (conversation_id, item_id)
                ).rowcount
                > 0
            )
        )

    def page(self, owner: str, *, after: str | None, limit: int, order: Order) -> tuple[list[StoredItem], bool] | None:
        def work(db: psycopg.Connection[Any]) -> tuple[list[StoredItem], bool] | None:
            exists = db.execute(
                "SELECT 1 FROM polyresponses.responses WHERE id = %s"
                " UNION ALL SELECT 1 FROM polyresponses.conversations WHERE id = %s",
                (owner, owner),
            ).fetchone()
            if exists is None:
                return None
            compare, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
            start = 2**31 - 1 if order == "desc" else -1
            if after is not None:
                row = db.execute(
                    "SELECT position FROM polyresponses.items WHERE owner = %s AND id = %s", (owner, after)
                ).fetchone()
                if row is None:
                    return [], False
                start = row[0]
            found = _items(
                db,
                f"WHERE owner = %s AND position {compare} %s ORDER BY position {direction} LIMIT %s",
                (owner, start, limit + 1),
            )
            return found[:limit], len(found) > limit

        return self.run(work)


def _save(db: psycopg.Connection[Any], record: StoredResponse, input_items: Sequence[StoredItem]) -> None:
    """One response row and its input items, replacing any earlier record under the same id.

    The row first: its upsert waits for another transaction writing the same id, so the ``DELETE`` after
    it sees (and removes) that one's committed items instead of colliding with them on the primary key.
    """
    db.execute(
        "INSERT INTO polyresponses.responses VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
        " provider = excluded.provider, native = excluded.native, created_at = excluded.created_at,"
        " previous_response_id = excluded.previous_response_id, conversation_id = excluded.conversation_id,"
        " conversation_position = excluded.conversation_position, response = excluded.response",
        (
            record.id,
            record.provider,
            record.native,
            record.created_at,
            record.previous_response_id,
            record.conversation_id,
            record.conversation_position,
            record.body,
        ),
    )
    db.execute("DELETE FROM polyresponses.items WHERE owner = %s", (record.id,))
    _insert_items(db, [(record.id, i, item.id, item.provider, dumps(item.item)) for i, item in enumerate(input_items)])


def _delete_owned(db: psycopg.Connection[Any], table: Literal["responses", "conversations"], owner: str) -> None:
    """The items of ``owner``, just deleted from ``table`` in this transaction, unless a writer has put it back.

    Run after the owner's row is deleted. That ``DELETE`` waited for any transaction holding the row (a
    save or an append), and this statement's fresh snapshot then sees that writer's items: they go too,
    instead of outliving their owner. A writer that committed the owner anew since (a save or a create
    that had nothing to wait for) is left whole, owner and items: it came after the delete.
    """
    db.execute(
        "DELETE FROM polyresponses.items WHERE owner = %s"
        f" AND NOT EXISTS (SELECT 1 FROM polyresponses.{table} WHERE id = %s)",
        (owner, owner),
    )


def _insert_items(db: psycopg.Connection[Any], rows: Sequence[tuple[str, int, str, str | None, str]]) -> None:
    if rows:
        with db.cursor() as cursor:
            cursor.executemany("INSERT INTO polyresponses.items VALUES (%s, %s, %s, %s, %s)", rows)


def _items(db: psycopg.Connection[Any], where: str, args: tuple[Any, ...]) -> list[StoredItem]:
    rows = db.execute(
        f"SELECT id, item, provider, position FROM polyresponses.items {where}", args
    ).fetchall()  # the clauses are this module's own constants
    return [StoredItem(row[0], loads_object(row[1]), row[2], row[3]) for row in rows]


def _conversation(db: psycopg.Connection[Any], conversation_id: str) -> StoredConversation | None:
    row = db.execute(
        "SELECT id, metadata, created_at FROM polyresponses.conversations WHERE id = %s", (conversation_id,)
    ).fetchone()
    return None if row is None else StoredConversation(row[0], loads_object(row[1]), row[2])


def _append(db: psycopg.Connection[Any], conversation_id: str, items: Sequence[StoredItem]) -> list[StoredItem] | None:
    """Append to a conversation inside the caller's transaction; ``None`` if it does not exist.

    ``FOR UPDATE`` on the conversation row: two replicas appending at once take turns, so positions
    never collide.
    """
    row = db.execute(
        "SELECT next_position FROM polyresponses.conversations WHERE id = %s FOR UPDATE", (conversation_id,)
    ).fetchone()
    if row is None:
        return None
    start: int = row[0]
    placed = [replace(item, position=start + offset) for offset, item in enumerate(items)]
    _insert_items(db, [(conversation_id, i.position, i.id, i.provider, dumps(i.item)) for i in placed])
    db.execute(
        "UPDATE polyresponses.conversations SET next_position = %s WHERE id = %s",
        (start + len(placed), conversation_id),
    )
    return placed
