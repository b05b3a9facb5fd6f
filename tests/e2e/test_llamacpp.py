"""End to end against a real model: llama.cpp's ``llama-server`` serving SmolLM2-135M-Instruct.

A 135M-parameter model writes nonsense, so the assertions are about the protocol, never about the
wording: a completed ``Response``, usage counted, streamed deltas adding up to the final text,
grammar-constrained JSON that validates as the requested type, and a stream closed half-way
leaving the client able to go on. llama-server omits ``sequence_number``/``output_index``/
``content_index`` on its events; the router fills them, which these tests check too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel

import polyresponses
from polyresponses import AsyncClient, Client, ParsedResponse
from polyresponses.types import Response
from tests._services import service_url

_MODEL = "smollm2"


class City(BaseModel):
    name: str
    population: int


@pytest.fixture(scope="module")
def base_url() -> str:
    return service_url("POLYRESPONSES_LLAMACPP_URL", "llama-server (scripts/local-model start)")


@pytest.fixture
def client(base_url: str) -> Iterator[Client]:
    with Client("llamacpp", api_base=base_url, timeout=120) as c:
        yield c


def test_non_streamed(base_url: str) -> None:
    response = polyresponses.responses(
        f"llamacpp:{_MODEL}", "Name a colour.", api_base=base_url, max_output_tokens=16, temperature=0
    )
    assert isinstance(response, Response)
    assert response.status == "completed"
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens > 0
    polyresponses.close_pooled_clients()


def test_streamed_events_add_up_to_the_final_response(client: Client) -> None:
    with client.responses.stream(model=_MODEL, input="Count to five.", max_output_tokens=24, temperature=0) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas and deltas == final.output_text
    assert final.status == "completed"


def test_structured_output_parses_into_the_type(client: Client) -> None:
    parsed = client.responses.parse(
        model=_MODEL,
        input="Give the name and population of the capital of France as JSON.",
        response_format=City,
        max_output_tokens=64,
        temperature=0,
    )
    assert isinstance(parsed, ParsedResponse)
    assert isinstance(parsed.output_parsed, City)


def test_structured_output_while_streaming(client: Client) -> None:
    with client.responses.stream(
        model=_MODEL, input="A city as JSON.", response_format=City, max_output_tokens=64, temperature=0
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert isinstance(final.output_parsed, City)


def test_cancelling_mid_stream_closes_and_the_client_goes_on(client: Client) -> None:
    with client.responses.stream(model=_MODEL, input="Write a long story.", max_output_tokens=200) as stream:
        seen = 0
        for event in stream:
            seen += event.type == "response.output_text.delta"
            if seen == 3:
                break
    assert seen == 3
    after = client.responses.create(model=_MODEL, input="Say yes.", max_output_tokens=16)
    assert after.status == "completed"


@pytest.mark.anyio
async def test_async_stream_and_create(base_url: str) -> None:
    async with AsyncClient("llamacpp", api_base=base_url, timeout=120) as client:
        stream = await client.responses.create(model=_MODEL, input="Name a fruit.", max_output_tokens=16, stream=True)
        async with stream:
            deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
            final = await stream.get_final_response()
        assert "".join(deltas) == final.output_text
        parsed = await client.responses.parse(
            model=_MODEL, input="A city as JSON.", response_format=City, max_output_tokens=64, temperature=0
        )
        assert isinstance(parsed.output_parsed, City)


def test_cli_streams_against_the_real_model(base_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from polyresponses.__main__ import main

    assert (
        main(
            ["Say hello.", "-m", f"llamacpp:{_MODEL}", "--stream", "--api-base", base_url, "--max-output-tokens", "16"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.strip()
    assert "completed" in captured.err and _MODEL in captured.err
    first_id = captured.err.strip().lstrip("[").split()[0]
    follow_up = ["And again?", "-m", f"llamacpp:{_MODEL}", "--api-base", base_url, "--max-output-tokens", "16"]
    assert main([*follow_up, "--previous-response-id", first_id, "--json"]) == 0
    second = Response.model_validate_json(capsys.readouterr().out)
    assert second.previous_response_id == first_id
    polyresponses.close_pooled_clients()


def test_previous_response_id_over_the_responses_endpoint(base_url: str) -> None:
    """llama-server's ``/v1/responses`` keeps no state: the chain, streamed turn included, is replayed as items."""
    sent: list[dict[str, object]] = []

    def keep(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    with (
        httpx.Client(event_hooks={"request": [keep]}, timeout=120) as http,
        Client("llamacpp", api_base=base_url, http_client=http, store=polyresponses.MemoryStore()) as c,
    ):
        with c.responses.stream(model=_MODEL, input="My secret word is PINEAPPLE.", max_output_tokens=32) as stream:
            first = stream.get_final_response()
        second = c.responses.create(
            model=_MODEL, input="What is my secret word?", previous_response_id=first.id, max_output_tokens=32
        )
    assert second.status == "completed" and second.previous_response_id == first.id
    assert "previous_response_id" not in sent[1]
    replayed = sent[1]["input"]
    assert isinstance(replayed, list) and len(replayed) == 3
    assert replayed[0] == {"role": "user", "content": "My secret word is PINEAPPLE."}
    assert replayed[1]["type"] == "message" and replayed[1]["role"] == "assistant"  # llama-server's own item
    assert replayed[2] == {"role": "user", "content": "What is my secret word?"}
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
