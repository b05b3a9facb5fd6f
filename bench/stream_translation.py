"""Chat Completions stream -> Responses events: the pure translator, then end to end against LiteLLM.

The stream is what an OpenAI-compatible server sends for ``POST /chat/completions`` with
``"stream": true``: ``--deltas`` (5,000) ``chat.completion.chunk`` objects as compact ``data:``
frames, each with one distinct ``choices[0].delta.content`` piece (``" w0"``, ``" w1"``, ...; a lost,
repeated or reordered piece shows in the text), then a chunk with ``finish_reason: "stop"``, a usage
chunk (``choices: []``) and ``data: [DONE]``. The first chunk carries ``role: "assistant"`` *and*
the first piece, as vLLM, llama.cpp and Ollama send it (``--first-chunk empty`` sends OpenAI's
shape instead: role with ``content: ""``, the text starting in the second chunk). The checks run
both shapes whatever the flag says (in (b), the other shape on a 50-chunk stream).

(a) The pure translator, all in memory: the body cut into 64 KiB chunks, each given to
    ``ChatStreamTranslator("openai_compatible", {"model": "m"}).feed(chunk)``, then ``finish()``;
    events/s counts the Responses events it returns. For information, a floor that does no
    translation: ``SSEDecoder`` + ``json.loads`` of every chunk. Target: >= 100,000 events/s.

(b) End to end, against a loopback server in its own process that answers only
    ``POST .../chat/completions`` (anything else gets a 404, so a client that silently took the
    native ``/responses`` route would fail loudly) with the whole stream, chunked:

    - ours: ``polyresponses.responses("openai_compatible:m", "hi", api_base=, api_key=, stream=True,
      dialect="chat_completions")`` iterated inside ``with``, then ``get_final_response()``;
    - LiteLLM's Responses-over-chat bridge: ``litellm.responses(model="openai/m", input="hi",
      api_base=, api_key=, stream=True, use_chat_completions_api=True)`` iterated (without the flag,
      ``openai/`` goes to the native ``/responses`` endpoint; ``openai/chat_completions/m`` is the
      equivalent model-prefix form).

    Events/s is events per stream x streams per second, rounds interleaved round-robin, medians
    reported. Target: ours >= 20x LiteLLM. Before timing, each candidate's events and final text
    are checked against the full text and printed as they are (nothing is asserted about peers).

    python bench/stream_translation.py [--deltas N] [--e2e-deltas N] [--rounds N] [--first-chunk text|empty]

A report, not a test: it exits 0 whatever the numbers (and whatever a candidate's text). About 70 s
with the defaults on 2 cores, most of it LiteLLM (~2 ms per event); ``--rounds 3 --e2e-deltas 1000``
for a quicker look. LiteLLM is imported with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (no price-map fetch).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import multiprocessing
import os
import re
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

from _shared import interleaved_rates, raise_fd_limit

import polyresponses
from polyresponses import Stream
from polyresponses.router._sse import SSEDecoder
from polyresponses.router.dialects.chat_completions import ChatStreamTranslator
from polyresponses.types import Response, ResponseStreamEvent

CHUNK = 64 * 1024
TRANSLATOR, FLOOR = "ChatStreamTranslator", "SSEDecoder + json.loads (no translation)"
KEEPING_ALL = "ChatStreamTranslator, every event kept"
OURS, LITELLM = "polyresponses.responses(dialect=chat)", "litellm.responses (chat bridge)"
TARGET_EVENTS_PER_S, TARGET_VS_LITELLM = 100_000.0, 20.0
# The Responses events around the text deltas: created, in_progress, output_item.added,
# content_part.added ... output_text.done, content_part.done, output_item.done, completed.
LIFECYCLE_EVENTS = 8
FirstChunk = Literal["text", "empty"]


# ------------------------------------------------------------------------------------------ stream


@dataclass(frozen=True, slots=True)
class ChatStream:
    """One chat completion stream: its SSE frames (``[DONE]`` included) and the text its deltas make."""

    frames: list[bytes]
    text: str
    pieces: int

    @property
    def body(self) -> bytes:
        return b"".join(self.frames)

    @property
    def events(self) -> int:
        """How many Responses events a faithful translation makes: one delta per piece, plus the lifecycle."""
        return self.pieces + LIFECYCLE_EVENTS


def chat_stream(deltas: int, first_chunk: FirstChunk = "text") -> ChatStream:
    """``deltas`` content pieces as ``chat.completion.chunk`` frames; see the module docstring for the shape."""
    pieces = [f" w{number}" for number in range(deltas)]
    base: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "m",
        "system_fingerprint": "fp_bench",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return base | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

    if first_chunk == "text":
        chunks = [chunk({"role": "assistant", "content": pieces[0]})] + [chunk({"content": p}) for p in pieces[1:]]
    else:
        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks += [chunk({"content": piece}) for piece in pieces]
    chunks.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 8, "completion_tokens": deltas, "total_tokens": deltas + 8}
    chunks.append(base | {"choices": [], "usage": usage})
    frames = [b"data: %b\n\n" % json.dumps(data, separators=(",", ":")).encode() for data in chunks]
    frames.append(b"data: [DONE]\n\n")
    return ChatStream(frames, "".join(pieces), deltas)


def describe_text(got: str | None, full: str) -> str:
    """``equal``, or what differs from the full text, in words."""
    if got is None:
        return "no final text"
    if got == full:
        return "equal"
    if full.endswith(got):
        lost = full[: len(full) - len(got)]
        return f"LOST the first {len(lost)} chars {lost[:40]!r}"
    if full.startswith(got):
        lost = full[len(got) :]
        return f"LOST the last {len(lost)} chars {lost[:40]!r}"
    at = next((i for i, (a, b) in enumerate(zip(got, full, strict=False)) if a != b), min(len(got), len(full)))
    return f"DIFFERS at char {at}: {got[at : at + 30]!r} vs {full[at : at + 30]!r} (len {len(got)} vs {len(full)})"


# ------------------------------------------------------------------------------- (a) translator


def translator_candidates(stream: ChatStream) -> dict[str, Callable[[], int]]:
    """The translator and its floor, each a call that handles the whole stream once and returns its count."""
    body = stream.body
    chunks = [body[start : start + CHUNK] for start in range(0, len(body), CHUNK)]

    def translator() -> int:
        # As a stream consumer uses it: each feed's events are handled, then dropped.
        t = ChatStreamTranslator("openai_compatible", {"model": "m"})
        count = 0
        for chunk in chunks:
            count += len(t.feed(chunk))
        return count + len(t.finish())

    def translator_keeping_all() -> int:
        # Every event kept alive to the end: the cyclic GC then walks a growing heap (for information).
        t = ChatStreamTranslator("openai_compatible", {"model": "m"})
        events: list[ResponseStreamEvent] = []
        for chunk in chunks:
            events += t.feed(chunk)
        events += t.finish()
        return len(events)

    def floor() -> int:
        decoder = SSEDecoder()
        count = 0
        for sse in [*(sse for chunk in chunks for sse in decoder.feed(chunk)), *decoder.finish()]:
            if sse.data != "[DONE]":
                json.loads(sse.data)
            count += 1
        return count

    return {TRANSLATOR: translator, KEEPING_ALL: translator_keeping_all, FLOOR: floor}


def check_translator(stream: ChatStream) -> None:
    """Feed the stream once and print what came out."""
    body = stream.body
    t = ChatStreamTranslator("openai_compatible", {"model": "m"})
    events: list[ResponseStreamEvent] = []
    for start in range(0, len(body), CHUNK):
        events += t.feed(body[start : start + CHUNK])
    events += t.finish()
    text = t.final.output_text if t.final is not None else None
    sequence_ok = [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    print(
        f"  {TRANSLATOR}: {len(events):,} events (expected {stream.events:,}), "
        f"sequence_number 0..n-1 {'ok' if sequence_ok else 'WRONG'}; "
        f"deltas joined: {describe_text(deltas, stream.text)}; final output_text: {describe_text(text, stream.text)}"
    )


# ---------------------------------------------------------------------------- (b) loopback server

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')
_NOT_FOUND_BODY = b'{"error":{"message":"only POST .../chat/completions with stream=true is served","type":"bench"}}'
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (
    len(_NOT_FOUND_BODY),
    _NOT_FOUND_BODY,
)


class _ChatConnection(asyncio.Protocol):
    """One keep-alive connection: ``POST .../chat/completions`` with ``"stream": true`` gets the stream, else 404.

    ``_shared``'s server answers every path alike; this one checks the path, so that the bench proves
    each candidate really took the chat route.
    """

    def __init__(self, reply: bytes) -> None:
        self._reply = reply
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        transport = self._transport
        while transport is not None and not transport.is_closing():
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
            method, _, rest = head.partition(b" ")
            path = rest.partition(b" ")[0].partition(b"?")[0]
            chat = method == b"POST" and path.endswith(b"/chat/completions") and _STREAM_FLAG.search(body)
            transport.write(self._reply if chat else _NOT_FOUND)


def _serve_forever(port_pipe: Any, reply: bytes) -> None:
    raise_fd_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C ends us through terminate()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _ChatConnection(reply), "127.0.0.1", 0, backlog=1024)
        port_pipe.send(server.sockets[0].getsockname()[1])
        port_pipe.close()
        parent = os.getppid()
        while os.getppid() == parent:  # an orphaned server (parent killed) stops by itself
            await asyncio.sleep(0.5)

    asyncio.run(main())


@contextmanager
def chat_server(stream: ChatStream) -> Iterator[str]:
    """A server process streaming ``stream`` (chunked, one HTTP chunk per frame); yields ``http://127.0.0.1:PORT/v1``."""
    reply = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"transfer-encoding: chunked\r\nx-request-id: req_bench\r\n\r\n"
        + b"".join(b"%x\r\n%b\r\n" % (len(frame), frame) for frame in stream.frames)
        + b"0\r\n\r\n"
    )
    context = multiprocessing.get_context("fork")  # fork: fast, and does not re-import this script
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve_forever, args=(sender, reply), name="bench-chat-loopback", daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(30):
            raise RuntimeError("the loopback server did not start within 30 s")
        yield f"http://127.0.0.1:{receiver.recv()}/v1"
    finally:
        process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


