"""Transport faults against a real loopback HTTP server, for ``Client`` and ``AsyncClient`` alike.

Each test runs twice (the ``callers`` fixture is parametrised ``sync``/``async``): the same scripted misbehaviour
(``tests/_loopback.py``) must give the same error from both shells. Covered: connections dropped
mid-stream, streams cut before their terminal event, timeouts (per client and per call, before the
headers and mid-stream), retries (Retry-After, retry-after-ms, HTTP dates, backoff, what is and is
not retried, per-call ``max_retries``), replies that are not the documented shape (malformed JSON,
HTML pages), no connection leaked by any of these (a pool of exactly one connection), no API key in
any error even when the server echoes it, and the pooled clients of ``responses()``/``aresponses()``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import random
import ssl
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal, Unpack

import httpx
import pytest

import polyresponses
from polyresponses import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from polyresponses.router._http import HTTP1Transport, fast_async_transport
from polyresponses.router._params import RequestOptions
from polyresponses.types import Response, ResponseStreamEvent
from tests._loopback import (
    Behaviour,
    Exchange,
    LoopbackServer,
    html_reply,
    json_reply,
    raw_reply,
    sse_reply,
    stall,
)

pytestmark = pytest.mark.anyio

KEY = "sk-secret-key-123"
PROVIDER = "openai_compatible"
MODEL = "m"
Kind = Literal["sync", "async", "http1"]
"""The shells: ``Client``; ``AsyncClient`` over httpx; ``AsyncClient`` over the gateway's ``_http1`` pool."""


# ------------------------------------------------------------------------------------------ payloads


def response_json(status: str = "completed", *, text: str = "Hello") -> dict[str, Any]:
    """A minimal valid ``Response``; ``in_progress`` ones have no output yet."""
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": MODEL,
        "output": [] if status == "in_progress" else [message(text)],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "parallel_tool_calls": True,
        "tools": [],
        "tool_choice": "auto",
        "metadata": {},
        "temperature": None,
        "top_p": None,
    }


def message(text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    return {"type": "message", "id": "msg_1", "role": "assistant", "status": status, "content": content}


def _delta(sequence: int, delta: str) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "sequence_number": sequence,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": delta,
    }


