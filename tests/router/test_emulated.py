"""retrieve/delete/input_items and the Conversations API from the store (``router/_emulated.py``).

Anthropic keeps nothing, so every one of these is answered from the client's store, with the
spec's shapes, cursor pagination and 404s; OpenAI has the routes, so its calls go to the wire.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from polyresponses import AsyncClient, Client, InvalidRequestError, MemoryStore, NotFoundError, UnsupportedFeatureError
from polyresponses.types import ConversationItemList, ConversationResource, ResponseItemList
from tests._recorded import exchanges

if TYPE_CHECKING:
    from polyresponses.generated.openai_params import EasyInputMessageParam

_TEXT_REPLY = next(
    e.response_json
    for e in exchanges("anthropic_messages")
    if e.cassette == "text__test_anthropic_model_instructions.yaml"
)


class _Anthropic:
    """Answers every Messages call with the recorded text reply under a fresh id; keeps the bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json={**_TEXT_REPLY, "id": f"msg_{len(self.bodies)}"})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self(request)


@pytest.fixture
def server() -> _Anthropic:
    return _Anthropic()


@pytest.fixture
def client(server: _Anthropic) -> Iterator[Client]:
    with Client("anthropic", api_key="k", transport=httpx.MockTransport(server), store=MemoryStore()) as made:
        yield made


@pytest.fixture
async def aclient(server: _Anthropic) -> AsyncIterator[AsyncClient]:
    transport = httpx.MockTransport(server.handle_async)
    async with AsyncClient("anthropic", api_key="k", transport=transport, store=MemoryStore()) as made:
        yield made


def _id(item: Any) -> str:
    ident = item.id
    assert isinstance(ident, str)
    return ident


def _ids(page: ResponseItemList | ConversationItemList) -> list[str]:
    return [_id(item) for item in page.data]


# ------------------------------------------------------------------------------------ responses


def test_a_stored_response_is_retrieved_listed_and_deleted(client: Client) -> None:
    five: list[EasyInputMessageParam] = [{"role": "user", "content": f"m{n}"} for n in range(5)]
    response = client.responses.create(model="claude", input=five, instructions="Be brief.")
    assert client.responses.retrieve(response.id) == response
    assert client.responses.retrieve(response.id).instructions == "Be brief."

    everything = client.responses.input_items.list(response.id, order="asc")
    assert [item.model_dump()["content"][0]["text"] for item in everything.data] == ["m0", "m1", "m2", "m3", "m4"]
    assert all(item.type == "message" and item.status == "completed" for item in everything.data)
    ids = _ids(everything)
    newest = client.responses.input_items.list(response.id, limit=2)  # the spec's default order is desc
    assert (_ids(newest), newest.has_more, newest.first_id, newest.last_id) == (ids[:2:-1][:2], True, ids[4], ids[3])
    rest = client.responses.input_items.list(response.id, limit=2, after=newest.last_id)
    assert (_ids(rest), rest.has_more) == ([ids[2], ids[1]], True)
    last = client.responses.input_items.list(response.id, limit=2, after=rest.last_id)
    assert (_ids(last), last.has_more) == ([ids[0]], False)

    client.responses.delete(response.id)
    with pytest.raises(NotFoundError, match=f"no response '{response.id}'"):
        client.responses.retrieve(response.id)
    with pytest.raises(NotFoundError):
        client.responses.input_items.list(response.id)
    with pytest.raises(NotFoundError):
        client.responses.delete(response.id)


def test_input_items_of_a_chained_turn_list_the_whole_context(client: Client) -> None:
    """As on OpenAI: the items the model was given, earlier turns' inputs and outputs included."""
    first = client.responses.create(model="claude", input="one")
    second = client.responses.create(model="claude", input="two", previous_response_id=first.id)
    context = client.responses.input_items.list(second.id, order="asc")
    assert [(item.type, item.role) for item in context.data] == [  # type: ignore[union-attr]
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
    ]
    assert _id(context.data[1]) == _id(first.output[0])
    newest = client.responses.input_items.list(second.id, limit=1)
    older = client.responses.input_items.list(second.id, limit=5, after=newest.last_id)
    assert _ids(newest) + _ids(older) == _ids(context)[::-1]
    client.responses.delete(first.id)  # a broken chain says which link is gone
    with pytest.raises(NotFoundError, match=f"no response '{first.id}': an earlier turn of the chain"):
        client.responses.input_items.list(second.id)


def test_limits_outside_the_spec_are_refused(client: Client) -> None:
    response = client.responses.create(model="claude", input="hi")
    for limit in (0, 101):
        with pytest.raises(InvalidRequestError, match="limit: must be an integer from 1 to 100"):
            client.responses.input_items.list(response.id, limit=limit)


def test_without_a_store_the_routes_are_unsupported(server: _Anthropic) -> None:
    with Client("anthropic", api_key="k", transport=httpx.MockTransport(server), store=False) as client:
        with pytest.raises(UnsupportedFeatureError, match="responses.retrieve"):
            client.responses.retrieve("resp_1")
        with pytest.raises(UnsupportedFeatureError, match="responses.conversations"):
            client.conversations.create()


@pytest.mark.anyio
async def test_async_retrieve_list_delete(aclient: AsyncClient) -> None:
    response = await aclient.responses.create(model="claude", input="hi")
    assert (await aclient.responses.retrieve(response.id)).output_text == "The capital of France is Paris."
    page = await aclient.responses.input_items.list(response.id)
    assert [item.type for item in page.data] == ["message"]
    await aclient.responses.delete(response.id)
    with pytest.raises(NotFoundError):
        await aclient.responses.retrieve(response.id)


# -------------------------------------------------------------------------------- conversations


