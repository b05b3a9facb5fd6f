"""Conversation state over the store, through recorded provider traffic (``router/_state.py``).

Each recorded exchange is served by an ``httpx.MockTransport`` in turn; what we sent is kept. The
central check: a turn sent by ``previous_response_id`` produces exactly the wire body that the same
turn produces with the whole history written out as input items, so nothing of the chain is lost.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from polyresponses import (
    AsyncClient,
    Client,
    InvalidRequestError,
    MemoryStore,
    NotFoundError,
    SQLiteStore,
    UnsupportedFeatureError,
)
from polyresponses.router._wire import to_wire
from polyresponses.types import Response
from tests._recorded import Exchange, exchanges
from tests.dialects._replay import assert_conformant

if TYPE_CHECKING:
    from polyresponses.generated.openai_params import (
        FunctionCallOutputItemParamParam,
        FunctionToolParam,
        InputItemParam,
    )


def _exchange(wire_format: str, cassette: str, index: int = 0) -> Exchange:
    return next(e for e in exchanges(wire_format) if e.cassette == cassette and e.index == index)


@dataclass
class _Reply:
    """One reply to serve: JSON (``body``) or an event stream (``text``)."""

    body: Any = None
    text: str | None = None

    @classmethod
    def of(cls, exchange: Exchange, new_id: str | None = None) -> _Reply:
        if exchange.response_text is not None and exchange.response_json is None:
            return cls(text=exchange.response_text)
        body = copy.deepcopy(exchange.response_json)
        if new_id is not None:  # a replayed reply reused for another turn needs an id of its own
            body["responseId" if "responseId" in body else "id"] = new_id
        return cls(body=body)


class _Server:
    """Serves the replies in order and keeps each request's path and JSON body."""

    def __init__(self, *replies: _Reply) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.url.path, json.loads(request.content) if request.content else {}))
        reply = self.replies.pop(0)
        if reply.text is not None:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=reply.text.encode())
        return httpx.Response(200, json=reply.body)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self(request)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.sent]


def _dump(item: Any) -> dict[str, Any]:
    return to_wire(item) if not isinstance(item, dict) else item


# --------------------------------------------------------------------------- three turns, each dialect

