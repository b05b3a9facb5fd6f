"""The gateway: what ``polyresponses serve`` adds in front of a provider, beside LiteLLM's proxy.

Every server runs in its own process on 127.0.0.1, so none competes with the client for the GIL:

- the mock upstream, ``direct``: ``_shared.loopback_server`` (a bare asyncio HTTP/1.1 keep-alive
  server) answering ``POST /v1/responses`` with the recorded OpenAI ``Response`` (gpt-4o, "The
  capital of France is Paris."), or, for ``"stream": true``, a valid Responses SSE stream;
- two bare Starlette proxies, the floor of the gateway's stack: uvicorn + Starlette + one upstream
  client passing the bytes through (no parsing, no checks, no ledger), one over ``httpx.AsyncClient``
  (httpcore), one over the gateway's own upstream client (``polyresponses/router/_http1.py``): what
  the choice of client alone is worth, measured in the same run;
- the gateway: ``python -m polyresponses serve --config gateway.toml`` (one uvicorn worker, its
  default store: a SQLite file, here in a temporary directory) with its ``openai`` row's ``base_url``
  on the mock; requests name ``openai:gpt-4o``. OpenAI keeps state itself, so responses pass through
  (parsed, checked, owned in the ledger, re-sent);
- LiteLLM's proxy, a bench-only peer skipped with a note when ``litellm`` is not importable by
  ``--litellm-python``: ``litellm --config`` with one uvicorn worker, a master key, and the model
  ``gpt-4o`` routed as ``openai/gpt-4o`` with ``api_base`` on the same mock, asked on its own
  ``/v1/responses`` (its Responses passthrough for OpenAI models).

Measured, each candidate with the same request bodies (``input: "hi"``):

1. latency of non-streamed requests, one ``httpx.Client`` sending them one after another in
   interleaved blocks: p50 and p99, and what each proxy adds over ``direct``;
2. streamed time to first event (the first complete SSE event read), the same way;
3. requests per second with ``--concurrency`` (32) requests in flight on keep-alive connections
   for a fixed count per round (a bare asyncio client, so the client is not the limit), median of
   interleaved rounds, each with the other candidates' server processes paused (SIGSTOP);
4. ``--streams`` (1,000) concurrent streams through a fresh gateway whose mock paces each stream
   (``--events`` events, ``--pause`` between them: long enough that every stream is still open
   when the last one starts): each must end with ``response.completed`` then ``data: [DONE]``,
   with all its events (nothing lost); and the gateway process's peak RSS growth per stream
   (``/proc/PID/status`` VmHWM after resetting it through ``/proc/PID/clear_refs``, and VmRSS
   sampled every 10 ms), over two rounds, so the second shows whether memory came back.

Ratios are against candidates measured in the same run. Targets: gateway added p50 <= 1 ms over
direct; gateway requests/s >= 5x LiteLLM's proxy. The mock answers every request with the same
response id (the gateway's ledger keeps one ownership row, as it would for a repeated id).

LiteLLM's ``[proxy]`` extra cannot share the project's environment (it needs websockets<16; the test
group pins 17.4): install the ``bench-litellm`` group in a venv of its own and name its interpreter
(default: ``.venv-litellm/bin/python`` in the repo when present, else this interpreter)::

    python bench/gateway.py [--litellm-python PATH] [--requests N] [--streams N] [--no-litellm]

A report, not a test: exits 0 whatever the timings (1 if a candidate answers wrongly or a stream is lost).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from _shared import REPO, loopback_server, raise_fd_limit, recorded_response, sse_frames, stream_events

DIRECT, GATEWAY, LITELLM = "direct (mock)", "polyresponses gateway", "LiteLLM proxy"
FLOOR, FLOOR_HTTPX = "bare proxy over _http1", "bare proxy over httpx"
TARGET_ADDED_P50_MS, TARGET_VS_LITELLM = 1.0, 5.0
MIB = 1024 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.IGNORECASE)
_IN_FLIGHT = re.compile(rb"^polyresponses_in_flight_streams (\d+)$", re.MULTILINE)
_DONE = b"data: [DONE]\n\n"


# ----------------------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Target:
    """One server to ask: its ``/v1`` base URL, the model name it routes, the headers it needs."""

    name: str
    base_url: str
    model: str
    headers: Mapping[str, str] = field(default_factory=dict)
    pid: int | None = None
    """Its server process (none for the mock): paused while another candidate's rate is measured."""

    @property
    def url(self) -> str:
        return self.base_url + "/responses"

    @property
    def address(self) -> tuple[str, int]:
        split = urlsplit(self.base_url)
        assert split.hostname is not None and split.port is not None
        return split.hostname, split.port

    def body(self, *, stream: bool) -> bytes:
        payload: dict[str, Any] = {"model": self.model, "input": "hi"}
        if stream:
            payload["stream"] = True
        return json.dumps(payload).encode()

    def raw_request(self, *, stream: bool) -> bytes:
        """The whole HTTP/1.1 request, for the bare asyncio client."""
        host, port = self.address
        body = self.body(stream=stream)
        head = [
            f"POST {urlsplit(self.url).path} HTTP/1.1",
            f"host: {host}:{port}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            *(f"{key}: {value}" for key, value in self.headers.items()),
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# --------------------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark dies (Linux ``PR_SET_PDEATHSIG``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def _process(command: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (output to ``log``); on exit SIGTERM it, then SIGKILL after 10 s."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(env),
            preexec_fn=_die_with_parent,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, seconds: float, log: Path, name: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {seconds:.0f} s:\n{_log_tail(log)}")


@contextmanager
def gateway_process(upstream: str, workdir: Path, label: str) -> Iterator[tuple[Target, int]]:
    """``polyresponses serve`` with its ``openai`` row on ``upstream``; yields the target and the server's pid."""
    port = _free_port()
    config = workdir / f"gateway-{label}.toml"
    config.write_text(
        f'[server]\nport = {port}\n\n[store]\nurl = "{workdir / f"store-{label}.sqlite3"}"\n\n'
        f'[providers.openai]\nbase_url = "{upstream}"\n'
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYRESPONSES_")}
    env["OPENAI_API_KEY"] = "sk-test"
    command = [sys.executable, "-m", "polyresponses", "serve", "--config", str(config), "--port", str(port)]
    log = workdir / f"gateway-{label}.log"
    with _process(command, env, log) as process:
        _wait_ready(process, f"http://127.0.0.1:{port}/healthz", 30, log, "the gateway")
        yield Target(GATEWAY, f"http://127.0.0.1:{port}/v1", "openai:gpt-4o", pid=process.pid), process.pid


def serve_floor(upstream: str, port: int, client: str) -> None:
    """The floor for the gateway's stack: uvicorn + Starlette + one upstream client, bytes passed through.

    No parsing, no checks, no ledger: the body goes upstream as it came and the reply (JSON, or the
    SSE bytes as they arrive) comes back as it is. ``client``: ``httpx`` (one ``httpx.AsyncClient``, the
    gateway's pool limits) or ``http1`` (the gateway's own upstream client, ``router/_http1.py``, asked
    directly as the gateway's async shell asks it). Same uvicorn defaults as the gateway.
    """
    import uvicorn
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    from polyresponses.router import _http1

    split = urlsplit(upstream)
    assert split.hostname is not None and split.port is not None
    origin, path = ("http", split.hostname, split.port), (split.path + "/responses").encode()
    pool = _http1.Pool()
    wire_headers = [(b"host", split.netloc.encode()), (b"content-type", b"application/json")]
    wire_headers.append((b"authorization", b"Bearer sk-test"))
    timeouts = _http1.Timeouts(600, 600, 600, 600)
    client_httpx = httpx.AsyncClient(
        base_url=upstream, timeout=600, limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    )
    headers = {"content-type": "application/json", "authorization": "Bearer sk-test"}

    async def create_httpx(request: Request) -> Response:
        sent = client_httpx.build_request("POST", "/responses", content=await request.body(), headers=headers)
        reply = await client_httpx.send(sent, stream=True)
        kind = reply.headers.get("content-type", "application/json")
        if kind.startswith("text/event-stream"):
            return StreamingResponse(reply.aiter_raw(), media_type=kind, background=BackgroundTask(reply.aclose))
        return Response(await reply.aread(), status_code=reply.status_code, media_type=kind)

    async def create_http1(request: Request) -> Response:
        body = await request.body()
        sent = [*wire_headers, (b"content-length", str(len(body)).encode())]
        reply = await pool.request(b"POST", origin, path, sent, body, timeouts)
        kind = next((v.decode() for k, v in reply.headers if k.lower() == b"content-type"), "application/json")
        if kind.startswith("text/event-stream"):
            return StreamingResponse(reply.body(), media_type=kind, background=BackgroundTask(reply.aclose))
        content = b"".join([chunk async for chunk in reply.body()])
        return Response(content, status_code=reply.status, media_type=kind)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    create = create_http1 if client == "http1" else create_httpx
    routes = [Route("/v1/responses", create, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, timeout_graceful_shutdown=5)


@contextmanager
def floor_process(upstream: str, workdir: Path, client: str) -> Iterator[Target]:
    port = _free_port()
    command = [sys.executable, __file__, "--serve-floor", upstream, "--floor-client", client, "--port", str(port)]
    log = workdir / f"floor-{client}.log"
    name = FLOOR if client == "http1" else FLOOR_HTTPX
    with _process(command, os.environ, log) as process:
        _wait_ready(process, f"http://127.0.0.1:{port}/healthz", 30, log, name)
        yield Target(name, f"http://127.0.0.1:{port}/v1", "gpt-4o", pid=process.pid)


def litellm_importable(python: str) -> str | None:
    """``None`` when ``python`` can import LiteLLM's proxy, else why not."""
    if not Path(python).exists():
        return f"{python} does not exist"
    probe = "import importlib.util as u, sys; sys.exit(0 if u.find_spec('litellm') and u.find_spec('fastapi') else 3)"
    try:
        result = subprocess.run([python, "-c", probe], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{python} could not be run ({error})"
    if result.returncode != 0:
        return f"litellm[proxy] is not importable by {python}"
    return None


@contextmanager
def litellm_process(python: str, upstream: str, workdir: Path) -> Iterator[Callable[[], Target]]:
    """Start LiteLLM's proxy (one worker) on the mock; yields a call that waits until it is ready."""
    port = _free_port()
    key = f"sk-bench-{secrets.token_hex(16)}"
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o\n"
        f'      api_base: "{upstream}"\n'
        "      api_key: sk-test\n"
        "general_settings:\n"
        f'  master_key: "{key}"\n'
    )
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "LITELLM_MASTER_KEY")}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # offline: the bundled cost map, no fetch at start
    run = "import sys; from litellm.proxy.proxy_cli import run_server; sys.argv[0] = 'litellm'; run_server()"
    command = [python, "-c", run, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--num_workers", "1"]
    log = workdir / "litellm.log"
    with _process(command, env, log) as process:

        def ready() -> Target:
            _wait_ready(process, f"http://127.0.0.1:{port}/health/liveliness", 180, log, "LiteLLM's proxy")
            headers = {"authorization": f"Bearer {key}"}
            return Target(LITELLM, f"http://127.0.0.1:{port}/v1", "gpt-4o", headers, pid=process.pid)

        yield ready


# ------------------------------------------------------------------------------ bare asyncio client


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head[9:12]), head


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    if (match := _CONTENT_LENGTH.search(head)) is not None:
        return await reader.readexactly(int(match.group(1)))
    if _CHUNKED.search(head) is None:
        return await reader.read()  # neither: the body ends when the server closes
    parts: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            while await reader.readline() not in (b"\r\n", b""):  # trailers, then the blank line
                pass
            return b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    status, head = await _read_head(reader)
    return status, await _read_body(reader, head)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _rate(target: Target, total: int, concurrency: int, expected: bytes) -> tuple[float, int]:
    """``(requests/s, wrong answers)`` for ``total`` requests over ``concurrency`` keep-alive connections."""
    request = target.raw_request(stream=False)
    host, port = target.address
    connections = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    left, wrong = total, 0

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal left, wrong
        while left > 0:
            left -= 1
            status, body = await _exchange(reader, writer, request)
            if status != 200 or expected not in body:
                wrong += 1

    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(worker(r, w) for r, w in connections)), timeout=120)
        seconds = time.perf_counter() - started
    finally:
        for _, writer in connections:
            await _close(writer)
    return total / seconds, wrong


