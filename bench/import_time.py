"""Cold-process import time of polyresponses and its peers, and stream-event validation throughput.

Why cold processes: an import is paid once per process (CLI start, serverless cold start), and an
interpreter that already imported pydantic hides most of it. So every sample is a fresh
``python -c`` child that times only its own statement with ``time.perf_counter()`` (interpreter
start-up is excluded: it is the same for everyone and would drown the differences). Candidates are
interleaved round-robin, so a burst of machine noise hits all of them alike rather than one, and
medians (plus the min) are reported. One unrecorded warm-up round first writes the ``.pyc`` caches.

Throughput: ``TypeAdapter(ResponseStreamEvent).validate_json`` over every event of the recorded
OpenAI Responses streams in ``../shared/fixtures/recorded/openai_responses``, beside the openai
SDK's own union (same events) and ``json.loads`` (the floor: parsing JSON without building models).

    python bench/import_time.py [--runs N] [--seconds S] [--fixtures DIR]

It is a report, not a test: it exits 0 whatever the numbers, and 1 only if a child process fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from polyresponses.router._sse import SSEDecoder

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "recorded" / "openai_responses"
OPENAI, FLOOR, OURS = "openai", "pydantic + httpx", "polyresponses"

CANDIDATES: dict[str, str] = {
    "python (empty)": "pass",
    FLOOR: "import pydantic, httpx",
    OURS: "import polyresponses",
    "polyresponses.types.Response (first use)": "import polyresponses.types as t; t.Response",
    "polyresponses.types.ResponseStreamEvent adapter": (
        "import polyresponses.types as t; from pydantic import TypeAdapter; TypeAdapter(t.ResponseStreamEvent)"
    ),
    OPENAI: "import openai",
    "openai.types.responses.Response": "from openai.types.responses import Response",
}
OPTIONAL_PEERS: dict[str, str] = {"any_llm": "import any_llm", "litellm": "import litellm"}
# The timer's name must not collide with the snippets' own names (they use ``t``).
CHILD = "import time\n_bench_t0 = time.perf_counter()\n{snippet}\nprint(time.perf_counter() - _bench_t0)"
LOADED = (
    "import sys, polyresponses.types as t; t.Response; "
    "print(*sorted(m for m in sys.modules if m.startswith('polyresponses')))"
)


class ChildFailed(Exception):
    """A child interpreter exited non-zero; carries its command and stderr."""


def _run_child(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    if result.returncode != 0:
        raise ChildFailed(f"child exited {result.returncode} running:\n{code}\n--- stderr ---\n{result.stderr}")
    return result.stdout.strip()


def measure_imports(runs: int) -> dict[str, list[float]]:
    """Milliseconds per candidate, ``runs`` fresh processes each, interleaved round-robin."""
    candidates = dict(CANDIDATES)
    for module, snippet in OPTIONAL_PEERS.items():
        if importlib.util.find_spec(module) is None:
            print(f"note: peer {module!r} is not importable in this interpreter: skipped")
        else:
            candidates[module] = snippet
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for round_ in range(runs + 1):  # round 0 is the warm-up (pyc caches), not recorded
        for name, snippet in candidates.items():
            ms = float(_run_child(CHILD.format(snippet=snippet)).splitlines()[-1]) * 1000
            if round_:
                samples[name].append(ms)
    return samples


def report_imports(samples: dict[str, list[float]]) -> None:
    median = {name: statistics.median(values) for name, values in samples.items()}
    openai_ms, floor_ms, ours = median[OPENAI], median[FLOOR], median[OURS]
    print(f"\ncold import: median of {len(samples[OPENAI])} fresh processes each (interpreter start-up excluded)")
    print(f"{'candidate':<48} {'median ms':>10} {'min ms':>8} {'vs openai':>10} {'vs pyd+httpx':>13}")
    for name, values in samples.items():
        print(
            f"{name:<48} {median[name]:>10.2f} {min(values):>8.2f} "
            f"{median[name] / openai_ms:>9.3f}x {median[name] / floor_ms:>12.3f}x"
        )
    verdict = "PASS" if ours <= openai_ms / 3 else "FAIL"
    print(f"\ntarget: import polyresponses <= 1/3 of import openai: {ours:.2f} vs {openai_ms / 3:.2f} ms -> {verdict}")
    verdict = "PASS" if ours <= floor_ms * 1.25 else "FAIL"
    print(
        f"target: import polyresponses within 1.25x of import pydantic, httpx: "
        f"{ours:.2f} vs {floor_ms * 1.25:.2f} ms -> {verdict}"
    )
    print(f"polyresponses.* modules loaded by the first use of Response: {_run_child(LOADED)}")


def recorded_events(fixtures: Path) -> list[bytes]:
    """The ``data:`` payload of every SSE event in every recorded streaming response, ``[DONE]`` excluded."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    events: list[bytes] = []
    for path in sorted(fixtures.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=loader)
        for interaction in document.get("interactions") or []:
            body = interaction.get("response", {}).get("body")
            text = body.get("string") if isinstance(body, dict) else None
            if not isinstance(text, str):
                continue
            decoder = SSEDecoder()
            decoded = decoder.feed(text.encode()) + decoder.finish()
            events.extend(event.data.encode() for event in decoded if event.data != "[DONE]")
    return events


