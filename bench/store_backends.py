"""The response store on SQLite (the default) and on PostgreSQL (the scale-out backend), side by side.

PostgreSQL is there so that several gateway replicas can share one state; what it costs a turn, and
what it buys in throughput, is measured here against SQLite in the same run, on a real PostgreSQL
(``tests._postgres.PostgresServer``: PostgreSQL 15 on 127.0.0.1, as a non-root user) started with
PostgreSQL's default durability, ``fsync=on`` and ``synchronous_commit=on`` (the test harness turns
fsync off; a benchmark must pay for the flush at each commit as production does). The SQLite store
runs with its own settings (WAL journal, ``synchronous=NORMAL``: a commit is not flushed, a
checkpoint is). Both are printed as the servers report them.

1. Store writes per second: ``save_response`` of a typical stored turn (a ~2 KB ``Response`` body,
   two input items), ``SQLiteStore`` on a file in a temporary directory and ``PostgresStore`` over
   loopback, from one thread and from 8 threads at once; median of interleaved rounds.
2. Rebuilding a 50-turn ``previous_response_id`` chain for its last turn: ``context_items`` (the
   store reads: one point read per earlier turn, then each turn's input items) and ``chain_items``
   (the whole rebuild, as a stateless provider's request gets it); median of interleaved repeats.
3. Gateway requests per second over PostgreSQL with one, two and three ``polyresponses serve``
   processes (replicas) sharing one database, and with the default SQLite store for one replica as
   the reference: non-streamed stored turns (``{"model": "mistral:m", "input": "hi"}``, a provider
   that keeps no state, so every turn is written before it is answered) against a loopback mock of
   Chat Completions; load from ``bench/gateway.py``'s bare asyncio client, spread round-robin over
   the replicas (each gets an equal share of the connections and requests); replicas not being
   measured are paused (SIGSTOP), so idle ones take no CPU.
4. Database time per non-streamed stored turn (target <= 2 ms on loopback): one gateway in this
   process over PostgreSQL, ``PostgresStore.run`` and the ledger's ``PostgresDatabase.read``/``write``
   wrapped with timers (wall time inside them, summed over every thread; pool checkout and commit
   included), N sequential requests: total database time / N and transactions per turn.

Each part starts after a ``CHECKPOINT``, so the pages the one before dirtied are not flushed on its
clock. The machine has few cores, shared with whatever else runs on it: the last line says how much
CPU other processes took during the run (figures taken beside someone's test run are not the
backends'). Every server (PostgreSQL, the mock, the gateways) is stopped at the end, on an error, a
Ctrl-C or a SIGTERM too.

    python bench/store_backends.py [--quick]

A report, not a test: exits 0 whatever the timings (1 if a gateway answers wrongly).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import resource
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from unittest.mock import patch

import httpx
import psycopg
from _shared import loopback_server, raise_fd_limit, recorded_response
from gateway import Target, _free_port, _process, _rate, _wait_ready

from polyresponses.router._state import chain_items, context_items
from polyresponses.server import load_config
from polyresponses.server.ledger._postgres import PostgresDatabase
from polyresponses.store import PostgresStore, ResponseStore, SQLiteStore, StoredItem, StoredResponse
from tests._postgres import PostgresServer, PostgresUnavailable
from tests.server._running import RunningGateway

T = TypeVar("T")

PROVIDER = "mistral"
MODEL = "mistral:m"
THREADS = 8
CHAIN = 50
TARGET_DB_MS = 2.0
WARMUP_TURNS = 20
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
"""PostgreSQL's own defaults, over the test harness's ``fsync=off``."""
SQLITE, POSTGRES = "SQLite", "PostgreSQL"


@dataclass(frozen=True, slots=True)
class Counts:
    """How much of each part to run: the full run, or ``--quick`` (a smoke run of well under a minute)."""

    rounds: int
    writes: int
    threaded_writes: int
    repeats: int
    requests: int
    concurrency: int
    turns: int

    @classmethod
    def of(cls, quick: bool) -> Counts:
        if quick:
            return cls(rounds=1, writes=100, threaded_writes=200, repeats=5, requests=200, concurrency=32, turns=50)
        return cls(rounds=3, writes=1000, threaded_writes=2000, repeats=30, requests=1500, concurrency=32, turns=1000)


# ------------------------------------------------------------------------------------------ records


@cache
def _recorded() -> dict[str, Any]:
    return recorded_response()  # parsed from the cassette once, not once per record


def answer_text() -> str:
    text: str = _recorded()["output"][0]["content"][0]["text"]
    return text


def turn(response_id: str, previous: str | None = None) -> tuple[StoredResponse, list[StoredItem]]:
    """A stored turn as the gateway writes it for a stateless provider: the recorded ``Response`` (output
    text lengthened so the body is about 2 KB, the size of a short answer with its metadata) and two
    input items (instructions and the question)."""
    response = copy.deepcopy(_recorded())
    response["id"] = response_id
    response["previous_response_id"] = previous
    message = response["output"][0]
    message["id"] = f"msg_{response_id.removeprefix('resp_')}"
    message["content"][0]["text"] = " ".join([answer_text()] * 32)
    tag = response_id.removeprefix("resp_")
    inputs = [
        StoredItem(f"msg_{tag}_0", {"type": "message", "role": "developer", "content": "Answer in one sentence."}),
        StoredItem(f"msg_{tag}_1", {"type": "message", "role": "user", "content": "What is the capital of France?"}),
    ]
    body = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
    return StoredResponse(response_id, PROVIDER, False, body, previous_response_id=previous), inputs


# ------------------------------------------------------------------------------- 1: store writes


def write_rate(store: ResponseStore, turns: Sequence[tuple[StoredResponse, list[StoredItem]]], threads: int) -> float:
    """``save_response`` calls per second for ``turns``, from ``threads`` threads released together."""
    chunks = [turns[offset::threads] for offset in range(threads)]
    gate = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def write(chunk: Sequence[tuple[StoredResponse, list[StoredItem]]]) -> None:
        gate.wait()
        try:
            for record, inputs in chunk:
                store.save_response(record, inputs)
        except BaseException as error:  # re-raised in the caller, which would not see it otherwise
            failures.append(error)

    workers = [threading.Thread(target=write, args=(chunk,), daemon=True) for chunk in chunks]
    for worker in workers:
        worker.start()
    gate.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return len(turns) / seconds


def store_writes(stores: dict[str, ResponseStore], counts: Counts) -> dict[tuple[str, int], list[float]]:
    """Part 1: writes/s per (backend, threads), one figure per round; rounds interleave the candidates so
    a burst of machine noise hits every one alike. Every write is a new response (an insert, not an upsert)."""
    serial = 0

    def batch(count: int) -> list[tuple[StoredResponse, list[StoredItem]]]:
        nonlocal serial
        serial += 1
        return [turn(f"resp_w{serial}_{n}") for n in range(count)]

    for store in stores.values():  # warm-up: the file or the pool and its 8 connections, prepared statements
        write_rate(store, batch(2 * THREADS), THREADS)
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(counts.rounds):
        for name, store in stores.items():
            for threads, count in ((1, counts.writes), (THREADS, counts.threaded_writes)):
                rates.setdefault((name, threads), []).append(write_rate(store, batch(count), threads))
    return rates


# ------------------------------------------------------------------------------ 2: chain rebuild


def store_chain(store: ResponseStore, length: int) -> StoredResponse:
    """``length`` turns, each pointing at the one before; returns the last, as read back."""
    previous: str | None = None
    for number in range(length):
        record, inputs = turn(f"resp_chain_{number}", previous)
        store.save_response(record, inputs)
        previous = record.id
    assert previous is not None
    last = store.get_response(previous)
    assert last is not None
    return last


def rebuilds(stores: dict[str, ResponseStore], repeats: int) -> dict[str, dict[str, Any]]:
    """Part 2: median seconds of ``context_items`` and ``chain_items`` for a chain's last turn, per backend."""
    lasts = {name: store_chain(store, CHAIN) for name, store in stores.items()}
    taken: dict[str, dict[str, list[float]]] = {name: {"context": [], "chain": []} for name in stores}
    for _ in range(2):  # warm-up: statements prepared, pages cached
        for name, store in stores.items():
            chain_items(store, lasts[name], PROVIDER)
    for _ in range(repeats):
        for name, store in stores.items():
            started = time.perf_counter()
            items = context_items(store, lasts[name], PROVIDER)
            taken[name]["context"].append(time.perf_counter() - started)
            started = time.perf_counter()
            replayed = chain_items(store, lasts[name], PROVIDER)
            taken[name]["chain"].append(time.perf_counter() - started)
    results: dict[str, dict[str, Any]] = {}
    for name, store in stores.items():
        reads = None
        if isinstance(store, PostgresStore):
            with metered() as meter:
                context_items(store, lasts[name], PROVIDER)
            reads = meter.transactions.get("store", 0)
        results[name] = {
            "context": statistics.median(taken[name]["context"]),
            "chain": statistics.median(taken[name]["chain"]),
            "items": len(items),
            "replayed": len(replayed),
            "reads": reads,
        }
    return results


