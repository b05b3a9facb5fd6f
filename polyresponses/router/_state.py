"""Conversation state for every provider: ``previous_response_id`` and ``conversation`` over the store.

The rules (Responses API reference, "Create a model response" and "Conversation state"):

- ``previous_response_id`` continues from a response: its context is every input and output item of
  the chain that ends there (instructions are not carried over, as on OpenAI). ``conversation``
  continues a conversation: its context is the conversation's items, and the turn's input and
  output items are appended to it afterwards. The two exclude each other.
- A provider that keeps responses itself gets its own ``previous_response_id`` / ``conversation``
  while the chain stays with it (the id is one it issued). Anything else is rebuilt from the
  store into the request's ``input``, in the item shapes each dialect replays by its own rules.
- ``store`` (default true, as in the spec) records the response, the turn's input items and the
  output items under the response's id; ``store=False`` records nothing.

Everything here is synchronous and talks only to a :class:`ResponseStore`, so the logic exists once
for both shells. Planning (:func:`prepare`) does point reads inline; the async client runs the
writes where the store is the only copy in a worker thread, and mirror copies of responses a
provider keeps itself are batched in memory (:func:`polyresponses.store.defer`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from polyresponses.router._errors import InvalidRequestError, NotFoundError
from polyresponses.store import ResponseStore, StoredItem, StoredResponse, defer, flush
from polyresponses.store._records import ChainReader, OwnerClaim, dumps

if TYPE_CHECKING:
    from polyresponses.router._providers import Provider
    from polyresponses.types import Response

__all__ = [
    "Recorder",
    "StatePlan",
    "as_items",
    "chain_items",
    "context_items",
    "item_id",
    "not_found",
    "output_items",
    "portable",
    "prepare",
]

_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}


def item_id(item: Mapping[str, Any]) -> str:
    """The item's own id, or a new one with the prefix OpenAI uses for its type."""
    given = item.get("id")
    if isinstance(given, str) and given:
        return given
    return f"{_ID_PREFIXES.get(str(item.get('type', 'message')), 'item')}_{os.urandom(16).hex()}"


def not_found(provider: str, what: str, ident: str, why: str = "") -> NotFoundError:
    """The 404 a provider would give, raised before the network for what the store does not hold."""
    detail = why or f"it is not in the local response store and [{provider}] keeps no state of its own"
    return NotFoundError(f"no {what} {ident!r}: {detail}", provider=provider, status_code=404)


