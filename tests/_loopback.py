"""A real HTTP/1.1 server on 127.0.0.1 for fault tests: scripted replies, counted connections. Stdlib only.

``LoopbackServer`` listens on a free port and serves from a background thread, one thread per
connection (keep-alive honoured, so a pooled client reuses its connection). Each request takes the
next scripted :data:`Behaviour` (``server.script(...)``), or ``server.default`` once the script is
used up. A behaviour gets an :class:`Exchange` and may answer, stream, stall or drop the connection::

    with LoopbackServer(default=json_reply({"ok": True})) as server:
        server.script(json_reply({"error": "busy"}, status=429, headers={"retry-after": "0.1"}))
        ...  # point a client at server.url; then check server.attempts, server.connections_opened

Behaviours stop early when the client hangs up (``Exchange.pause`` watches the socket), so a
timed-out client never leaves a handler thread sleeping behind it.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

__all__ = [
    "Behaviour",
    "Exchange",
    "LoopbackServer",
    "RecordedRequest",
    "html_reply",
    "json_reply",
    "raw_reply",
    "sse_body",
    "sse_reply",
    "stall",
]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the client sent."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    connection: int
    """Serial number of the TCP connection it came on (1 for the first connection the server accepted)."""
    received: float
    """``time.monotonic()`` when its body had been read."""

    def json(self) -> Any:
        return json.loads(self.body)


class ClientGone(Exception):
    """The client closed the connection while a behaviour was still talking to it."""


class Exchange:
    """One request, and the means to answer it (or to misbehave) on its connection."""

    def __init__(self, handler: _Handler, request: RecordedRequest) -> None:
        self._handler = handler
        self.request = request
        self._chunked = False

    @property
    def stopping(self) -> bool:
        return self._handler.loopback.stopping.is_set()

    def head(self, status: int, headers: Mapping[str, str]) -> None:
        """The status line and exactly these headers; the body is then up to the behaviour (:meth:`write`)."""
        handler = self._handler
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        try:
            handler.end_headers()
        except OSError as error:
            raise ClientGone(str(error)) from error

    def reply(
        self, status: int, body: bytes, *, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        """A complete reply with a ``Content-Length`` (the connection stays open for the next request)."""
        fields = {"Content-Type": content_type} if content_type is not None else {}
        self.head(status, {**fields, "Content-Length": str(len(body)), **(headers or {})})
        self._write(body)

    def start(
        self,
        status: int = 200,
        *,
        content_type: str = "text/event-stream",
        framing: Literal["chunked", "close"] = "chunked",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Status and headers of a body sent piecewise: chunked, or delimited by closing the connection."""
        fields = {"Content-Type": content_type, "Cache-Control": "no-cache"}
        self._chunked = framing == "chunked"
        if self._chunked:
            fields["Transfer-Encoding"] = "chunked"
        else:
            fields["Connection"] = "close"
            self._handler.close_connection = True
        self.head(status, {**fields, **(headers or {})})

    def write(self, data: bytes) -> None:
        """One piece of a body begun with :meth:`start` (framed as one chunk when chunked)."""
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._write(data)

    def end(self) -> None:
        """Finish a body begun with :meth:`start`."""
        if self._chunked:
            self._write(b"0\r\n\r\n")
        else:
            self._handler.close_connection = True

    def pause(self, seconds: float) -> None:
        """Wait, but raise :class:`ClientGone` as soon as the client hangs up (or the server stops)."""
        sock = self._handler.connection
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.stopping:
                raise ClientGone("server stopping")
            try:
                readable, _, _ = select.select([sock], [], [], min(remaining, 0.02))
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    raise ClientGone("client closed the connection")
            except OSError as error:  # reset by the client
                raise ClientGone(str(error)) from error

    def drop(self, *, reset: bool = False) -> None:
        """Close the connection now, mid-reply: a FIN, or with ``reset`` a TCP RST (SO_LINGER 0)."""
        handler = self._handler
        handler.close_connection = True
        sock = handler.connection
        handler.wfile.flush()
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.rfile.close()  # the makefile() reference would keep the descriptor open
            sock.close()
        else:
            sock.shutdown(socket.SHUT_RDWR)

    def _write(self, data: bytes) -> None:
        try:
            self._handler.wfile.write(data)
            self._handler.wfile.flush()
        except OSError as error:
            raise ClientGone(str(error)) from error


Behaviour = Callable[[Exchange], None]
"""How to treat one request."""


# ------------------------------------------------------------------------------------------ behaviours