# ------------------------------------------------------------------------- 3: gateway replicas


def chat_completion() -> bytes:
    """The mock's one reply: a ``chat.completion`` with the recorded answer.

    The same upstream id every time is fine: the gateway gives each response of a provider that keeps
    no state an id of its own (``resp_<uuid4>``), so every turn is a new row, as in real traffic.
    """
    reply = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1757604033,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 8, "total_tokens": 16},
    }
    return json.dumps(reply, separators=(",", ":")).encode()


@contextmanager
def chat_upstream() -> Iterator[str]:
    """``_shared``'s loopback server (its own process) answering every POST with :func:`chat_completion`;
    yields its ``/v1`` base URL. Started before any thread exists in this process (it forks)."""
    with loopback_server(json_body=chat_completion()) as url:
        yield url


def gateway_config(workdir: Path, name: str, store_url: str, upstream: str) -> Path:
    """A ``gateway.toml`` with no gateway keys (loopback only) and the ``mistral`` row's chat endpoint on the mock."""
    path = workdir / f"{name}.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n\n[providers.mistral]\nbase_url = "{upstream}"\ndialect = "chat_completions"\n'
    )
    return path


def gateway_environ() -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("POLYRESPONSES_")}
    # The secret every replica over one database must share (only compaction uses it; set as deployed).
    environ |= {"MISTRAL_API_KEY": "k", "POLYRESPONSES_SECRET": secrets.token_hex(32)}
    return environ