EVENTS: list[dict[str, Any]] = [
    {"type": "response.created", "sequence_number": 0, "response": response_json("in_progress")},
    {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": message("", "in_progress")},
    {
        "type": "response.content_part.added",
        "sequence_number": 2,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "part": {"type": "output_text", "text": "", "annotations": []},
    },
    _delta(3, "Hel"),
    _delta(4, "lo"),
    {"type": "response.output_item.done", "sequence_number": 5, "output_index": 0, "item": message("Hello")},
    {"type": "response.completed", "sequence_number": 6, "response": response_json()},
]
"""A complete, valid stream whose final text is ``Hello``; the first six events stop before the terminal one."""

OK = json_reply(response_json())
OK_STREAM = sse_reply(EVENTS)


def error_event(text: str) -> dict[str, Any]:
    return {"type": "error", "sequence_number": 1, "code": "server_error", "message": text, "param": None}


def failed_event(text: str) -> dict[str, Any]:
    failed = dict(response_json("failed"), output=[], error={"code": "server_error", "message": text})
    return {"type": "response.failed", "sequence_number": 1, "response": failed}


def error_json(text: str) -> dict[str, Any]:
    return {"error": {"message": text, "type": "invalid_request_error"}}


def short_body(exchange: Exchange) -> None:
    """A JSON reply that announces more bytes than it sends, then closes the connection."""
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": "5000"})
    exchange.write(b'{"id": "resp_1", "object": "resp')
    exchange.pause(0.05)
    exchange.drop()


# ----------------------------------------------------------------------------- one interface, two shells


class Caller:
    """One client under test behind one awaitable interface, so every test body runs on both shells."""

    client: Client | AsyncClient

    async def create(self, **options: Unpack[RequestOptions]) -> Response:
        raise NotImplementedError

    async def stream(
        self, sink: list[ResponseStreamEvent], *, stop_after: int | None = None, **options: Unpack[RequestOptions]
    ) -> Response | None:
        """Open a stream in ``with``, put its events in ``sink`` (up to ``stop_after``, then break)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SyncCaller(Caller):
    client: Client

    def __init__(self, client: Client, http_client: httpx.Client | None) -> None:
        self.client, self._http_client = client, http_client

    async def create(self, **options: Unpack[RequestOptions]) -> Response:
        return self.client.responses.create(model=MODEL, input="hi", **options)

    async def stream(
        self, sink: list[ResponseStreamEvent], *, stop_after: int | None = None, **options: Unpack[RequestOptions]
    ) -> Response | None:
        with self.client.responses.stream(model=MODEL, input="hi", **options) as stream:
            for event in stream:
                sink.append(event)
                if stop_after is not None and len(sink) >= stop_after:
                    return None
            return stream.get_final_response()

    async def close(self) -> None:
        self.client.close()
        if self._http_client is not None:
            self._http_client.close()


class AsyncCaller(Caller):
    client: AsyncClient

    def __init__(self, client: AsyncClient, http_client: httpx.AsyncClient | None) -> None:
        self.client, self._http_client = client, http_client

    async def create(self, **options: Unpack[RequestOptions]) -> Response:
        return await self.client.responses.create(model=MODEL, input="hi", **options)

    async def stream(
        self, sink: list[ResponseStreamEvent], *, stop_after: int | None = None, **options: Unpack[RequestOptions]
    ) -> Response | None:
        async with self.client.responses.stream(model=MODEL, input="hi", **options) as stream:
            async for event in stream:
                sink.append(event)
                if stop_after is not None and len(sink) >= stop_after:
                    return None
            return await stream.get_final_response()

    async def close(self) -> None:
        await self.client.close()
        if self._http_client is not None:
            await self._http_client.aclose()


@dataclass
class Callers:
    """Builds callers of one kind against one server, and closes them after the test."""

    kind: Kind
    server: LoopbackServer
    built: list[Caller] = field(default_factory=list)

    def make(
        self, *, timeout: float | None = None, max_retries: int = 2, pool_of_one: bool = False, stock: bool = False
    ) -> Caller:
        """A client for ``server``.

        ``pool_of_one`` injects an httpx client allowing a single connection; ``stock`` lets the
        client build its own httpx client exactly as in production. Otherwise the client gets an
        httpx transport sharing one TLS context: building httpx's default one loads the CA bundle,
        ~0.1 s per client, which would dominate this file's runtime (the server is plain HTTP).
        """
        args: dict[str, Any] = {
            "api_base": self.server.url,
            "api_key": KEY,
            "max_retries": max_retries,
            "timeout": 600.0 if timeout is None else timeout,
        }
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        pool_timeout = httpx.Timeout(2.0, pool=0.5)
        caller: Caller
        if self.kind == "sync":
            http_client = httpx.Client(limits=limits, timeout=pool_timeout, verify=tls()) if pool_of_one else None
            transport = None if stock or pool_of_one else httpx.HTTPTransport(verify=tls())
            caller = SyncCaller(Client(PROVIDER, http_client=http_client, transport=transport, **args), http_client)
        elif self.kind == "http1":
            if stock:
                http1 = fast_async_transport()
                assert http1 is not None, "httptools is in the test environment"
            else:
                http1 = HTTP1Transport(tls(), max_connections=1 if pool_of_one else 1000, pool_timeout=0.5)
            caller = AsyncCaller(AsyncClient(PROVIDER, transport=http1, **args), None)
        else:
            async_http = httpx.AsyncClient(limits=limits, timeout=pool_timeout, verify=tls()) if pool_of_one else None
            async_transport = None if stock or pool_of_one else httpx.AsyncHTTPTransport(verify=tls())
            async_client = AsyncClient(PROVIDER, http_client=async_http, transport=async_transport, **args)
            caller = AsyncCaller(async_client, async_http)
        self.built.append(caller)
        return caller


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every test client (never used: the loopback server speaks plain HTTP)."""
    return httpx.create_ssl_context()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback server answering ``OK`` unless scripted otherwise."""
    with LoopbackServer(default=OK) as loopback:
        try:
            yield loopback
        finally:
            polyresponses.close_pooled_clients()
        assert loopback.errors == [], "the loopback server's handlers failed"


@pytest.fixture(params=["sync", "async", "http1"])
async def callers(request: pytest.FixtureRequest, server: LoopbackServer) -> AsyncIterator[Callers]:
    factory = Callers(request.param, server)
    yield factory
    for caller in factory.built:
        await caller.close()


@pytest.fixture
def fixed_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff without Retry-After is ``0.5 * 2**attempt * (1 - 0.25 * random())``: pin it to 0.375 s first."""
    monkeypatch.setattr(random, "random", lambda: 1.0)


async def timed_error(coroutine: Awaitable[object], expected: type[APIError]) -> tuple[APIError, float]:
    """The error ``coroutine`` raised (checked to be an ``expected``) and the seconds it took."""
    start = time.monotonic()
    with pytest.raises(expected) as info:
        await coroutine
    return info.value, time.monotonic() - start


def retry_gaps(server: LoopbackServer) -> list[float]:
    """Seconds between consecutive requests as the server saw them: the client's waits before retrying."""
    times = [request.received for request in server.requests]
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


# ------------------------------------------------------------------------- 1. dropped and truncated streams


@pytest.mark.parametrize(
    ("framing", "then"),
    [("chunked", "drop"), ("chunked", "reset"), ("close", "reset")],
    ids=["chunked-fin", "chunked-rst", "close-delimited-rst"],
)
async def test_connection_dropped_mid_stream_is_a_connection_error(
    callers: Callers, server: LoopbackServer, framing: Literal["chunked", "close"], then: Literal["drop", "reset"]
) -> None:
    """A drop that breaks the HTTP framing is an ``APIConnectionError`` (documented: "dropped mid-stream")."""
    server.script(sse_reply(EVENTS, framing=framing, stop_after=4, then=then))
    caller = callers.make()
    events: list[ResponseStreamEvent] = []
    error, _ = await timed_error(caller.stream(events), APIConnectionError)
    assert type(error) is APIConnectionError
    assert "failed" in str(error) and server.url in str(error)
    assert [event.type for event in events] == [e["type"] for e in EVENTS[:4]]
    assert server.attempts == 1, "a stream that already yielded events must not be re-sent"


@pytest.mark.parametrize("framing", ["chunked", "close"])
async def test_stream_ending_before_its_terminal_event_is_a_stream_error_with_the_partial(
    callers: Callers, server: LoopbackServer, framing: Literal["chunked", "close"]
) -> None:
    """A well-framed body that stops before ``response.completed``: ``StreamError``, ``partial`` kept."""
    server.script(sse_reply(EVENTS, framing=framing, stop_after=6))
    caller = callers.make()
    events: list[ResponseStreamEvent] = []
    error, _ = await timed_error(caller.stream(events), StreamError)
    assert isinstance(error, StreamError)
    assert "before its terminal event" in str(error)
    assert len(events) == 6
    partial = error.partial
    assert isinstance(partial, Response)
    assert (partial.id, partial.status, partial.output_text) == ("resp_1", "in_progress", "Hello")


async def test_connection_dropped_mid_json_body_is_a_connection_error(callers: Callers, server: LoopbackServer) -> None:
    server.script(short_body)
    caller = callers.make()
    error, _ = await timed_error(caller.create(), APIConnectionError)
    assert type(error) is APIConnectionError
    assert server.attempts == 1


async def test_stream_error_event_and_response_failed_are_stream_errors(
    callers: Callers, server: LoopbackServer
) -> None:
    server.script(
        sse_reply([EVENTS[0], error_event("the model crashed")]),
        sse_reply([EVENTS[0], failed_event("out of capacity")]),
    )
    caller = callers.make()
    error, _ = await timed_error(caller.stream([]), StreamError)
    assert "the model crashed" in str(error)
    assert isinstance(error, StreamError) and isinstance(error.partial, Response)
    error, _ = await timed_error(caller.stream([]), StreamError)
    assert "out of capacity" in str(error)
    assert isinstance(error, StreamError) and isinstance(error.partial, Response)
    assert error.partial.status == "failed"


async def test_a_complete_stream_succeeds(callers: Callers, server: LoopbackServer) -> None:
    server.script(OK_STREAM)
    events: list[ResponseStreamEvent] = []
    final = await callers.make().stream(events)
    assert final is not None and final.output_text == "Hello"
    assert [event.type for event in events] == [e["type"] for e in EVENTS]


# ------------------------------------------------------------------------------------------- 2. timeouts


@pytest.mark.parametrize("where", ["client", "call"])
async def test_a_reply_slower_than_the_timeout_is_a_timeout_error(
    callers: Callers, server: LoopbackServer, where: str
) -> None:
    server.script(stall(5.0, then=OK))
    caller = callers.make(timeout=0.3 if where == "client" else None, max_retries=0, stock=where == "client")
    call = caller.create(timeout=0.3) if where == "call" else caller.create()
    error, elapsed = await timed_error(call, APITimeoutError)
    assert "timed out" in str(error)
    assert 0.25 <= elapsed < 2.0
    assert server.attempts == 1


@pytest.mark.parametrize("where", ["client", "call"])
async def test_a_stream_stalling_mid_way_is_a_timeout_error(
    callers: Callers, server: LoopbackServer, where: str
) -> None:
    server.script(sse_reply(EVENTS, stop_after=3, then="stall"))
    caller = callers.make(timeout=0.3 if where == "client" else None, max_retries=0, stock=where == "client")
    events: list[ResponseStreamEvent] = []
    call = caller.stream(events, timeout=0.3) if where == "call" else caller.stream(events)
    _, elapsed = await timed_error(call, APITimeoutError)
    assert len(events) == 3
    assert 0.25 <= elapsed < 2.0
    assert server.wait_for(lambda s: s.connections_open == 0), "the stalled connection was not closed"


@pytest.mark.usefixtures("fixed_jitter")
async def test_a_timeout_before_the_headers_is_retried(callers: Callers, server: LoopbackServer) -> None:
    server.script(stall(5.0, then=OK))
    response = await callers.make(max_retries=1).create(timeout=0.15)
    assert response.output_text == "Hello"
    assert server.attempts == 2


# -------------------------------------------------------------------------------------------- 3. retries


async def test_429_with_retry_after_then_200_waits_and_succeeds(callers: Callers, server: LoopbackServer) -> None:
    server.script(json_reply(error_json("slow down"), status=429, headers={"Retry-After": "0.2"}))
    start = time.monotonic()
    response = await callers.make().create()
    elapsed = time.monotonic() - start
    assert response.output_text == "Hello"
    assert server.attempts == 2
    assert 0.2 <= elapsed < 2.0
    assert retry_gaps(server) == [pytest.approx(0.2, abs=0.1)]


async def test_429_beyond_max_retries_is_a_rate_limit_error(callers: Callers, server: LoopbackServer) -> None:
    server.default = json_reply(error_json("slow down"), status=429, headers={"Retry-After": "0.2"})
    error, elapsed = await timed_error(callers.make(max_retries=1).create(), RateLimitError)
    assert isinstance(error, RateLimitError)
    assert (error.status_code, error.retry_after) == (429, 0.2)
    assert "slow down" in str(error)
    assert server.attempts == 1 + 1
    assert elapsed >= 0.2
    assert retry_gaps(server) == [pytest.approx(0.2, abs=0.1)]


async def test_retry_after_ms_is_honoured_before_retry_after(callers: Callers, server: LoopbackServer) -> None:
    headers = {"retry-after-ms": "150", "Retry-After": "30"}
    server.script(json_reply(error_json("slow down"), status=429, headers=headers))
    start = time.monotonic()
    assert (await callers.make().create()).output_text == "Hello"
    assert 0.15 <= time.monotonic() - start < 5.0
    assert retry_gaps(server) == [pytest.approx(0.15, abs=0.1)]


async def test_retry_after_as_an_http_date(callers: Callers, server: LoopbackServer) -> None:
    """A date already past means "now": no backoff (which would be at least 0.375 s)."""
    headers = {"Retry-After": formatdate(time.time() - 10, usegmt=True)}
    server.script(json_reply(error_json("slow down"), status=429, headers=headers))
    assert (await callers.make().create()).output_text == "Hello"
    (gap,) = retry_gaps(server)
    assert gap < 0.3


@pytest.mark.usefixtures("fixed_jitter")
@pytest.mark.parametrize(
    ("status", "headers", "minimum"),
    [
        (500, {}, 0.375),
        (503, {"Retry-After": "0.05"}, 0.05),
        (408, {"Retry-After": "0"}, 0),
        (409, {"Retry-After": "0.05"}, 0.05),
    ],
)
async def test_retryable_statuses_then_200_succeed(
    callers: Callers, server: LoopbackServer, status: int, headers: dict[str, str], minimum: float
) -> None:
    server.script(json_reply(error_json("try again"), status=status, headers=headers))
    assert (await callers.make().create()).output_text == "Hello"
    (gap,) = retry_gaps(server)
    assert minimum <= gap < minimum + 0.2


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
    ],
)
async def test_client_errors_are_not_retried(
    callers: Callers, server: LoopbackServer, status: int, error_type: type[APIStatusError]
) -> None:
    server.default = json_reply(error_json("you did it wrong"), status=status, headers={"x-request-id": "req_9"})
    error, _ = await timed_error(callers.make(max_retries=2).create(), error_type)
    assert isinstance(error, APIStatusError)
    assert type(error) is error_type and error.status_code == status
    assert error.request_id == "req_9" and "you did it wrong" in str(error)
    assert server.attempts == 1