def as_items(value: Any) -> list[dict[str, Any]]:
    """A request ``input`` as a list of items (a string is one user message, Responses API "input")."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [dict(item) for item in cast("Sequence[Mapping[str, Any]]", value)]


def portable(item: dict[str, Any], origin: str | None, target: str) -> dict[str, Any] | None:
    """``item`` as it can be replayed to ``target``; ``None`` when it cannot be replayed there.

    Items the caller wrote (``origin`` None) and items ``target`` produced itself go back as they
    are. Another provider's items lose what only that provider can read:

    - reasoning is dropped: its text and signatures are meaningful to the model that wrote them
      only (every dialect drops it too; doing it here keeps foreign ids out of any request);
    - an assistant message becomes a plain assistant turn with its text (the spec's
      ``EasyInputMessage``), since an output message without its provider's item id is not
      valid input (``OutputMessage.id`` is required);
    - a function call keeps ``call_id``, name and arguments but not the foreign item ``id``.
    """
    if origin is None or origin == target:
        return item
    match item.get("type"):
        case "reasoning":
            return None
        case "message" if item.get("role") == "assistant" and isinstance(item.get("content"), list):
            parts = cast("list[Mapping[str, Any]]", item["content"])
            text = "".join(str(part.get("text") or part.get("refusal") or "") for part in parts)
            return {"type": "message", "role": "assistant", "content": text}
        case kind if str(kind).startswith("mcp_"):
            return item  # the router's own ids (it ran the calls), which approvals and call ids refer to
        case _:
            return {key: value for key, value in item.items() if key != "id"}


def _portable_all(items: Sequence[tuple[dict[str, Any], str | None]], target: str) -> list[dict[str, Any]]:
    kept = (portable(item, origin, target) for item, origin in items)
    return [item for item in kept if item is not None]


def context_items(store: ResponseStore, record: StoredResponse, provider: str) -> list[StoredItem]:
    """The items ``record`` was generated from, oldest first, as stored (ids, origin).

    What its chain said before it (for each earlier turn: its input items, then its output items,
    after the conversation items that preceded the chain's first turn) and then its own input: the
    list ``GET /responses/{id}/input_items`` returns, and the history :func:`chain_items` replays.
    """
    records = [record]
    inputs: dict[str, list[StoredItem]] = {}
    seen = {record.id}
    if isinstance(store, ChainReader):  # the whole chain in one transaction
        if record.previous_response_id is not None:
            earlier, inputs = store.chain(record.previous_response_id)
            for each in earlier:
                if each.id in seen:
                    break
                records.append(each)
                seen.add(each.id)
        inputs[record.id] = store.input_items(record.id) or []
    while (previous := records[-1].previous_response_id) is not None and previous not in seen:
        earlier_record = store.get_response(previous)
        if earlier_record is None:
            raise not_found(
                provider, "response", previous, f"an earlier turn of the chain of {record.id!r} is no longer stored"
            )
        records.append(earlier_record)
        seen.add(previous)
    records.reverse()
    items: list[StoredItem] = []
    first = records[0]
    if first.conversation_id is not None and first.conversation_position is not None:
        items.extend(store.conversation_items(first.conversation_id, before=first.conversation_position) or [])
    for each in records[:-1]:
        items.extend(inputs[each.id] if each.id in inputs else store.input_items(each.id) or [])
        items.extend(output_items(each))
    items.extend(inputs[record.id] if record.id in inputs else store.input_items(record.id) or [])
    return items


def output_items(record: StoredResponse) -> list[StoredItem]:
    """A stored response's output items, under their own ids, produced by its provider."""
    outputs = cast("list[dict[str, Any]]", record.response.get("output") or [])
    return [StoredItem(item_id(output), output, record.provider) for output in outputs]


def chain_items(store: ResponseStore, record: StoredResponse, target: str) -> list[dict[str, Any]]:
    """Every item of the chain ending at ``record`` (its output included), ready to replay to ``target``."""
    history = [*context_items(store, record, target), *output_items(record)]
    return _portable_all([(stored.item, stored.provider) for stored in history], target)


@dataclass(slots=True)
class Recorder:
    """What to write, and what to set on the response, once a turn's final response is known."""

    store: ResponseStore
    provider: str
    native: bool
    keep: bool
    """``store`` was not false: record the response."""
    input_items: list[dict[str, Any]]
    previous_response_id: str | None = None
    conversation_id: str | None = None
    """An emulated conversation: the turn's items are appended to it."""
    conversation_position: int | None = None
    rebuilt: bool = False
    """The chain of ``previous_response_id`` was rebuilt from the store and sent as input items."""
    response_id: str | None = None
    """The id the caller gave the response in advance (see :meth:`rename`); ``None``: the provider's."""
    claim: OwnerClaim | None = None
    """An owner to record with the turn, in its transaction (the gateway's; see :class:`OwnerClaim`)."""

    def rename(self, response_id: str) -> None:
        """Give the response ``response_id``: every lifecycle response and the record carry it. The provider
        never saw that id, so the record is not native: the next turn's chain is rebuilt from the store."""
        self.response_id = response_id
        self.native = False

    def patch_response(self, response: Response) -> None:
        """Say on the response what the caller asked for, though the provider was sent it as items."""
        if self.response_id is not None:
            response.id = self.response_id
        if self.rebuilt:
            response.previous_response_id = self.previous_response_id
        if self.conversation_id is not None:
            from polyresponses.types import ResponseConversation

            response.conversation = ResponseConversation(id=self.conversation_id)

    @property
    def deferred(self) -> bool:
        """The record is a mirror of what the provider keeps, so it may be batched (:func:`_store.defer`).

        Where the store is the one copy (a stateless provider, an emulated conversation) the turn is
        written before the response is handed back.
        """
        return self.native and self.conversation_id is None

    async def arecord(self, response: Response, raw: bytes | None = None) -> None:
        """:meth:`record` for the async shells: a mirror is queued at once; a write the store must hold (it
        may wait for another process's transaction) runs in a worker thread, never on the event loop."""
        if self.deferred:
            self.record(response, raw)
        else:
            await asyncio.to_thread(self.record, response, raw)

    def record(self, response: Response, raw: bytes | None = None) -> None:
        """Record the turn; responses that failed or are still running are not kept.

        ``raw``: the provider's reply when it is this very ``Response`` in JSON (a non-streamed
        Responses-dialect reply that nothing was patched into): stored as it came, not re-dumped.
        """
        if response.status not in ("completed", "incomplete"):
            return
        inputs = [StoredItem(item_id(item), item) for item in self.input_items]
        appended: list[StoredItem] = []
        if raw is not None and not self.rebuilt and self.conversation_id is None and self.response_id is None:
            body = raw.decode()  # the reply is this response, nothing patched into it: keep it verbatim
        else:
            from polyresponses.router._wire import to_wire

            data = to_wire(response)
            body = dumps(data)  # the store's own spelling (a lone surrogate in a cut stream is escaped)
            if self.conversation_id is not None:
                outputs = cast("list[dict[str, Any]]", data["output"])
                appended = [*inputs, *(StoredItem(item_id(item), item, self.provider) for item in outputs)]
        if not self.keep:  # only an emulated conversation has a recorder without store
            if self.conversation_id is not None:
                self.store.add_conversation_items(self.conversation_id, appended)
            return
        record = StoredResponse(
            response.id,
            self.provider,
            self.native,
            body,
            created_at=int(response.created_at or time.time()),
            previous_response_id=self.previous_response_id,
            conversation_id=self.conversation_id,
            conversation_position=self.conversation_position,
            claim=self.claim,
        )
        if self.deferred:
            defer(self.store, record, inputs)
        elif not self.store.save_response(record, inputs, appended):  # the conversation was deleted meanwhile
            self.store.save_response(replace(record, conversation_id=None, conversation_position=None), inputs)


@dataclass(slots=True)
class StatePlan:
    """The request body as the dialect must see it, and the recorder for its reply (if any)."""

    body: dict[str, Any]
    recorder: Recorder | None


def _conversation_id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    ident = cast("Mapping[str, Any]", value).get("id")
    return ident if isinstance(ident, str) else None


def prepare(store: ResponseStore | None, provider: Provider, body: dict[str, Any]) -> StatePlan:
    """Resolve ``previous_response_id`` and ``conversation`` for ``provider`` and plan the recording.

    Raises :class:`NotFoundError` before the network when a stateless provider is pointed at a
    response or conversation the store does not hold.
    """
    if store is None:
        return StatePlan(body, None)  # local state is off: the capability check refused what needs it
    if "previous_response_id" in body or "conversation" in body:
        flush(store)  # this process reads its own deferred writes
    name, native = provider.name, provider.capabilities.stored_state
    previous = body.get("previous_response_id")
    conversation = _conversation_id(body.get("conversation"))
    if previous is not None and conversation is not None:
        raise InvalidRequestError(name, "previous_response_id", "cannot be combined with conversation")
    new_items = as_items(body.get("input"))
    out = dict(body)
    history: list[dict[str, Any]] = []
    recorder = Recorder(store, name, native, keep=body.get("store") is not False, input_items=new_items)
    if previous is not None:
        recorder.previous_response_id = previous
        record = store.get_response(previous)
        if record is None and not native:
            raise not_found(name, "response", previous)
        if record is not None and not (native and record.native and record.provider == name):
            history = chain_items(store, record, name)
            del out["previous_response_id"]
            recorder.rebuilt = True
    if conversation is not None:
        stored = store.conversation_items(conversation)
        if stored is None and not native:
            raise not_found(name, "conversation", conversation)
        if stored is not None:
            history = _portable_all([(item.item, item.provider) for item in stored], name)
            del out["conversation"]
            recorder.conversation_id = conversation
            recorder.conversation_position = stored[-1].position + 1 if stored else 0
    if history:
        out["input"] = [*history, *new_items]
    if not native:
        out.pop("store", None)  # the provider has no such field; it is ours to honour
    if not recorder.keep and recorder.conversation_id is None:
        return StatePlan(out, None)
    return StatePlan(out, recorder)