_GET_COUNTRY: FunctionToolParam = {
    "type": "function",
    "name": "get_user_country",
    "description": "",
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    "strict": None,
}
_FINAL_RESULT: FunctionToolParam = {
    "type": "function",
    "name": "final_result",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}}},
    "strict": None,
}
_GET_CAPITAL: FunctionToolParam = {
    "type": "function",
    "name": "get_capital",
    "parameters": {"type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]},
    "strict": None,
}


@dataclass(frozen=True)
class _Scenario:
    provider: str
    dialect: str | None
    model: str
    wire_format: str
    cassette: str
    question: str
    tools: tuple[FunctionToolParam, ...]
    tool_output: str


_SCENARIOS = [
    _Scenario(
        "anthropic",
        None,
        "claude-sonnet-4-5",
        "anthropic_messages",
        "tool_call__test_anthropic_tool_output.yaml",
        "What is the largest city in the user country?",
        (_GET_COUNTRY, _FINAL_RESULT),
        "Mexico",
    ),
    _Scenario(
        "openai",
        "chat_completions",
        "gpt-4o",
        "chat_completions",
        "openai_tool_call__test_openai_tool_output.yaml",
        "What is the largest city in the user country?",
        (_GET_COUNTRY, _FINAL_RESULT),
        "Mexico",
    ),
    _Scenario(
        "gemini",
        None,
        "gemini-2.0-flash",
        "gemini",
        "tool_call__test_google_tool_output.yaml",
        "What is the largest city in the user country?",
        (_GET_COUNTRY, _FINAL_RESULT),
        "Mexico",
    ),
    _Scenario(
        "openrouter",  # a stateless Responses server: the OpenAI Responses dialect, emulated state
        None,
        "openai/gpt-4o",
        "openai_responses",
        "tool_call__test_openai_responses_model_simple_response_with_tool_call.yaml",
        "What is the capital of PotatoLand?",
        (_GET_CAPITAL,),
        "Potato City",
    ),
]


def _client(scenario: _Scenario, server: _Server, store: Any) -> Client:
    return Client(
        scenario.provider,
        api_key="sk-test-key-123456",
        transport=httpx.MockTransport(server),
        dialect=scenario.dialect,  # type: ignore[arg-type]
        store=store,
    )


def _call_output(response: Response, output: str) -> FunctionCallOutputItemParamParam:
    call = next(item for item in response.output if item.type == "function_call")
    return {"type": "function_call_output", "call_id": call.call_id, "output": output}


@pytest.mark.parametrize("scenario", _SCENARIOS, ids=[s.wire_format for s in _SCENARIOS])
def test_three_turns_by_previous_response_id_send_every_earlier_item(scenario: _Scenario) -> None:
    first, second = (_exchange(scenario.wire_format, scenario.cassette, i) for i in (0, 1))
    replies = [_Reply.of(first), _Reply.of(second), _Reply.of(second, new_id="turn3")]
    server = _Server(*replies)
    client = _client(scenario, server, MemoryStore())
    tools = list(scenario.tools)
    turn1 = client.responses.create(model=scenario.model, input=scenario.question, tools=tools)
    input2 = [_call_output(turn1, scenario.tool_output)]
    turn2 = client.responses.create(model=scenario.model, input=input2, tools=tools, previous_response_id=turn1.id)
    input3: list[InputItemParam] = [*(_call_output(turn2, "done") for _ in [0] if _has_call(turn2))]
    input3.append({"role": "user", "content": "Thanks. Which tool did you call first?"})
    turn3 = client.responses.create(model=scenario.model, input=input3, tools=tools, previous_response_id=turn2.id)
    assert turn2.previous_response_id == turn1.id and turn3.previous_response_id == turn2.id
    assert len({turn1.id, turn2.id, turn3.id}) == 3

    # The same turns with the history written out by hand, on a client that keeps no state.
    explicit = _Server(*replies)
    stateless = _client(scenario, explicit, False)
    question = [{"role": "user", "content": scenario.question}]
    history2: list[Any] = [*question, *map(_dump, turn1.output), *input2]  # items dumped from the output
    history3: list[Any] = [*history2, *map(_dump, turn2.output), *input3]
    stateless.responses.create(model=scenario.model, input=scenario.question, tools=tools)
    stateless.responses.create(model=scenario.model, input=history2, tools=tools)
    stateless.responses.create(model=scenario.model, input=history3, tools=tools)
    assert server.sent == explicit.sent
    # And the chain really reached the wire: the second request replays the first turn's call.
    call_id = next(item for item in turn1.output if item.type == "function_call").call_id
    assert call_id in json.dumps(server.bodies[1]) or scenario.provider == "gemini"  # Gemini calls carry no id
    assert scenario.question in json.dumps(server.bodies[2])


def _has_call(response: Response) -> bool:
    return any(item.type == "function_call" for item in response.output)


def test_the_recorded_second_request_is_what_the_chain_rebuilds() -> None:
    """Anthropic: turn 2 by ``previous_response_id`` sends the messages pydantic-ai sent with the full history."""
    first, second = (_exchange("anthropic_messages", "tool_call__test_anthropic_tool_output.yaml", i) for i in (0, 1))
    server = _Server(_Reply.of(first), _Reply.of(second))
    client = Client("anthropic", api_key="k", transport=httpx.MockTransport(server), store=MemoryStore())
    tools = [_GET_COUNTRY, _FINAL_RESULT]
    turn1 = client.responses.create(model="claude-sonnet-4-5", input="What is the largest city in the user country?")
    client.responses.create(
        model="claude-sonnet-4-5", input=[_call_output(turn1, "Mexico")], tools=tools, previous_response_id=turn1.id
    )
    recorded = second.request_body["messages"]
    for message in recorded:  # pydantic-ai adds is_error: false; the default, so we leave it out
        for block in message["content"]:
            block.pop("is_error", None)
    assert server.bodies[1]["messages"] == recorded


# ---------------------------------------------------------------------------------- across providers


def test_a_chain_crosses_openai_anthropic_chat_and_back() -> None:
    """OpenAI Responses → Anthropic → Chat Completions (Mistral) → OpenAI, by ``previous_response_id``."""
    store = MemoryStore()
    openai_call, openai_answer = (
        _exchange("openai_responses", "tool_call__test_openai_responses_model_simple_response_with_tool_call.yaml", i)
        for i in (0, 1)
    )
    anthropic_text = _exchange("anthropic_messages", "text__test_anthropic_model_instructions.yaml")
    chat_text = _exchange("chat_completions", "openai_text__test_openai_instructions.yaml")
    openai_server = _Server(_Reply.of(openai_call), _Reply.of(openai_answer), _Reply.of(openai_answer, "resp_again"))
    anthropic_server = _Server(_Reply.of(anthropic_text))
    chat_server = _Server(_Reply.of(chat_text))
    openai = Client("openai", api_key="sk-o", transport=httpx.MockTransport(openai_server), store=store)
    claude = Client("anthropic", api_key="sk-a", transport=httpx.MockTransport(anthropic_server), store=store)
    mistral = Client(
        "mistral", api_key="sk-m", dialect="chat_completions", transport=httpx.MockTransport(chat_server), store=store
    )

    turn1 = openai.responses.create(model="gpt-4o", input="What is the capital of PotatoLand?", tools=[_GET_CAPITAL])
    call = next(item for item in turn1.output if item.type == "function_call")
    output: FunctionCallOutputItemParamParam = {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": "Potato City",
    }
    turn2 = claude.responses.create(model="claude-sonnet-4-5", input=[output], previous_response_id=turn1.id)
    turn3 = mistral.responses.create(model="mistral-small", input="And of France?", previous_response_id=turn2.id)

    messages = anthropic_server.bodies[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][0] == {
        "type": "tool_use",
        "id": call.call_id,
        "name": "get_capital",
        "input": {"country": "PotatoLand"},
    }
    assert messages[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call.call_id,
        "content": "Potato City",
    }
    chat = chat_server.bodies[0]["messages"]
    assert [m["role"] for m in chat] == ["user", "assistant", "tool", "assistant", "user"]
    assert chat[1]["tool_calls"][0]["id"] == call.call_id
    assert chat[3]["content"] == turn2.output_text == "The capital of France is Paris."
    assert chat[4]["content"] == "And of France?"

    # Back on OpenAI: its own earlier items keep their ids, the others are plain turns; no foreign id.
    openai.responses.create(model="gpt-4o", input="Thanks!", previous_response_id=turn3.id)
    body = openai_server.bodies[1]
    assert "previous_response_id" not in body
    kinds = [(item.get("type"), item.get("role"), "id" in item) for item in body["input"]]
    assert kinds == [
        (None, "user", False),  # turn 1 input as given
        ("function_call", None, True),  # OpenAI's own item: id kept
        ("function_call_output", None, False),
        ("message", "assistant", False),  # Anthropic's answer, as text
        (None, "user", False),
        ("message", "assistant", False),  # Mistral's answer, as text
        (None, "user", False),
    ]
    # And an OpenAI turn that follows its own response is left to OpenAI's own state.
    openai.responses.create(model="gpt-4o", input="More?", previous_response_id=turn1.id)
    assert openai_server.bodies[2] == {"model": "gpt-4o", "input": "More?", "previous_response_id": turn1.id}


def test_foreign_reasoning_stays_with_its_provider() -> None:
    """A streamed Anthropic turn with thinking, continued on OpenAI: the thinking block is not sent there."""
    thinking = _exchange("anthropic_messages", "reasoning_stream__test_anthropic_model_thinking_part_stream.yaml")
    store = MemoryStore()
    claude_server = _Server(
        _Reply.of(thinking),
        _Reply(body=_exchange("anthropic_messages", "text__test_anthropic_model_instructions.yaml").response_json),
    )
    claude = Client("anthropic", api_key="k", transport=httpx.MockTransport(claude_server), store=store)
    with claude.responses.stream(model="claude-sonnet-4-0", input="How do I cross the street?") as stream:
        events = list(stream)
        turn1 = stream.get_final_response()
    assert_conformant(events)
    assert [item.type for item in turn1.output][0] == "reasoning"
    assert store.get_response(turn1.id) is not None  # recorded before the terminal event was handed out

    # Anthropic itself gets its thinking block back, signature and all.
    claude.responses.create(model="claude-sonnet-4-0", input="Thanks", previous_response_id=turn1.id)
    assert claude_server.bodies[1]["messages"][1]["content"][0]["type"] == "thinking"
    # OpenAI does not.
    openai_reply = _exchange("openai_responses", "text__test_openai_responses_model_simple_response.yaml")
    openai_server = _Server(_Reply.of(openai_reply))
    openai = Client("openai", api_key="k", transport=httpx.MockTransport(openai_server), store=store)
    openai.responses.create(model="gpt-4o", input="Thanks", previous_response_id=turn1.id)
    assert [item.get("type") for item in openai_server.bodies[0]["input"]] == [None, "message", None]


# ------------------------------------------------------------------------------ what gets recorded


def test_an_unknown_previous_response_id_is_a_404_before_the_network() -> None:
    server = _Server()
    client = Client("anthropic", api_key="k", transport=httpx.MockTransport(server), store=MemoryStore())
    with pytest.raises(NotFoundError, match=r"\[anthropic\] 404 no response 'resp_nope'") as caught:
        client.responses.create(model="claude", input="hi", previous_response_id="resp_nope")
    assert caught.value.status_code == 404
    with pytest.raises(NotFoundError, match="no conversation 'conv_nope'"):
        client.responses.create(model="claude", input="hi", conversation="conv_nope")
    assert server.sent == []


def test_openai_is_asked_about_ids_the_store_does_not_know() -> None:
    reply = _exchange("openai_responses", "text__test_openai_responses_model_simple_response.yaml")
    server = _Server(_Reply.of(reply))
    client = Client("openai", api_key="k", transport=httpx.MockTransport(server), store=MemoryStore())
    client.responses.create(model="gpt-4o", input="hi", previous_response_id="resp_made_elsewhere")
    assert server.bodies[0]["previous_response_id"] == "resp_made_elsewhere"


def test_store_false_records_nothing_and_background_stays_refused() -> None:
    reply = _exchange("anthropic_messages", "text__test_anthropic_model_instructions.yaml")
    server = _Server(_Reply.of(reply))
    store = MemoryStore()
    client = Client("anthropic", api_key="k", transport=httpx.MockTransport(server), store=store)
    response = client.responses.create(model="claude", input="hi", store=False)
    assert "store" not in server.bodies[0]
    assert store.get_response(response.id) is None
    with pytest.raises(NotFoundError):
        client.responses.create(model="claude", input="again", previous_response_id=response.id)
    with pytest.raises(UnsupportedFeatureError, match=r"\[anthropic\] does not support background=True"):
        client.responses.create(model="claude", input="hi", background=True)


def test_previous_response_id_and_conversation_exclude_each_other() -> None:
    client = Client("anthropic", api_key="k", transport=httpx.MockTransport(_Server()), store=MemoryStore())
    with pytest.raises(InvalidRequestError, match="previous_response_id: cannot be combined with conversation"):
        client.responses.create(model="claude", input="hi", previous_response_id="resp_1", conversation="conv_1")


def test_the_store_file_holds_no_api_key(tmp_path: Any) -> None:
    path = tmp_path / "store.sqlite3"
    reply = _exchange("anthropic_messages", "text__test_anthropic_model_instructions.yaml")
    server = _Server(_Reply.of(reply), _Reply.of(reply, "msg_2"))
    key = "sk-ant-very-secret-key-0123456789"
    client = Client("anthropic", api_key=key, transport=httpx.MockTransport(server), store=path)
    first = client.responses.create(model="claude", input="hi", instructions="Be brief.")
    client.responses.create(model="claude", input="again", previous_response_id=first.id)
    assert isinstance(client.store, SQLiteStore)
    client.store.close()
    for file in tmp_path.iterdir():
        assert key.encode() not in file.read_bytes()


# ---------------------------------------------------------------------------------------- async


@pytest.mark.anyio
async def test_async_streamed_chain_over_chat_completions() -> None:
    """Chat Completions, streamed: turn 2 by ``previous_response_id`` carries turn 1's tool call."""
    first, second = (
        _exchange("chat_completions", "openai_tool_call_stream__test_run_stream_sync_streams_real_model.yaml", i)
        for i in (0, 1)
    )
    server = _Server(_Reply.of(first), _Reply.of(second))
    store = MemoryStore()
    tools: list[FunctionToolParam] = [
        {
            "type": "function",
            "name": "get_capital",  # no description: the synthesized response echoes it as null, as OpenAI does
            "parameters": {"type": "object", "properties": {"country": {"type": "string"}}},
            "strict": None,
        }
    ]
    async with AsyncClient(
        "openai",
        api_key="k",
        transport=httpx.MockTransport(server.handle_async),
        dialect="chat_completions",
        store=store,
    ) as client:
        question = "What is the capital of the UK? Use the tool, then answer."
        async with client.responses.stream(model="gpt-4o-mini", input=question, tools=tools) as stream:
            events = [event async for event in stream]
            turn1 = await stream.get_final_response()
        assert_conformant(events)
        output = _call_output(turn1, "London")
        stream2 = await client.responses.create(
            model="gpt-4o-mini", input=[output], tools=tools, previous_response_id=turn1.id, stream=True
        )
        async with stream2:
            events2 = [event async for event in stream2]
        assert_conformant(events2)
        completed = events2[-1]
        assert completed.type == "response.completed"
        assert completed.response.previous_response_id == turn1.id
        assert events2[0].response.previous_response_id == turn1.id  # type: ignore[union-attr]
        sent = server.bodies[1]["messages"]
        recorded = second.request_body["messages"]
        assert [m["role"] for m in sent] == [m["role"] for m in recorded] == ["user", "assistant", "tool"]
        assert sent[1]["tool_calls"] == recorded[1]["tool_calls"]
        # input_items lists what the model was given, the earlier turn included (as OpenAI does).
        page = await client.responses.input_items.list(completed.response.id, order="asc")
        assert [item.type for item in page.data] == ["message", "function_call", "function_call_output"]
        assert (await client.responses.retrieve(turn1.id)).output_text == turn1.output_text


_MIRROR_WRITER = """
import json, sys
import httpx
from polyresponses import Client

reply = json.loads(sys.argv[2])

def openai(request):
    n = len(sent)
    sent.append(n)
    return httpx.Response(200, json={**reply, "id": f"resp_exit_{n}"})

sent = []
client = Client("openai", api_key="k", transport=httpx.MockTransport(openai), store=sys.argv[1])
for _ in range(3):
    client.responses.create(model="gpt-4o", input="hi")
"""


def test_batched_mirror_copies_reach_the_file_when_the_process_exits(tmp_path: Any) -> None:
    """OpenAI keeps its responses, so ours are batched mirror copies; a normal exit still writes them."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "store.sqlite3"
    reply = _exchange("openai_responses", "text__test_openai_responses_model_simple_response.yaml").response_json
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", _MIRROR_WRITER, str(path), json.dumps(reply)],
        check=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    store = SQLiteStore(path)
    for n in range(3):
        record = store.get_response(f"resp_exit_{n}")
        assert record is not None and record.native and record.provider == "openai"
        assert [item.item for item in store.input_items(record.id) or []] == [{"role": "user", "content": "hi"}]
    store.close()
