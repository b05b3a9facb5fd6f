"""Shared by the P2/P4/P5 benchmarks: a fast loopback HTTP/1.1 server, recorded payloads, a rate timer.

The server is a bare ``asyncio.Protocol`` (no HTTP framework: the floor must be the client, not the
server) in a separate *process*, so it never competes with the client for the GIL. It speaks
HTTP/1.1 keep-alive, reads ``Content-Length`` bodies and answers every ``POST`` with a fixed reply:
the recorded OpenAI Responses JSON, or, when the body asks for ``"stream": true``, a chunked
``text/event-stream`` of pre-built events written with an optional pause between them (so many
streams overlap in time). It listens on 127.0.0.1 only and dies with its parent.

Payloads come from the recorded OpenAI traffic that the tests use (``tests/_recorded.py``); the
stream is a valid Responses event sequence built around the recorded ``Response``.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import multiprocessing
import os
import re
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # for tests._recorded: ``python bench/x.py`` puts bench/ on the path, not the repo
    sys.path.append(str(REPO))  # appended: a PYTHONPATH copy of polyresponses (an A/B patch) still wins

from tests._recorded import exchanges  # noqa: E402

RECORDED_CASSETTE = "text__test_openai_responses_model_simple_response.yaml"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (1,000 sockets each side need it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def recorded_response() -> dict[str, Any]:
    """The recorded non-streamed OpenAI ``Response`` (gpt-4o, "The capital of France is Paris.")."""
    for exchange in exchanges("openai_responses"):
        if exchange.cassette == RECORDED_CASSETTE and isinstance(exchange.response_json, dict):
            return exchange.response_json
    raise LookupError(f"{RECORDED_CASSETTE} not found under shared/fixtures/recorded/openai_responses")


def stream_events(deltas: int, *, delta_text: str = " word") -> list[dict[str, Any]]:
    """A valid Responses stream with ``deltas`` ``response.output_text.delta`` events.

    created, in_progress, output_item.added, content_part.added, the deltas, output_text.done,
    content_part.done, output_item.done, completed; every event carries its ``sequence_number``
    and, where the spec has them, ``output_index``/``content_index``.
    """
    base = recorded_response()
    item_id = base["output"][0]["id"]
    text = delta_text * deltas
    part_done = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    message_done = {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [part_done],
    }
    running = copy.deepcopy(base) | {"status": "in_progress", "output": [], "usage": None}
    finished = copy.deepcopy(base) | {"output": [message_done]}
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": running},
        {"type": "response.in_progress", "response": running},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": part_done | {"text": ""}},
    ]
    events += [{"type": "response.output_text.delta", **where, "delta": delta_text, "logprobs": []}] * deltas
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part_done},
        {"type": "response.output_item.done", "output_index": 0, "item": message_done},
        {"type": "response.completed", "response": finished},
    ]
    return [event | {"sequence_number": number} for number, event in enumerate(events)]


def sse_frames(events: list[dict[str, Any]]) -> list[bytes]:
    """Each event as one SSE frame (``event:`` + ``data:`` + blank line), compact JSON as OpenAI sends it."""
    return [
        f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode() for event in events
    ]


def interleaved_rates(
    functions: Mapping[str, Callable[[], object]], *, rounds: int, seconds: float, warmup: float, min_calls: int = 3
) -> dict[str, list[float]]:
    """Calls per second of each function, one figure per round.

    A warm-up of about ``warmup`` seconds per function (caches, connections, lazy imports) also
    calibrates how many calls make a round of about ``seconds``; then ``rounds`` rounds run
    round-robin, so a burst of machine noise hits every candidate alike. ``gc.collect()`` before
    each timed block keeps one candidate's garbage from being collected on another's clock.
    """
    calls: dict[str, int] = {}
    for name, function in functions.items():
        done, started = 0, time.perf_counter()
        while done < min_calls or time.perf_counter() - started < warmup:
            function()
            done += 1
        per_call = (time.perf_counter() - started) / done
        calls[name] = max(min_calls, round(seconds / per_call))
    rates: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            gc.collect()
            count = calls[name]
            started = time.perf_counter()
            for _ in range(count):
                function()
            rates[name].append(count / (time.perf_counter() - started))
    return rates


# ------------------------------------------------------------------------------------------ server


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests off the buffer, answer each in order."""

    def __init__(self, json_reply: bytes, stream_head: bytes, frames: list[bytes], pause: float) -> None:
        self._json_reply, self._stream_head, self._frames, self._pause = json_reply, stream_head, frames, pause
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._busy = False  # a paced stream is being written: later requests wait in the buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._serve()

    def _serve(self) -> None:
        transport = self._transport
        while not self._busy and transport is not None and not transport.is_closing():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[: end + 2]
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            if _STREAM_FLAG.search(body) is None:
                transport.write(self._json_reply)
            elif self._pause <= 0:
                transport.write(self._stream_head + b"".join(_chunk(frame) for frame in self._frames) + b"0\r\n\r\n")
            else:
                self._busy = True
                asyncio.ensure_future(self._paced(transport))

    async def _paced(self, transport: asyncio.Transport) -> None:
        transport.write(self._stream_head)
        for frame in self._frames:
            if transport.is_closing():
                return
            transport.write(_chunk(frame))
            await asyncio.sleep(self._pause)
        transport.write(b"0\r\n\r\n")
        self._busy = False
        self._serve()


def _chunk(frame: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(frame), frame)


def _serve_forever(port_pipe: Any, json_body: bytes, frames: list[bytes], pause: float) -> None:
    raise_fd_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C ends us through terminate()
    json_reply = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"x-request-id: req_bench\r\n\r\n%b" % (len(json_body), json_body)
    )
    stream_head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"transfer-encoding: chunked\r\nx-request-id: req_bench\r\n\r\n"
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Connection(json_reply, stream_head, frames, pause), "127.0.0.1", 0, backlog=4096
        )
        port_pipe.send(server.sockets[0].getsockname()[1])
        port_pipe.close()
        parent = os.getppid()
        while os.getppid() == parent:  # an orphaned server (parent killed) stops by itself
            await asyncio.sleep(0.5)

    asyncio.run(main())


@contextmanager
def loopback_server(
    *, frames: list[bytes] | None = None, pause: float = 0.0, json_body: bytes | None = None
) -> Iterator[str]:
    """Start the server process; yields its base URL (``http://127.0.0.1:PORT/v1``); stops it on exit.

    ``json_body``: the reply to every POST (default: the recorded ``Response``)."""
    # fork: starts in milliseconds and does not re-import the benchmark script (spawn would).
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    if json_body is None:
        json_body = json.dumps(recorded_response(), separators=(",", ":")).encode()
    process = context.Process(
        target=_serve_forever, args=(sender, json_body, frames or [], pause), name="bench-loopback", daemon=True
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(30):
            raise RuntimeError("the loopback server did not start within 30 s")
        port = receiver.recv()
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
