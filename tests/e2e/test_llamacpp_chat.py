"""End to end over the Chat Completions dialect: llama-server's ``/v1/chat/completions`` with SmolLM2-135M.

The same real model as ``test_llamacpp.py``, reached through ``dialect="chat_completions"``: the
router builds a chat request and turns the chat reply (whole or streamed chunks) into the Responses
API's ``Response`` and event lifecycle. Assertions are about the protocol, never the wording: a
completed response with usage, a stream from ``response.created`` to its terminal event whose deltas
add up to the final text, grammar-constrained JSON parsed into a type, ``finish_reason: length``
as ``incomplete``/``max_output_tokens``, and a second turn carrying the first turn's output.

Every stream also goes through ``polyresponses.testing.assert_conformant``.
An httpx request hook on an injected client checks each call really went to ``/chat/completions``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel

import polyresponses
from polyresponses import AsyncClient, Client, ParsedResponse
from polyresponses.router._response import output_text_of
from polyresponses.testing import assert_conformant
from polyresponses.types import Response, ResponseStreamEvent
from tests._services import service_url

_MODEL = "smollm2"
_CHAT: Literal["chat_completions"] = "chat_completions"
_SHORT = "Name a fruit."
"""SmolLM2 answers this in about ten tokens at temperature 0, well within the limits below."""
_LONG = "Write a long story about a dragon and a knight."
_ROOM = 128
"""``max_output_tokens`` for replies meant to complete."""
_TIGHT = 16
"""``max_output_tokens`` for replies meant to be cut off: 16 is the smallest the Responses spec allows."""


class City(BaseModel):
    name: str
    population: int


class _Recorder:
    """Path and JSON body of each request an injected httpx client sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append((request.url.path, json.loads(request.content) if request.content else {}))

    async def record_async(self, request: httpx.Request) -> None:
        self(request)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        assert {path for path, _ in self.requests} == {"/v1/chat/completions"}, self.requests
        return [body for _, body in self.requests]

    @property
    def second_turn(self) -> dict[str, Any]:
        """The body of the second turn. A busy server may have had a turn retried (the router retries
        a 503 or a dropped connection): retries must send exactly the same body."""
        first, *second = self.bodies
        assert second and all(body == second[0] for body in second), self.requests
        assert first != second[0]
        return second[0]


def _conformant(events: Sequence[ResponseStreamEvent]) -> None:
    """The lifecycle checks every stream gets here, plus the shared conformance checker."""
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"], types[:2]
    assert types[-1] in ("response.completed", "response.incomplete"), types[-1]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert_conformant(events)


def _text_deltas(events: Sequence[ResponseStreamEvent]) -> str:
    return "".join(event.delta for event in events if event.type == "response.output_text.delta")


def _assert_completed(response: Response) -> None:
    assert response.status == "completed", (response.status, response.incomplete_details)
    assert response.incomplete_details is None
    assert response.output_text and response.output_text.strip()
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def _assert_cut_off(response: Response) -> None:
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens == _TIGHT


@pytest.fixture(scope="module")
def base_url() -> str:
    return service_url("POLYRESPONSES_LLAMACPP_URL", "llama-server (scripts/local-model start)")


@pytest.fixture
def recorder() -> _Recorder:
    return _Recorder()


@pytest.fixture
def client(base_url: str, recorder: _Recorder) -> Iterator[Client]:
    with (
        httpx.Client(event_hooks={"request": [recorder]}, timeout=120) as http,
        Client("llamacpp", api_base=base_url, http_client=http, dialect=_CHAT) as c,
    ):
        yield c


@pytest.fixture
async def aclient(base_url: str, recorder: _Recorder) -> AsyncIterator[AsyncClient]:
    async with (
        httpx.AsyncClient(event_hooks={"request": [recorder.record_async]}, timeout=120) as http,
        AsyncClient("llamacpp", api_base=base_url, http_client=http, dialect=_CHAT) as c,
    ):
        yield c


# ------------------------------------------------------------------------------------------ whole replies


def test_module_level_non_streamed(base_url: str) -> None:
    response = polyresponses.responses(
        f"llamacpp:{_MODEL}", _SHORT, api_base=base_url, dialect=_CHAT, max_output_tokens=_ROOM, temperature=0
    )
    assert isinstance(response, Response)
    _assert_completed(response)
    assert response.output[0].type == "message"
    polyresponses.close_pooled_clients()


@pytest.mark.anyio
async def test_module_level_async_non_streamed(base_url: str) -> None:
    response = await polyresponses.aresponses(
        f"llamacpp:{_MODEL}", _SHORT, api_base=base_url, dialect=_CHAT, max_output_tokens=_ROOM, temperature=0
    )
    assert isinstance(response, Response)
    _assert_completed(response)


