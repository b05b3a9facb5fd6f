"""The gateway over a real model: llama-server (SmolLM2) behind ``polyresponses serve``, driven by openai-python.

Both of llama-server's endpoints: its ``/v1/responses`` (the ``llamacpp`` row) and its chat endpoint
(the ``vllm`` row switched to ``chat_completions``). Non-streamed, streamed (raw SSE checked), a chain
by ``previous_response_id``, background with resume, the WebSocket mode, and compaction by summary.
As in the other end-to-end tests the assertions are about the protocol, never the wording.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from websockets.sync.client import connect

from polyresponses.server import GatewayConfig
from polyresponses.server._config import ProviderSettings
from polyresponses.testing import OPENRESPONSES_UNKNOWN_TYPE, check_stream
from tests._recorded import sse_data
from tests._services import service_url
from tests.server._running import RunningGateway

MODELS = ["llamacpp:smollm2", "vllm:smollm2"]
"""llama-server's Responses endpoint, and its chat endpoint."""


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    base = service_url("POLYRESPONSES_LLAMACPP_URL", "llama-server (scripts/local-model start)")
    config = GatewayConfig(
        store=":memory:",
        providers={
            "llamacpp": ProviderSettings(base_url=base),
            "vllm": ProviderSettings(base_url=base, dialect="chat_completions"),
        },
        upstream_timeout_seconds=120,
    )
    with RunningGateway(config, {}) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url, api_key="unused", max_retries=0, timeout=120) as c:
        yield c


@pytest.mark.parametrize("model", MODELS)
def test_non_streamed_and_chained(client: openai.OpenAI, model: str) -> None:
    first = client.responses.create(model=model, input="Name a colour.", max_output_tokens=16, temperature=0)
    assert first.status in ("completed", "incomplete") and first.output_text
    assert first.usage is not None and first.usage.input_tokens > 0
    second = client.responses.create(
        model=model, input="Another one.", previous_response_id=first.id, max_output_tokens=16, temperature=0
    )
    assert second.usage is not None and second.usage.input_tokens > first.usage.input_tokens  # turn 1 was sent
    assert len(client.responses.input_items.list(second.id).data) == 3


@pytest.mark.parametrize("model", MODELS)
def test_streamed_sse_is_conformant(gateway: RunningGateway, model: str) -> None:
    reply = httpx.post(
        f"{gateway.url}/responses",
        json={"model": model, "input": "Count to three.", "max_output_tokens": 16, "temperature": 0, "stream": True},
        timeout=120,
    )
    assert reply.text.endswith("data: [DONE]\n\n")
    events = [json.loads(data) for data in sse_data(reply.text)]
    # llama-server's own Responses stream (passed through, sequence numbers filled by the router) leaves
    # out response fields the OpenResponses schema requires: checked against OpenAI's schema; the
    # stream synthesized from its chat endpoint against both.
    violations = [
        v
        for v in check_stream(events, openresponses=model.startswith("vllm:"))
        if not (v.rule == OPENRESPONSES_UNKNOWN_TYPE and events[v.index]["type"].startswith("response.reasoning_text."))
    ]
    assert violations == []
    assert events[-1]["type"] in ("response.completed", "response.incomplete")


def test_background_with_resume(client: openai.OpenAI) -> None:
    created = client.responses.create(model="vllm:smollm2", input="Say hi.", max_output_tokens=16, background=True)
    assert created.status == "queued"
    deadline = time.monotonic() + 120
    while (current := client.responses.retrieve(created.id)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert current.status in ("completed", "incomplete") and current.output_text
    with client.responses.retrieve(created.id, stream=True, starting_after=1) as stream:
        events = list(stream)
    assert events[0].sequence_number == 2 and events[-1].type == current.status.join(("response.", ""))


def test_websocket_store_false_chain(gateway: RunningGateway) -> None:
    url = gateway.url.replace("http://", "ws://") + "/responses"
    with connect(url) as socket:
        previous = None
        for prompt in ("Name a fruit.", "And a vegetable."):
            body = {
                "type": "response.create",
                "model": "vllm:smollm2",
                "input": prompt,
                "store": False,
                "max_output_tokens": 16,
            }
            if previous is not None:
                body["previous_response_id"] = previous
            socket.send(json.dumps(body))
            frames: list[dict[str, Any]] = []
            while not frames or frames[-1]["type"] not in ("response.completed", "response.incomplete", "error"):
                frames.append(json.loads(socket.recv(timeout=120)))
            assert frames[-1]["type"] != "error", frames[-1]
            assert frames[0]["type"] == "response.created"
            previous = frames[-1]["response"]["id"]
        assert frames[-1]["response"]["usage"]["input_tokens"] > 0


def test_compaction_by_summary_is_sealed_and_opened(client: openai.OpenAI) -> None:
    compacted = client.responses.compact(
        model="vllm:smollm2", input=[{"role": "user", "content": "My name is Ada and I like tea."}]
    )
    assert compacted.object == "response.compaction"
    item = compacted.output[0]
    assert item.type == "compaction" and item.encrypted_content.startswith("pgw1.")
    assert "Ada" not in item.encrypted_content
    follow = client.responses.create(
        model="vllm:smollm2",
        input=[item.model_dump(), {"role": "user", "content": "What is my name?"}],  # type: ignore[list-item]
        max_output_tokens=16,
    )
    assert follow.status in ("completed", "incomplete")
    given = client.responses.input_items.list(follow.id, order="asc").data
    first = given[0].model_dump()
    assert first["role"] == "user" and first["content"][0]["text"].startswith("[Summary of the earlier conversation]\n")


def test_input_tokens_from_llama_servers_own_counter(client: openai.OpenAI) -> None:
    short = client.responses.input_tokens.count(model="llamacpp:smollm2", input="Hi")
    longer = client.responses.input_tokens.count(
        model="llamacpp:smollm2", input="Hi, tell me about the sea and the sky."
    )
    assert short.object == "response.input_tokens" and 0 < short.input_tokens < longer.input_tokens
