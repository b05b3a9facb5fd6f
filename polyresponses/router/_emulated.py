"""The stored-state endpoints answered from the response store, for providers that have none.

``responses.retrieve/delete/input_items.list`` and the Conversations API (create, retrieve, update,
delete; items list, create, retrieve, delete) behave as the Responses API reference says: the same
result types, cursor pagination by item id (``after``, ``limit`` 1-100 defaulting to 20, ``order``
defaulting to ``desc``), a ``NotFoundError`` for an unknown id. Synchronous; the async client runs
these methods in a worker thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from polyresponses.router._errors import InvalidRequestError
from polyresponses.router._providers import Endpoint, Provider
from polyresponses.router._state import context_items, item_id, not_found
from polyresponses.router.dialects.openai_responses import conversation_item_adapter
from polyresponses.store import (
    ResponseStore,
    StoredConversation,
    StoredItem,
    StoredResponse,
    flush,
    paginate,
)

if TYPE_CHECKING:
    from polyresponses.types import (
        ConversationItem,
        ConversationItemList,
        ConversationResource,
        DeletedConversationResource,
        Response,
        ResponseItemList,
    )

__all__ = ["LocalEndpoints", "as_resource"]

_DEFAULT_LIMIT = 20  # Responses API reference: "limit ... between 1 and 100, and the default is 20"


def as_resource(stored: StoredItem) -> dict[str, Any]:
    """A stored item in the shape the list routes return (``ItemResource`` / ``ConversationItem``).

    Items are kept as they were given (a plain ``{"role": "user", "content": "hi"}`` included); a
    listing needs their resource form: an ``id``, a ``type``, a ``status`` and content parts.
    """
    item = {**stored.item, "id": stored.id}
    item.setdefault("type", "message")
    if item["type"] == "message":
        content = item.get("content")
        if isinstance(content, str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [
                {"type": part, "text": content, **({"annotations": []} if part == "output_text" else {})}
            ]
        item.setdefault("status", "completed")
    elif item["type"] in ("function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output"):
        item.setdefault("status", "completed")
    return item


class LocalEndpoints:
    """The emulated endpoints of one client: its store, answering as its provider."""

    def __init__(self, store: ResponseStore, provider: Provider) -> None:
        self._store, self.provider = store, provider

    @property
    def store(self) -> ResponseStore:
        """The store, with this process's deferred writes applied (so every answer sees them)."""
        flush(self._store)
        return self._store

    # responses

    def _answered(self, response_id: str, endpoint: Endpoint) -> StoredResponse | None:
        """The stored record when ``response_id`` is answered here rather than by the provider.

        A response the provider keeps itself goes to the provider's own route when it has one; anything
        else the store holds is answered from the store.
        """
        record = self.store.get_response(response_id)
        if record is None:
            return None
        native = record.native and record.provider == self.provider.name
        return None if native and endpoint in self.provider.capabilities.endpoints else record

    def try_retrieve(self, response_id: str) -> Response | None:
        """The stored response when it is answered here, else ``None`` (ask the provider)."""
        from polyresponses.router._response import finalise
        from polyresponses.types import Response

        record = self._answered(response_id, "retrieve")
        return None if record is None else finalise(Response.model_validate_json(record.body))

    def try_delete(self, response_id: str) -> bool:
        """Delete here when the response is answered here; whether it was."""
        return self._answered(response_id, "delete") is not None and self.delete(response_id)

    def delete(self, response_id: str) -> bool:
        """Delete from the store (also after the provider deleted its copy); whether it was there."""
        return self.store.delete_response(response_id)

    def try_input_items(
        self, response_id: str, *, after: str | None, limit: int | None, order: Literal["asc", "desc"] | None
    ) -> ResponseItemList | None:
        """A page of what the model was given, when answered here (as OpenAI lists it: the chain's earlier
        items, then this turn's); ``None`` to ask the provider."""
        from polyresponses.types import ResponseItemList

        limit = self._limit(limit)
        record = self._answered(response_id, "input_items")
        if record is None:
            return None
        context = context_items(self.store, record, self.provider.name)
        return ResponseItemList.model_validate(
            _list(*paginate(context, after=after, limit=limit, order=order or "desc"))
        )

    # conversations

    def create_conversation(self, body: Mapping[str, Any]) -> ConversationResource:
        """``body``: a validated ``CreateConversationBody``."""
        conversation = StoredConversation(f"conv_{uuid.uuid4().hex}", dict(body.get("metadata") or {}))
        given = cast("list[dict[str, Any]]", body.get("items") or [])
        self.store.create_conversation(conversation, [StoredItem(item_id(item), item) for item in given])
        return _conversation(conversation)

    def retrieve_conversation(self, conversation_id: str) -> ConversationResource:
        return _conversation(self._conversation(conversation_id))

    def update_conversation(self, conversation_id: str, body: Mapping[str, Any]) -> ConversationResource:
        """``body``: a validated ``UpdateConversationBody``."""
        updated = self.store.update_conversation(conversation_id, body.get("metadata") or {})
        if updated is None:
            raise not_found(self.provider.name, "conversation", conversation_id)
        return _conversation(updated)

    def delete_conversation(self, conversation_id: str) -> DeletedConversationResource:
        from polyresponses.types import DeletedConversationResource

        if not self.store.delete_conversation(conversation_id):
            raise not_found(self.provider.name, "conversation", conversation_id)
        return DeletedConversationResource(object="conversation.deleted", deleted=True, id=conversation_id)

    def has_conversation(self, conversation_id: str) -> bool:
        return self.store.get_conversation(conversation_id) is not None

    def list_items(
        self, conversation_id: str, *, after: str | None, limit: int | None, order: Literal["asc", "desc"] | None
    ) -> ConversationItemList:
        from polyresponses.types import ConversationItemList

        page = self.store.page(conversation_id, after=after, limit=self._limit(limit), order=order or "desc")
        if page is None or self.store.get_conversation(conversation_id) is None:
            raise not_found(self.provider.name, "conversation", conversation_id)
        return ConversationItemList.model_validate(_list(*page))

    def add_items(self, conversation_id: str, body: Mapping[str, Any]) -> ConversationItemList:
        """``body``: validated ``{"items": [...]}``."""
        from polyresponses.types import ConversationItemList

        given = cast("list[dict[str, Any]]", body.get("items") or [])
        if not given:
            raise InvalidRequestError(self.provider.name, "items", "give at least one item")
        added = self.store.add_conversation_items(conversation_id, [StoredItem(item_id(item), item) for item in given])
        if added is None:
            raise not_found(self.provider.name, "conversation", conversation_id)
        return ConversationItemList.model_validate(_list(added, False))

    def retrieve_item(self, conversation_id: str, item: str) -> ConversationItem:
        self._conversation(conversation_id)
        stored = self.store.get_item(conversation_id, item)
        if stored is None:
            raise not_found(self.provider.name, "item", item, f"conversation {conversation_id!r} has no such item")
        return conversation_item_adapter().validate_python(as_resource(stored))

    def delete_item(self, conversation_id: str, item: str) -> ConversationResource:
        conversation = self._conversation(conversation_id)
        if not self.store.delete_conversation_item(conversation_id, item):
            raise not_found(self.provider.name, "item", item, f"conversation {conversation_id!r} has no such item")
        return _conversation(conversation)

    # helpers

    def _conversation(self, conversation_id: str) -> StoredConversation:
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise not_found(self.provider.name, "conversation", conversation_id)
        return conversation

    def _limit(self, limit: int | None) -> int:
        if limit is None:
            return _DEFAULT_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidRequestError(self.provider.name, "limit", f"must be an integer from 1 to 100, got {limit!r}")
        return limit


def _conversation(conversation: StoredConversation) -> ConversationResource:
    from polyresponses.types import ConversationResource

    return ConversationResource(
        id=conversation.id, object="conversation", metadata=conversation.metadata, created_at=conversation.created_at
    )


def _list(items: Sequence[StoredItem], has_more: bool) -> dict[str, Any]:
    """The spec's list envelope; an empty page has empty ``first_id``/``last_id`` (they are required strings)."""
    data = [as_resource(item) for item in items]
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else "",
        "last_id": data[-1]["id"] if data else "",
    }
