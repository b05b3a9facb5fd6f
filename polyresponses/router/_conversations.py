"""The Conversations API shells of ``Client`` and ``AsyncClient`` (``client.conversations``).

Each call is decided once in ``_client._Base`` (the store, or the provider's route) and run here by
the sync or the async shell, exactly like ``client.responses``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from polyresponses.router._client import AsyncClient, Client
    from polyresponses.router._params import IncludeValue, InputItemLike
    from polyresponses.types import (
        ConversationItem,
        ConversationItemList,
        ConversationResource,
        DeletedConversationResource,
    )

__all__ = ["AsyncConversationItems", "AsyncConversations", "ConversationItems", "Conversations"]


class Conversations:
    """``client.conversations``: the Conversations API, at the provider or emulated over the response store.

    A provider with the routes (OpenAI) keeps its conversations; for any other, conversations live in
    the client's response store and ``conversation=`` on ``responses.create`` reads and extends them.
    A conversation the store holds is always answered from the store, whichever client asks.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self.items = ConversationItems(client)

    def create(
        self, *, items: Sequence[InputItemLike] | None = None, metadata: Mapping[str, str] | None = None
    ) -> ConversationResource:
        """``POST /conversations`` (up to 20 initial items)."""
        return self._client._run(self._client._create_conversation(items, metadata))

    def retrieve(self, conversation_id: str) -> ConversationResource:
        """``GET /conversations/{id}``."""
        return self._client._run(self._client._retrieve_conversation(conversation_id))

    def update(self, conversation_id: str, *, metadata: Mapping[str, str]) -> ConversationResource:
        """``POST /conversations/{id}``: replace the metadata."""
        return self._client._run(self._client._update_conversation(conversation_id, metadata))

    def delete(self, conversation_id: str) -> DeletedConversationResource:
        """``DELETE /conversations/{id}`` (its items go with it; responses made in it stay)."""
        return self._client._run(self._client._delete_conversation(conversation_id))


class ConversationItems:
    """``client.conversations.items``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        conversation_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        include: list[str] | None = None,
    ) -> ConversationItemList:
        """``GET /conversations/{id}/items``: one page (``order`` defaults to ``desc``, ``limit`` to 20)."""
        return self._client._run(self._client._list_items(conversation_id, after, limit, order, include))

    def create(
        self,
        conversation_id: str,
        *,
        items: Sequence[InputItemLike],
        include: builtins.list[IncludeValue] | None = None,
    ) -> ConversationItemList:
        """``POST /conversations/{id}/items`` (up to 20 items)."""
        return self._client._run(self._client._add_items(conversation_id, items, include))

    def retrieve(self, conversation_id: str, item_id: str) -> ConversationItem:
        """``GET /conversations/{id}/items/{item_id}``."""
        return self._client._run(self._client._retrieve_item(conversation_id, item_id))

    def delete(self, conversation_id: str, item_id: str) -> ConversationResource:
        """``DELETE /conversations/{id}/items/{item_id}``; returns the conversation."""
        return self._client._run(self._client._delete_item(conversation_id, item_id))


class AsyncConversations:
    """``async_client.conversations``: the async twin of :class:`Conversations` (store calls in a thread)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.items = AsyncConversationItems(client)

    async def create(
        self, *, items: Sequence[InputItemLike] | None = None, metadata: Mapping[str, str] | None = None
    ) -> ConversationResource:
        """``POST /conversations`` (up to 20 initial items)."""
        return await self._client._run(partial(self._client._create_conversation, items, metadata))

    async def retrieve(self, conversation_id: str) -> ConversationResource:
        """``GET /conversations/{id}``."""
        return await self._client._run(partial(self._client._retrieve_conversation, conversation_id))

    async def update(self, conversation_id: str, *, metadata: Mapping[str, str]) -> ConversationResource:
        """``POST /conversations/{id}``: replace the metadata."""
        return await self._client._run(partial(self._client._update_conversation, conversation_id, metadata))

    async def delete(self, conversation_id: str) -> DeletedConversationResource:
        """``DELETE /conversations/{id}``."""
        return await self._client._run(partial(self._client._delete_conversation, conversation_id))


class AsyncConversationItems:
    """``async_client.conversations.items``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(
        self,
        conversation_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        include: list[str] | None = None,
    ) -> ConversationItemList:
        """``GET /conversations/{id}/items``: one page."""
        return await self._client._run(partial(self._client._list_items, conversation_id, after, limit, order, include))

    async def create(
        self,
        conversation_id: str,
        *,
        items: Sequence[InputItemLike],
        include: builtins.list[IncludeValue] | None = None,
    ) -> ConversationItemList:
        """``POST /conversations/{id}/items``."""
        return await self._client._run(partial(self._client._add_items, conversation_id, items, include))

    async def retrieve(self, conversation_id: str, item_id: str) -> ConversationItem:
        """``GET /conversations/{id}/items/{item_id}``."""
        return await self._client._run(partial(self._client._retrieve_item, conversation_id, item_id))

    async def delete(self, conversation_id: str, item_id: str) -> ConversationResource:
        """``DELETE /conversations/{id}/items/{item_id}``; returns the conversation."""
        return await self._client._run(partial(self._client._delete_item, conversation_id, item_id))
