"""The shells that carry out the MCP loop's steps: sync and async, whole and streamed.

The loop (:mod:`polyresponses.mcp._loop`) decides everything; these only do what a step says: list
or call through :class:`~polyresponses.mcp._session.McpSessions`, ask the provider through the
client's own send/stream path, hand events out. The sync shell runs the SDK's coroutines on an
event loop in one helper thread that lives exactly as long as the response: it is started on the
first MCP step and stopped and joined when the response ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, assert_never

from polyresponses.mcp import McpOptions
from polyresponses.mcp._loop import CallTools, Emit, ListTools, McpLoop, ModelTurn, NextEvent, Step, new_id
from polyresponses.mcp._request import McpRequest
from polyresponses.router._errors import StreamError
from polyresponses.router._stream import AsyncStream, Stream

if TYPE_CHECKING:
    from collections.abc import Generator

    from polyresponses.mcp._session import McpSessions
    from polyresponses.router._client import AsyncClient, Client, _Plan
    from polyresponses.router._providers import Provider
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = ["McpPlan", "McpStream", "AsyncMcpStream", "run_async", "run_sync"]

R = TypeVar("R")
T = TypeVar("T")
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_LIFECYCLE = frozenset({"response.created", "response.in_progress"})


@dataclass(frozen=True, slots=True)
class McpPlan:
    """What a planned create needs to run its MCP loop: the servers, the body after state was resolved,
    the options, the response's id (ours: it spans several provider turns)."""

    request: McpRequest
    body: dict[str, Any] = field(repr=False)
    options: McpOptions
    response_id: str

    @classmethod
    def new(cls, request: McpRequest, body: dict[str, Any], options: McpOptions, response_id: str | None) -> McpPlan:
        from polyresponses.mcp._session import require_sdk

        require_sdk()  # before anything is sent: a missing extra is named, not met mid-response
        return cls(request, body, options, response_id or new_id("resp"))

    def steps(self, provider: Provider, *, stream: bool) -> Generator[Step, Any, Response]:
        return self.loop(provider, stream=stream).run()

    def loop(self, provider: Provider, *, stream: bool) -> McpLoop:
        return McpLoop(
            provider.name,
            self.body,
            self.request.servers,
            self.request.echo,
            stream=stream,
            max_turns=self.options.max_turns,
            response_id=self.response_id,
            mcp_choice=self.request.tool_choice,
            refuses_by_choice=provider.dialect != "bedrock_converse",  # Converse: no "none" after tool calls
        )


class _Bridge:
    """An event loop in a helper thread, for the sync shell; started on first use, joined by :meth:`close`.

    The loop is created, run, drained and closed in the helper thread alone, so a caller whose own thread
    runs an event loop (Jupyter, a sync client inside an async app) is never asked to run this one.
    """

    def __init__(self, options: McpOptions) -> None:
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sessions: McpSessions | None = None

    def run(self, work: Callable[[McpSessions], Coroutine[Any, Any, T]]) -> T:
        from polyresponses.mcp._session import McpSessions

        if self._loop is None:
            ready = threading.Event()
            self._thread = threading.Thread(target=self._serve, args=(ready,), name="polyresponses-mcp", daemon=True)
            self._thread.start()
            ready.wait()
            self._sessions = McpSessions(self._options)
        assert self._loop is not None and self._sessions is not None
        return asyncio.run_coroutine_threadsafe(work(self._sessions), self._loop).result()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def close(self) -> None:
        """Close the sessions and stop the thread; never raises (the response it served stands)."""
        loop, thread, sessions = self._loop, self._thread, self._sessions
        if loop is None or thread is None:
            return
        self._loop = self._thread = self._sessions = None
        try:
            # A session that would not close in time: the thread still stops below.
            with contextlib.suppress(Exception):
                if sessions is not None:
                    wait = self._options.connect_timeout * 2
                    asyncio.run_coroutine_threadsafe(sessions.aclose(), loop).result(timeout=wait)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()


def _record_sync(plan: _Plan, final: Response) -> Response:
    if plan.recorder is not None:
        plan.recorder.patch_response(final)
        plan.recorder.record(final)
    return final


