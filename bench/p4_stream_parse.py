"""P4: native Responses SSE bytes to typed events, events per second, all in memory.

The stream is built around the recorded OpenAI ``Response``: created, in_progress,
output_item.added, content_part.added, ``--deltas`` (20,000) ``response.output_text.delta``
events, output_text.done, content_part.done, output_item.done, completed, each with its
``sequence_number`` and indices, as compact ``event:``/``data:`` frames (about 4 MB), cut into
64 KiB chunks. Every candidate turns the same chunks into its own typed events:

- ours: ``StreamTranslator("x").feed(chunk)`` per chunk + ``finish()`` (SSE decoding, validation
  into ``ResponseStreamEvent``, index/sequence bookkeeping): the parse path the clients use;
- openai-python, client: ``OpenAI(http_client=httpx2.Client(transport=MockTransport))``
  ``.responses.create(stream=True)`` iterated, the chunks served by the mock transport: its whole
  stream path with no network;
- openai-python, parse path: what its ``Stream.__stream__`` does per event, without the client:
  ``client._make_sse_decoder().iter_bytes(chunks)``, ``sse.json()``,
  ``client._process_response_data(cast_to=ResponseStreamEvent)`` (``construct_type``, no validation);
- the floor: ``TypeAdapter(ResponseStreamEvent).validate_json`` over each event's ``data`` bytes,
  split beforehand (no SSE decoding, no bookkeeping);
- for information: our whole ``Client.responses.create(stream=True)`` over ``httpx.MockTransport``,
  and our ``SSEDecoder`` alone.

Targets: ours >= 10x openai-python (its faster variant) and >= 0.5x the raw ``validate_json``.

    python bench/p4_stream_parse.py [--deltas N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import httpx2
import openai
from _shared import interleaved_rates, sse_frames, stream_events
from openai.types.responses import ResponseStreamEvent as SdkStreamEvent
from pydantic import TypeAdapter

import polyresponses
from polyresponses.router._sse import SSEDecoder
from polyresponses.router.dialects.openai_responses import StreamTranslator
from polyresponses.types import ResponseStreamEvent

CHUNK = 64 * 1024
OURS, OURS_CLIENT, SDK_CLIENT, SDK_PARSE, FLOOR, DECODER = (
    "polyresponses StreamTranslator",
    "polyresponses Client stream (mock)",
    "openai-python client stream (mock)",
    "openai-python parse path",
    "validate_json per event (floor)",
    "polyresponses SSEDecoder only",
)
TARGET_VS_OPENAI, TARGET_VS_FLOOR = 10.0, 0.5
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}


def candidates(chunks: list[bytes], datas: list[bytes], events: int) -> dict[str, Callable[[], int]]:
    """Each candidate as a call that parses the whole stream once and returns how many events it made."""

    def ours() -> int:
        translator = StreamTranslator("x")
        count = sum(len(translator.feed(chunk)) for chunk in chunks) + len(translator.finish())
        assert translator.done
        return count

    client = polyresponses.Client(
        "openai_compatible",
        api_base="http://mock/v1",
        api_key="k",
        transport=httpx.MockTransport(lambda _: httpx.Response(200, headers=SSE_HEADERS, content=iter(chunks))),
    )

    def ours_client() -> int:
        with client.responses.create(model="m", input="hi", stream=True) as stream:
            return sum(1 for _ in stream)

    sdk = openai.OpenAI(
        base_url="http://mock/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda _: httpx2.Response(200, headers=SSE_HEADERS, content=iter(chunks)))
        ),
    )

    def sdk_client() -> int:
        with sdk.responses.create(model="m", input="hi", stream=True) as stream:
            return sum(1 for _ in stream)

    response = httpx2.Response(200, headers=SSE_HEADERS, request=httpx2.Request("POST", "http://mock/v1/responses"))
    process = sdk._process_response_data
    cast_to = cast("type[Any]", SdkStreamEvent)

    def sdk_parse() -> int:
        count = 0
        for sse in sdk._make_sse_decoder().iter_bytes(iter(chunks)):
            if sse.data.startswith("[DONE]"):
                break
            process(data=sse.json(), cast_to=cast_to, response=response)
            count += 1
        return count

    validate = TypeAdapter(ResponseStreamEvent).validate_json

    def floor() -> int:
        for data in datas:
            validate(data)
        return len(datas)

    def decoder_only() -> int:
        decoder = SSEDecoder()
        return sum(len(decoder.feed(chunk)) for chunk in chunks) + len(decoder.finish())

    found: dict[str, Callable[[], int]] = {
        OURS: ours,
        SDK_CLIENT: sdk_client,
        SDK_PARSE: sdk_parse,
        FLOOR: floor,
        OURS_CLIENT: ours_client,
        DECODER: decoder_only,
    }
    for name, function in found.items():
        if (count := function()) != events:
            raise AssertionError(f"{name} produced {count} events, expected {events}")
    return found


def stream_bytes(deltas: int) -> tuple[bytes, list[bytes]]:
    """The whole SSE body and each event's ``data`` payload."""
    events = stream_events(deltas)
    return b"".join(sse_frames(events)), [json.dumps(event, separators=(",", ":")).encode() for event in events]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=20_000, help="output_text.delta events (default 20,000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds (default 5)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    body, datas = stream_bytes(args.deltas)
    chunks = [body[start : start + CHUNK] for start in range(0, len(body), CHUNK)]
    functions = candidates(chunks, datas, len(datas))
    # One parse of the stream per round (each takes 0.1-3 s): a round is one call per candidate.
    streams = interleaved_rates(functions, rounds=args.rounds, seconds=0.0, warmup=0.0, min_calls=1)
    rates = {name: [value * len(datas) for value in values] for name, values in streams.items()}
    report(rates, len(datas), len(body), len(chunks))
    print(f"\n(total {time.perf_counter() - started:.1f} s)")
    return 0


def report(rates: dict[str, list[float]], events: int, size: int, chunks: int) -> None:
    median = {name: statistics.median(values) for name, values in rates.items()}
    peer = max((SDK_CLIENT, SDK_PARSE), key=median.__getitem__)
    peer_rate, floor_rate = median[peer], median[FLOOR]
    rounds = len(rates[OURS])
    print(
        f"\nP4 SSE -> typed events: {events:,} events, {size / 1e6:.2f} MB in {chunks} chunks of 64 KiB; "
        f"median of {rounds} interleaved rounds"
    )
    print(
        f"{'candidate':<36} {'events/s':>11} {'us/event':>9} {'MB/s':>7} {'ms/stream':>10} "
        f"{'vs openai':>10} {'vs floor':>9}"
    )
    for name, _values in rates.items():
        rate = median[name]
        print(
            f"{name:<36} {rate:>11,.0f} {1e6 / rate:>9.2f} {rate * size / events / 1e6:>7.1f} "
            f"{events / rate * 1e3:>10.1f} {rate / peer_rate:>9.2f}x {rate / floor_rate:>8.2f}x"
        )
    ours = median[OURS]
    print(f"\n'vs openai' is against the faster openai-python variant: {peer}")
    verdict = "PASS" if ours / peer_rate >= TARGET_VS_OPENAI else "FAIL"
    print(f"target: {OURS} >= {TARGET_VS_OPENAI:g}x openai-python: {ours / peer_rate:.2f}x -> {verdict}")
    verdict = "PASS" if ours / floor_rate >= TARGET_VS_FLOOR else "FAIL"
    print(f"target: {OURS} >= {TARGET_VS_FLOOR:g}x raw validate_json: {ours / floor_rate:.2f}x -> {verdict}")


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


if __name__ == "__main__":
    raise SystemExit(main())
