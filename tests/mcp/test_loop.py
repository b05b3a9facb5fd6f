"""The MCP loop end to end: a real MCP server (server-everything), a scripted model in each wire dialect.

Every case runs the client the user runs (``Client`` / ``AsyncClient``), whole and streamed, and holds
the result to OpenAI's shapes: the items, their order, one ``response.created`` and one terminal event,
a conformant stream (``check_stream``), usage summed over the model's turns.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from polyresponses import AsyncClient, Client
from polyresponses.mcp import McpOptions
from polyresponses.router._errors import InvalidRequestError, UnsupportedFeatureError
from polyresponses.store import MemoryStore
from polyresponses.testing import check_stream
from polyresponses.types import MCPTool, Response, ResponseStreamEvent
from tests._loopback import LoopbackServer
from tests._mcp_servers import SAFE_TOOLS
from tests.mcp._upstreams import USAGE_IN, USAGE_OUT, Dialect, ScriptedTools, offered_names

if TYPE_CHECKING:
    from polyresponses.generated.openai_params import MCPApprovalResponseParam, MCPListToolsParam, MCPToolParam

PROVIDERS: dict[Dialect, tuple[str, dict[str, Any]]] = {
    "chat": ("mistral", {"dialect": "chat_completions"}),
    "anthropic": ("anthropic", {}),
    "gemini": ("gemini", {}),
    "responses": ("openrouter", {}),
}


def mcp_tool(url: str, label: str = "ev", **fields: Any) -> Any:
    """An ``mcp`` tool (``MCPToolParam``); ``Any``, as ``fields`` vary its shape."""
    return {
        "type": "mcp",
        "server_label": label,
        "server_url": url,
        "allowed_tools": SAFE_TOOLS,
        "require_approval": "never",
        **fields,
    }


@pytest.fixture
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def client_for(dialect: Dialect, upstream: LoopbackServer, **options: Any) -> Client:
    provider, extra = PROVIDERS[dialect]
    return Client(provider, api_key="k", api_base=upstream.url, store=MemoryStore(), **extra, **options)


def run(
    dialect: Dialect, upstream: LoopbackServer, stream: bool, **params: Any
) -> tuple[Response, list[ResponseStreamEvent]]:
    """One create, whole or streamed; a stream must conform and agree with its final response."""
    with client_for(dialect, upstream) as client:
        if not stream:
            return client.responses.create(model="m", **params), []
        with client.responses.create(model="m", stream=True, **params) as events_stream:
            events = list(events_stream)
            final = events_stream.get_final_response()
    assert check_stream(events, openresponses=False) == []
    assert [e.type for e in events].count("response.created") == 1
    assert events[-1].type == "response.completed" and events[-1].response.id == final.id
    assert events[-1].response.output == final.output
    return final, events


def kinds(response: Response) -> list[str]:
    return [item.type for item in response.output]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", list(PROVIDERS))
def test_one_call_on_every_dialect(dialect: Dialect, stream: bool, upstream: LoopbackServer, everything: str) -> None:
    script = ScriptedTools(dialect, [[("echo", '{"message": "hi"}')]])
    upstream.default = script
    response, events = run(dialect, upstream, stream, input="say hi", tools=[mcp_tool(everything)])
    assert kinds(response) == ["mcp_list_tools", "mcp_call", "message"]
    listing, call = response.output[0], response.output[1]
    assert listing.server_label == "ev" and [t.name for t in listing.tools] == [  # type: ignore[union-attr]
        name for name in ["echo", "get-annotated-message", "get-structured-content", "get-sum", "get-tiny-image"]
    ]
    assert listing.tools[0].annotations == {"read_only": True}  # type: ignore[union-attr]
    assert (call.name, call.arguments, call.output, call.status) == (  # type: ignore[union-attr]
        "echo",
        '{"message": "hi"}',
        "Echo: hi",
        "completed",
    )
    assert call.id.startswith("mcp_") and call.server_label == "ev"  # type: ignore[union-attr]
    assert response.output_text == "done: Echo: hi"  # the result went back to the model
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (2 * USAGE_IN, 2 * USAGE_OUT)
    assert len(script.seen) == 2
    assert offered_names(dialect, script.seen[0]) == [t.name for t in listing.tools]  # type: ignore[union-attr]
    tools_echo = [tool for tool in response.tools or [] if isinstance(tool, MCPTool)]
    assert len(tools_echo) == 1 and tools_echo[0].headers is None
    assert [tool for tool in response.tools or [] if tool.type == "function"] == []  # the loop's functions stay inside
    if stream:
        types = [event.type for event in events]
        assert types[:6] == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.mcp_list_tools.in_progress",
            "response.mcp_list_tools.completed",
            "response.output_item.done",
        ]
        call_events = [e.type for e in events if getattr(e, "item_id", None) == call.id or _item_id(e) == call.id]
        runs = [kind for index, kind in enumerate(call_events) if index == 0 or kind != call_events[index - 1]]
        assert runs == [  # OpenAI's order (pydantic-ai's recorded o4-mini stream); deltas as the model sent them
            "response.output_item.added",
            "response.mcp_call.in_progress",
            "response.mcp_call_arguments.delta",
            "response.mcp_call_arguments.done",
            "response.mcp_call.completed",
            "response.output_item.done",
        ]


def _item_id(event: ResponseStreamEvent) -> str | None:
    item = getattr(event, "item", None)
    return getattr(item, "id", None)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_parallel_calls_in_one_turn_run_and_come_back_in_order(
    stream: bool, upstream: LoopbackServer, everything: str
) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "a"}'), ("get-sum", '{"a": 1, "b": 2}')]])
    response, _ = run("chat", upstream, stream, input="x", tools=[mcp_tool(everything)])
    assert kinds(response) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]
    outputs = [item.output for item in response.output[1:3]]  # type: ignore[union-attr]
    assert outputs[0] == "Echo: a" and "3" in str(outputs[1])
    told = [m for m in script.seen[1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in told] == outputs


def test_two_servers_with_one_tool_name_are_told_apart(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("mcp_second__echo", '{"message": "b"}')]])
    tools = [
        mcp_tool(everything, "first", allowed_tools=["echo"]),
        mcp_tool(everything, "second", allowed_tools=["echo"]),
    ]
    response, _ = run("chat", upstream, False, input="x", tools=tools)
    assert offered_names("chat", script.seen[0]) == ["mcp_first__echo", "mcp_second__echo"]
    call = response.output[2]
    assert (call.type, call.server_label, call.name, call.output) == ("mcp_call", "second", "echo", "Echo: b")  # type: ignore[union-attr]


@pytest.mark.parametrize("dialect", ["anthropic", "gemini"])
def test_a_chain_of_calls_over_several_turns(dialect: Dialect, upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools(dialect, [[("echo", '{"message": "x"}')], [("echo", '{"message": "y"}')]])
    response, _ = run(dialect, upstream, True, input="x", tools=[mcp_tool(everything)])
    assert kinds(response) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]
    assert response.output_text == "done: Echo: y" and len(script.seen) == 3


def test_async_client_whole_and_streamed(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = ScriptedTools("anthropic", [[("echo", '{"message": "z"}')]])

    async def main() -> tuple[Response, list[ResponseStreamEvent]]:
        async with AsyncClient("anthropic", api_key="k", api_base=upstream.url, store=MemoryStore()) as client:
            whole = await client.responses.create(model="m", input="x", tools=[mcp_tool(everything)])
            async with await client.responses.create(
                model="m", input="x", tools=[mcp_tool(everything)], stream=True
            ) as stream:
                events = [event async for event in stream]
        return whole, events

    whole, events = asyncio.run(main())
    assert kinds(whole) == ["mcp_list_tools", "mcp_call", "message"] and whole.output_text == "done: Echo: z"
    assert check_stream(events, openresponses=False) == []
    assert events[-1].type == "response.completed" and "done: Echo: z" in events[-1].model_dump_json()


def test_a_listing_in_context_is_not_listed_again(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "once"}')]])
    with client_for("chat", upstream) as client:
        first = client.responses.create(model="m", input="x", tools=[mcp_tool(everything, allowed_tools=["echo"])])
        second = client.responses.create(
            model="m", input="more", previous_response_id=first.id, tools=[mcp_tool(everything)]
        )
    assert kinds(first) == ["mcp_list_tools", "mcp_call", "message"]
    assert kinds(second) == ["message"]  # no mcp_list_tools: the first turn's listing is in the chain
    assert offered_names("chat", script.seen[-1]) == ["echo"]  # and its tools are the ones offered


def test_the_older_sse_transport_is_used_when_streamable_http_is_refused(
    upstream: LoopbackServer, everything_sse: str
) -> None:
    upstream.default = ScriptedTools("chat", [[("echo", '{"message": "sse"}')]])
    response, _ = run("chat", upstream, False, input="x", tools=[mcp_tool(everything_sse)])
    assert response.output[1].output == "Echo: sse"  # type: ignore[union-attr]


# -- approvals


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_approval_round_trip_approve(stream: bool, upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "ok?"}')]])
    tools = [mcp_tool(everything, require_approval="always")]
    first, _ = run("chat", upstream, stream, input="x", tools=tools)
    assert kinds(first) == ["mcp_list_tools", "mcp_approval_request"]
    request = first.output[1]
    assert request.id.startswith("mcpr_") and request.arguments == '{"message": "ok?"}'  # type: ignore[union-attr]
    history: list[Any] = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
    # Any: ``request`` is not narrowed to an approval request, so its id types as ``str | None``.
    approval: Any = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second, _ = run("chat", upstream, stream, input=[{"role": "user", "content": "x"}, *history, approval], tools=tools)
    assert kinds(second) == ["mcp_call", "message"]
    call = second.output[0]
    assert call.approval_request_id == request.id and call.output == "Echo: ok?"  # type: ignore[union-attr]
    assert second.output_text == "done: Echo: ok?"
    # Given back again with the call that ran, nothing runs twice.
    replay: list[Any] = [*history, approval, call.model_dump(mode="json", exclude_none=True)]
    third, _ = run("chat", upstream, False, input=[{"role": "user", "content": "x"}, *replay], tools=tools)
    assert "mcp_call" not in kinds(third)
    assert len(script.seen) == 3  # one model turn per response: the approved call ran without asking it


def test_approval_by_previous_response_id_and_denial(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "no"}')]])
    tools = [mcp_tool(everything, require_approval={"never": {"tool_names": ["get-sum"]}})]
    with client_for("chat", upstream) as client:
        first = client.responses.create(model="m", input="x", tools=tools)
        request = first.output[1]
        assert request.type == "mcp_approval_request"
        denial: MCPApprovalResponseParam = {
            "type": "mcp_approval_response",
            "approval_request_id": request.id,
            "approve": False,
            "reason": "no",
        }
        second = client.responses.create(model="m", input=[denial], previous_response_id=first.id, tools=tools)
    assert kinds(second) == ["message"]
    told = [m for m in script.seen[-1]["messages"] if m["role"] == "tool"]
    assert len(told) == 1 and "declined" in told[0]["content"] and "reason: no" in told[0]["content"]


def test_an_unknown_approval_id_is_refused_before_the_network(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = ScriptedTools("chat")
    approval: MCPApprovalResponseParam = {
        "type": "mcp_approval_response",
        "approval_request_id": "mcpr_nope",
        "approve": True,
    }
    with client_for("chat", upstream) as client, pytest.raises(InvalidRequestError, match="mcpr_nope"):
        client.responses.create(model="m", input=[approval], tools=[mcp_tool(everything)])
    assert upstream.attempts == 0


# -- limits and failures


def test_max_tool_calls_counts_executed_calls(upstream: LoopbackServer, everything: str) -> None:
    calls = [("echo", '{"message": "1"}'), ("echo", '{"message": "2"}')]
    upstream.default = script = ScriptedTools("chat", [calls])
    response, _ = run("chat", upstream, True, input="x", tools=[mcp_tool(everything)], max_tool_calls=1)
    assert kinds(response) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]
    statuses = [item.status for item in response.output[1:3]]  # type: ignore[union-attr]
    assert statuses == ["completed", "incomplete"] and response.max_tool_calls == 1
    assert script.seen[1]["tool_choice"] == "none" and "max_tool_calls" not in script.seen[0]


def test_the_turn_cap_ends_the_loop_with_an_answer(upstream: LoopbackServer, everything: str) -> None:
    forever = [[("echo", '{"message": "again"}')]] * 10
    upstream.default = script = ScriptedTools("chat", forever)
    with client_for("chat", upstream, mcp=McpOptions(max_turns=3)) as client:
        response = client.responses.create(model="m", input="x", tools=[mcp_tool(everything)])
    assert len(script.seen) == 3 and script.seen[2]["tool_choice"] == "none"
    calls = [item for item in response.output if item.type == "mcp_call"]
    # The scripted model ignores tool_choice: its call on the last turn is not run, and the loop ends.
    assert [call.status for call in calls] == ["completed", "completed", "incomplete"]
    told = [m["content"] for m in script.seen[2]["messages"] if m["role"] == "tool"]
    assert told == ["Echo: again", "Echo: again"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_server_that_is_down(stream: bool, upstream: LoopbackServer) -> None:
    upstream.default = script = ScriptedTools("chat")
    response, events = run("chat", upstream, stream, input="x", tools=[mcp_tool("http://127.0.0.1:9/mcp")])
    assert kinds(response) == ["mcp_list_tools", "message"]
    assert "cannot reach http://127.0.0.1:9" in str(response.output[0].error)  # type: ignore[union-attr]
    assert "tools" not in script.seen[0]
    if stream:
        assert "response.mcp_list_tools.failed" in [e.type for e in events]


def test_a_call_to_a_server_that_went_down_fails_as_http_error(upstream: LoopbackServer) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "x"}')]])
    listing = {
        "type": "mcp_list_tools",
        "id": "mcpl_1",
        "server_label": "gone",
        "tools": [{"name": "echo", "input_schema": {"type": "object"}}],
    }
    tools = [mcp_tool("http://127.0.0.1:9/mcp", "gone")]
    response, _ = run("chat", upstream, True, input=[{"role": "user", "content": "x"}, listing], tools=tools)
    call = response.output[0]
    assert call.status == "failed" and call.error.type == "http_error" and call.error.code == 502  # type: ignore[union-attr]
    assert str(response.output_text).startswith("done: Error: HTTP 502")
    assert len(script.seen) == 2


def test_a_tool_error_and_invalid_arguments(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = ScriptedTools("chat", [[("get-sum", '{"a": 1, "b": "x"}'), ("echo", "not json")]])
    response, _ = run("chat", upstream, True, input="x", tools=[mcp_tool(everything)])
    tool_error, bad_arguments = response.output[1], response.output[2]
    assert tool_error.status == "failed" and tool_error.error.type == "mcp_tool_execution_error"  # type: ignore[union-attr]
    assert "expected number" in json.dumps(tool_error.error.content)  # type: ignore[union-attr]
    assert bad_arguments.status == "failed" and bad_arguments.error.type == "mcp_protocol_error"  # type: ignore[union-attr]
    assert bad_arguments.error.code == -32602  # type: ignore[union-attr]


def test_a_call_to_the_callers_own_function_hands_the_response_back(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "m"}'), ("lookup", "{}")]])
    # list[Any]: the function tool leaves out ``strict``, which the generated FunctionToolParam requires.
    tools: list[Any] = [mcp_tool(everything), {"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    response, _ = run("chat", upstream, False, input="x", tools=tools)
    assert kinds(response) == ["mcp_list_tools", "mcp_call", "function_call"] and len(script.seen) == 1
    assert [t.type for t in response.tools or []] == ["function", "mcp"]


def test_what_cannot_be_emulated_is_refused_before_the_network(upstream: LoopbackServer) -> None:
    upstream.default = ScriptedTools("chat")
    tool: MCPToolParam = {"type": "mcp", "server_label": "drive", "connector_id": "connector_googledrive"}
    with client_for("chat", upstream) as client, pytest.raises(UnsupportedFeatureError, match="connector_id"):
        client.responses.create(model="m", input="x", tools=[tool])
    assert upstream.attempts == 0


def test_headers_and_token_go_to_the_server_only(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "s"}')]])
    store = MemoryStore()
    tool = mcp_tool(everything, headers={"X-Secret": "hdr-5ecret"}, authorization="tok-5ecret")
    with Client("mistral", api_key="k", api_base=upstream.url, dialect="chat_completions", store=store) as client:
        response = client.responses.create(model="m", input="x", tools=[tool])
    dumped = response.model_dump_json()
    stored = json.dumps([record.body for record in store._responses.values()])
    for secret in ("hdr-5ecret", "tok-5ecret"):
        assert secret not in dumped and secret not in stored and secret not in json.dumps(script.seen)
    assert response.output[1].output == "Echo: s"  # type: ignore[union-attr]


def test_a_provider_that_runs_mcp_gets_the_tool_as_it_is(upstream: LoopbackServer) -> None:
    upstream.default = script = ScriptedTools("responses")
    tool = mcp_tool("https://mcp.example.com/mcp")
    with Client("openai", api_key="k", api_base=upstream.url, store=False) as client:
        client.responses.create(model="m", input="x", tools=[tool])
    assert script.seen[0]["tools"] == [tool]


def test_the_sync_shell_leaves_no_thread_or_loop_behind(upstream: LoopbackServer, everything: str) -> None:
    import threading

    upstream.default = ScriptedTools("chat", [[("echo", '{"message": "t"}')]])

    def helpers() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "polyresponses-mcp"]

    with client_for("chat", upstream) as client:
        client.responses.create(model="m", input="x", tools=[mcp_tool(everything)])
        with client.responses.create(model="m", input="x", tools=[mcp_tool(everything)], stream=True) as stream:
            for event in stream:
                if event.type == "response.mcp_call.in_progress":
                    break  # left in the middle of the loop
        assert helpers() == []
        with client.responses.stream(model="m", input="x", tools=[mcp_tool(everything)]) as whole:
            whole.get_final_response()
    assert helpers() == []


def test_the_reference_time_server_from_pypi(upstream: LoopbackServer, time_server: str) -> None:
    """mcp-server-time: its read-only tools, structured results, a tool error (a bad zone) and an unknown
    tool, which it answers with a JSON-RPC -32602 error (a protocol error, not a tool result)."""
    calls = [
        ("get_current_time", '{"timezone": "Europe/Paris"}'),
        ("get_current_time", '{"timezone": "Mars/Olympus"}'),
    ]
    upstream.default = script = ScriptedTools("chat", [calls])
    tool: MCPToolParam = {
        "type": "mcp",
        "server_label": "time",
        "server_url": time_server,
        "require_approval": {"never": {"read_only": True}},
    }
    response, _ = run("chat", upstream, True, input="x", tools=[tool])
    listing, paris, mars = response.output[0], response.output[1], response.output[2]
    assert [t.name for t in listing.tools] == ["get_current_time", "convert_time"]  # type: ignore[union-attr]
    assert all(t.annotations == {"read_only": True} for t in listing.tools)  # type: ignore[union-attr]
    assert paris.status == "completed" and json.loads(str(paris.output))["timezone"] == "Europe/Paris"  # type: ignore[union-attr]
    assert mars.status == "failed" and mars.error.type == "mcp_tool_execution_error"  # type: ignore[union-attr]
    assert len(script.seen) == 2

    unknown: MCPListToolsParam = {
        "type": "mcp_list_tools",
        "id": "mcpl_old",
        "server_label": "time",
        "tools": [{"name": "get_moon_phase", "input_schema": {"type": "object"}, "annotations": {"read_only": True}}],
    }  # a listing from before the server dropped the tool
    upstream.default = ScriptedTools("chat", [[("get_moon_phase", "{}")]])
    response, _ = run("chat", upstream, False, input=[{"role": "user", "content": "x"}, unknown], tools=[tool])
    call = response.output[0]
    assert call.status == "failed" and call.error.type == "mcp_protocol_error"  # type: ignore[union-attr]
    assert call.error.code == -32602  # type: ignore[union-attr]


def test_approval_within_a_conversation(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = script = ScriptedTools("chat", [[("echo", '{"message": "conv"}')]])
    tools = [mcp_tool(everything, require_approval="always")]
    with client_for("chat", upstream) as client:
        conversation = client.conversations.create()
        first = client.responses.create(model="m", input="x", tools=tools, conversation=conversation.id)
        request = first.output[1]
        assert request.type == "mcp_approval_request"
        approval: MCPApprovalResponseParam = {
            "type": "mcp_approval_response",
            "approval_request_id": request.id,
            "approve": True,
        }
        second = client.responses.create(model="m", input=[approval], tools=tools, conversation=conversation.id)
        items = client.conversations.items.list(conversation.id, order="asc").data
    assert kinds(second) == ["mcp_call", "message"] and second.output[0].approval_request_id == request.id  # type: ignore[union-attr]
    assert [item.type for item in items] == [
        "message",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "message",
    ]
    assert len(script.seen) == 2


def test_the_sync_client_works_where_an_event_loop_is_running(upstream: LoopbackServer, everything: str) -> None:
    """Jupyter and sync code inside async apps: the helper loop runs and closes in its own thread only."""
    upstream.default = ScriptedTools("chat", [[("echo", '{"message": "jupyter"}')]])

    async def inside_a_loop() -> Response:
        with client_for("chat", upstream) as client:
            return client.responses.create(model="m", input="x", tools=[mcp_tool(everything)])

    assert asyncio.run(inside_a_loop()).output_text == "done: Echo: jupyter"


@pytest.mark.parametrize("dialect", ["chat", "anthropic"])
def test_a_follow_up_without_the_mcp_tool_tells_the_model_what_was_called(
    dialect: Dialect, upstream: LoopbackServer, everything: str
) -> None:
    upstream.default = script = ScriptedTools(dialect, [[("echo", '{"message": "earlier"}')]])
    with client_for(dialect, upstream) as client:
        first = client.responses.create(model="m", input="x", tools=[mcp_tool(everything)])
        later = client.responses.create(model="m", input="thanks", previous_response_id=first.id)
        approval: Any = {"type": "mcp_approval_response", "approval_request_id": "mcpr_x", "approve": True}
        with pytest.raises(InvalidRequestError, match="send the mcp tool again"):
            client.responses.create(model="m", input=[approval], previous_response_id=first.id)
    assert later.status == "completed"
    assert "[MCP call ev.echo" in json.dumps(script.seen[-1]) and "Echo: earlier" in json.dumps(script.seen[-1])


def test_a_chain_across_providers_keeps_the_calls_ids(everything: str) -> None:
    with LoopbackServer() as anthropic, LoopbackServer() as chat:
        anthropic.default = ScriptedTools("anthropic", [[("echo", '{"message": "a"}'), ("echo", '{"message": "b"}')]])
        chat.default = script = ScriptedTools("chat")
        store = MemoryStore()
        with (
            Client("anthropic", api_key="k", api_base=anthropic.url, store=store) as claude,
            Client("mistral", api_key="k", api_base=chat.url, dialect="chat_completions", store=store) as mistral,
        ):
            first = claude.responses.create(model="m", input="x", tools=[mcp_tool(everything)])
            mistral.responses.create(
                model="m", input="more", previous_response_id=first.id, tools=[mcp_tool(everything)]
            )
    calls = [call for m in script.seen[0]["messages"] for call in m.get("tool_calls") or []]
    ids = [call["id"] for call in calls]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(ident.startswith("mcp_") for ident in ids)
    assert len([m for m in script.seen[0]["messages"] if m.get("tool_calls")]) == 1  # one turn: both calls together


def test_mcp_needs_function_tools() -> None:
    with pytest.raises(UnsupportedFeatureError, match="mcp tools"):
        Client("llamafile", api_key="k", api_base="http://127.0.0.1:9/v1", store=False).responses.create(
            model="m", input="x", tools=[mcp_tool("https://mcp.example.com/mcp")]
        )


def test_the_first_events_show_the_request_as_written(upstream: LoopbackServer, everything: str) -> None:
    upstream.default = ScriptedTools("chat", [[("echo", '{"message": "c"}')]])
    choice: Any = {"type": "mcp", "server_label": "ev", "name": "echo"}
    _, events = run("chat", upstream, True, input="x", tools=[mcp_tool(everything)], tool_choice=choice)
    created, completed = events[0], events[-1]
    assert created.type == "response.created" and completed.type == "response.completed"
    for response in (created.response, completed.response):
        assert [tool.type for tool in response.tools or []] == ["mcp"]
        assert response.tool_choice.type == "mcp"  # type: ignore[union-attr]


def test_a_turn_failing_mid_stream_reports_the_mcp_response_so_far(upstream: LoopbackServer, everything: str) -> None:
    from polyresponses.router._errors import StreamError
    from tests._loopback import Exchange

    scripted = ScriptedTools("responses", [[("echo", '{"message": "before"}')]])

    def behaviour(exchange: Exchange) -> None:
        if scripted.seen:  # the second turn fails mid-stream
            exchange.start()
            exchange.write(b'event: error\ndata: {"type": "error", "code": "server_error", "message": "boom"}\n\n')
            exchange.end()
        else:
            scripted(exchange)

    upstream.default = behaviour
    with client_for("responses", upstream) as client:
        stream = client.responses.create(model="m", input="x", tools=[mcp_tool(everything)], stream=True)
        with stream, pytest.raises(StreamError) as failed:
            events = []
            for event in stream:
                events.append(event)
    created = events[0]
    assert created.type == "response.created"
    partial = failed.value.partial
    assert partial is not None and partial.id == created.response.id
    assert [item.type for item in partial.output] == ["mcp_list_tools", "mcp_call"]
