"""The MCP loop of one response, without I/O: a generator that says what to do and is told what happened.

Where the provider cannot run the ``mcp`` tool, the router is the MCP client (OpenAI "Remote MCP"
guide): it lists each server's tools, offers them to the model as function tools, runs the model's
calls, feeds the results back and asks the model again, all inside one response. This module is
the whole of that logic, written once; the shells (:mod:`polyresponses.mcp._drive`) only carry out
its steps: :class:`ListTools` and :class:`CallTools` against MCP servers, :class:`ModelTurn` against
the provider (then :class:`NextEvent` for each streamed event), and :class:`Emit` hands a stream
event to the caller.

What the caller sees is OpenAI's own shape: ``mcp_list_tools``, ``mcp_call`` and
``mcp_approval_request`` items; their ``response.mcp_list_tools.*``, ``response.mcp_call.*`` and
``response.mcp_call_arguments.*`` events with ``item_id``, ``output_index`` and one continuous
``sequence_number``; one ``response.created`` and one terminal event; usage summed over the turns.

Choices where OpenAI documents nothing (said in the README):

- A server whose listing fails gets an ``mcp_list_tools`` item with ``error`` and the
  ``response.mcp_list_tools.failed`` event; the response goes on without its tools (the next
  request lists it again: an item with an error does not count as a listing).
- A denied approval is told to the model as the call's result: declined by the user, not to be
  retried (models retry a bare refusal).
- ``max_tool_calls`` counts executed MCP calls. A call past it is not run: its ``mcp_call`` ends
  ``incomplete`` and the model is told the limit was reached; the next turn is the last, with
  ``tool_choice: "none"``. Without ``max_tool_calls`` the loop's own cap on model turns does the
  same on its last turn.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from polyresponses.mcp._results import INVALID_PARAMS, CallOutcome, McpFailure, describe, protocol_error
from polyresponses.mcp._servers import McpServer, allows, fallback_name, listed_tool, needs_approval, tool_names
from polyresponses.router._errors import InvalidRequestError

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = [
    "CallTools",
    "Emit",
    "ListTools",
    "McpLoop",
    "ModelTurn",
    "NextEvent",
    "Step",
    "ToolCall",
]


@dataclass(frozen=True, slots=True)
class ListTools:
    """List these servers' tools (concurrently). Reply: ``{label: [MCP tool dicts] | McpFailure}``."""

    servers: tuple[McpServer, ...]


@dataclass(frozen=True, slots=True)
class ToolCall:
    server: McpServer
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallTools:
    """Run these calls (concurrently is fine). Reply: one :class:`CallOutcome` per call, in order."""

    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """Ask the model: ``body`` is a Responses create body for the provider. Reply: the ``Response``;
    when streaming, ``None`` (the stream is open), then :class:`NextEvent` steps read it."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NextEvent:
    """Reply: the open turn's next event, or ``None`` once it has ended."""


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand ``event`` to the caller. Reply: ``None``."""

    event: ResponseStreamEvent


Step = ListTools | CallTools | ModelTurn | NextEvent | Emit
Steps = Generator[Step, Any, "Response"]
_Sub = Generator[Step, Any, None]

_DECLINED = "The user declined this tool call{reason}. Do not retry it; answer without it."
_LIMIT = "Not run: this response reached its limit of {limit}. Answer with what you have."
_LIMIT_REPLAYED = "Not run: the response that made this call had reached its limit of tool calls."
_NOT_ALLOWED = "Not run: {tool} is not among this request's allowed_tools for {server}."
_LIFECYCLE = frozenset({"response.created", "response.in_progress", "response.queued"})
_ARGUMENT_EVENTS = {
    "response.function_call_arguments.delta": ("response.mcp_call_arguments.delta", "delta"),
    "response.function_call_arguments.done": ("response.mcp_call_arguments.done", "arguments"),
}
"""A function call's argument events, as the ``mcp_call`` it became sends them (and the field they carry)."""
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def new_id(prefix: str, turn: str = "") -> str:
    """``prefix_`` and 32 hex digits; the first 8 are ``turn`` when given (the model turn an item came from)."""
    return f"{prefix}_{turn}{os.urandom(16 - len(turn) // 2).hex()}"