async def _record_async(plan: _Plan, final: Response) -> Response:
    if plan.recorder is not None:
        plan.recorder.patch_response(final)
        await plan.recorder.arecord(final)
    return final


def _mcp(plan: _Plan) -> McpPlan:
    assert plan.mcp is not None
    return plan.mcp


def run_sync(client: Client, plan: _Plan) -> Response:
    """A whole (not streamed) response with its MCP loop, in the sync shell."""
    bridge = _Bridge(_mcp(plan).options)
    steps = _mcp(plan).steps(client.provider, stream=False)
    try:
        reply: Any = None
        while True:
            step = steps.send(reply)
            match step:
                case ListTools(servers=servers):
                    reply = bridge.run(lambda sessions: sessions.list_all(servers))
                case CallTools(calls=calls):
                    reply = bridge.run(lambda sessions: sessions.call_all(calls))
                case ModelTurn(body=body):
                    turn = client._turn_plan(plan, body)
                    reply = client._response(client._send(turn), turn)
                case NextEvent() | Emit():
                    raise AssertionError("a whole response has no stream steps")
                case _:
                    assert_never(step)
    except StopIteration as stop:
        final: Response = stop.value
    finally:
        steps.close()
        bridge.close()
    return _record_sync(plan, final)


async def run_async(client: AsyncClient, plan: _Plan) -> Response:
    """A whole (not streamed) response with its MCP loop, in the async shell."""
    from polyresponses.mcp._session import McpSessions

    sessions = McpSessions(_mcp(plan).options)
    steps = _mcp(plan).steps(client.provider, stream=False)
    try:
        reply: Any = None
        while True:
            step = steps.send(reply)
            match step:
                case ListTools(servers=servers):
                    reply = await sessions.list_all(servers)
                case CallTools(calls=calls):
                    reply = await sessions.call_all(calls)
                case ModelTurn(body=body):
                    turn = client._turn_plan(plan, body)
                    reply = client._response(await client._send(turn), turn)
                case NextEvent() | Emit():
                    raise AssertionError("a whole response has no stream steps")
                case _:
                    assert_never(step)
    except StopIteration as stop:
        final: Response = stop.value
    finally:
        steps.close()
        await sessions.aclose()
    return await _record_async(plan, final)


class _LoopStream:
    """What the sync and async MCP streams share: the loop's steps, its first step, the open turn, the end."""

    _turn: Stream[Any] | AsyncStream[Any] | None

    def _setup(self, provider: Provider, plan: _Plan) -> None:
        self._plan, self._provider = plan, provider.name
        self._loop = _mcp(plan).loop(provider, stream=True)
        self._steps = self._loop.run()
        self._turn = None
        self._first: Step | None = None
        self._final: Response | None = None
        self._closed = False

    @property
    def request_id(self) -> str | None:
        """The provider's request id of the turn being streamed."""
        return None if self._turn is None else self._turn.request_id

    @property
    def unknown_events(self) -> list[Any]:
        return [] if self._turn is None else self._turn.unknown_events

    def _prime(self) -> None:
        """Run the loop to its first step: what it refuses, it refuses here, before anything is sent."""
        if self._first is None and not self._closed:
            self._first = next(self._steps)

    def _advance(self, reply: Any) -> Step | None:
        """The loop's next step, ``None`` once it returned the final response."""
        try:
            return self._steps.send(reply)
        except StopIteration as stop:
            self._final = stop.value
            return None

    def _recorded(self, event: ResponseStreamEvent) -> Response | None:
        """Say on a lifecycle event's response what the caller asked for; the terminal one, to record."""
        recorder = self._plan.recorder
        if recorder is None or event.type not in _LIFECYCLE | _TERMINAL:
            return None
        recorder.patch_response(event.response)  # type: ignore[union-attr]
        return event.response if event.type in _TERMINAL else None  # type: ignore[union-attr]

    def _result(self) -> Any:
        if self._final is None:
            raise StreamError("the stream ended before its terminal event", provider=self._provider)
        if self._plan.recorder is not None:
            self._plan.recorder.patch_response(self._final)
        return self._plan.finalise(self._final)