# ------------------------------------------------------------------------------- (b) candidates


@dataclass(slots=True)
class Outcome:
    """What one candidate made of one stream."""

    events: int
    final_text: str | None
    deltas: str
    first_types: list[str]
    last_types: list[str]
    sequence: str
    """``ok`` (0..n-1 in order), or what is wrong with the events' ``sequence_number``."""


def _outcome(events: list[Any], final_text: str | None) -> Outcome:
    types = [str(getattr(event.type, "value", event.type)) for event in events]
    numbers = [getattr(event, "sequence_number", None) for event in events]
    deltas = "".join(str(event.delta) for event, kind in zip(events, types, strict=True) if kind.endswith("text.delta"))
    return Outcome(len(events), final_text, deltas, types[:4], types[-4:], describe_sequence(numbers, types))


def describe_sequence(numbers: list[Any], types: list[str]) -> str:
    """``ok`` if ``sequence_number`` runs 0, 1, ... n-1; else the first number and where it is missing or goes wrong."""
    if numbers == list(range(len(numbers))):
        return "ok"
    faults = [f"starts at {numbers[0]}"] if numbers else []
    missing = sorted({kind for number, kind in zip(numbers, types, strict=True) if not isinstance(number, int)})
    if missing:
        faults.append(f"missing on {', '.join(missing)}")
    given = [(number, kind) for number, kind in zip(numbers, types, strict=True) if isinstance(number, int)]
    gaps = sum(1 for (a, _), (b, _) in zip(given, given[1:], strict=False) if b > a + 1)
    back = [f"{kind} = {b} after {a}" for (a, _), (b, kind) in zip(given, given[1:], strict=False) if b <= a]
    if gaps:
        faults.append(f"{gaps} skipped number(s)")
    if back:
        faults.append(f"goes back: {'; '.join(back[:3])}")
    return ", ".join(faults) or "not 0..n-1"


