"""An HTTP/1.1 client on asyncio protocols and llhttp (``httptools``): the gateway's upstream connections.

Why a second client beside httpcore: a gateway's added latency is mostly its upstream client's. On
loopback httpcore (h11 in pure Python over anyio streams) adds about 0.9 ms to a proxied request and
its pool slows under concurrency, where this adds about 0.4 ms (``bench/gateway.py``, the bare proxy
row with each client). ``httptools`` is uvicorn's own parser, so the ``[server]`` extra already has it.

Scope, kept small on purpose: HTTP/1.1 over TCP or TLS, keep-alive pooling per origin, the four httpx
timeouts, bodies as bytes or chunked from an async iterable, responses streamed with backpressure.
Proxies, ``HEAD`` and HTTP/2 are not here: :mod:`polyresponses.router._http` keeps httpx's own
transport for them. No httpx here either: ``_http`` adapts this module to httpx's transport interface
and maps :class:`HTTP1Error` onto httpx's exceptions (and those onto ours).

Message framing follows RFC 9112: section 6.3 (a body ends at its ``Content-Length``, at the last
chunk, or, with neither, when the server closes), section 9.3 (persistence: reuse only after the whole
response arrived, nothing followed it, and neither side said ``close``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

__all__ = [
    "ConnectFailed",
    "ConnectTimedOut",
    "HTTP1Error",
    "Origin",
    "Pool",
    "PoolTimedOut",
    "ProtocolViolation",
    "ReadFailed",
    "ReadTimedOut",
    "Reply",
    "TimedOut",
    "Timeouts",
    "WriteTimedOut",
    "default_port",
]

_READ_HIGH_WATER: Final = 256 * 1024
"""Bytes of response body buffered before the socket stops being read (backpressure on the server)."""
_READ_LOW_WATER: Final = 64 * 1024
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Headers = list[tuple[bytes, bytes]]


class HTTP1Error(Exception):
    """A failure of the connection or of the peer's HTTP; ``_http`` maps each kind onto httpx's."""


class ConnectFailed(HTTP1Error):
    pass


class TimedOut(HTTP1Error):
    """One of the four limits of :class:`Timeouts` ran out."""


class ConnectTimedOut(TimedOut):
    pass


class PoolTimedOut(TimedOut):
    pass


class WriteTimedOut(TimedOut):
    pass


class ReadTimedOut(TimedOut):
    pass


class ReadFailed(HTTP1Error):
    """The connection broke (reset, closed early) while a response was expected or being read."""


class ProtocolViolation(HTTP1Error):
    """The server's bytes are not HTTP/1.1 (llhttp refused them)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds, ``None`` for no limit; the meaning of httpx's ``Timeout`` fields."""

    connect: float | None = None
    read: float | None = None
    write: float | None = None
    pool: float | None = None


Origin = tuple[str, str, int]
"""``(scheme, host, port)``: connections are shared only within one origin."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the response being read on it. Callbacks come from the loop."""

    def __init__(self, pool: Pool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._active = False
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.parser = self.pool._parser_type(self)
        self.status = 0
        self.reason = b""
        self.headers: Headers = []
        self.head_done = False
        self.complete = False
        self.reusable = False
        self.until_close = False
        self.error: HTTP1Error | None = None
        self.chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        if not self._active:  # bytes nobody asked for: the connection cannot be trusted again
            self._close()
            return
        if self.complete:  # past the end of the response: it stands, the connection is not reused
            self.reusable = False
            return
        try:
            self.parser.feed_data(data)
        except self.pool._parser_error as error:
            if self.complete:  # the response ended within these bytes; what followed it is not reused
                self.reusable = False
            else:
                self.error = ProtocolViolation(f"the server's reply is not valid HTTP/1.1: {error}")
                self._close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._active and not self.complete and self.error is None:
            if self.head_done and self.until_close and exc is None:
                self.complete = True  # RFC 9112 section 6.3, rule 8: this body ends when the server closes it
            else:
                where = "while sending its body" if self.head_done else "before sending a response"
                cause = f" ({exc})" if exc is not None else ""
                self.error = ReadFailed(f"the server closed the connection {where}{cause}")
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self.pool._forget(self)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # httptools callbacks

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim response (RFC 9110 section 15.2): the real one follows
            return
        self.status = status
        self.head_done = True
        framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers)
        self.until_close = not framed and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _READ_HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if not self.head_done:  # the end of an interim response
            self.headers.clear()
            self.reason = b""
            return
        self.complete = True
        self.reusable = self.parser.should_keep_alive() and not self.until_close

    # used by Pool and Reply

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until the loop hands over more (bytes, the end, an error); ``ReadTimedOut`` after ``timeout``."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            raise ReadTimedOut(f"no data from the server for {timeout} s") from None
        finally:
            self._waiter = None

    def take(self) -> bytes:
        """The body bytes buffered so far (reading resumes once the buffer has drained)."""
        data = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self._buffered = 0
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def send(self, head: bytes, body: bytes | AsyncIterable[bytes], timeout: float | None) -> None:
        """Write the request; ``body`` as bytes (already framed by Content-Length) or chunked."""
        self._reset()
        self._active = True
        if isinstance(body, bytes):
            if len(body) < 65536:
                self._write(head + body)
            else:
                self._write(head)
                self._write(body)
            await self._drain(timeout)
            return
        self._write(head)
        async for chunk in body:  # RFC 9112 section 7.1: chunked transfer coding
            if chunk:
                self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                await self._drain(timeout)
        self._write(b"0\r\n\r\n")
        await self._drain(timeout)

    def _write(self, data: bytes) -> None:
        """One write; a connection the server has closed (its loss not yet delivered, as uvloop does a turn
        later, where a write raises ``RuntimeError``) is a failure to send, not a crash."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            raise ReadFailed("the server closed the connection before the request was sent")
        try:
            transport.write(data)
        except RuntimeError as error:
            raise ReadFailed(f"the server closed the connection before the request was sent ({error})") from None

    async def _drain(self, timeout: float | None) -> None:
        writable = self._writable
        if writable is None or writable.done() or self.closed:
            return
        try:
            async with asyncio.timeout(timeout):
                await writable
        except TimeoutError:
            raise WriteTimedOut(f"the server took no data for {timeout} s") from None

    def release(self) -> None:
        """The response is over: back to the pool if the whole of it was read and both sides keep alive."""
        self._active = False
        if self.complete and self.reusable and not self.closed and self.error is None:
            self.chunks.clear()  # what the reader left unread of this response
            self._buffered = 0
            if self._reading_paused and self.transport is not None:  # read again: a close must be seen
                self._reading_paused = False
                self.transport.resume_reading()
            self.pool._give_back(self)
        else:
            self._close()

    def _close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()  # no graceful TLS shutdown: nothing more is owed on a discarded connection
        self.closed = True
        self.pool._forget(self)


class Reply:
    """A response whose head has arrived: status, headers, and the body as it comes. Close it."""

    def __init__(self, connection: _Connection, read_timeout: float | None) -> None:
        self._connection: _Connection | None = connection
        self._read_timeout = read_timeout
        self.status = connection.status
        self.reason = connection.reason
        self.headers = connection.headers

    async def body(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive; at its end the connection goes back to the pool."""
        connection = self._connection
        if connection is None:
            return
        while True:
            if connection.chunks:
                yield connection.take()
                continue
            if connection.error is not None:
                error = connection.error
                await self.aclose()
                raise error
            if connection.complete:
                self.close()
                return
            if connection.closed:
                await self.aclose()
                raise ReadFailed("the server closed the connection while sending its body")
            await connection.wait(self._read_timeout)

    def close(self) -> None:
        """Release the connection: reused if the body was read to its end, closed otherwise. Idempotent.
        A closed connection's socket is closed by the loop's next turn (:meth:`aclose` waits for it)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.release()

    async def aclose(self) -> None:
        """:meth:`close`, and when the connection was not kept, one loop turn: its socket is then closed
        (asyncio closes a socket in a callback), so the server sees the hang-up before this returns."""
        connection = self._connection
        self.close()
        if connection is not None and connection.closed:
            await asyncio.sleep(0)


class Pool:
    """Keep-alive connections per origin, at most ``max_connections`` open (idle ones count)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 1000,
        max_idle_per_origin: int = 100,
        keepalive_expiry: float = 5.0,
        pool_timeout: float | None = None,
    ) -> None:
        import httptools  # the [server] extra's: imported by the first pool, not by importing this module

        self._parser_type: Any = httptools.HttpResponseParser
        self._parser_error: type[Exception] = httptools.HttpParserError
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self.pool_timeout = pool_timeout
        """Seconds a request waits for a connection while ``max_connections`` are busy; ``None``: its own."""
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._opening = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def request(
        self,
        method: bytes,
        origin: Origin,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes | AsyncIterable[bytes],
        timeouts: Timeouts,
    ) -> Reply:
        """Send one request and wait for the response's head. ``headers`` must include ``Host`` and the
        body's framing (``Content-Length`` or ``Transfer-Encoding: chunked``), as httpx's requests do."""
        lines = [method, b" ", target, b" HTTP/1.1\r\n"]
        for name, value in headers:
            lines += (name, b": ", value, b"\r\n")
        lines.append(b"\r\n")
        connection = await self._checkout(origin, timeouts)
        try:
            await connection.send(b"".join(lines), body, timeouts.write)
            while not connection.head_done:
                if connection.error is not None:
                    raise connection.error
                if connection.closed:
                    raise ReadFailed("the server closed the connection before sending a response")
                await connection.wait(timeouts.read)
        except BaseException:
            connection._active = False
            connection._close()
            raise
        return Reply(connection, timeouts.read)

    async def _checkout(self, origin: Origin, timeouts: Timeouts) -> _Connection:
        """An idle connection to ``origin``, else a new one once the cap allows (waiting ``timeouts.pool``)."""
        loop = asyncio.get_running_loop()
        wait = timeouts.pool if self.pool_timeout is None else self.pool_timeout
        deadline = None if wait is None else loop.time() + wait
        while True:
            if self._closed:
                raise ConnectFailed("the connection pool is closed")
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                alive = connection.transport is not None and not connection.transport.is_closing()
                if alive and not connection.closed and loop.time() - connection.idle_since < self._expiry:
                    return connection
                connection._close()
            if len(self._open) + self._opening < self._max_connections or self._drop_oldest_idle():
                break
            await self._wait_for_slot(deadline, loop)
        self._opening += 1
        try:
            return await self._connect(origin, timeouts.connect)
        finally:
            self._opening -= 1
            self._notify()

    async def _wait_for_slot(self, deadline: float | None, loop: asyncio.AbstractEventLoop) -> None:
        """Until a connection is closed or given back (at most until ``deadline``)."""
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self._notify()  # woken as it gave up: the freed connection is someone else's
            if isinstance(error, TimeoutError):
                raise PoolTimedOut(f"no connection came free in time ({self._max_connections} open)") from None
            raise
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    def _drop_oldest_idle(self) -> bool:
        candidates = [connections[0] for connections in self._idle.values() if connections]
        if not candidates:
            return False
        oldest = min(candidates, key=lambda connection: connection.idle_since)
        self._idle[oldest.origin].remove(oldest)
        oldest._close()
        return True

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self, origin),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError:
            raise ConnectTimedOut(f"connecting to {host}:{port} took longer than {timeout} s") from None
        except (OSError, ssl.SSLError) as error:
            raise ConnectFailed(f"could not connect to {host}:{port}: {error}") from None
        if connection.closed:  # lost between connecting and now (a TLS close, a reset)
            raise ConnectFailed(f"the connection to {host}:{port} closed as it opened")
        self._open.add(connection)
        return connection

    def _give_back(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.origin, [])
        if self._closed or len(idle) >= self._max_idle:
            connection._close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)
        self._notify()

    def _forget(self, connection: _Connection) -> None:
        if connection in self._open:
            self._open.discard(connection)
            idle = self._idle.get(connection.origin)
            if idle and connection in idle:
                idle.remove(connection)
            self._notify()

    def _notify(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        """Close every connection; requests still reading see their connection end."""
        self._closed = True
        connections = list(self._open)
        for connection in connections:
            connection._close()
        self._idle.clear()
        while self._waiting:  # every request waiting for a slot learns the pool is closed
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if connections:
            await asyncio.sleep(0)  # the loop closes the sockets in callbacks: let them run


def default_port(scheme: str) -> int:
    return _DEFAULT_PORTS.get(scheme, 80)