def test_client_non_streamed_sends_a_chat_request(client: Client, recorder: _Recorder) -> None:
    response = client.responses.create(
        model=_MODEL, input=_SHORT, instructions="Answer briefly.", max_output_tokens=_ROOM, temperature=0
    )
    _assert_completed(response)
    (body,) = recorder.bodies
    assert body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": _SHORT},
    ]
    assert body["max_tokens"] == _ROOM and "stream" not in body


# ---------------------------------------------------------------------------------------------- streams


def test_module_level_stream(base_url: str) -> None:
    stream = polyresponses.responses(
        f"llamacpp:{_MODEL}",
        _SHORT,
        api_base=base_url,
        dialect=_CHAT,
        stream=True,
        max_output_tokens=_ROOM,
        temperature=0,
    )
    with stream:
        events = list(stream)
        final = stream.get_final_response()
    _conformant(events)
    assert events[-1].type == "response.completed"
    assert _text_deltas(events) == final.output_text
    _assert_completed(final)
    polyresponses.close_pooled_clients()


def test_streamed_events_add_up_to_the_final_response(client: Client, recorder: _Recorder) -> None:
    with client.responses.stream(model=_MODEL, input=_SHORT, max_output_tokens=_ROOM, temperature=0) as stream:
        events = list(stream)
        final = stream.get_final_response()
    _conformant(events)
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    deltas = _text_deltas(events)
    assert deltas and deltas == final.output_text
    _assert_completed(final)  # usage from the last chunk (stream_options.include_usage)
    completed = events[-1]  # its response is the final one, but as the events carry it: output_text unfilled
    assert completed.type == "response.completed" and output_text_of(completed.response.output) == deltas
    assert completed.response.usage == final.usage
    (body,) = recorder.bodies
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.anyio
async def test_async_streamed_events_add_up(aclient: AsyncClient, recorder: _Recorder) -> None:
    stream = await aclient.responses.create(
        model=_MODEL, input=_SHORT, max_output_tokens=_ROOM, temperature=0, stream=True
    )
    async with stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    _conformant(events)
    assert events[-1].type == "response.completed"
    assert _text_deltas(events) == final.output_text
    _assert_completed(final)
    assert recorder.bodies[0]["stream"] is True


# ------------------------------------------------------------------------------------ structured output


def test_structured_output_parses_into_the_type(client: Client, recorder: _Recorder) -> None:
    parsed = client.responses.parse(
        model=_MODEL,
        input="Give the name and population of the capital of France as JSON.",
        response_format=City,
        max_output_tokens=64,
        temperature=0,
    )
    assert isinstance(parsed, ParsedResponse)
    assert isinstance(parsed.output_parsed, City)
    response_format = recorder.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["name"] == "City"


def test_structured_output_while_streaming(client: Client) -> None:
    with client.responses.stream(
        model=_MODEL, input="A city as JSON.", response_format=City, max_output_tokens=64, temperature=0
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    _conformant(events)
    assert isinstance(final.output_parsed, City)


@pytest.mark.anyio
async def test_async_structured_output(aclient: AsyncClient) -> None:
    parsed = await aclient.responses.parse(
        model=_MODEL, input="A city as JSON.", response_format=City, max_output_tokens=64, temperature=0
    )
    assert isinstance(parsed.output_parsed, City)


# ------------------------------------------------------------------------------------- cut off by length


def test_max_output_tokens_makes_it_incomplete(client: Client, recorder: _Recorder) -> None:
    response = client.responses.create(model=_MODEL, input=_LONG, max_output_tokens=_TIGHT, temperature=0)
    _assert_cut_off(response)
    assert response.output[0].type == "message" and response.output[0].status == "incomplete"
    assert recorder.bodies[0]["max_tokens"] == _TIGHT


def test_max_output_tokens_while_streaming(client: Client) -> None:
    with client.responses.stream(model=_MODEL, input=_LONG, max_output_tokens=_TIGHT, temperature=0) as stream:
        events = list(stream)
        final = stream.get_final_response()
    _conformant(events)
    assert events[-1].type == "response.incomplete"
    assert _text_deltas(events) == final.output_text
    _assert_cut_off(final)


@pytest.mark.anyio
async def test_async_max_output_tokens(aclient: AsyncClient) -> None:
    response = await aclient.responses.create(model=_MODEL, input=_LONG, max_output_tokens=_TIGHT, temperature=0)
    _assert_cut_off(response)
    stream = await aclient.responses.create(
        model=_MODEL, input=_LONG, max_output_tokens=_TIGHT, temperature=0, stream=True
    )
    async with stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    _conformant(events)
    assert events[-1].type == "response.incomplete"
    _assert_cut_off(final)


# ------------------------------------------------------------------------------------------- two turns


def _second_turn_input(first: Response) -> list[Any]:
    return [{"role": "user", "content": _SHORT}, *first.output, {"role": "user", "content": "What colour is it?"}]


def _assert_history_sent(body: dict[str, Any], first: Response) -> None:
    assert body["messages"] == [
        {"role": "user", "content": _SHORT},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "What colour is it?"},
    ]