@contextmanager
def replicas(configs: Sequence[tuple[str, Path]], workdir: Path) -> Iterator[list[Target]]:
    """One ``polyresponses serve`` process per ``(label, config)``, all started at once, then waited for
    (``bench/gateway.py``'s process handling: SIGTERM at the end, SIGKILL after 10 s, and death with us)."""
    environ = gateway_environ()
    with ExitStack() as stack:
        started: list[tuple[str, int, Path, Any]] = []
        for label, config in configs:
            port = _free_port()
            log = workdir / f"{label}.log"
            command = [sys.executable, "-m", "polyresponses", "serve", "--config", str(config)]
            command += ["--port", str(port), "--log-level", "warning"]
            started.append((label, port, log, stack.enter_context(_process(command, environ, log))))
        targets = []
        for label, port, log, process in started:
            _wait_ready(process, f"http://127.0.0.1:{port}/healthz", 60, log, label)
            targets.append(Target(label, f"http://127.0.0.1:{port}/v1", MODEL, pid=process.pid))
        yield targets


@contextmanager
def only(active: Sequence[Target], every: Sequence[Target]) -> Iterator[None]:
    """Every gateway of ``every`` not in ``active`` paused (SIGSTOP) meanwhile: on 2 cores an idle replica's
    timers would take CPU from the measured ones. They are resumed whatever happens (a stopped process
    would not even act on the SIGTERM that ends it)."""
    idle = [target.pid for target in every if target.pid is not None and target not in active]
    for pid in idle:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in idle:
            os.kill(pid, signal.SIGCONT)


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (index < total % parts) for index in range(parts)]


async def spread_rate(targets: Sequence[Target], total: int, concurrency: int, expected: bytes) -> tuple[float, int]:
    """``(requests/s, wrong answers)`` with the load spread round-robin: each target gets an equal share of
    the ``concurrency`` keep-alive connections and of the ``total`` requests (``bench/gateway.py``'s
    ``_rate`` for each, all at once); the rate is the total over the wall time until the last one ends."""
    started = time.perf_counter()
    results = await asyncio.gather(
        *(
            _rate(target, requests, connections, expected)
            for target, requests, connections in zip(
                targets, _shares(total, len(targets)), _shares(concurrency, len(targets)), strict=True
            )
        )
    )
    return total / (time.perf_counter() - started), sum(wrong for _, wrong in results)


