"""Which store a client uses (by path or URL), and the write-behind batch for mirror records."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from polyresponses.store._memory import MemoryStore
from polyresponses.store._postgres import PostgresStore, is_postgres_url, redact_url
from polyresponses.store._records import NoWaitWrites, ResponseStore, StoredItem, StoredResponse, WouldWait
from polyresponses.store._sqlite import SQLiteStore, default_store_path, is_busy

__all__ = ["STORE_ENV", "default_store_path", "defer", "flush", "open_store", "redact_url"]

STORE_ENV = "POLYRESPONSES_STORE"
"""Where the default store lives: a file path, a ``postgresql://`` URL, ``:memory:`` (one store per
process) or ``off``."""


_opened: dict[str, ResponseStore] = {}
_opened_lock = threading.Lock()


def open_store(setting: ResponseStore | str | os.PathLike[str] | bool | None) -> ResponseStore | None:
    """The store a client uses, from its ``store=`` argument.

    A store object is used as it is; ``False`` disables local state; a path opens that SQLite
    file and a ``postgresql://`` URL that database (the ``[postgres]`` extra); ``None`` or ``True``
    reads :data:`STORE_ENV` (a path, a URL, ``:memory:`` or ``off``) and falls back to
    :func:`default_store_path`. Stores opened from a path, a URL or the environment are shared by
    every client of the process, and opened lazily (the file is created, the database connected, on
    first use).
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
            store = _opened[location] = _open(location)
        return store


def _open(location: str) -> ResponseStore:
    if location == ":memory:":
        return MemoryStore()
    if is_postgres_url(location):
        return PostgresStore(location)
    return SQLiteStore(location)


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
_BACKLOG = 16 * _BATCH
"""Turns kept past a due flush that would have waited, before one waits after all."""
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
        _flush_without_waiting(store)


def _flush_without_waiting(store: ResponseStore) -> None:
    """A due batch. ``defer`` is called on event loops too: there, a store that offers ``nowait()`` and is
    busy keeps the batch for a later flush, unless it has grown past ``_BACKLOG`` (memory stays bounded:
    it is then written, waiting as it must). Elsewhere it is written as always."""
    asyncio = sys.modules.get("asyncio")
    on_loop = asyncio is not None and asyncio._get_running_loop() is not None
    if not on_loop or not isinstance(store, NoWaitWrites):
        flush(store)
        return
    try:
        with store.nowait():
            flush(store)
    except WouldWait:
        pending = _pending.get(id(store))
        if pending is not None and len(pending.turns) >= _BACKLOG:
            flush(store)


def flush(store: ResponseStore) -> None:
    """Write the mirror records queued for ``store`` (this process's own writes are then readable)."""
    pending = _pending.get(id(store))
    if pending is None or not pending.turns or pending.pid != os.getpid():
        return
    with _pending_lock:
        turns, pending.turns = pending.turns, []
    if turns:
        try:
            store.save_responses(turns)
        except Exception as error:
            if is_busy(error):  # not written because it would have waited: written by the next flush
                with _pending_lock:
                    pending.turns[:0] = turns
            raise


@atexit.register
def _flush_all() -> None:
    for pending in list(_pending.values()):
        try:
            flush(pending.store)
        except Exception as error:  # at exit there is no caller left to raise to
            warnings.warn(
                f"polyresponses: writing queued responses to {pending.store!r} failed: {error!r}", stacklevel=1
            )