def test_multi_turn_replays_the_first_turn(client: Client, recorder: _Recorder) -> None:
    first = client.responses.create(model=_MODEL, input=_SHORT, max_output_tokens=_ROOM, temperature=0)
    _assert_completed(first)
    second = client.responses.create(
        model=_MODEL, input=_second_turn_input(first), max_output_tokens=_ROOM, temperature=0
    )
    assert second.output_text
    body = recorder.second_turn
    _assert_history_sent(body, first)
    # The model really saw the longer conversation: more prompt tokens than the first turn.
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens


@pytest.mark.anyio
async def test_async_multi_turn_streamed_second_turn(aclient: AsyncClient, recorder: _Recorder) -> None:
    first = await aclient.responses.create(model=_MODEL, input=_SHORT, max_output_tokens=_ROOM, temperature=0)
    _assert_completed(first)
    stream = await aclient.responses.create(
        model=_MODEL, input=_second_turn_input(first), max_output_tokens=_ROOM, temperature=0, stream=True
    )
    async with stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    _conformant(events)
    assert final.output_text == _text_deltas(events)
    body = recorder.second_turn
    _assert_history_sent(body, first)


# --------------------------------------------------------------------------- state, emulated


def test_previous_response_id_carries_the_first_turn(base_url: str, recorder: _Recorder) -> None:
    """llama-server keeps nothing: turn 2 by ``previous_response_id`` is rebuilt from the store."""
    with (
        httpx.Client(event_hooks={"request": [recorder]}, timeout=120) as http,
        Client("llamacpp", api_base=base_url, http_client=http, dialect=_CHAT, store=polyresponses.MemoryStore()) as c,
    ):
        secret = "My secret word is PINEAPPLE."
        first = c.responses.create(model=_MODEL, input=secret, max_output_tokens=_ROOM, temperature=0)
        _assert_completed(first)
        question = "What did I just say? Repeat my secret word."
        second = c.responses.create(
            model=_MODEL, input=question, previous_response_id=first.id, max_output_tokens=_ROOM, temperature=0
        )
        assert second.previous_response_id == first.id
        assert second.status == "completed" and second.output_text
        body = recorder.second_turn
        assert body["messages"] == [
            {"role": "user", "content": secret},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": question},
        ]
        # The model was given the longer context: its prompt grew by at least the first exchange.
        assert second.usage is not None and first.usage is not None
        assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
        items = c.responses.input_items.list(second.id, order="asc")  # the whole context the model was given
        assert [item.role for item in items.data] == ["user", "assistant", "user"]  # type: ignore[union-attr]
        assert c.responses.retrieve(first.id).output_text == first.output_text


@pytest.mark.anyio
async def test_async_conversation_over_the_real_model(base_url: str, recorder: _Recorder) -> None:
    async with (
        httpx.AsyncClient(event_hooks={"request": [recorder.record_async]}, timeout=120) as http,
        AsyncClient(
            "llamacpp", api_base=base_url, http_client=http, dialect=_CHAT, store=polyresponses.MemoryStore()
        ) as c,
    ):
        conversation = await c.conversations.create(items=[{"role": "user", "content": "My name is Ada."}])
        stream = await c.responses.create(
            model=_MODEL,
            input="Hello!",
            conversation=conversation.id,
            max_output_tokens=_ROOM,
            temperature=0,
            stream=True,
        )
        async with stream:
            events = [event async for event in stream]
        _conformant(events)
        await c.responses.create(
            model=_MODEL, input="What is my name?", conversation=conversation.id, max_output_tokens=_ROOM, temperature=0
        )
        body = recorder.second_turn
        roles = [message["role"] for message in body["messages"]]
        assert roles == ["user", "user", "assistant", "user"]
        assert body["messages"][0]["content"] == "My name is Ada."
        listed = await c.conversations.items.list(conversation.id, order="asc")
        assert [item.role for item in listed.data] == ["user", "user", "assistant", "user", "assistant"]  # type: ignore[union-attr]