def check_gateways(targets: Sequence[Target]) -> bool:
    """Each answers the mock's text, and a turn stored through one replica is read back through the next
    (they share the database, or the SQLite file for the one SQLite replica)."""
    fine = True
    with httpx.Client(timeout=30) as client:
        for target in targets:
            reply = client.post(target.url, json={"model": MODEL, "input": "hi"})
            try:
                data: Any = reply.json()
                text, ident = data["output"][0]["content"][0]["text"], data["id"]
            except (ValueError, KeyError, IndexError, TypeError):
                text = ident = None
            peers = [t for t in targets if t.name.split("-")[0] == target.name.split("-")[0]]
            reader = peers[(peers.index(target) + 1) % len(peers)]
            read = client.get(f"{reader.base_url}/responses/{ident}").status_code if ident else None
            if text != answer_text() or read != 200:
                print(
                    f"error: {target.name} answered {reply.status_code} {reply.text[:300]!r}; "
                    f"{reader.name} read it back: {read}",
                    file=sys.stderr,
                )
                fine = False
    return fine


def gateway_rates(
    pg_targets: Sequence[Target], sqlite_target: Target, counts: Counts
) -> tuple[dict[str, list[float]], int]:
    """Part 3: req/s per configuration (PostgreSQL with 1, 2, 3 replicas; SQLite with 1), interleaved rounds."""
    every = [*pg_targets, sqlite_target]
    configurations = {f"{POSTGRES} x{n}": list(pg_targets[:n]) for n in range(1, len(pg_targets) + 1)}
    configurations[f"{SQLITE} x1"] = [sqlite_target]
    expected = answer_text().encode()
    wrong = 0
    for target in every:  # warm-up: connections, pools, prepared statements, lazy imports
        with only([target], every):
            wrong += asyncio.run(_rate(target, 4 * counts.concurrency, counts.concurrency, expected))[1]
    rates: dict[str, list[float]] = {name: [] for name in configurations}
    for _ in range(counts.rounds):
        for name, active in configurations.items():
            with only(active, every):
                rate, errors = asyncio.run(spread_rate(active, counts.requests, counts.concurrency, expected))
            rates[name].append(rate)
            wrong += errors
    return rates, wrong


# ----------------------------------------------------------------------- 4: database time per turn


@dataclass(slots=True)
class Meter:
    """Wall time spent inside database transactions, summed over every thread, by kind.

    A block entered inside another on the same thread counts as a transaction of its own but not for
    time again (its time is already inside the outer one).
    """

    seconds: dict[str, float] = field(default_factory=dict)
    transactions: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _depth: threading.local = field(default_factory=threading.local)

    @contextmanager
    def span(self, kind: str) -> Iterator[None]:
        depth: int = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self._depth.value = depth
            with self._lock:
                self.transactions[kind] = self.transactions.get(kind, 0) + 1
                if depth == 0:
                    self.seconds[kind] = self.seconds.get(kind, 0.0) + elapsed

    def total(self) -> float:
        with self._lock:
            return sum(self.seconds.values())

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.transactions.clear()