async def test_409_is_retried_and_maps_to_conflict(callers: Callers, server: LoopbackServer) -> None:
    server.default = json_reply(error_json("busy"), status=409, headers={"Retry-After": "0"})
    await timed_error(callers.make(max_retries=1).create(), ConflictError)
    assert server.attempts == 2


@pytest.mark.parametrize(("client_retries", "call_retries"), [(5, 0), (0, 2)])
async def test_per_call_max_retries_overrides_the_client(
    callers: Callers, server: LoopbackServer, client_retries: int, call_retries: int
) -> None:
    server.default = json_reply(error_json("slow down"), status=429, headers={"Retry-After": "0.05"})
    await timed_error(callers.make(max_retries=client_retries).create(max_retries=call_retries), RateLimitError)
    assert server.attempts == call_retries + 1


async def test_opening_a_stream_is_retried(callers: Callers, server: LoopbackServer) -> None:
    server.script(json_reply(error_json("slow down"), status=429, headers={"Retry-After": "0.05"}), OK_STREAM)
    final = await callers.make().stream([])
    assert final is not None and final.output_text == "Hello"
    assert server.attempts == 2


# -------------------------------------------------------------------------- 4. replies of the wrong shape


async def test_malformed_json_is_a_validation_error(callers: Callers, server: LoopbackServer) -> None:
    server.script(raw_reply('{"id": "resp_1", "object": ', content_type="application/json"))
    error, _ = await timed_error(callers.make().create(), APIResponseValidationError)
    assert "malformed JSON" in str(error)
    assert server.attempts == 1


