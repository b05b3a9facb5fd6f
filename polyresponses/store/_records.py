"""The store's records and interface: plain wire JSON, so a backend is a class and nothing else."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, runtime_checkable

__all__ = [
    "CLAIM_SQL",
    "ChainReader",
    "OwnerClaim",
    "Order",
    "ResponseStore",
    "StoredConversation",
    "StoredItem",
    "StoredResponse",
    "dumps",
    "loads_object",
    "paginate",
    "WouldWait",
    "NoWaitWrites",
]


class WouldWait(Exception):
    """A write asked not to wait (a store's ``nowait()``) found its connection or the database busy:
    nothing was written, and the caller may do it where waiting is allowed (a worker thread)."""


@runtime_checkable
class NoWaitWrites(Protocol):
    """A database whose writes can be tried where waiting is not allowed (an event loop): SQLite and
    memory stores, the gateway's SQLite ledger."""

    def nowait(self) -> AbstractContextManager[None]:
        """Writes inside raise :class:`WouldWait` (having written nothing) rather than wait."""
        ...

    def manual_checkpoints(self) -> None:
        """Commits stop syncing the file (copying the WAL back); the owner calls :meth:`checkpoint`."""
        ...

    def checkpoint(self) -> None: ...


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


@dataclass(slots=True)
class OwnerClaim:
    """Who is to own a response, written in the same transaction as the response itself.

    The gateway keeps an owner row per response (``gateway_owners``, in the store's own database:
    SQLite's file, or version 2 of the PostgreSQL schema). A store whose database holds that table
    writes the row with the turn, so a stored turn is one transaction, and sets :attr:`granted`:
    ``True`` when the row names ``owner`` (written now, or already), ``False`` when another owner
    had the id. A store that cannot (memory; a library without a gateway) leaves it ``None``, and
    the caller records the owner itself.
    """

    id: str
    owner: str
    provider: str
    granted: bool | None = None


CLAIM_SQL = (
    "INSERT INTO {t}gateway_owners VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, id)"
    " DO UPDATE SET owner = {t}gateway_owners.owner RETURNING owner"
)
"""Record an owner, or keep the one already there; the owner as it is afterwards (``{t}``: the schema
prefix, ``?``: the placeholders, both spelled by the backend). Shared with the gateway's ledger."""


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
    claim: OwnerClaim | None = field(default=None, compare=False, repr=False)
    """The owner to record with it, where the store can (see :class:`OwnerClaim`); never read back."""

    @property
    def response(self) -> dict[str, Any]:
        """The ``Response`` as a JSON object."""
        return loads_object(self.body)


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


@runtime_checkable
class ChainReader(Protocol):
    """A store that reads a whole ``previous_response_id`` chain at once (every built-in backend).

    Optional: rebuilding a 50-turn chain through :class:`ResponseStore` alone is 100 reads, which a
    networked database pays in round trips (measured on PostgreSQL over loopback: 94 ms against
    3 ms on SQLite); a backend that follows the links itself answers in one transaction.
    """

    def chain(
        self, response_id: str, *, limit: int = 10_000
    ) -> tuple[list[StoredResponse], dict[str, list[StoredItem]]]:
        """The response ``response_id`` and those it continues, newest first, following
        ``previous_response_id`` until a turn that has none, or one that is not stored (the last record's
        ``previous_response_id`` then names it), or ``limit`` records; with each record's input items.
        ``([], {})`` when ``response_id`` is not stored."""
        ...


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


_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> str:
    """Compact JSON text, as every backend stores it.

    Non-ASCII text is kept as it is, except when ``value`` holds a lone surrogate (``"\\ud83d"`` is valid
    JSON, e.g. a stream cut inside an emoji, and ``json.loads`` accepts it): UTF-8, which SQLite and
    PostgreSQL store, cannot encode one, so such a value is written with every non-ASCII escaped.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if not text.isascii() and _SURROGATE.search(text):
        return json.dumps(value, separators=(",", ":"))
    return text


def loads_object(text: str) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(text))