@contextmanager
def metered() -> Iterator[Meter]:
    """Every PostgreSQL transaction of the store and the gateway's ledger timed while the block runs.

    The three entry points are patched on their classes, so every instance and thread is covered:
    ``PostgresStore.run`` (each store method is one call) and ``PostgresDatabase.read``/``write`` (each
    ledger method is one block); each is a pooled connection's checkout, the statements and the commit.
    """
    meter = Meter()
    run, read, write = PostgresStore.run, PostgresDatabase.read, PostgresDatabase.write

    def timed_run(self: PostgresStore, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        with meter.span("store"):
            return run(self, work)

    @contextmanager
    def timed_read(self: PostgresDatabase) -> Iterator[psycopg.Connection[Any]]:
        with meter.span("ledger read"), read(self) as connection:
            yield connection

    @contextmanager
    def timed_write(self: PostgresDatabase) -> Iterator[psycopg.Connection[Any]]:
        with meter.span("ledger write"), write(self) as connection:
            yield connection

    with (
        patch.object(PostgresStore, "run", timed_run),
        patch.object(PostgresDatabase, "read", timed_read),
        patch.object(PostgresDatabase, "write", timed_write),
    ):
        yield meter


def db_time_per_turn(config: Path, turns: int) -> dict[str, Any]:
    """Part 4: one gateway in this process (uvicorn in a thread), ``turns`` sequential stored turns."""
    with metered() as meter, RunningGateway(load_config(config, {}), gateway_environ()) as gateway:
        latencies: list[float] = []
        per_turn: list[float] = []  # requests are sequential: what the meter gained during one is that turn's
        with httpx.Client(timeout=30) as client:
            for number in range(WARMUP_TURNS + turns):
                if number == WARMUP_TURNS:  # after the warm-up: pool connections, prepared statements, imports
                    meter.reset()
                    latencies.clear()
                    per_turn.clear()
                before = meter.total()
                started = time.perf_counter()
                reply = client.post(gateway.url + "/responses", json={"model": MODEL, "input": "hi"})
                latencies.append(time.perf_counter() - started)
                per_turn.append(meter.total() - before)
                if reply.status_code != 200:
                    raise RuntimeError(f"the in-process gateway answered {reply.status_code}: {reply.text[:300]}")
        return {
            "seconds": dict(meter.seconds),
            "transactions": dict(meter.transactions),
            "latency": statistics.median(latencies),
            "per_turn": per_turn,
        }


# ------------------------------------------------------------------------------------- durability


def postgres_settings(url: str) -> dict[str, str]:
    """What the server runs with, as it says itself, and what one commit costs (the WAL flush) next to
    one round trip: the two numbers that explain the rest."""
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
    with psycopg.connect(url, autocommit=True) as connection:

        def show(name: str) -> str:
            row = connection.execute(f"SHOW {name}").fetchone()
            assert row is not None
            return str(row[0])

        shown = {name: show(name) for name in names}
        connection.execute("CREATE TABLE bench_probe (n integer)")
        trips, commits = [], []
        for number in range(200):
            started = time.perf_counter()
            connection.execute("SELECT 1")
            trips.append(time.perf_counter() - started)
            started = time.perf_counter()
            connection.execute("INSERT INTO bench_probe VALUES (%s)", (number,))  # autocommit: one commit each
            commits.append(time.perf_counter() - started)
    shown["round trip"] = f"{statistics.median(trips) * 1e6:.0f} µs"
    shown["commit"] = f"{statistics.median(commits) * 1e3:.2f} ms"
    return shown


def checkpoint(url: str) -> None:
    """``CHECKPOINT`` before a part: the dirty pages of the one before are flushed now, not on its clock."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def sqlite_settings(store: SQLiteStore) -> dict[str, str]:
    """The store connection's own pragmas (``synchronous`` is per connection: only the store's counts)."""
    with store._read() as db:
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
    levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return {"journal_mode": str(journal), "synchronous": levels.get(synchronous, str(synchronous))}


# --------------------------------------------------------------------------------------- machine


def _system_cpu() -> tuple[float, float]:
    """``(busy, stolen)`` CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu() -> float:
    """CPU seconds of this process and of every child it has waited for: once every server is stopped,
    PostgreSQL (its reaper waits for each of its processes), the mock and the gateways included."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(slots=True)
class Machine:
    """How much of the machine's CPU went to other processes during the run: on 2 shared cores another
    job's test run moves every figure here, and the report should say so rather than leave it unseen."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    started: float = field(default_factory=time.monotonic)
    system: tuple[float, float] = field(default_factory=_system_cpu)
    own: float = field(default_factory=_own_cpu)

    def report(self) -> str:
        wall = time.monotonic() - self.started
        busy, stolen = (now - then for now, then in zip(_system_cpu(), self.system, strict=True))
        others = max(0.0, busy - (_own_cpu() - self.own))
        share = others / (wall * self.cores)
        line = (
            f"machine: {self.cores} cores; other processes used {others:.1f} CPU-s during the {wall:.0f} s run "
            f"({share:.0%} of the cores), the hypervisor stole {stolen:.1f} s"
        )
        if share > 0.05:
            line += "\nnote: the machine was not quiet, so these figures are disturbed; rerun when it is"
        return line