# polyresponses.responses as a plain callable: ``dialect=`` is new (it may not be in ResponsesParams
# yet), and a missing keyword must be a TypeError at run time that the bench reports, not a mypy error.
_responses = cast("Callable[..., Stream[Response]]", polyresponses.responses)


def ours(base_url: str) -> Callable[[], Outcome]:
    def call() -> Outcome:
        with _responses(
            "openai_compatible:m", "hi", api_base=base_url, api_key="k", stream=True, dialect="chat_completions"
        ) as stream:
            events = list(stream)
            text = stream.get_final_response().output_text
        return _outcome(events, text)

    return call


def load_litellm() -> Any | None:
    """The ``litellm`` module (typed ``Any``: no stubs, not a dependency), or ``None`` with a printed note."""
    if importlib.util.find_spec("litellm") is None:
        print("note: litellm is not installed (pip install --no-deps litellm==1.109.1; see README): skipped")
        return None
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price map at import
    started = time.perf_counter()
    try:
        module: Any = importlib.import_module("litellm")
    except ImportError as error:  # installed with --no-deps and one of its own imports is missing
        print(f"note: litellm is installed but does not import ({error}); install that module: skipped")
        return None
    module.telemetry = False
    module.suppress_debug_info = True
    print(f"litellm {_version('litellm')} imported in {time.perf_counter() - started:.1f} s")
    return module


