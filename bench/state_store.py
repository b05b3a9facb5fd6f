"""The response store under load: write rate alone and with concurrent processes, and chain rebuilds.

What a turn costs: ``Recorder.record`` writes one response (about 2 KB of JSON) with 3 input items
and, in a conversation, appends 5 items, all in one ``BEGIN IMMEDIATE`` transaction. Measured:

1. one process writing turns (SQLite file, the in-memory store for scale, and SQLite with the
   batched writes used for mirror copies of responses a provider keeps itself);
2. ``--processes`` (4) processes writing their own chains and one shared conversation at once:
   total turns/s and the per-write latency distribution (p50/p99/max), which shows how long a
   writer waits for another's transaction (WAL allows one writer at a time);
3. rebuilding the input of a ``--chain`` (50) turn chain by ``previous_response_id``
   (``_state.chain_items``: one point read per turn plus its items).

No peer runs in this offline sandbox (LiteLLM emulates state only inside its proxy, from its
database; vLLM's store is in the server process), so these are figures, not ratios.

    python bench/state_store.py [--turns N] [--processes N] [--chain N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from polyresponses import MemoryStore, ResponseStore, SQLiteStore, StoredConversation, StoredItem, StoredResponse
from polyresponses.router._state import chain_items
from polyresponses.store import defer, flush

_OUTPUT = [
    {
        "type": "message",
        "id": "msg_x",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "word " * 300, "annotations": []}],
    }
]


def _turn(store: ResponseStore, response_id: str, previous: str | None, conversation: str | None) -> float:
    inputs = [StoredItem(f"{response_id}_{n}", {"role": "user", "content": f"question {n}"}) for n in range(3)]
    record = StoredResponse(
        response_id,
        "anthropic",
        False,
        json.dumps({"id": response_id, "object": "response", "status": "completed", "output": _OUTPUT}),
        previous_response_id=previous,
        conversation_id=conversation,
        conversation_position=0 if conversation else None,
    )
    appended = [*inputs, StoredItem(f"{response_id}_out", _OUTPUT[0], "anthropic")] if conversation else []
    start = time.perf_counter()
    store.save_response(record, inputs, appended)
    return time.perf_counter() - start


def _writer(path: str, worker: int, turns: int, conversation: str | None, results: Any) -> None:
    store = SQLiteStore(path)
    previous = None
    latencies = []
    for turn in range(turns):
        response_id = f"resp_{worker}_{turn}"
        latencies.append(_turn(store, response_id, previous, conversation))
        previous = response_id
    store.close()
    results.put(latencies)


def _alone(store: ResponseStore, turns: int, label: str) -> None:
    start = time.perf_counter()
    previous = None
    for turn in range(turns):
        _turn(store, f"resp_a_{turn}", previous, None)
        previous = f"resp_a_{turn}"
    elapsed = time.perf_counter() - start
    print(f"  {label:<28} {turns / elapsed:>9,.0f} turns/s  ({elapsed / turns * 1e6:,.0f} µs a turn)")


def _mirrored(store: SQLiteStore, turns: int) -> None:
    """Mirror records (a provider that keeps its responses itself): batched by ``defer``."""
    inputs = [StoredItem(f"in_{n}", {"role": "user", "content": f"question {n}"}) for n in range(3)]
    body = json.dumps({"id": "r", "object": "response", "status": "completed", "output": _OUTPUT})
    start = time.perf_counter()
    for turn in range(turns):
        defer(store, StoredResponse(f"resp_m_{turn}", "openai", True, body), inputs)
    flush(store)
    elapsed = time.perf_counter() - start
    print(
        f"  {'SQLite, mirrors batched':<28} {turns / elapsed:>9,.0f} turns/s  ({elapsed / turns * 1e6:,.0f} µs a turn)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--chain", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("1. one writer")
        _alone(SQLiteStore(Path(folder) / "alone.sqlite3"), args.turns, "SQLite (WAL, NORMAL)")
        _alone(MemoryStore(), args.turns, "memory")
        _mirrored(SQLiteStore(Path(folder) / "mirror.sqlite3"), args.turns)

        print(f"2. {args.processes} processes at once, each a chain, all one shared conversation")
        path = str(Path(folder) / "shared.sqlite3")
        setup = SQLiteStore(path)
        setup.create_conversation(StoredConversation("conv_shared"), [])
        setup.close()
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        workers = [
            context.Process(target=_writer, args=(path, w, args.turns, "conv_shared", results))
            for w in range(args.processes)
        ]
        start = time.perf_counter()
        for process in workers:
            process.start()
        latencies = sorted(value for _ in workers for value in results.get())
        for process in workers:
            process.join()
        elapsed = time.perf_counter() - start
        total = args.turns * args.processes
        check = SQLiteStore(path)
        items = len(check.conversation_items("conv_shared") or [])
        p99 = latencies[int(len(latencies) * 0.99)]
        print(
            f"  {total / elapsed:>9,.0f} turns/s in total ({elapsed:.1f} s incl. process start);"
            f" write p50 {statistics.median(latencies) * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms,"
            f" max {latencies[-1] * 1e3:.1f} ms; conversation items {items:,} of {total * 4:,} written"
        )

        print(f"3. rebuilding a {args.chain}-turn chain")
        for turn in range(args.chain):
            _turn(check, f"resp_c_{turn}", f"resp_c_{turn - 1}" if turn else None, None)
        record = check.get_response(f"resp_c_{args.chain - 1}")
        assert record is not None
        rounds = 20
        start = time.perf_counter()
        for _ in range(rounds):
            rebuilt = chain_items(check, record, "anthropic")
        elapsed = (time.perf_counter() - start) / rounds
        print(f"  {len(rebuilt)} items in {elapsed * 1e3:.1f} ms")
        check.close()


if __name__ == "__main__":
    main()