# --------------------------------------------------------------------------------------------- main


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``with`` below stops what it started."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run (under a minute)")
    args = parser.parse_args(argv)
    counts = Counts.of(args.quick)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    raise_fd_limit()
    machine = Machine()
    cores = machine.cores

    with ExitStack() as stack:
        upstream = stack.enter_context(chat_upstream())  # first: it forks, and no thread exists yet
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-store-backends-")))
        try:
            server = stack.enter_context(PostgresServer(settings=DURABLE))
        except PostgresUnavailable as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        pg_settings = postgres_settings(server.new_database("bench_probe"))

        sqlite_writes = SQLiteStore(workdir / "writes.sqlite3")
        pg_writes = PostgresStore(server.new_database("bench_writes"))
        stack.callback(sqlite_writes.close)
        stack.callback(pg_writes.close)
        sq_settings = sqlite_settings(sqlite_writes)
        print_durability(sq_settings, pg_settings)
        write_stores: dict[str, ResponseStore] = {SQLITE: sqlite_writes, POSTGRES: pg_writes}
        body_bytes = len(turn("resp_size")[0].body)
        checkpoint(server.url)
        writes = store_writes(write_stores, counts)
        print_writes(writes, counts, body_bytes)

        sqlite_chain = SQLiteStore(workdir / "chain.sqlite3")
        pg_chain = PostgresStore(server.new_database("bench_chain"))
        stack.callback(sqlite_chain.close)
        stack.callback(pg_chain.close)
        checkpoint(server.url)
        print_rebuilds(rebuilds({SQLITE: sqlite_chain, POSTGRES: pg_chain}, counts.repeats), counts)

        pg_gateway = gateway_config(workdir, "postgres", server.new_database("bench_replicas"), upstream)
        sqlite_gateway = gateway_config(workdir, "sqlite", str(workdir / "gateway.sqlite3"), upstream)
        checkpoint(server.url)
        with replicas([(f"pg-{n}", pg_gateway) for n in range(1, 4)] + [("sqlite-1", sqlite_gateway)], workdir) as on:
            if not check_gateways(on):
                return 1
            rates, wrong = gateway_rates(on[:3], on[3], counts)
        print_rates(rates, counts, cores, wrong)

        inprocess = gateway_config(workdir, "inprocess", server.new_database("bench_inprocess"), upstream)
        checkpoint(server.url)
        print_db_time(db_time_per_turn(inprocess, counts.turns), counts)

    print(f"\n{machine.report()}")
    print("(PostgreSQL, the mock and every gateway stopped)")
    return 1 if wrong else 0


# ------------------------------------------------------------------------------------------ report


def print_durability(sqlite: dict[str, str], postgres: dict[str, str]) -> None:
    print("durability, as each backend reports it:")
    print(
        f"  {SQLITE:<11} journal_mode={sqlite['journal_mode']}, synchronous={sqlite['synchronous']}"
        " (the store's own: a commit is written to the WAL, not flushed; a checkpoint is)"
    )
    print(
        f"  {POSTGRES:<11} {postgres['server_version'].split()[0]}: fsync={postgres['fsync']}, "
        f"synchronous_commit={postgres['synchronous_commit']}, full_page_writes={postgres['full_page_writes']}, "
        f"wal_sync_method={postgres['wal_sync_method']} (PostgreSQL's defaults: each commit waits for the flush)"
    )
    print(
        f"  {'':<11} loopback round trip (SELECT 1) {postgres['round trip']}; "
        f"one-row autocommit insert {postgres['commit']}"
    )


def _spread(values: list[float], scale: float = 1.0) -> str:
    return f"{min(values) * scale:,.0f}..{max(values) * scale:,.0f}"


def print_writes(rates: dict[tuple[str, int], list[float]], counts: Counts, body_bytes: int) -> None:
    print(
        f"\n1. store writes/s: save_response of one turn ({body_bytes:,}-byte Response body, 2 input items), "
        f"{counts.writes:,} from 1 thread / {counts.threaded_writes:,} from {THREADS}; "
        f"median of {counts.rounds} interleaved round(s)"
    )
    print(f"{'backend':<12} {'threads':>7} {'writes/s':>9} {'min..max':>15} {'1/rate ms':>9} {'vs SQLite':>10}")
    for (name, threads), values in rates.items():
        median = statistics.median(values)
        base = statistics.median(rates[(SQLITE, threads)])
        print(
            f"{name:<12} {threads:>7} {median:>9,.0f} {_spread(values):>15} {1e3 / median:>9.3f} {median / base:>9.2f}x"
        )
    print(
        f"{THREADS} threads share one SQLiteStore (one connection behind a lock) and one PostgresStore "
        "(its pool, 10 connections at most)"
    )