def raw_reply(
    body: bytes | str, *, status: int = 200, content_type: str | None, headers: Mapping[str, str] | None = None
) -> Behaviour:
    """Answer with exactly these bytes."""
    data = body.encode() if isinstance(body, str) else body

    def behaviour(exchange: Exchange) -> None:
        exchange.reply(status, data, content_type=content_type, headers=headers)

    return behaviour


def json_reply(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Behaviour:
    """Answer with ``body`` as JSON."""
    return raw_reply(json.dumps(body), status=status, content_type="application/json", headers=headers)


def html_reply(status: int, title: str = "Bad Gateway", *, headers: Mapping[str, str] | None = None) -> Behaviour:
    """Answer with an HTML page, as a proxy or load balancer in front of the API would."""
    page = f"<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>"
    return raw_reply(page, status=status, content_type="text/html; charset=utf-8", headers=headers)


def sse_body(events: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Each event as one SSE frame (``event:`` named after its ``type``)."""
    return [f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events]


def sse_reply(
    events: Sequence[Mapping[str, Any]],
    *,
    framing: Literal["chunked", "close"] = "chunked",
    stop_after: int | None = None,
    then: Literal["end", "drop", "reset", "stall"] = "end",
    stall_seconds: float = 5.0,
) -> Behaviour:
    """An SSE stream of ``events``, one chunk each; or only the first ``stop_after``, followed by ``then``.

    ``then``: ``end`` finishes the body properly (for ``close`` framing: closes, which is a clean
    end); ``drop`` closes the socket (FIN) mid-body; ``reset`` aborts it (RST); ``stall`` goes
    silent for ``stall_seconds`` (until the client gives up), then ends the body.
    """
    frames = sse_body(events)
    if stop_after is not None:
        frames = frames[:stop_after]

    def behaviour(exchange: Exchange) -> None:
        exchange.start(framing=framing)
        for frame in frames:
            exchange.write(frame)
        if then in ("drop", "reset"):
            exchange.pause(0.05)  # let the client read what was sent before the connection goes
            exchange.drop(reset=then == "reset")
            return
        if then == "stall":
            exchange.pause(stall_seconds)
        exchange.end()

    return behaviour


def stall(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Say nothing for ``seconds`` (stopping early if the client hangs up), then behave as ``then``."""

    def behaviour(exchange: Exchange) -> None:
        exchange.pause(seconds)
        if then is not None:
            then(exchange)
        else:
            exchange.drop()

    return behaviour


# ------------------------------------------------------------------------------------------ the server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a pooled client can reuse the connection
    server: _Server
    connection: socket.socket
    serial: int

    @property
    def loopback(self) -> LoopbackServer:
        return self.server.loopback

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm meets the client's
        # delayed ACK and every reply waits ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.serial = self.loopback._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.loopback._closed(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            self.command, self.path, dict(self.headers.items()), body, self.serial, time.monotonic()
        )
        behaviour = self.loopback._next(request)
        try:
            behaviour(Exchange(self, request))
        except ClientGone:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what was recorded instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    loopback: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        """Connection-level failures are the point of these tests; anything else is kept for the test."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.loopback.errors.append(error)


class LoopbackServer:
    """A scripted HTTP server on ``127.0.0.1``; use as a context manager (or call :meth:`close`)."""

    def __init__(self, default: Behaviour | None = None, *, path_prefix: str = "/v1") -> None:
        self.default: Behaviour = default or json_reply({"error": {"message": "no behaviour scripted"}}, status=500)
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException | None] = []
        self.stopping = threading.Event()
        self.connections_opened = 0
        self._open: set[socket.socket] = set()
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.loopback = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}{path_prefix}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.005,), daemon=True)
        self._thread.start()

    # -- scripting

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def attempts(self) -> int:
        """How many requests arrived."""
        with self._lock:
            return len(self.requests)

    @property
    def connections_open(self) -> int:
        """TCP connections accepted and not yet closed by either side."""
        with self._lock:
            return len(self._open)

    def wait_for(self, predicate: Callable[[LoopbackServer], bool], timeout: float = 2.0) -> bool:
        """Whether ``predicate(self)`` holds within ``timeout`` seconds (connection counts lag the client)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.02))
            return True

    # -- lifecycle

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:  # wake handler threads blocked reading an idle keep-alive connection
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- called by handler threads

    def _next(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            return self._script.popleft() if self._script else self.default

    def _opened(self, sock: socket.socket) -> int:
        with self._lock:
            self.connections_opened += 1
            self._open.add(sock)
            self._lock.notify_all()
            return self.connections_opened

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
            self._lock.notify_all()