async def test_an_html_error_page_is_an_internal_server_error(callers: Callers, server: LoopbackServer) -> None:
    server.script(html_reply(502))
    error, _ = await timed_error(callers.make(max_retries=0).create(), InternalServerError)
    assert isinstance(error, InternalServerError) and error.status_code == 502
    assert "HTML page" in str(error)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_html_page_with_200_is_a_validation_error(
    callers: Callers, server: LoopbackServer, stream: bool
) -> None:
    server.script(html_reply(200, "Please log in"))
    caller = callers.make()
    error, _ = await timed_error(caller.stream([]) if stream else caller.create(), APIResponseValidationError)
    assert "HTML page" in str(error)
    assert server.attempts == 1


async def test_an_html_page_labelled_json_is_a_validation_error(callers: Callers, server: LoopbackServer) -> None:
    server.script(raw_reply("<html><body>Bad Gateway</body></html>", content_type="application/json"))
    error, _ = await timed_error(callers.make().create(), APIResponseValidationError)
    assert "HTML page" in str(error)


async def test_a_stream_event_that_is_not_json_is_a_validation_error(callers: Callers, server: LoopbackServer) -> None:
    def garbage(exchange: Exchange) -> None:
        exchange.start()
        exchange.write(b"event: response.created\ndata: {not json\n\n")
        exchange.end()

    server.script(garbage)
    error, _ = await timed_error(callers.make().stream([]), APIResponseValidationError)
    assert "not JSON" in str(error)


