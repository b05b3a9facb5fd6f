"""Cold-process import time of polyresponses and its peers, and stream-event validation throughput.

Why cold processes: an import is paid once per process (CLI start, serverless cold start), and an
interpreter that already imported pydantic hides most of it. Each candidate runs in a fresh
``python -c`` that times only its own statement (interpreter start-up excluded), candidates are
interleaved round-robin so machine noise hits all alike, and medians are reported.

Throughput: ``TypeAdapter(ResponseStreamEvent).validate_json`` over every event of the recorded
OpenAI Responses streams in ``../shared/fixtures/recorded/openai_responses``, beside the openai SDK's
own union and ``json.loads`` (the floor: parsing JSON without building models).

    python bench/import_time.py [--runs 15] [--seconds 1.0]
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

import yaml  # type: ignore[import-untyped,unused-ignore]

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "recorded" / "openai_responses"

CANDIDATES: dict[str, str] = {
    "python (empty)": "pass",
    "pydantic + httpx": "import pydantic, httpx",
    "polyresponses": "import polyresponses",
    "polyresponses.types.Response (first use)": "import polyresponses.types as t; t.Response",
    "TypeAdapter(ResponseStreamEvent)": (
        "import polyresponses.types as t; from pydantic import TypeAdapter; TypeAdapter(t.ResponseStreamEvent)"
    ),
    "openai": "import openai",
    "openai.types.responses.Response": "from openai.types.responses import Response",
}
OPTIONAL_PEERS = {"any_llm": "import any_llm", "litellm": "import litellm"}


def _time_once(statement: str) -> float:
    code = f"import time\nstarted = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"child failed for {statement!r}:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1]) * 1000


def measure_imports(runs: int) -> dict[str, list[float]]:
    candidates = dict(CANDIDATES)
    for module, statement in OPTIONAL_PEERS.items():
        if importlib.util.find_spec(module) is None:
            print(f"(peer {module} is not installed here: skipped)")
        else:
            candidates[module] = statement
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, statement in candidates.items():
            samples[name].append(_time_once(statement))
    return samples


def report_imports(samples: dict[str, list[float]]) -> None:
    median = {name: statistics.median(values) for name, values in samples.items()}
    openai_ms, floor_ms = median["openai"], median["pydantic + httpx"]
    print(f"\ncold import, median of {len(samples['openai'])} fresh processes (interpreter start-up excluded)")
    print(f"{'candidate':<42} {'median ms':>10} {'min ms':>8} {'vs openai':>10} {'vs pyd+httpx':>13}")
    for name, values in samples.items():
        print(
            f"{name:<42} {median[name]:>10.1f} {min(values):>8.1f} "
            f"{median[name] / openai_ms:>9.2f}x {median[name] / floor_ms:>12.2f}x"
        )
    ours = median["polyresponses"]
    verdict = "PASS" if ours <= openai_ms / 3 else "FAIL"
    print(f"target: import polyresponses <= 1/3 of import openai: {ours:.1f} vs {openai_ms / 3:.1f} ms -> {verdict}")
    verdict = "PASS" if ours <= floor_ms * 1.25 else "FAIL"
    print(
        f"target: import polyresponses <= 1.25x import pydantic, httpx: "
        f"{ours:.1f} vs {floor_ms * 1.25:.1f} ms -> {verdict}"
    )
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, polyresponses.types as t; t.Response; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('polyresponses'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"modules loaded by the first use of Response: {loaded}")


def recorded_events(fixtures: Path) -> list[bytes]:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    events: list[bytes] = []
    for path in sorted(fixtures.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=loader)
        for interaction in document["interactions"]:
            body = interaction["response"].get("body")
            text = body.get("string") if isinstance(body, dict) else None
            if not isinstance(text, str):
                continue
            for block in text.replace("\r\n", "\n").split("\n\n"):
                data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
                if data and data != "[DONE]":
                    events.append(data.encode())
    return events


def _rate(function: Callable[[bytes], object], events: list[bytes], seconds: float) -> float:
    """Events per second: median of 5 rounds, each repeating the whole set for about ``seconds``."""
    started = time.perf_counter()
    for raw in events:
        function(raw)
    repeats = max(1, int(seconds / max(time.perf_counter() - started, 1e-9)))
    rates: list[float] = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            for raw in events:
                function(raw)
        rates.append(repeats * len(events) / (time.perf_counter() - started))
    return statistics.median(rates)


def report_throughput(fixtures: Path, seconds: float) -> None:
    from openai.types.responses import ResponseStreamEvent as SdkStreamEvent
    from pydantic import TypeAdapter, ValidationError

    from polyresponses.types import ResponseStreamEvent

    ours: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    sdk: TypeAdapter[Any] = TypeAdapter(SdkStreamEvent)
    events = recorded_events(fixtures)
    usable: list[bytes] = []
    rejected = {"ours": 0, "openai": 0}
    for raw in events:
        ok = True
        for name, adapter in (("ours", ours), ("openai", sdk)):
            try:
                adapter.validate_json(raw)
            except ValidationError:
                rejected[name] += 1
                ok = False
        if ok:
            usable.append(raw)
    megabytes = sum(len(raw) for raw in usable) / 1e6
    print(f"\nvalidate_json on {len(usable)} recorded events ({megabytes:.2f} MB) from {fixtures}")
    print(f"(rejected, excluded from timing: ours {rejected['ours']}, openai SDK {rejected['openai']})")
    rates = {
        "json.loads (floor)": _rate(json.loads, usable, seconds),
        "polyresponses ResponseStreamEvent": _rate(ours.validate_json, usable, seconds),
        "openai SDK ResponseStreamEvent": _rate(sdk.validate_json, usable, seconds),
    }
    ours_rate = rates["polyresponses ResponseStreamEvent"]
    for name, rate in rates.items():
        print(
            f"{name:<36} {rate:>10,.0f} events/s {rate * megabytes / len(usable):>8.1f} MB/s "
            f"(polyresponses is {ours_rate / rate:.2f}x this)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per candidate")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one throughput round")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="folder of recorded Responses cassettes")
    args = parser.parse_args(argv)
    report_imports(measure_imports(args.runs))
    report_throughput(args.fixtures, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
