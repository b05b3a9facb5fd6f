"""The response store: where responses and conversations live for providers that keep no state.

OpenAI keeps responses and conversations on its servers; most providers keep nothing, so
``previous_response_id`` and ``conversation`` fail there. Every response created through
polyresponses with ``store`` left true is recorded here (for every provider, native ones included),
which is what lets a chain continue on a stateless provider, or on another provider altogether.

The interface (:class:`ResponseStore`) speaks plain records of wire JSON; the dialects never see
it. Backends, chosen by the ``store=`` setting (:func:`open_store`: a path, a URL or ``:memory:``):

- :class:`SQLiteStore`, the default: one file (WAL journal, so readers never block the writer and
  several processes and threads of one host can share it), every write one transaction; the file
  and its directory are private to the user (0600 and 0700), since they hold people's conversations;
- :class:`PostgresStore` (``postgresql://...``, the ``[postgres]`` extra): one database shared by
  every replica of an application or gateway, with a versioned schema (``polyresponses store migrate``);
- :class:`MemoryStore`, for tests and short scripts.

:class:`AsyncResponseStore` is the same interface for event loops (:func:`async_store`): each call
runs in a worker thread, so neither the async client nor the gateway blocks its loop on a disk or a
database, and each backend's SQL is written once.

What is stored: the ``Response`` as returned (output items with reasoning, function calls and
provider data included; instructions and tools too), the caller's input items of that turn, and
conversation items. Never API keys: the request headers are not part of any record.
"""

from __future__ import annotations

from polyresponses.store._async import AsyncResponseStore, async_store
from polyresponses.store._memory import MemoryStore
from polyresponses.store._open import STORE_ENV, default_store_path, defer, flush, open_store, redact_url
from polyresponses.store._postgres import PostgresStore
from polyresponses.store._records import (
    ChainReader,
    Order,
    ResponseStore,
    StoredConversation,
    StoredItem,
    StoredResponse,
    paginate,
)
from polyresponses.store._sqlite import SQLiteStore

__all__ = [
    "STORE_ENV",
    "AsyncResponseStore",
    "ChainReader",
    "MemoryStore",
    "Order",
    "PostgresStore",
    "ResponseStore",
    "SQLiteStore",
    "StoredConversation",
    "StoredItem",
    "StoredResponse",
    "async_store",
    "default_store_path",
    "defer",
    "flush",
    "open_store",
    "paginate",
    "redact_url",
]