class McpStream(_LoopStream, Stream[R], Generic[R]):
    """A sync stream whose response runs an MCP loop: the same surface as :class:`Stream`.

    ``open()`` starts the loop up to its first event (a refused approval raises there, before anything
    is sent); the provider's turns are streamed through as they arrive.
    """

    def __init__(self, client: Client, plan: _Plan) -> None:
        self._client = client
        self._setup(client.provider, plan)
        self._bridge = _Bridge(_mcp(plan).options)
        self._events = self._iterate()

    def open(self) -> McpStream[R]:
        try:
            self._prime()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self._closed = True
        if isinstance(self._turn, Stream):
            self._turn.close()
        self._steps.close()
        self._bridge.close()

    def __enter__(self) -> McpStream[R]:
        return self.open()

    def _iterate(self) -> Iterator[ResponseStreamEvent]:
        try:
            self.open()
            step = self._first
            turn: Iterator[ResponseStreamEvent] = iter(())
            while step is not None:
                reply: Any = None
                match step:
                    case Emit(event=event):
                        if (final := self._recorded(event)) is not None and self._plan.recorder is not None:
                            self._plan.recorder.record(final)
                        yield event
                    case ListTools(servers=servers):
                        reply = self._bridge.run(lambda sessions: sessions.list_all(servers))
                    case CallTools(calls=calls):
                        reply = self._bridge.run(lambda sessions: sessions.call_all(calls))
                    case ModelTurn(body=body):
                        opened = self._client._stream(self._client._turn_plan(self._plan, body)).open()
                        self._turn, turn = opened, iter(opened)
                    case NextEvent():
                        reply = self._next(turn)
                    case _:
                        assert_never(step)
                step = self._advance(reply)
        finally:
            self.close()

    def _next(self, turn: Iterator[ResponseStreamEvent]) -> ResponseStreamEvent | None:
        try:
            return next(turn, None)
        except StreamError as error:
            error.partial = self._loop.partial()  # the MCP response so far, not the provider's turn
            raise

    def get_final_response(self) -> R:
        self.until_done()
        result: R = self._result()
        return result


class AsyncMcpStream(_LoopStream, AsyncStream[R], Generic[R]):
    """The async twin of :class:`McpStream`."""

    def __init__(self, client: AsyncClient, plan: _Plan) -> None:
        from polyresponses.mcp._session import McpSessions

        self._client = client
        self._setup(client.provider, plan)
        self._sessions = McpSessions(_mcp(plan).options)
        self._events = self._iterate()

    async def open(self) -> AsyncMcpStream[R]:
        try:
            self._prime()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        self._closed = True
        if isinstance(self._turn, AsyncStream):
            await self._turn.close()
        self._steps.close()
        await self._sessions.aclose()

    async def __aenter__(self) -> AsyncMcpStream[R]:
        return await self.open()

    async def _iterate(self) -> AsyncIterator[ResponseStreamEvent]:
        try:
            await self.open()
            step = self._first
            turn: AsyncIterator[ResponseStreamEvent] | None = None
            while step is not None:
                reply: Any = None
                match step:
                    case Emit(event=event):
                        if (final := self._recorded(event)) is not None and self._plan.recorder is not None:
                            await self._plan.recorder.arecord(final)
                        yield event
                    case ListTools(servers=servers):
                        reply = await self._sessions.list_all(servers)
                    case CallTools(calls=calls):
                        reply = await self._sessions.call_all(calls)
                    case ModelTurn(body=body):
                        opened = await self._client._stream(self._client._turn_plan(self._plan, body)).open()
                        self._turn, turn = opened, aiter(opened)
                    case NextEvent():
                        assert turn is not None
                        try:
                            reply = await anext(turn, None)
                        except StreamError as error:
                            error.partial = self._loop.partial()  # the MCP response so far, not the turn's
                            raise
                    case _:
                        assert_never(step)
                step = self._advance(reply)
        finally:
            await self.close()

    async def get_final_response(self) -> R:
        await self.until_done()
        result: R = self._result()
        return result