def litellm_call(litellm: Any, base_url: str) -> Callable[[], Outcome]:
    def call() -> Outcome:
        stream = litellm.responses(
            model="openai/m", input="hi", api_base=base_url, api_key="k", stream=True, use_chat_completions_api=True
        )
        events = list(stream)
        final = getattr(events[-1], "response", None) if events else None
        text = getattr(final, "output_text", None)
        return _outcome(events, text if isinstance(text, str) else None)

    return call


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def check_end_to_end(name: str, call: Callable[[], Outcome], stream: ChatStream, label: str) -> Outcome | None:
    """One call; prints what came out. ``None`` if the call itself failed (printed too)."""
    try:
        outcome = call()
    except Exception as error:  # a peer, or our own API not there yet: report it, do not stop the bench
        print(f"  {name} [{label}]: FAILED: {type(error).__name__}: {str(error)[:300]}")
        return None
    print(
        f"  {name} [{label}]: {outcome.events:,} events (a faithful translation makes {stream.events:,}), "
        f"sequence_number: {outcome.sequence}\n"
        f"      first {outcome.first_types}\n      last  {outcome.last_types}\n"
        f"      deltas joined: {describe_text(outcome.deltas, stream.text)}; "
        f"final response output_text: {describe_text(outcome.final_text, stream.text)}"
    )
    return outcome


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=5_000, help="content chunks for (a) (default 5,000)")
    parser.add_argument("--e2e-deltas", type=int, default=3_000, help="content chunks for (b) (default 3,000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one candidate's round (default 0.5)")
    parser.add_argument("--first-chunk", choices=("text", "empty"), default="text", help="first chunk's content")
    parser.add_argument("--no-e2e", action="store_true", help="run part (a) only")
    args = parser.parse_args(argv)
    first: FirstChunk = args.first_chunk
    started = time.perf_counter()

    stream = chat_stream(args.deltas, first)
    print(f"(a) checks, {args.deltas:,} content chunks:")
    shapes: tuple[FirstChunk, ...] = ("text", "empty")
    for shape in shapes:
        print(f" first chunk {shape}:")
        check_translator(chat_stream(args.deltas, shape))
    functions = translator_candidates(stream)
    rates = interleaved_rates(functions, rounds=args.rounds, seconds=args.seconds, warmup=args.seconds, min_calls=1)
    counts = {name: function() for name, function in functions.items()}
    report_translator(rates, counts, stream, len(stream.body))

    if not args.no_e2e:
        end_to_end(args, first)
    polyresponses.close_pooled_clients()
    print(f"\n(total {time.perf_counter() - started:.1f} s)")
    return 0