# ---------------------------------------------------------------------------- 1, 2: one at a time


@contextmanager
def _alone(target: Target, targets: list[Target]) -> Iterator[None]:
    """The other candidates' server processes stopped (SIGSTOP) while ``target``'s rate is measured: on
    2 cores an idle peer's own timers and background work (LiteLLM's) would otherwise take CPU from it."""
    others = [t.pid for t in targets if t.pid is not None and t is not target]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


def _post(client: httpx.Client, target: Target) -> bytes:
    return client.post(
        target.url, content=target.body(stream=False), headers={"content-type": "application/json", **target.headers}
    ).read()


def _first_event(client: httpx.Client, target: Target) -> tuple[float, bytes]:
    """``(seconds to the first complete SSE event, the whole stream)``."""
    started = time.perf_counter()
    first = 0.0
    received = b""
    with client.stream(
        "POST",
        target.url,
        content=target.body(stream=True),
        headers={"content-type": "application/json", **target.headers},
    ) as response:
        for chunk in response.iter_bytes():
            received += chunk
            if not first and b"\n\n" in received:
                first = time.perf_counter() - started
    return first, received


def interleaved_samples(
    functions: Mapping[str, Callable[[], float]], *, samples: int, block: int, warmup: int
) -> dict[str, list[float]]:
    """``samples`` figures per function, taken in round-robin blocks of ``block`` after ``warmup`` calls each."""
    for function in functions.values():
        for _ in range(warmup):
            function()
    taken: dict[str, list[float]] = {name: [] for name in functions}
    while any(len(values) < samples for values in taken.values()):
        for name, function in functions.items():
            for _ in range(min(block, samples - len(taken[name]))):
                taken[name].append(function())
    return taken


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ------------------------------------------------------------------------------- 4: many streams