def test_a_conversation_collects_each_turn_and_feeds_the_next(client: Client, server: _Anthropic) -> None:
    conversation = client.conversations.create(
        items=[{"role": "user", "content": "My name is Ada."}], metadata={"topic": "names"}
    )
    assert isinstance(conversation, ConversationResource) and conversation.id.startswith("conv_")
    first = client.responses.create(model="claude", input="Hi!", conversation=conversation.id)
    assert first.conversation is not None and first.conversation.id == conversation.id
    second = client.responses.create(model="claude", input="What is my name?", conversation={"id": conversation.id})
    assert second.conversation is not None and second.conversation.id == conversation.id

    # The second request saw the seed item, the first turn and its answer (consecutive user turns merge).
    assert server.bodies[1]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "My name is Ada."}, {"type": "text", "text": "Hi!"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "The capital of France is Paris."}]},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [item.type for item in items.data] == ["message"] * 5
    assert [item.role for item in items.data] == ["user", "user", "assistant", "user", "assistant"]  # type: ignore[union-attr]

    one = client.conversations.items.retrieve(conversation.id, _id(items.data[2]))
    assert _id(one) == _id(items.data[2])
    added = client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "PS"}])
    assert len(added.data) == 1 and added.has_more is False
    client.conversations.items.delete(conversation.id, _id(items.data[0]))
    assert len(client.conversations.items.list(conversation.id).data) == 5
    with pytest.raises(NotFoundError, match="has no such item"):
        client.conversations.items.retrieve(conversation.id, _id(items.data[0]))

    assert client.conversations.update(conversation.id, metadata={"topic": "x"}).metadata == {"topic": "x"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "x"}
    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (conversation.id, True, "conversation.deleted")
    with pytest.raises(NotFoundError, match=f"no conversation '{conversation.id}'"):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(NotFoundError):
        client.responses.create(model="claude", input="hi", conversation=conversation.id)
    assert client.responses.retrieve(second.id).id == second.id  # responses outlive their conversation


def test_conversation_items_are_validated(client: Client) -> None:
    with pytest.raises(InvalidRequestError, match="items"):
        client.conversations.create(items=[{"role": "robot", "content": "x"}])  # type: ignore[list-item]  # invalid on purpose
    conversation = client.conversations.create()
    with pytest.raises(InvalidRequestError, match="items"):
        client.conversations.items.create(
            conversation.id, items=[{"role": "user", "content": str(n)} for n in range(21)]
        )


@pytest.mark.anyio
async def test_async_conversations(aclient: AsyncClient) -> None:
    conversation = await aclient.conversations.create(metadata={"a": "b"})
    await aclient.responses.create(model="claude", input="Hi!", conversation=conversation.id)
    page = await aclient.conversations.items.list(conversation.id, limit=1)
    assert page.has_more is True and [item.role for item in page.data] == ["assistant"]  # type: ignore[union-attr]
    assert (await aclient.conversations.retrieve(conversation.id)).metadata == {"a": "b"}
    await aclient.conversations.update(conversation.id, metadata={})
    item = await aclient.conversations.items.retrieve(conversation.id, page.first_id)
    assert item.id == page.first_id
    await aclient.conversations.items.delete(conversation.id, page.first_id)
    await aclient.conversations.items.create(conversation.id, items=[{"role": "user", "content": "x"}])
    assert (await aclient.conversations.delete(conversation.id)).deleted


# ------------------------------------------------------------------------------ OpenAI: the wire


def test_openai_conversations_go_to_its_routes() -> None:
    seen: list[tuple[str, str, Any]] = []
    resource = {"id": "conv_1", "object": "conversation", "metadata": {}, "created_at": 1}
    item = {"id": "msg_1", "type": "message", "role": "user", "status": "completed", "content": []}
    listing = {"object": "list", "data": [item], "has_more": False, "first_id": "msg_1", "last_id": "msg_1"}

    def openai(request: httpx.Request) -> httpx.Response:
        seen.append(
            (
                request.method,
                request.url.path + ("?" + request.url.query.decode() if request.url.query else ""),
                json.loads(request.content) if request.content else None,
            )
        )
        path = request.url.path
        if path.endswith("/items/msg_1") and request.method == "GET":
            return httpx.Response(200, json=item)
        if path.endswith("/items"):
            return httpx.Response(200, json=listing)
        if request.method == "DELETE" and path.endswith("conv_1"):
            return httpx.Response(200, json={"id": "conv_1", "object": "conversation.deleted", "deleted": True})
        return httpx.Response(200, json=resource)

    with Client("openai", api_key="k", transport=httpx.MockTransport(openai), store=MemoryStore()) as client:
        client.conversations.create(items=[{"role": "user", "content": "hi"}])
        client.conversations.retrieve("conv_1")
        client.conversations.update("conv_1", metadata={"k": "v"})
        client.conversations.items.list("conv_1", limit=5, order="asc")
        client.conversations.items.create("conv_1", items=[{"role": "user", "content": "x"}])
        client.conversations.items.retrieve("conv_1", "msg_1")
        client.conversations.items.delete("conv_1", "msg_1")
        assert client.conversations.delete("conv_1").deleted
    assert seen == [
        ("POST", "/v1/conversations", {"items": [{"role": "user", "content": "hi"}]}),
        ("GET", "/v1/conversations/conv_1", None),
        ("POST", "/v1/conversations/conv_1", {"metadata": {"k": "v"}}),
        ("GET", "/v1/conversations/conv_1/items?limit=5&order=asc", None),
        ("POST", "/v1/conversations/conv_1/items", {"items": [{"role": "user", "content": "x"}]}),
        ("GET", "/v1/conversations/conv_1/items/msg_1", None),
        ("DELETE", "/v1/conversations/conv_1/items/msg_1", None),
        ("DELETE", "/v1/conversations/conv_1", None),
    ]
