"""Bedrock ConverseStream: AWS event-stream bytes to frames, and to typed Responses events, per second.

Every recorded ConverseStream reply in ``../shared/fixtures/recorded/bedrock_converse`` is concatenated
into one stream (a ``--repeat`` of them, about 35 KB a copy) and cut into 16 KiB chunks. Candidates:

- ours, framing only: ``polyresponses.router._eventstream.EventStreamDecoder().feed(chunk)`` per chunk;
- botocore's ``EventStreamBuffer`` (what boto3, the AWS SDK, and Anthropic's Bedrock client decode with),
  fed the same chunks and iterated: the peer of the line above;
- ours, the whole translation: ``BedrockStreamTranslator`` (frames, JSON, the Converse state machine,
  events validated into ``ResponseStreamEvent``), one translator per recorded reply, as a client does.

Printed: frames per second and the ratio to botocore, events per second of the whole translation.

    python bench/bedrock_stream.py [--repeat N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from _shared import interleaved_rates

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.eventstream import EventStreamBuffer

from polyresponses.router._eventstream import EventStreamDecoder
from polyresponses.router.dialects.bedrock_converse import BedrockStreamTranslator
from tests._recorded import exchanges

_CHUNK = 16 * 1024


def _replies() -> list[tuple[str, bytes]]:
    found = []
    for exchange in exchanges("bedrock_converse"):
        if exchange.response_bytes is not None and "/model/" in exchange.uri:
            model = exchange.uri.split("/model/")[1].split("/")[0].replace("%3A", ":")
            found.append((model, exchange.response_bytes))
    return found


def _chunks(data: bytes) -> list[bytes]:
    return [data[start : start + _CHUNK] for start in range(0, len(data), _CHUNK)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    replies = _replies()
    joined = b"".join(raw for _, raw in replies) * args.repeat
    chunks = _chunks(joined)
    frames = len(EventStreamDecoder().feed(joined))
    per_reply = [(model, _chunks(raw)) for model, raw in replies]
    events = 0
    for model, parts in per_reply:
        translator = BedrockStreamTranslator("bedrock", {"model": model})
        events += sum(len(translator.feed(part)) for part in parts) + len(translator.finish())

    def ours() -> None:
        decoder = EventStreamDecoder()
        for chunk in chunks:
            decoder.feed(chunk)

    def botocore() -> None:
        buffer = EventStreamBuffer()
        for chunk in chunks:
            buffer.add_data(chunk)
            for _ in buffer:
                pass

    def translated() -> None:
        for model, parts in per_reply:
            translator = BedrockStreamTranslator("bedrock", {"model": model})
            for part in parts:
                translator.feed(part)
            translator.finish()

    rates = interleaved_rates(
        {"ours": ours, "botocore": botocore, "translated": translated}, rounds=args.rounds, seconds=0.5, warmup=0.3
    )
    ours_fps = [rate * frames for rate in rates["ours"]]
    boto_fps = [rate * frames for rate in rates["botocore"]]
    ratios = [mine / theirs for mine, theirs in zip(ours_fps, boto_fps, strict=True)]
    print(f"stream: {len(joined):,} bytes, {frames:,} frames ({len(replies)} recorded replies x {args.repeat})")
    print(f"ours      frames/s: {min(ours_fps):,.0f}-{max(ours_fps):,.0f}")
    print(f"botocore  frames/s: {min(boto_fps):,.0f}-{max(boto_fps):,.0f}")
    print(f"ratio ours/botocore: {min(ratios):.2f}-{max(ratios):.2f} (median {statistics.median(ratios):.2f})")
    event_rates = [rate * events for rate in rates["translated"]]
    print(f"translated to typed Responses events: {min(event_rates):,.0f}-{max(event_rates):,.0f} events/s")


if __name__ == "__main__":
    main()
