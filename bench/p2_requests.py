"""P2: non-streamed requests per second, one after another, against a loopback server.

Every candidate sends ``POST /v1/responses`` (model ``m``, input ``"hi"``) to the same server, a
bare asyncio HTTP/1.1 keep-alive server in its own process (``_shared.loopback_server``) that
answers with the recorded OpenAI ``Response`` (gpt-4o, "The capital of France is Paris."), and
turns the reply into its own result type:

- ``polyresponses.responses()``: the module function (pooled client, routing per call);
- ``polyresponses.Client``: one client reused, ``client.responses.create(model=, input=)``;
- openai-python: ``OpenAI(base_url=, api_key=).responses.create(model=, input=)``, reused;
- any-llm (if importable): ``any_llm.responses(model="openai:m", input_data=, api_base=, api_key=)``;
- the floor: a bare ``httpx.Client().post(url, json=body).json()`` (no models, no checks).

One warm-up per candidate (which also checks that each one read the recorded text), then rounds
interleaved round-robin; medians are reported. Ratios are against peers measured in the same run.
Targets: polyresponses (both forms) >= 1.5x openai-python and >= 0.75x bare httpx.

    python bench/p2_requests.py [--rounds N] [--seconds S]

A report, not a test: it exits 0 whatever the numbers (1 if a candidate returns the wrong text).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
from _shared import interleaved_rates, loopback_server, recorded_response

import polyresponses

MODULE, CLIENT, OPENAI, ANY_LLM, FLOOR = (
    "polyresponses.responses()",
    "polyresponses.Client",
    "openai-python",
    "any-llm",
    "bare httpx (floor)",
)
TARGET_VS_OPENAI, TARGET_VS_FLOOR = 1.5, 0.75


def candidates(base_url: str) -> dict[str, Callable[[], str]]:
    """Each candidate as a no-argument call that sends one request and returns the reply's text."""
    url = base_url + "/responses"
    client = polyresponses.Client("openai_compatible", api_base=base_url, api_key="k")
    sdk = openai.OpenAI(base_url=base_url, api_key="k")
    floor = httpx.Client()

    def module_function() -> str:
        return polyresponses.responses("openai_compatible:m", "hi", api_base=base_url, api_key="k").output_text or ""

    def reused_client() -> str:
        return client.responses.create(model="m", input="hi").output_text or ""

    def openai_python() -> str:
        return sdk.responses.create(model="m", input="hi").output_text

    def bare_httpx() -> str:
        reply: Any = floor.post(url, json={"model": "m", "input": "hi"}).json()
        return str(reply["output"][0]["content"][0]["text"])

    found: dict[str, Callable[[], str]] = {
        MODULE: module_function,
        CLIENT: reused_client,
        OPENAI: openai_python,
    }
    any_llm_call = _any_llm(base_url)
    if any_llm_call is not None:
        found[ANY_LLM] = any_llm_call
    found[FLOOR] = bare_httpx
    return found


def _any_llm(base_url: str) -> Callable[[], str] | None:
    """any-llm's ``responses()``, or ``None`` (with a printed note) when it is absent or fails offline."""
    if importlib.util.find_spec("any_llm") is None:
        print("note: any-llm is not installed (pip install any-llm-sdk==1.40.2): skipped")
        return None
    any_llm: Any = importlib.import_module("any_llm")  # not a dependency: imported by name, typed Any

    def call() -> str:
        return str(any_llm.responses(model="openai:m", input_data="hi", api_base=base_url, api_key="k").output_text)

    try:
        call()
    except Exception as error:  # any failure offline means the peer cannot be measured here
        print(f"note: any-llm failed against the loopback server ({type(error).__name__}: {error}): skipped")
        return None
    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timed rounds (default 7)")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one candidate's round (default 0.5)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per candidate (default 0.5)")
    args = parser.parse_args(argv)
    expected = recorded_response()["output"][0]["content"][0]["text"]
    started = time.perf_counter()
    with loopback_server() as base_url:
        functions = candidates(base_url)
        for name, function in functions.items():
            if (text := function()) != expected:
                print(f"error: {name} read {text!r}, expected {expected!r}", file=sys.stderr)
                return 1
        rates = interleaved_rates(functions, rounds=args.rounds, seconds=args.seconds, warmup=args.warmup)
    polyresponses.close_pooled_clients()
    report(rates)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")
    return 0


def report(rates: dict[str, list[float]]) -> None:
    median = {name: statistics.median(values) for name, values in rates.items()}
    openai_rate, floor_rate = median[OPENAI], median[FLOOR]
    rounds = len(rates[OPENAI])
    print(f"\nP2 sequential non-streamed requests, loopback keep-alive server; median of {rounds} interleaved rounds")
    print(f"{'candidate':<28} {'req/s':>8} {'us/req':>8} {'min..max req/s':>16} {'vs openai':>10} {'vs httpx':>9}")
    for name, values in rates.items():
        print(
            f"{name:<28} {median[name]:>8,.0f} {1e6 / median[name]:>8,.0f} "
            f"{f'{min(values):,.0f}..{max(values):,.0f}':>16} "
            f"{median[name] / openai_rate:>9.2f}x {median[name] / floor_rate:>8.2f}x"
        )
    print()
    for name in (MODULE, CLIENT):
        vs_openai, vs_floor = median[name] / openai_rate, median[name] / floor_rate
        for label, ratio, target in (
            ("openai-python", vs_openai, TARGET_VS_OPENAI),
            ("bare httpx", vs_floor, TARGET_VS_FLOOR),
        ):
            verdict = "PASS" if ratio >= target else "FAIL"
            print(f"target: {name} >= {target}x {label}: {ratio:.2f}x -> {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
