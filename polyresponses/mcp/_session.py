"""The MCP servers one response talks to, through the official ``mcp`` SDK (the ``[mcp]`` extra).

Each server is connected on first use (Streamable HTTP; the older HTTP+SSE transport when the
server answers the Streamable HTTP handshake with an HTTP error, as the MCP spec's "Backwards
Compatibility" section says a client should), kept for the rest of the response and closed at its
end. The SDK's context managers belong to the task that entered them (anyio cancel scopes), so each
connection lives in a task of its own, and listings and calls from any task of the loop go through
it. Every failure becomes the typed error of ``mcp_call.error`` (:mod:`polyresponses.mcp._results`),
with a message that names the server by scheme and host only: a URL's path or query, and the
headers, may carry tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyresponses.mcp import McpOptions
from polyresponses.mcp._loop import ToolCall
from polyresponses.mcp._request import check_address
from polyresponses.mcp._results import (
    HTTP_TIMEOUT,
    HTTP_UNREACHABLE,
    CallOutcome,
    McpFailure,
    content_text,
    http_error,
    protocol_error,
)
from polyresponses.mcp._servers import McpServer

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["McpSessions", "require_sdk"]


def require_sdk() -> None:
    """Raise an ``ImportError`` naming the extra when the ``mcp`` SDK is missing."""
    try:
        import mcp  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "running mcp tools for this provider needs the official MCP SDK: pip install 'polyresponses[mcp]'"
        ) from error


@dataclass(slots=True)
class _Connection:
    ready: asyncio.Future[Client]
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class McpSessions:
    """Connections of one response, by server label."""

    options: McpOptions
    _open: dict[str, _Connection] = field(default_factory=dict)

    async def list_all(self, servers: Sequence[McpServer]) -> dict[str, list[dict[str, Any]] | McpFailure]:
        """Every server's tools (concurrently, as OpenAI lists them), or why they could not be listed."""
        results = await asyncio.gather(*(self._list(server) for server in servers), return_exceptions=True)
        out: dict[str, list[dict[str, Any]] | McpFailure] = {}
        for server, result in zip(servers, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancelled: not a listing failure
            out[server.label] = result if isinstance(result, list | McpFailure) else _failure(result, server)
        return out

    async def call_all(self, calls: Sequence[ToolCall]) -> list[CallOutcome]:
        """Run ``calls`` concurrently; each result in its call's place."""
        return list(await asyncio.gather(*(self._call(call) for call in calls)))

    async def aclose(self) -> None:
        """Close every connection (the SDK sends the session's DELETE); never raises."""
        connections, self._open = list(self._open.values()), {}
        for connection in connections:
            connection.stop.set()
        tasks = [c.task for c in connections if c.task is not None]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=self.options.connect_timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task

    async def _list(self, server: McpServer) -> list[dict[str, Any]]:
        client = await self._client(server)
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            async with asyncio.timeout(self.options.call_timeout):
                while True:  # MCP spec "Tools: Listing Tools": paginated by nextCursor
                    page = await client.list_tools(cursor=cursor)
                    tools.extend(t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        return tools
        except Exception as error:
            raise _failure(error, server) from None

    async def _call(self, call: ToolCall) -> CallOutcome:
        try:
            client = await self._client(call.server)
            async with asyncio.timeout(self.options.call_timeout):
                result = await client.call_tool(call.name, call.arguments)
        except McpFailure as failure:
            return CallOutcome("", failure.error)
        except Exception as error:
            return CallOutcome("", _failure(error, call.server).error)
        content = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
        if result.is_error:
            return CallOutcome(content_text(content), {"type": "mcp_tool_execution_error", "content": content})
        return CallOutcome(content_text(content, result.structured_content))

    async def _client(self, server: McpServer) -> Client:
        connection = self._open.get(server.label)
        if connection is None:
            loop = asyncio.get_running_loop()
            connection = _Connection(loop.create_future(), asyncio.Event())
            self._open[server.label] = connection
            connection.task = loop.create_task(self._hold(server, connection))
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                return await asyncio.shield(connection.ready)
        except TimeoutError:
            raise McpFailure(
                http_error(HTTP_TIMEOUT, f"{server.origin} did not connect within {self.options.connect_timeout:g} s")
            ) from None

    async def _hold(self, server: McpServer, connection: _Connection) -> None:
        """Connect, publish the client, keep the connection until asked to stop."""
        try:
            if not self.options.allow_private_addresses:
                await check_address(server)
            try:
                await self._serve(server, connection, sse=False)
            except Exception as error:
                if connection.ready.done() or not _answered(error):
                    raise
                await self._serve(server, connection, sse=True)  # an HTTP error to the handshake: the old transport
        except BaseException as error:
            if not connection.ready.done():
                failure = error if isinstance(error, McpFailure) else _failure(error, server)
                connection.ready.set_exception(failure)
                connection.ready.exception()  # retrieved: no "never retrieved" warning when nobody waits
            if not isinstance(error, Exception):
                raise

    async def _serve(self, server: McpServer, connection: _Connection, *, sse: bool) -> None:
        import httpx2
        from mcp import Client
        from mcp.client.sse import sse_client
        from mcp.client.streamable_http import streamable_http_client
        from mcp_types import Implementation

        timeout = httpx2.Timeout(self.options.connect_timeout, read=self.options.call_timeout)
        info = Implementation(name="polyresponses", version=_version())
        async with contextlib.AsyncExitStack() as stack:
            if sse:
                transport: Any = sse_client(
                    server.url,
                    headers=dict(server.headers),
                    timeout=self.options.connect_timeout,
                    sse_read_timeout=self.options.call_timeout,
                )
            else:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(headers=dict(server.headers), timeout=timeout)
                )
                transport = streamable_http_client(server.url, http_client=http)
            client = await stack.enter_async_context(
                Client(transport, read_timeout_seconds=self.options.call_timeout, client_info=info, cache=None)
            )
            connection.ready.set_result(client)
            await connection.stop.wait()


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("polyresponses")
    except PackageNotFoundError:
        return "0"


def _leaf(error: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups (the SDK's task groups wrap everything)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        error = (inner or list(error.exceptions))[0]
    return error


def _answered(error: BaseException) -> bool:
    """The server answered with an HTTP error (so it may speak the old HTTP+SSE transport)."""
    import httpx2
    from mcp.shared.exceptions import MCPError

    leaf = _leaf(error)
    return isinstance(leaf, httpx2.HTTPStatusError | MCPError)


def _failure(error: BaseException, server: McpServer) -> McpFailure:
    """``error`` as the typed ``mcp_call.error``; never the exception's own text where it could hold the URL."""
    import httpx2
    from mcp.shared.exceptions import MCPError

    leaf = _leaf(error)
    if isinstance(leaf, McpFailure):
        return leaf
    if isinstance(leaf, MCPError):
        return McpFailure(protocol_error(leaf.code, leaf.message))
    if isinstance(leaf, httpx2.HTTPStatusError):
        status = leaf.response.status_code
        return McpFailure(http_error(status, f"{server.origin} answered HTTP {status} {leaf.response.reason_phrase}"))
    if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
        return McpFailure(http_error(HTTP_TIMEOUT, f"{server.origin} did not answer in time"))
    if isinstance(leaf, httpx2.TransportError | OSError):
        return McpFailure(http_error(HTTP_UNREACHABLE, f"cannot reach {server.origin} ({type(leaf).__name__})"))
    return McpFailure(http_error(HTTP_UNREACHABLE, f"{server.origin} failed: {type(leaf).__name__}"))
