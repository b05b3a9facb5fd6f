"""P5: memory of 1,000 concurrent async streams, and whether it comes back.

The loopback server (``_shared.loopback_server``, its own process) answers each streamed
``POST /v1/responses`` with a valid Responses stream of ``--events`` (50) events, pausing
``--pause`` seconds between them, so the streams of one round are open at the same time.

Each candidate runs in a fresh child interpreter that imports only its own library:

- polyresponses: ``AsyncClient("openai_compatible", api_base=...).responses.create(stream=True)``;
- openai-python: ``AsyncOpenAI(base_url=...).responses.create(stream=True)``.

The child warms up (a few streams: lazy imports, validators, the pool), collects garbage and
reads its resident set (``/proc/self/status`` VmRSS); it then resets its high-water mark
(``/proc/self/clear_refs``) and runs ``--streams`` (1,000) streams at once, every event consumed,
recording the peak (VmHWM, and VmRSS sampled every 5 ms) and the most streams open at once;
after ``gc.collect()`` it reads VmRSS again, and repeats the round. Per stream is
``(peak - before) / streams``. "No growth": RSS after each round <= after the one before + 10 MiB
(three rounds). Every stream of a round is held open until all are (a barrier), so each round
peaks with ``--streams`` streams open.

    python bench/p5_concurrent_streams.py [--streams N] [--events N] [--pause S]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from _shared import loopback_server, raise_fd_limit, sse_frames, stream_events

OURS, OPENAI = "polyresponses", "openai-python"
ROUNDS = ("first", "second", "third")
GROWTH_MARGIN_MIB = 10.0
MIB = 1024 * 1024


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); ``False`` if the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------------------ child


def _opener(
    name: str, base_url: str
) -> tuple[Callable[[], Awaitable[AsyncIterator[Any]]], Callable[[], Awaitable[None]]]:
    """``(open one stream, close the client)`` for a candidate; imports only that candidate."""
    if name == OURS:
        from polyresponses import AsyncClient

        ours = AsyncClient("openai_compatible", api_base=base_url, api_key="k")

        async def open_ours() -> AsyncIterator[Any]:
            return await ours.responses.create(model="m", input="hi", stream=True)

        return open_ours, ours.close
    from openai import AsyncOpenAI

    sdk = AsyncOpenAI(base_url=base_url, api_key="k")

    async def open_sdk() -> AsyncIterator[Any]:
        return await sdk.responses.create(model="m", input="hi", stream=True)

    return open_sdk, sdk.close


async def _child(name: str, base_url: str, streams: int, events: int) -> dict[str, Any]:
    open_stream, close = _opener(name, base_url)
    state = {"open": 0, "max_open": 0, "sampled_peak": 0, "events": 0}

    all_open = asyncio.Event()

    async def one(expected: int) -> None:
        stream = await open_stream()
        state["open"] += 1
        state["max_open"] = max(state["max_open"], state["open"])
        if state["open"] == expected:
            all_open.set()
        # Hold until every stream of the round is open, so the peak is that of ``expected`` open
        # streams whatever each library's speed (events meanwhile wait in the socket buffers).
        await all_open.wait()
        count = 0
        async for _ in stream:
            count += 1
        state["open"] -= 1
        if count != events:
            raise AssertionError(f"{name}: a stream gave {count} events, expected {events}")
        state["events"] += count

    async def sample(stop: asyncio.Event) -> None:
        while not stop.is_set():
            state["sampled_peak"] = max(state["sampled_peak"], _status("VmRSS"))
            await asyncio.sleep(0.005)

    async def round_(count: int) -> dict[str, float]:
        gc.collect()
        before = _status("VmRSS")
        exact = _reset_peak()
        state.update(max_open=0, sampled_peak=before, events=0)
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample(stop))
        started = time.perf_counter()
        all_open.clear()
        await asyncio.gather(*(one(count) for _ in range(count)))
        seconds = time.perf_counter() - started
        stop.set()
        await sampler
        peak = max(_status("VmHWM") if exact else 0, state["sampled_peak"])
        gc.collect()
        return {
            "before": before,
            "peak": peak,
            "after": _status("VmRSS"),
            "max_open": state["max_open"],
            "seconds": seconds,
            "events": state["events"],
            "exact_peak": exact,
        }

    await round_(20)  # warm-up: imports, validators, the first connections
    first = await round_(streams)
    second = await round_(streams)
    third = await round_(streams)
    await close()
    return {"first": first, "second": second, "third": third}


# ----------------------------------------------------------------------------------------- parent


def _run_child(name: str, base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--url",
        base_url,
        "--streams",
        str(args.streams),
        "--events",
        str(args.events),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{name} child failed ({result.returncode}):\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams per round (default 1,000)")
    parser.add_argument("--events", type=int, default=50, help="events per stream (default 50)")
    parser.add_argument("--pause", type=float, default=0.04, help="server pause between events, s (default 0.04)")
    parser.add_argument("--child", choices=(OURS, OPENAI), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raise_fd_limit()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.url, args.streams, args.events))))
        return 0
    started = time.perf_counter()
    frames = sse_frames(stream_events(args.events - 8))  # 8 lifecycle events around the deltas
    with loopback_server(frames=frames, pause=args.pause) as base_url:
        results = {name: _run_child(name, base_url, args) for name in (OURS, OPENAI)}
    report(results, args)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")
    return 0


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nP5 {args.streams:,} concurrent async streams x {args.events} events "
        f"(server pause {args.pause * 1000:.0f} ms/event), client process memory; fresh child per candidate"
    )
    header = (
        f"{'candidate':<15} {'round':>5} {'before MiB':>10} {'peak MiB':>9} {'KiB/stream':>10} "
        f"{'after MiB':>9} {'max open':>8} {'seconds':>7}"
    )
    print(header)
    per_stream: dict[str, float] = {}
    for name, rounds in results.items():
        for label in ROUNDS:
            r = rounds[label]
            kib = (r["peak"] - r["before"]) / args.streams / 1024
            per_stream.setdefault(name, kib)
            print(
                f"{name:<15} {label:>5} {r['before'] / MIB:>10.1f} {r['peak'] / MIB:>9.1f} {kib:>10.1f} "
                f"{r['after'] / MIB:>9.1f} {r['max_open']:>8} {r['seconds']:>7.2f}"
            )
    if not all(rounds[label]["exact_peak"] for rounds in results.values() for label in ROUNDS):
        print("note: /proc/self/clear_refs refused: peaks are VmRSS sampled every 5 ms")
    print(f"\nper-stream memory, polyresponses / openai-python: {per_stream[OURS] / per_stream[OPENAI]:.2f}x")
    for name, rounds in results.items():
        growth = [(rounds[b]["after"] - rounds[a]["after"]) / MIB for a, b in zip(ROUNDS, ROUNDS[1:], strict=False)]
        verdict = "PASS" if max(growth) <= GROWTH_MARGIN_MIB else "FAIL"
        print(
            f"no growth, {name}: RSS after each round - after the one before = "
            f"{', '.join(f'{g:+.1f}' for g in growth)} MiB (each <= {GROWTH_MARGIN_MIB:g}) -> {verdict}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