def _status(pid: int, field_name: str) -> int:
    """A ``/proc/PID/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field_name)


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0); ``False`` if the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _stream_verdict(status: int, body: bytes, events: int) -> str | None:
    """``None`` for a whole stream, else what is wrong with it."""
    if status != 200:
        return f"status {status}"
    if b"event: error\n" in body or b"event: response.failed\n" in body:
        return "an error event"
    if b"event: response.completed\n" not in body:
        return "no response.completed"
    if not body.endswith(_DONE):
        return "no data: [DONE] at the end"
    count = body.count(b"\nevent: ") + body.startswith(b"event: ")
    if count != events:
        return f"{count} events, expected {events}"
    return None


async def _stream_round(target: Target, pid: int, count: int, events: int) -> dict[str, Any]:
    request = target.raw_request(stream=True)
    host, port = target.address
    state = {"open": 0, "max_open": 0, "peak_rss": 0, "in_flight": 0}
    failures: dict[str, int] = {}

    async def one() -> None:
        writer: asyncio.StreamWriter | None = None
        opened = False
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status, head = await _read_head(reader)
            opened = True
            state["open"] += 1
            state["max_open"] = max(state["max_open"], state["open"])
            body = await _read_body(reader, head)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            status, body = 0, type(error).__name__.encode()
        finally:
            state["open"] -= opened
            if writer is not None:
                await _close(writer)
        verdict = _stream_verdict(status, body, events)
        if verdict is not None:
            failures[verdict] = failures.get(verdict, 0) + 1

    async def sample(stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        metrics = f"GET /metrics HTTP/1.1\r\nhost: {host}:{port}\r\n\r\n".encode()
        ticks = 0
        try:
            while not stop.is_set():
                state["peak_rss"] = max(state["peak_rss"], _status(pid, "VmRSS"))
                if ticks % 5 == 0:  # the gateway's own gauge, every 50 ms
                    _, text = await _exchange(reader, writer, metrics)
                    if (match := _IN_FLIGHT.search(text)) is not None:
                        state["in_flight"] = max(state["in_flight"], int(match.group(1)))
                ticks += 1
                await asyncio.sleep(0.01)
        finally:
            await _close(writer)

    before = _status(pid, "VmRSS")
    exact = _reset_peak(pid)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(stop))
    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), timeout=120)
    finally:
        seconds = time.perf_counter() - started
        stop.set()
        await sampler
    peak = max(_status(pid, "VmHWM") if exact else 0, state["peak_rss"])
    await asyncio.sleep(0.5)  # let the server finish its bookkeeping before reading what it kept
    return {
        "before": before,
        "peak": peak,
        "after": _status(pid, "VmRSS"),
        "complete": count - sum(failures.values()),
        "failures": failures,
        "max_open": state["max_open"],
        "in_flight": state["in_flight"],
        "seconds": seconds,
        "exact": exact,
    }


def many_streams(
    upstream: str, workdir: Path, args: argparse.Namespace, after_warmup: Callable[[], None]
) -> list[dict[str, Any]]:
    """Part 4 on a fresh gateway; ``after_warmup`` runs between the warm-up and the measured rounds."""
    with gateway_process(upstream, workdir, "streams") as (target, pid):
        asyncio.run(_stream_round(target, pid, 50, args.events))  # warm-up: imports, validators, connections
        after_warmup()
        return [asyncio.run(_stream_round(target, pid, args.streams, args.events)) for _ in range(args.stream_rounds)]


# --------------------------------------------------------------------------------------------- main


def check(targets: list[Target], expected_text: str) -> bool:
    """Each candidate answers the recorded text, and streams to ``response.completed``."""
    fine = True
    with httpx.Client(timeout=60) as client:
        for target in targets:
            reply: Any = json.loads(_post(client, target))
            try:
                text = reply["output"][0]["content"][0]["text"]
            except (KeyError, IndexError, TypeError):
                text = None
            _, streamed = _first_event(client, target)
            if text != expected_text or b"response.completed" not in streamed:
                print(f"error: {target.name} answered {str(reply)[:300]!r} / {streamed[-200:]!r}", file=sys.stderr)
                fine = False
    return fine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="latency samples per candidate (default 1,000)")
    parser.add_argument("--streamed", type=int, default=300, help="first-event samples per candidate (default 300)")
    parser.add_argument("--rps-requests", type=int, default=1500, help="requests per rate round (default 1,500)")
    parser.add_argument(
        "--litellm-rps-requests", type=int, default=400, help="requests per rate round for LiteLLM (default 400)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rate rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight for the rate (default 32)")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams (default 1,000)")
    parser.add_argument("--stream-rounds", type=int, default=2, help="rounds of concurrent streams (default 2)")
    parser.add_argument("--events", type=int, default=10, help="events per paced stream (default 10)")
    parser.add_argument("--pause", type=float, default=1.0, help="mock pause between events, s (default 1.0)")
    default_litellm = REPO / ".venv-litellm" / "bin" / "python"
    parser.add_argument(
        "--litellm-python",
        default=str(default_litellm) if default_litellm.exists() else sys.executable,
        help="an interpreter with litellm[proxy] (default: .venv-litellm/bin/python if present, else this one)",
    )
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM's proxy")
    parser.add_argument("--serve-floor", metavar="UPSTREAM", help=argparse.SUPPRESS)
    parser.add_argument("--floor-client", choices=["http1", "httpx"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_floor:
        serve_floor(args.serve_floor, args.port, args.floor_client)
        return 0
    if args.events < 9:
        parser.error("--events must be at least 9 (8 lifecycle events around the deltas)")
    raise_fd_limit()  # before any child starts: they inherit it (1,000 streams need 3,000+ sockets)
    started = time.perf_counter()
    expected_text = recorded_response()["output"][0]["content"][0]["text"]

    why_not = "--no-litellm" if args.no_litellm else litellm_importable(args.litellm_python)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-gateway-")))
        fast = stack.enter_context(loopback_server(frames=sse_frames(stream_events(4))))
        litellm_ready: Callable[[], Target] | None = None
        if why_not is None:  # started first: its long start overlaps part 4's warm-up (mostly waiting)
            litellm_ready = stack.enter_context(litellm_process(args.litellm_python, fast, workdir))
        peers: list[Target] = []

        def wait_for_litellm() -> None:
            nonlocal why_not
            if litellm_ready is not None:
                try:
                    peers.append(litellm_ready())
                except RuntimeError as error:
                    why_not = f"it did not start: {error}"

        paced = stack.enter_context(
            loopback_server(frames=sse_frames(stream_events(args.events - 8)), pause=args.pause)
        )
        stream_rounds = many_streams(paced, workdir, args, wait_for_litellm)

        floor_httpx = stack.enter_context(floor_process(fast, workdir, "httpx"))
        floor = stack.enter_context(floor_process(fast, workdir, "http1"))
        gateway, _ = stack.enter_context(gateway_process(fast, workdir, "fast"))
        targets = [Target(DIRECT, fast, "gpt-4o"), floor_httpx, floor, gateway, *peers]
        if not check(targets, expected_text):
            return 1

        with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=4)) as client:

            def latency_of(target: Target) -> Callable[[], float]:
                def call() -> float:
                    begun = time.perf_counter()
                    _post(client, target)
                    return time.perf_counter() - begun

                return call

            def first_event_of(target: Target) -> Callable[[], float]:
                return lambda: _first_event(client, target)[0]

            latencies = interleaved_samples(
                {t.name: latency_of(t) for t in targets}, samples=args.requests, block=50, warmup=100
            )
            first_events = interleaved_samples(
                {t.name: first_event_of(t) for t in targets}, samples=args.streamed, block=25, warmup=30
            )

        expected = expected_text.encode()
        rates: dict[str, list[float]] = {t.name: [] for t in targets}
        wrong = 0
        for target in targets:  # warm-up: the connections' first requests, lazy paths under concurrency
            wrong += asyncio.run(_rate(target, 4 * args.concurrency, args.concurrency, expected))[1]
        for _ in range(args.rounds):
            for target in targets:
                total = args.litellm_rps_requests if target.name == LITELLM else args.rps_requests
                with _alone(target, targets):
                    rate, errors = asyncio.run(_rate(target, total, args.concurrency, expected))
                rates[target.name].append(rate)
                wrong += errors

    report(latencies, first_events, rates, stream_rounds, args, why_not, wrong)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")
    lost = sum(args.streams - r["complete"] for r in stream_rounds)
    return 1 if lost or wrong else 0


def report(
    latencies: dict[str, list[float]],
    first_events: dict[str, list[float]],
    rates: dict[str, list[float]],
    stream_rounds: list[dict[str, Any]],
    args: argparse.Namespace,
    why_not: str | None,
    wrong: int,
) -> None:
    if why_not is not None:
        print(f"note: LiteLLM's proxy skipped ({why_not}); see the bench-litellm group in pyproject.toml")
    for title, samples in (
        (f"1. non-streamed request latency, one httpx.Client, sequential, {args.requests:,} each", latencies),
        (f"2. streamed time to first event, one httpx.Client, sequential, {args.streamed:,} each", first_events),
    ):
        print(f"\n{title}; interleaved blocks of 50")
        print(f"{'candidate':<24} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'added p50':>10} {'added p99':>10}")
        base50, base99 = _percentile(samples[DIRECT], 0.5), _percentile(samples[DIRECT], 0.99)
        for name, values in samples.items():
            p50, p99 = _percentile(values, 0.5), _percentile(values, 0.99)
            print(
                f"{name:<24} {p50 * 1e3:>8.3f} {p99 * 1e3:>8.3f} {statistics.fmean(values) * 1e3:>8.3f} "
                f"{(p50 - base50) * 1e3:>+10.3f} {(p99 - base99) * 1e3:>+10.3f}"
            )
        over_floor = (_percentile(samples[GATEWAY], 0.5) - _percentile(samples[FLOOR], 0.5)) * 1e3
        print(f"gateway p50 - {FLOOR} p50: {over_floor:+.3f} ms (the gateway's own work)")

    median = {name: statistics.median(values) for name, values in rates.items()}
    litellm_count = f" ({args.litellm_rps_requests:,} for LiteLLM)" if LITELLM in rates else ""
    print(
        f"\n3. requests/s, {args.concurrency} in flight on keep-alive connections, one uvicorn worker; "
        f"median of {args.rounds} interleaved rounds of {args.rps_requests:,}{litellm_count}"
    )
    print(f"{'candidate':<24} {'req/s':>9} {'min..max req/s':>18} {'vs direct':>10} {'gateway / it':>13}")
    for name, values in rates.items():
        print(
            f"{name:<24} {median[name]:>9,.0f} {f'{min(values):,.0f}..{max(values):,.0f}':>18} "
            f"{median[name] / median[DIRECT]:>9.3f}x {median[GATEWAY] / median[name]:>12.2f}x"
        )
    if wrong:
        print(f"error: {wrong} requests answered wrongly during the rate rounds")

    print(
        f"\n4. {args.streams:,} concurrent streams through a fresh gateway ({args.events} events each, "
        f"mock pause {args.pause * 1e3:.0f} ms between events), gateway process memory"
    )
    print(
        f"{'round':>5} {'complete':>9} {'lost':>5} {'max open':>8} {'gw in-flight':>12} {'before MiB':>10} "
        f"{'peak MiB':>9} {'KiB/stream':>10} {'after MiB':>9} {'seconds':>7}"
    )
    for number, r in enumerate(stream_rounds, start=1):
        kib = (r["peak"] - r["before"]) / args.streams / 1024
        print(
            f"{number:>5} {r['complete']:>9,} {args.streams - r['complete']:>5} {r['max_open']:>8} "
            f"{r['in_flight']:>12} {r['before'] / MIB:>10.1f} {r['peak'] / MIB:>9.1f} {kib:>10.1f} "
            f"{r['after'] / MIB:>9.1f} {r['seconds']:>7.2f}"
        )
        for reason, count in r["failures"].items():
            print(f"      lost {count}: {reason}")
    print(
        "max open: streams whose response head had arrived and body had not ended, at once (client side); "
        "gw in-flight: the gateway's polyresponses_in_flight_streams gauge, peak of 50 ms samples"
    )
    if not all(r["exact"] for r in stream_rounds):
        print("note: /proc/PID/clear_refs refused: peaks are VmRSS sampled every 10 ms")

    print()
    added = (_percentile(latencies[GATEWAY], 0.5) - _percentile(latencies[DIRECT], 0.5)) * 1e3
    verdict = "PASS" if added <= TARGET_ADDED_P50_MS else "FAIL"
    print(f"target: gateway added p50 latency <= {TARGET_ADDED_P50_MS:g} ms: {added:.3f} ms -> {verdict}")
    if LITELLM in median:
        ratio = median[GATEWAY] / median[LITELLM]
        verdict = "PASS" if ratio >= TARGET_VS_LITELLM else "FAIL"
        print(f"target: gateway req/s >= {TARGET_VS_LITELLM:g}x LiteLLM proxy: {ratio:.2f}x -> {verdict}")
    else:
        print(f"target: gateway req/s >= {TARGET_VS_LITELLM:g}x LiteLLM proxy: not measured (LiteLLM skipped)")
    whole = sum(r["complete"] for r in stream_rounds)
    planned = args.streams * len(stream_rounds)
    verdict = "PASS" if whole == planned else "FAIL"
    print(f"check: streams ending in response.completed then [DONE], all events: {whole:,}/{planned:,} -> {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