def _turn_of(item: Mapping[str, Any]) -> str:
    """The turn token in an MCP item's id: items of one model turn share it, so a history replays each turn's
    calls together (ids that carry none, written elsewhere, make a turn of their own)."""
    ident = str(item.get("id") or "")
    _, _, tail = ident.partition("_")
    return tail[:8] if len(tail) == 32 else ident


@dataclass(slots=True)
class _Mapped:
    """A model's function call to an MCP tool, becoming an ``mcp_call`` or an ``mcp_approval_request``."""

    item: dict[str, Any]
    output_index: int
    server: McpServer
    tool: str
    call: ToolCall | None = None
    outcome: CallOutcome | None = None
    upstream_id: str | None = None


@dataclass(slots=True)
class McpLoop:
    """One response's loop. ``body``: the create body after state was resolved, with the ``mcp`` tools taken
    out (``servers`` are they); ``echo``: those tools as the response shows them (no headers, no token)."""

    provider: str
    body: dict[str, Any]
    servers: list[McpServer]
    echo: list[dict[str, Any]]
    stream: bool
    max_turns: int
    response_id: str
    mcp_choice: Mapping[str, Any] | None = None
    """A ``tool_choice`` that named an MCP tool (``{"type": "mcp", "server_label", "name"?}``)."""
    output: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    executed: int = 0
    sequence: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))
    _history: list[dict[str, Any]] = field(default_factory=list)
    _listings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _names: dict[tuple[str, str], str] = field(default_factory=dict)
    _by_function: dict[str, tuple[str, str]] = field(default_factory=dict)
    _denied: dict[str, str] = field(default_factory=dict)
    _last: Response | None = None
    refuses_by_choice: bool = True
    """Whether the provider takes ``tool_choice: "none"`` with tool calls in the history (Bedrock Converse
    does not: its last turn is sent with ``auto``, and calls made on it are not run)."""
    _last_turn: bool = False
    _token: str = field(default_factory=lambda: os.urandom(4).hex())
    """The current model turn's token, the first 8 hex digits of its MCP items' ids."""
    _incomplete: dict[str, str] = field(default_factory=dict)
    """What the model is told of this response's calls that were not run (by item id)."""
    _turn_items: list[dict[str, Any]] = field(default_factory=list)
    """The items the model produced in the last turn, as it produced them."""
    _servers: dict[str, McpServer] = field(default_factory=dict)
    """``servers`` by label."""

    def __post_init__(self) -> None:
        self._servers = {server.label: server for server in self.servers}
        given = self.body.get("input")
        self._history = [{"role": "user", "content": given}] if isinstance(given, str) else list(given or [])

    # -- the loop

    def run(self) -> Steps:
        """The steps of the whole response; returns the final ``Response``. Everything it can refuse
        (an approval for a request not in context, for a server not in ``tools``) is refused before the
        first step, so before anything touches the network."""
        approved = self._approvals()
        if self.stream:
            skeleton = self._response("in_progress", None)
            yield from self._emit({"type": "response.created", "response": skeleton})
            yield from self._emit({"type": "response.in_progress", "response": skeleton})
        yield from self._list()
        if approved:
            yield from self._run_approved(approved)
        turns = 0
        limit = self.body.get("max_tool_calls")
        while True:
            turns += 1
            last_turn = turns >= self.max_turns or (limit is not None and self.executed >= limit)
            mapped = yield from self._turn(last_turn)
            assert self._last is not None
            if mapped:
                yield from self._finish_calls(mapped)
            approvals = any(each.item["type"] == "mcp_approval_request" for each in mapped)
            if not mapped or self._last.status != "completed" or last_turn or approvals or self._handed_back():
                break
        final = self._final()
        if self.stream:
            kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
                str(final.status), "response.failed"
            )
            yield from self._emit({"type": kind, "response": final})
        return final

    def _handed_back(self) -> bool:
        """The last turn called one of the caller's own tools: the response goes back to the caller."""
        return any(
            item.get("type") in ("function_call", "custom_tool_call") and item.get("name") not in self._by_function
            for item in self._turn_items
        )

    # -- listing

    def _list(self) -> _Sub:
        for item in self._history:
            if item.get("type") == "mcp_list_tools" and not item.get("error"):
                label = str(item.get("server_label"))
                tools = list(item.get("tools") or [])
                if label in self._servers:  # this request's allowed_tools narrow a listing made earlier
                    tools = [tool for tool in tools if allows(self._servers[label], tool)]
                self._listings[label] = tools
        wanted = tuple(server for server in self.servers if server.label not in self._listings)
        if wanted:
            first = len(self.output)
            items: list[dict[str, Any]] = [
                {"type": "mcp_list_tools", "id": new_id("mcpl"), "server_label": s.label, "tools": []} for s in wanted
            ]
            for index, item in enumerate(items):
                yield from self._emit(
                    {"type": "response.output_item.added", "item": item, "output_index": first + index}
                )
                yield from self._item_event("response.mcp_list_tools.in_progress", item, first + index)
            listings: Mapping[str, Sequence[Mapping[str, Any]] | McpFailure] = yield ListTools(wanted)
            for index, (server, item) in enumerate(zip(wanted, items, strict=True)):
                result = listings[server.label]
                if isinstance(result, McpFailure):
                    item["error"] = describe(result.error)
                    yield from self._item_event("response.mcp_list_tools.failed", item, first + index)
                else:
                    tools = [kept for tool in result if (kept := listed_tool(server, tool)) is not None]
                    item["tools"] = tools
                    self._listings[server.label] = tools
                    yield from self._item_event("response.mcp_list_tools.completed", item, first + index)
                self.output.append(item)
                yield from self._emit(
                    {"type": "response.output_item.done", "item": item, "output_index": first + index}
                )
        taken = [str(tool.get("name")) for tool in self.body.get("tools") or () if tool.get("name")]
        every = [(label, tools) for label, tools in self._listings.items()]
        for item in self._history:  # calls of servers listed earlier but not offered now keep their names
            if item.get("type") == "mcp_list_tools" and str(item.get("server_label")) not in self._listings:
                every.append((str(item.get("server_label")), list(item.get("tools") or [])))
        self._names = tool_names(every, taken)
        self._by_function = {name: key for key, name in self._names.items() if key[0] in self._servers}

    # -- approvals

    def _approvals(self) -> list[dict[str, Any]]:
        """Approved requests in context that have not run yet; denials remembered. Unknown ids refused."""
        requests = {str(i.get("id")): i for i in self._history if i.get("type") == "mcp_approval_request"}
        ran = {i.get("approval_request_id") for i in self._history if i.get("type") == "mcp_call"}
        approved: list[dict[str, Any]] = []
        for index, item in enumerate(self._history):
            if item.get("type") != "mcp_approval_response":
                continue
            ident = str(item.get("approval_request_id"))
            request = requests.get(ident)
            if request is None:
                raise InvalidRequestError(
                    self.provider,
                    f"input[{index}].approval_request_id",
                    f"no mcp_approval_request {ident!r} in this request's input or its previous_response_id chain",
                )
            if not item.get("approve"):
                reason = item.get("reason")
                self._denied[ident] = _DECLINED.format(reason=f" (reason: {reason})" if reason else "")
            elif ident not in ran and all(i is not request for i in approved):
                if request.get("server_label") not in self._servers:
                    raise InvalidRequestError(
                        self.provider,
                        f"input[{index}]",
                        f"approves a call on MCP server {request.get('server_label')!r}, "
                        "which is not among this request's mcp tools (send the tool again: its URL and headers "
                        "are never stored)",
                    )
                approved.append(request)
        return approved

    def _run_approved(self, requests: list[dict[str, Any]]) -> _Sub:
        """Run approved calls first; each becomes an ``mcp_call`` carrying its ``approval_request_id``."""
        mapped: list[_Mapped] = []
        for request in requests:
            server = self._servers[str(request.get("server_label"))]
            item = self._call_item(server.label, str(request.get("name")), str(request.get("arguments") or "{}"))
            item["approval_request_id"] = request.get("id")
            each = _Mapped(item, len(self.output), server, str(request.get("name")))
            self.output.append(item)
            yield from self._open_call(each)
            self._plan_call(each, approved=True)
            mapped.append(each)
        yield from self._finish_calls(mapped)

    # -- one model turn

    def _turn(self, last: bool) -> Generator[Step, Any, list[_Mapped]]:
        self._last_turn = last
        self._token = os.urandom(4).hex()
        body = self._turn_body(last)
        start = len(self.output)
        self._turn_items = []
        if not self.stream:
            response: Response = yield ModelTurn(body)
            self._add_usage(response)
            self._last = response
            from polyresponses.router._wire import to_wire

            mapped: list[_Mapped] = []
            for item in (to_wire(each) for each in response.output):
                self._turn_items.append(item)
                each = self._map_call(item, len(self.output))
                if each is None:
                    self.output.append(item)
                    continue
                self.output.append(each.item)
                self._plan_call(each)
                mapped.append(each)
            return mapped
        yield ModelTurn(body)
        by_upstream: dict[str, _Mapped] = {}
        slots: dict[int, dict[str, Any]] = {}
        mapped = []
        while (event := (yield NextEvent())) is not None:
            yield from self._relay(cast("ResponseStreamEvent", event), start, by_upstream, mapped, slots)
        self.output.extend(slots[index] for index in sorted(slots))  # in output_index order, however they ended
        return mapped

    def _relay(
        self,
        event: ResponseStreamEvent,
        start: int,
        by_upstream: dict[str, _Mapped],
        mapped: list[_Mapped],
        slots: dict[int, dict[str, Any]],
    ) -> _Sub:
        """One event of a streamed turn as the caller sees it (see :meth:`_turn`)."""
        from polyresponses.router._wire import to_wire

        kind = event.type
        if kind in _LIFECYCLE:
            return
        if kind in _TERMINAL:
            response = cast("Response", event.response)  # type: ignore[union-attr]
            self._add_usage(response)
            self._last = response
            return
        index = getattr(event, "output_index", None)
        if isinstance(index, int):
            event.output_index = index + start  # type: ignore[union-attr]
            index += start
        upstream = getattr(event, "item_id", None)
        if kind == "response.output_item.added":
            item = to_wire(event.item)  # type: ignore[union-attr]
            each = self._map_call({**item, "arguments": ""}, cast("int", index))
            if each is None:
                yield from self._pass(event)
                return
            each.upstream_id = str(item.get("id"))
            by_upstream[each.upstream_id] = each
            mapped.append(each)
            yield from self._open_call(each)
            return
        if kind == "response.output_item.done":
            item = to_wire(event.item)  # type: ignore[union-attr]
            self._turn_items.append(item)
            each = by_upstream.get(str(item.get("id")))
            if each is None:
                slots[cast("int", index)] = item
                yield from self._pass(event)
                return
            each.item["arguments"] = item.get("arguments") or ""
            slots[each.output_index] = each.item
            self._plan_call(each)
            if each.item["type"] == "mcp_approval_request":
                yield from self._emit({"type": kind, "item": each.item, "output_index": each.output_index})
            return
        each = by_upstream.get(str(upstream)) if upstream is not None else None
        if each is None:
            yield from self._pass(event)
        elif each.item["type"] == "mcp_call" and kind in _ARGUMENT_EVENTS:
            renamed, field_name = _ARGUMENT_EVENTS[kind]
            value = getattr(event, field_name)
            yield from self._item_event(renamed, each.item, each.output_index, **{field_name: value})

    # -- calls

    def _map_call(self, item: dict[str, Any], output_index: int) -> _Mapped | None:
        """A function call to an MCP tool as its MCP item (others: ``None``)."""
        if item.get("type") != "function_call" or item.get("name") not in self._by_function:
            return None
        label, tool = self._by_function[str(item["name"])]
        server = self._servers[label]
        listed = self._listed(label, tool) or {"name": tool}
        arguments = str(item.get("arguments") or "")
        if needs_approval(server, listed):
            request = {
                "type": "mcp_approval_request",
                "id": new_id("mcpr", self._token),
                "server_label": label,
                "name": tool,
                "arguments": arguments,
            }
            return _Mapped(request, output_index, server, tool)
        return _Mapped(self._call_item(label, tool, arguments), output_index, server, tool)

    def _call_item(self, label: str, tool: str, arguments: str) -> dict[str, Any]:
        return {
            "type": "mcp_call",
            "id": new_id("mcp", self._token),
            "server_label": label,
            "name": tool,
            "arguments": arguments,
            "status": "in_progress",
        }

    def _plan_call(self, each: _Mapped, approved: bool = False) -> None:
        """Decide what becomes of a call once its arguments are known: run it, refuse its arguments, or
        leave it unrun past ``max_tool_calls``."""
        if each.item["type"] != "mcp_call":
            return
        limit = self.body.get("max_tool_calls")
        if not approved and ((limit is not None and self.executed >= limit) or self._last_turn):
            each.item["status"] = "incomplete"  # the last turn was for an answer: its calls are not run
            what = f"{limit} MCP tool calls" if limit is not None else f"{self.max_turns} model turns"
            each.outcome = CallOutcome(_LIMIT.format(limit=what))
            self._incomplete[str(each.item["id"])] = each.outcome.output
            return
        if not allows(each.server, self._listed(each.server.label, each.tool) or {"name": each.tool}):
            each.outcome = CallOutcome(
                "", protocol_error(INVALID_PARAMS, _NOT_ALLOWED.format(tool=each.tool, server=each.server.label))
            )
            return
        try:
            arguments = json.loads(each.item["arguments"] or "{}")
        except ValueError as error:
            arguments, problem = None, f"the arguments are not JSON: {error}"
        else:
            problem = "" if isinstance(arguments, dict) else "the arguments must be a JSON object"
        if problem:
            each.outcome = CallOutcome("", protocol_error(INVALID_PARAMS, f"Invalid params: {problem}"))
            return
        each.call = ToolCall(each.server, each.tool, cast("dict[str, Any]", arguments))
        self.executed += 1

    def _open_call(self, each: _Mapped) -> _Sub:
        item = each.item
        yield from self._emit({"type": "response.output_item.added", "item": item, "output_index": each.output_index})
        if item["type"] == "mcp_call":
            yield from self._item_event("response.mcp_call.in_progress", item, each.output_index)

    def _finish_calls(self, mapped: list[_Mapped]) -> _Sub:
        """Run the planned calls, then close every MCP item of the turn in output order."""
        calls = [each for each in mapped if each.call is not None]
        if calls:
            outcomes: Sequence[CallOutcome] = yield CallTools(tuple(each.call for each in calls if each.call))
            for each, outcome in zip(calls, outcomes, strict=True):
                each.outcome = outcome
        for each in mapped:
            item = each.item
            if item["type"] != "mcp_call":
                continue
            outcome = each.outcome or CallOutcome("")
            if item["status"] != "incomplete":
                item["status"] = "failed" if outcome.failed else "completed"
                if outcome.failed:
                    item["error"] = dict(outcome.error or {})
                else:
                    item["output"] = outcome.output
                if each.upstream_id is None:  # a call the loop opened itself (an approved one): its arguments
                    yield from self._item_event(
                        "response.mcp_call_arguments.delta", item, each.output_index, delta=item["arguments"]
                    )
                    yield from self._item_event(
                        "response.mcp_call_arguments.done", item, each.output_index, arguments=item["arguments"]
                    )
                done = "response.mcp_call.failed" if outcome.failed else "response.mcp_call.completed"
                yield from self._item_event(done, item, each.output_index)
            else:
                item["error"] = None
            each.outcome = outcome
            yield from self._emit(
                {"type": "response.output_item.done", "item": item, "output_index": each.output_index}
            )

    # -- what the model is sent

    def _turn_body(self, last: bool) -> dict[str, Any]:
        """The provider's request for the next turn. A ``tool_choice`` that forces a call holds for the
        first turn only: once a tool has run, the model must be free to answer."""
        first = self._last is None
        body = {key: value for key, value in self.body.items() if key != "max_tool_calls"}
        body["input"] = self._for_model([*self._history, *self.output])
        tools = list(body.get("tools") or [])
        for (label, tool), name in self._names.items():
            if (name in self._by_function) and (listed := self._listed(label, tool)) is not None:
                tools.append(self._function_tool(name, label, listed))
        if tools:
            body["tools"] = tools
        choice = self.mcp_choice
        if choice is not None:
            forced = self._names.get((str(choice.get("server_label")), str(choice.get("name"))))
            body["tool_choice"] = {"type": "function", "name": forced} if forced in self._by_function else "required"
        if (not first or not tools) and body.get("tool_choice") not in (None, "auto", "none"):
            body["tool_choice"] = "auto"  # forced once; nothing to force when no server could be listed
        if last and self._by_function:
            body["tool_choice"] = "none" if self.refuses_by_choice else "auto"
        return body

    def _listed(self, label: str, tool: str) -> Mapping[str, Any] | None:
        return next((t for t in self._listings.get(label, ()) if t.get("name") == tool), None)

    def _function_tool(self, name: str, label: str, listed: Mapping[str, Any]) -> dict[str, Any]:
        server = self._servers[label]
        description = str(listed.get("description") or "")
        if server.description:
            description = f"{server.description}\n\n{description}".strip()
        schema = dict(listed.get("input_schema") or {"type": "object"})
        schema.pop("$schema", None)  # draft markers some providers refuse (Gemini's OpenAPI subset)
        tool: dict[str, Any] = {"type": "function", "name": name, "parameters": schema, "strict": False}
        if description:
            tool["description"] = description
        return tool

    def _for_model(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The history as function calls and results the provider can read; MCP bookkeeping left out. The
        calls of one turn (consecutive MCP items) become one assistant turn of calls followed by their
        results, as the model made them: Anthropic's thinking and Gemini's signatures need that shape."""
        ran = {i.get("approval_request_id") for i in items if i.get("type") == "mcp_call"}
        out: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        turn = ""

        def flush() -> None:
            out.extend(calls)
            out.extend(results)
            calls.clear()
            results.clear()

        for item in items:
            pair: list[dict[str, Any]] | None = None
            match item.get("type"):
                case "mcp_list_tools" | "mcp_approval_response":
                    continue
                case "mcp_call":
                    result = item.get("output")
                    if item.get("status") == "incomplete":
                        result = self._incomplete.get(str(item.get("id")), _LIMIT_REPLAYED)
                    elif item.get("error"):
                        result = f"Error: {describe(cast('Mapping[str, Any]', item['error']))}"
                    pair = self._pair(item, str(result or ""))
                case "mcp_approval_request":
                    ident = str(item.get("id"))
                    if ident in self._denied and ident not in ran:
                        pair = self._pair(item, self._denied[ident])
                    else:
                        continue
                case _:
                    flush()
                    out.append(dict(item))
            if pair is not None:
                if calls and _turn_of(item) != turn:
                    flush()  # another model turn: its calls follow the results of the one before
                turn = _turn_of(item)
                calls.append(pair[0])
                results.append(pair[1])
        flush()
        return out

    def _pair(self, item: Mapping[str, Any], result: str) -> list[dict[str, Any]]:
        label, tool = str(item.get("server_label")), str(item.get("name"))
        name = self._names.get((label, tool)) or fallback_name(label, tool)
        call_id = str(
            item.get("id") or "mcp_" + hashlib.sha1(json.dumps(dict(item), sort_keys=True).encode()).hexdigest()[:32]
        )
        return [
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": item.get("arguments") or "{}"},
            {"type": "function_call_output", "call_id": call_id, "output": result},
        ]

    # -- the response

    def _add_usage(self, response: Response) -> None:
        if response.usage is None:
            return
        from polyresponses.router._wire import to_wire

        turn = to_wire(response.usage)
        self.usage = turn if self.usage is None else _sum_usage(self.usage, turn)

    def _response(self, status: str, last: Response | None) -> Response:
        from polyresponses.router._response import finalise
        from polyresponses.router._wire import to_reply
        from polyresponses.router.dialects._synth import response_adapter, synthesized_response

        if last is None:  # the lifecycle events before any turn: the request as the caller wrote it
            asked = {**self.body, "tools": [*(self.body.get("tools") or []), *self.echo]}
            if self.mcp_choice is not None:
                asked["tool_choice"] = dict(self.mcp_choice)
            return synthesized_response(
                self.provider,
                asked,
                response_id=self.response_id,
                created_at=self.created_at,
                model=str(self.body.get("model")),
                status=status,
                output=[_plain(item) for item in self.output],
                usage=self.usage,
            )
        data = to_reply(last)
        tools = [
            t
            for t in data.get("tools") or []
            if not (t.get("type") == "function" and t.get("name") in self._by_function)
        ]
        data.update(
            id=self.response_id,
            created_at=self.created_at,
            output=self.output,
            usage=self.usage,
            tools=[*tools, *self.echo],
            tool_choice=self.mcp_choice or self.body.get("tool_choice") or data.get("tool_choice") or "auto",
            max_tool_calls=self.body.get("max_tool_calls"),
        )
        return finalise(response_adapter().validate_python(data))

    def partial(self) -> Response:
        """The response as far as it got (for a turn that failed mid-stream): our id, the items so far."""
        return self._response("failed", None)

    def _final(self) -> Response:
        assert self._last is not None
        return self._response(str(self._last.status), self._last)

    # -- events

    def _emit(self, data: dict[str, Any]) -> _Sub:
        if not self.stream:
            return
        from polyresponses.router.dialects._synth import event_adapter

        data["sequence_number"] = self.sequence
        self.sequence += 1
        payload = {key: _plain(value) for key, value in data.items()}
        yield Emit(event_adapter().validate_python(payload))

    def _pass(self, event: ResponseStreamEvent) -> _Sub:
        event.sequence_number = self.sequence
        self.sequence += 1
        yield Emit(event)

    def _item_event(self, kind: str, item: Mapping[str, Any], output_index: int, **fields: Any) -> _Sub:
        yield from self._emit({"type": kind, "item_id": item["id"], "output_index": output_index, **fields})


def _plain(value: Any) -> Any:
    """A value for an event: models as wire JSON, dicts copied (items change after they were announced)."""
    from pydantic import BaseModel

    from polyresponses.router._wire import to_reply

    if isinstance(value, BaseModel):
        return to_reply(value)
    if isinstance(value, dict):
        return json.loads(json.dumps(value))
    return value


def _sum_usage(total: Mapping[str, Any], turn: Mapping[str, Any]) -> dict[str, Any]:
    """Usage of two turns added up, nested details included (``input_tokens_details.cached_tokens``...)."""
    out = dict(total)
    for key, value in turn.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = out.get(key, 0) + value
        elif isinstance(value, Mapping):
            out[key] = _sum_usage(cast("Mapping[str, Any]", out.get(key) or {}), cast("Mapping[str, Any]", value))
    return out