# ------------------------------------------------------------------------------- 5. no connection leaked


@dataclass(frozen=True)
class Fault:
    behaviour: Behaviour
    error: type[APIError]
    stream: bool = False
    options: RequestOptions = field(default_factory=lambda: RequestOptions())
    repeat: int = 1


_429 = json_reply(error_json("slow down"), status=429, headers={"Retry-After": "0.05"})
FAULTS: dict[str, Fault] = {
    "fin-mid-stream": Fault(sse_reply(EVENTS, stop_after=3, then="drop"), APIConnectionError, stream=True),
    "rst-mid-stream": Fault(sse_reply(EVENTS, stop_after=3, then="reset"), APIConnectionError, stream=True),
    "rst-before-headers": Fault(
        lambda exchange: exchange.drop(reset=True), APIConnectionError, options={"max_retries": 0}
    ),
    "short-json-body": Fault(short_body, APIConnectionError),
    "stream-cut-before-terminal": Fault(sse_reply(EVENTS, stop_after=6), StreamError, stream=True),
    "stream-error-event": Fault(sse_reply([EVENTS[0], error_event("crashed")]), StreamError, stream=True),
    "stream-response-failed": Fault(sse_reply([EVENTS[0], failed_event("crashed")]), StreamError, stream=True),
    "stall-before-headers": Fault(stall(5.0, OK), APITimeoutError, options={"timeout": 0.15, "max_retries": 0}),
    "stall-mid-stream": Fault(
        sse_reply(EVENTS, stop_after=3, then="stall"), APITimeoutError, stream=True, options={"timeout": 0.15}
    ),
    "429-exhausted": Fault(_429, RateLimitError, options={"max_retries": 1}, repeat=2),
    "429-exhausted-stream": Fault(_429, RateLimitError, stream=True, options={"max_retries": 1}, repeat=2),
    "401": Fault(json_reply(error_json("bad key"), status=401), AuthenticationError),
    "401-stream": Fault(json_reply(error_json("bad key"), status=401), AuthenticationError, stream=True),
    "html-502": Fault(html_reply(502), InternalServerError, options={"max_retries": 0}),
    "html-200": Fault(html_reply(200), APIResponseValidationError),
    "html-200-stream": Fault(html_reply(200), APIResponseValidationError, stream=True),
    "malformed-json": Fault(raw_reply("{", content_type="application/json"), APIResponseValidationError),
    "malformed-json-to-stream": Fault(
        raw_reply("{", content_type="application/json"), APIResponseValidationError, stream=True
    ),
    "malformed-stream-event": Fault(
        sse_reply([EVENTS[0], {"type": "response.output_text.delta", "delta": 5}]),
        APIResponseValidationError,
        stream=True,
    ),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_no_fault_leaks_the_only_connection(callers: Callers, server: LoopbackServer, fault: Fault) -> None:
    """After each fault, a client whose pool holds one connection can still make a request."""
    server.script(*[fault.behaviour] * fault.repeat)
    caller = callers.make(pool_of_one=True)
    if fault.stream:
        await timed_error(caller.stream([], **fault.options), fault.error)
    else:
        await timed_error(caller.create(**fault.options), fault.error)
    # A leaked connection would hold the pool's only slot: this would be a pool timeout after 0.5 s.
    assert (await caller.create(max_retries=0)).output_text == "Hello"
    assert server.wait_for(lambda s: s.connections_open <= 1)
    await caller.close()
    assert server.wait_for(lambda s: s.connections_open == 0)


async def test_leaving_a_stream_early_closes_its_connection(callers: Callers, server: LoopbackServer) -> None:
    server.script(sse_reply(EVENTS, stop_after=2, then="stall"))
    caller = callers.make(pool_of_one=True)
    events: list[ResponseStreamEvent] = []
    assert await caller.stream(events, stop_after=1) is None
    assert len(events) == 1
    # The stream's connection is closed on leaving the block, not parked with an unread body.
    assert server.wait_for(lambda s: s.connections_open == 0)
    assert (await caller.create(max_retries=0)).output_text == "Hello"
    server.script(OK_STREAM)
    final = await caller.stream([])
    assert final is not None and final.output_text == "Hello"


async def test_a_healthy_client_reuses_its_connection(callers: Callers, server: LoopbackServer) -> None:
    caller = callers.make(pool_of_one=True)
    for _ in range(3):
        assert (await caller.create()).output_text == "Hello"
    server.script(OK_STREAM)
    await caller.stream([])
    assert server.connections_opened == 1


# -------------------------------------------------------------------------------- 6. the key never leaks


def _echoing_stream(event: dict[str, Any]) -> Behaviour:
    return sse_reply([EVENTS[0], event])


ECHOES: dict[str, tuple[Behaviour, bool]] = {
    "401-json": (json_reply(error_json(f"bad key {KEY}"), status=401), False),
    "429-json": (json_reply(error_json(f"quota exceeded for {KEY}"), status=429), False),
    "500-text": (raw_reply(f"internal error for key {KEY}", status=500, content_type="text/plain"), False),
    "502-html": (raw_reply(f"<html>{KEY}</html>", status=502, content_type="text/html"), False),
    "200-html": (raw_reply(f"<html>{KEY}</html>", content_type="text/html"), False),
    "200-malformed-json": (raw_reply(f'{{"note": "{KEY}"', content_type="application/json"), False),
    "200-wrong-shape": (json_reply({"note": KEY}), False),
    "stream-error-event": (_echoing_stream(error_event(f"bad key {KEY}")), True),
    "stream-response-failed": (_echoing_stream(failed_event(f"bad key {KEY}")), True),
    "stream-event-not-json": (raw_reply(f"data: {{{KEY}\n\n", content_type="text/event-stream"), True),
}


@pytest.mark.parametrize(("behaviour", "stream"), ECHOES.values(), ids=ECHOES.keys())
async def test_the_api_key_never_reaches_an_error(
    callers: Callers, server: LoopbackServer, behaviour: Behaviour, stream: bool
) -> None:
    """Documented in ``_errors``: errors carry data, never API keys, even when the server echoes the key."""
    server.script(behaviour)
    caller = callers.make(max_retries=0)
    error, _ = await timed_error(caller.stream([]) if stream else caller.create(), APIError)
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"  # it was sent, and echoed
    shown = {
        "str": str(error),
        "repr": repr(error),
        "message": error.message,
        "body": repr(error.body),
        "traceback": "".join(traceback.format_exception(error)),
    }
    assert {where: KEY in text for where, text in shown.items()} == dict.fromkeys(shown, False)
    assert KEY not in repr(caller.client)


# ----------------------------------------------------------------------------- 7. responses()/aresponses()


def test_responses_reuses_one_pooled_client(server: LoopbackServer) -> None:
    for _ in range(3):
        response = polyresponses.responses(f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key=KEY)
        assert response.output_text == "Hello"
    assert (server.attempts, server.connections_opened) == (3, 1)
    assert {request.connection for request in server.requests} == {1}
    polyresponses.responses(f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key="sk-other-key-456")
    assert server.connections_opened == 2, "another key is another pooled client"
    polyresponses.close_pooled_clients()
    assert server.wait_for(lambda s: s.connections_open == 0), "close_pooled_clients left connections open"


async def test_aresponses_reuses_one_pooled_client_per_loop(server: LoopbackServer) -> None:
    for _ in range(3):
        response = await polyresponses.aresponses(f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key=KEY)
        assert response.output_text == "Hello"
    assert (server.attempts, server.connections_opened) == (3, 1)
    server.script(OK_STREAM)
    stream = await polyresponses.aresponses(
        f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key=KEY, stream=True
    )
    async with stream:
        assert [event.type async for event in stream] == [event["type"] for event in EVENTS]
    assert server.connections_opened == 1


async def test_aclose_pooled_clients_closes_the_running_loops_pool(server: LoopbackServer) -> None:
    await polyresponses.aresponses(f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key=KEY)
    assert server.wait_for(lambda s: s.connections_open == 1)
    await polyresponses.aclose_pooled_clients()
    assert server.wait_for(lambda s: s.connections_open == 0), "aclose_pooled_clients left a connection open"
    await polyresponses.aresponses(f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key=KEY)
    assert server.connections_opened == 2, "a closed pool is replaced by a fresh client"
    await polyresponses.aclose_pooled_clients()


def test_aresponses_pools_die_with_their_loop(server: LoopbackServer) -> None:
    """Documented in ``_api``: async clients are pooled per event loop, and "async pools die with their loop"."""

    async def call() -> None:
        await polyresponses.aresponses(f"openai_compatible:{MODEL}", "hi", api_base=server.url, api_key=KEY)

    for _ in range(2):
        asyncio.run(call())
    gc.collect()
    assert server.connections_opened == 2, "one pooled client per loop"
    assert server.wait_for(lambda s: s.connections_open == 0, timeout=1.0), "a finished loop's connection is open"