def _rates(functions: dict[str, Callable[[bytes], object]], events: list[bytes], seconds: float) -> dict[str, float]:
    """Events/s per function: median of 5 rounds (interleaved), each round repeating the set for >= ``seconds``."""
    repeats: dict[str, int] = {}
    for name, function in functions.items():  # calibration pass, also warms caches
        started = time.perf_counter()
        for raw in events:
            function(raw)
        repeats[name] = max(1, int(seconds / max(time.perf_counter() - started, 1e-9)) + 1)
    rates: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(5):
        for name, function in functions.items():
            started = time.perf_counter()
            for _ in range(repeats[name]):
                for raw in events:
                    function(raw)
            rates[name].append(repeats[name] * len(events) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def report_throughput(fixtures: Path, seconds: float) -> None:
    from openai.types.responses import ResponseStreamEvent as SdkStreamEvent
    from pydantic import TypeAdapter, ValidationError

    from polyresponses.types import ResponseStreamEvent

    adapters: dict[str, TypeAdapter[Any]] = {
        "polyresponses": TypeAdapter(ResponseStreamEvent),
        "openai SDK": TypeAdapter(SdkStreamEvent),
    }
    events = recorded_events(fixtures)
    usable: list[bytes] = []
    rejected: dict[str, list[str]] = {name: [] for name in adapters}
    for raw in events:
        ok = True
        for name, adapter in adapters.items():
            try:
                adapter.validate_json(raw)
            except ValidationError as error:
                rejected[name].append(f"{json.loads(raw).get('type')!r}: {error.errors()[0]['msg']}")
                ok = False
        if ok:
            usable.append(raw)
    size = sum(map(len, usable))
    print(f"\nvalidate_json throughput on recorded events from {fixtures}")
    print(f"{len(events)} events found; {len(usable)} validate under both unions ({size / 1e6:.3f} MB), timed below")
    for name, failures in rejected.items():
        print(f"rejected by {name}: {len(failures)} (excluded from every timing)")
        for failure in sorted(set(failures))[:5]:
            print(f"    {failure}")
    if not usable:
        print("no usable events: throughput skipped")
        return
    rates = _rates(
        {
            "json.loads (floor)": json.loads,
            "polyresponses ResponseStreamEvent": adapters["polyresponses"].validate_json,
            "openai SDK ResponseStreamEvent": adapters["openai SDK"].validate_json,
        },
        usable,
        seconds,
    )
    print(f"{'parser':<36} {'events/s':>12} {'MB/s':>8} {'us/event':>9}")
    for name, rate in rates.items():
        print(f"{name:<36} {rate:>12,.0f} {rate * size / len(usable) / 1e6:>8.1f} {1e6 / rate:>9.2f}")
    ours = rates["polyresponses ResponseStreamEvent"]
    for peer in ("openai SDK ResponseStreamEvent", "json.loads (floor)"):
        print(f"time per event, polyresponses / {peer}: {rates[peer] / ours:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per candidate (default 15)")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum length of one throughput round")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="folder of recorded Responses cassettes")
    args = parser.parse_args(argv)
    try:
        report_imports(measure_imports(max(1, args.runs)))
    except ChildFailed as error:
        print(error, file=sys.stderr)
        return 1
    report_throughput(args.fixtures, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
