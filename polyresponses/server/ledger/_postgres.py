"""The ledger's tables in the PostgreSQL store's schema (version 2), and the notifications replicas share.

Writes go through the store's own pool (:meth:`PostgresStore.run`), so a turn and its ownership use
the same connections and the same failure handling (:class:`StoreUnavailableError`, a 503).

Every change to a background job is announced with ``pg_notify('polyresponses_jobs', 'e:<id>')``
(events appended, job ended) or ``'c:<id>'`` (cancel asked), inside the writing transaction, so it
is delivered when, and only if, the write commits. :class:`Listener` holds one ``LISTEN`` connection
per gateway process and hands each payload to the background jobs: followers on any replica wake on
the event that concerns them, and the replica running a job sees a cancel at once. No Redis, and no
polling under load (followers keep a slow timer only as a net for a notification lost while the
listener reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from polyresponses.store._postgres import connection_settings, redact_url

if TYPE_CHECKING:
    import psycopg

    from polyresponses.store._postgres import PostgresStore

__all__ = ["CHANNEL", "Listener", "PostgresDatabase"]

CHANNEL = "polyresponses_jobs"
log = logging.getLogger("polyresponses.server")


class PostgresDatabase:
    listens = True

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.location = redact_url(store.url)

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection[Any]]:
        with self.store.connection() as connection:
            yield connection

    write = read  # a pooled connection is one transaction, committed when the block ends

    def sql(self, text: str) -> str:
        return (
            text.replace("?", "%s").replace("{t}", "polyresponses.").replace("{skip_locked}", "FOR UPDATE SKIP LOCKED")
        )

    def many(self, db: psycopg.Connection[Any], text: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            with db.cursor() as cursor:
                cursor.executemany(text, rows)

    def lock(self, db: psycopg.Connection[Any], key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def notify(self, db: psycopg.Connection[Any], kind: str, ident: str) -> None:
        db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{kind}:{ident}"))

    def close(self) -> None:
        self.store.close()


class Listener:
    """``LISTEN polyresponses_jobs`` on a connection of its own, reconnecting after a database restart."""

    def __init__(self, url: str, deliver: Callable[[str, str], None]) -> None:
        self.url = url
        self.deliver = deliver
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        import psycopg

        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    **connection_settings(self.url),  # keepalives: a dead peer is noticed
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    delay = 0.1
                    self.deliver("*", "")  # reconnected: whatever was missed meanwhile is re-read by everyone
                    async for notification in connection.notifies():
                        kind, _, ident = notification.payload.partition(":")
                        self.deliver(kind, ident)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database went away: wait, then listen again
                self.connected.clear()
                log.warning(
                    "job notifications from %s interrupted (%s); reconnecting",
                    redact_url(self.url),
                    type(error).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