def print_rebuilds(results: dict[str, dict[str, Any]], counts: Counts) -> None:
    print(
        f"\n2. rebuilding a {CHAIN}-turn previous_response_id chain for its last turn; "
        f"median of {counts.repeats} interleaved repeats"
    )
    print(f"{'backend':<12} {'context_items ms':>16} {'chain_items ms':>15} {'items':>8} {'store reads':>12}")
    for name, result in results.items():
        shown = "" if result["reads"] is None else str(result["reads"])
        print(
            f"{name:<12} {result['context'] * 1e3:>16.2f} {result['chain'] * 1e3:>15.2f} "
            f"{result['items']:>3}/{result['replayed']:<4} {shown:>12}"
        )
    reads = next((r["reads"] for r in results.values() if r["reads"] is not None), None)
    print(
        "context_items: the store reads; chain_items: those, the last turn's output and every item made "
        "replayable (the full rebuild). items: context_items/chain_items. store reads: PostgreSQL transactions "
        f"(PostgresStore.run) per context_items, {reads}: the chain's records and their input items in one "
        "(ChainReader.chain), the last turn's input items in another"
    )


def print_rates(rates: dict[str, list[float]], counts: Counts, cores: int, wrong: int) -> None:
    print(
        f"\n3. gateway requests/s: non-streamed stored turns ({MODEL} -> loopback mock Chat Completions), "
        f"{counts.concurrency} in flight, round-robin over the replicas; median of {counts.rounds} interleaved "
        f"round(s) of {counts.requests:,}"
    )
    print(f"{'store':<12} {'replicas':>8} {'req/s':>8} {'min..max':>15} {'vs 1 replica':>13}")
    one = statistics.median(rates[f"{POSTGRES} x1"])
    for name, values in rates.items():
        store, _, replicas = name.partition(" x")
        median = statistics.median(values)
        relative = f"{median / one:.2f}x" if store == POSTGRES else "(reference)"
        print(f"{store:<12} {replicas:>8} {median:>8,.0f} {_spread(values):>15} {relative:>13}")
    print(
        f"note: this machine has {cores} cores, shared by the load generator, PostgreSQL, the mock and the "
        "replicas, so a second or third replica adds no CPU: this shows what sharing one database costs, not "
        "the scaling that a replica per machine would give"
    )
    if wrong:
        print(f"error: {wrong} requests answered wrongly during the rate rounds")


def print_db_time(result: dict[str, Any], counts: Counts) -> None:
    n = counts.turns
    print(
        f"\n4. database time per non-streamed stored turn: one gateway in this process over {POSTGRES}, "
        f"{n:,} sequential requests after {WARMUP_TURNS} of warm-up (wall time inside each transaction, all threads)"
    )
    print(f"{'where':<38} {'tx/turn':>8} {'ms/turn':>8} {'ms/tx':>7}")
    kinds = {
        "store": "store (PostgresStore.run)",
        "ledger write": "ledger write (PostgresDatabase.write)",
        "ledger read": "ledger read (PostgresDatabase.read)",
    }
    total_seconds = sum(result["seconds"].values())
    total_tx = sum(result["transactions"].values())
    for kind, label in kinds.items():
        seconds, tx = result["seconds"].get(kind, 0.0), result["transactions"].get(kind, 0)
        per_tx = f"{seconds / tx * 1e3:>7.3f}" if tx else f"{'-':>7}"
        print(f"{label:<38} {tx / n:>8.2f} {seconds / n * 1e3:>8.3f} {per_tx}")
    print(
        f"{'total':<38} {total_tx / n:>8.2f} {total_seconds / n * 1e3:>8.3f} "
        f"{total_seconds / max(total_tx, 1) * 1e3:>7.3f}"
    )
    ordered = sorted(result["per_turn"])
    p50, p90 = (ordered[round(q * (len(ordered) - 1))] * 1e3 for q in (0.5, 0.9))
    print(
        f"database time of one turn: p50 {p50:.3f} ms, p90 {p90:.3f} ms; "
        f"request latency p50 (whole turn, client side) {result['latency'] * 1e3:.3f} ms"
    )
    per_turn = total_seconds / n * 1e3
    verdict = "PASS" if per_turn <= TARGET_DB_MS else "FAIL"
    print(f"\ntarget: database time per stored turn <= {TARGET_DB_MS:g} ms on loopback: {per_turn:.3f} ms -> {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