def end_to_end(args: argparse.Namespace, first: FirstChunk) -> None:
    litellm = load_litellm()
    makers: dict[str, Callable[[str], Callable[[], Outcome]]] = {OURS: ours}
    if litellm is not None:
        makers[LITELLM] = lambda base_url: litellm_call(litellm, base_url)
    other: FirstChunk = "empty" if first == "text" else "text"
    small = chat_stream(50, other)
    print(f"\n(b) checks, 50 content chunks, first chunk {other}: {small.frames[0][6:].decode().strip()}")
    with chat_server(small) as base_url:
        for name, make in makers.items():
            check_end_to_end(name, make(base_url), small, other)
    stream = chat_stream(args.e2e_deltas, first)
    print(
        f"\n(b) checks, {args.e2e_deltas:,} content chunks (the timed stream), first chunk {first}: "
        f"{stream.frames[0][6:].decode().strip()}"
    )
    with chat_server(stream) as base_url:
        calls = {name: make(base_url) for name, make in makers.items()}
        events: dict[str, int] = {}
        for name, call in calls.items():
            if (outcome := check_end_to_end(name, call, stream, first)) is not None:
                events[name] = outcome.events
        calls = {name: call for name, call in calls.items() if name in events}
        if not calls:
            print("\n(b) nothing to time: no candidate completed a stream")
            return
        streams = interleaved_rates(calls, rounds=args.rounds, seconds=args.seconds, warmup=args.seconds, min_calls=1)
    report_end_to_end(streams, events, stream)


def report_translator(rates: dict[str, list[float]], counts: dict[str, int], stream: ChatStream, size: int) -> None:
    rounds = len(rates[TRANSLATOR])
    chunks = -(-size // CHUNK)
    print(
        f"\n(a) chat.completion.chunk SSE -> Responses events, in memory: {stream.pieces:,} content chunks "
        f"({len(stream.frames):,} frames, {size / 1e6:.2f} MB in {chunks} chunks of 64 KiB); median of {rounds} rounds"
    )
    print(
        f"{'candidate':<42} {'events':>7} {'events/s':>11} {'us/event':>9} {'ms/stream':>10} {'min..max events/s':>20}"
    )
    median = {}
    for name, values in rates.items():
        per_second = [value * counts[name] for value in values]
        median[name] = statistics.median(per_second)
        spread = f"{min(per_second):,.0f}..{max(per_second):,.0f}"
        print(
            f"{name:<42} {counts[name]:>7,} {median[name]:>11,.0f} {1e6 / median[name]:>9.2f} "
            f"{counts[name] / median[name] * 1e3:>10.1f} {spread:>20}"
        )
    ours = median[TRANSLATOR]
    verdict = "PASS" if ours >= TARGET_EVENTS_PER_S else "FAIL"
    print(f"target: {TRANSLATOR} >= {TARGET_EVENTS_PER_S:,.0f} events/s: {ours:,.0f} -> {verdict}")
    print(f"(the floor parses the same frames without translating: ours runs at {ours / median[FLOOR]:.2f}x it)")


def report_end_to_end(streams: dict[str, list[float]], events: dict[str, int], stream: ChatStream) -> None:
    rounds = len(next(iter(streams.values())))
    print(
        f"\n(b) end to end, loopback POST /chat/completions, {stream.pieces:,} content chunks per stream; "
        f"median of {rounds} interleaved rounds"
    )
    print(
        f"{'candidate':<42} {'events':>7} {'events/s':>11} {'us/event':>9} {'ms/stream':>10} {'min..max events/s':>20}"
    )
    median = {}
    for name, values in streams.items():
        per_second = [value * events[name] for value in values]
        median[name] = statistics.median(per_second)
        spread = f"{min(per_second):,.0f}..{max(per_second):,.0f}"
        print(
            f"{name:<42} {events[name]:>7,} {median[name]:>11,.0f} {1e6 / median[name]:>9.2f} "
            f"{1e3 / statistics.median(values):>10.1f} {spread:>20}"
        )
    if OURS in median and LITELLM in median:
        ratio = median[OURS] / median[LITELLM]
        per_stream = statistics.median(streams[OURS]) / statistics.median(streams[LITELLM])
        verdict = "PASS" if ratio >= TARGET_VS_LITELLM else "FAIL"
        print(f"target: {OURS} >= {TARGET_VS_LITELLM:g}x LiteLLM events/s: {ratio:.2f}x -> {verdict}")
        if events[OURS] != events[LITELLM]:
            print(f"(the event counts differ; streams per second: {per_stream:.2f}x)")
    else:
        print(f"no ratio: only {', '.join(median)} completed")


if __name__ == "__main__":
    raise SystemExit(main())
