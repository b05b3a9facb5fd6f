"""``polyresponses`` command line: ``polyresponses types`` prints what the canonical types cover."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

_OPENAI_UNIONS = (
    "ResponseStreamEvent",
    "InputItem",
    "OutputItem",
    "Tool",
    "ToolChoiceParam",
    "ConversationItem",
    "ResponsesWebSocketStreamEvent",
)
_OPENRESPONSES_UNIONS = ("ResponseStreamEvent", "ItemParam", "ItemField")


def _types(sse_file: Path | None) -> int:
    from pydantic import TypeAdapter, ValidationError

    import polyresponses.generated.openai as openai_models
    import polyresponses.generated.openresponses as openresponses_models
    from polyresponses._summary import summarise
    from polyresponses.generated import OPENAI_NAMES, OPENRESPONSES_NAMES
    from polyresponses.router._sse import SSEDecoder

    print(f"polyresponses.types: {len(OPENAI_NAMES)} public names (OpenAI spec + overlays)")
    print(f"polyresponses.types.openresponses: {len(OPENRESPONSES_NAMES)} public names (OpenResponses spec)")
    rows = summarise(openai_models, _OPENAI_UNIONS) + summarise(openresponses_models, _OPENRESPONSES_UNIONS)
    width = max(len(f"{row.module}.{row.name}") for row in rows)
    for row in rows:
        print(f"  {row.module + '.' + row.name:<{width}}  {row.variants:>3} variants, {len(row.tags):>3} `type` tags")
    if sse_file is None:
        return 0
    adapter: TypeAdapter[openai_models.ResponseStreamEvent] = TypeAdapter(openai_models.ResponseStreamEvent)
    counts: dict[str, int] = {}
    decoder = SSEDecoder()
    sse_events = decoder.feed(sse_file.read_bytes()) + decoder.finish()
    for number, sse_event in enumerate(sse_events, start=1):
        if sse_event.data == "[DONE]":
            continue
        try:
            event = adapter.validate_json(sse_event.data)
        except ValidationError as error:
            # pydantic's own header names all 60 union members; the locations are what help.
            print(f"{sse_file}: event {number} is not a ResponseStreamEvent:", file=sys.stderr)
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"])
                print(f"  {where}: {detail['msg']}", file=sys.stderr)
            return 1
        counts[event.type] = counts.get(event.type, 0) + 1
    print(f"{sse_file}: {sum(counts.values())} events validated as ResponseStreamEvent")
    for event_type, count in sorted(counts.items()):
        print(f"  {count:>4}  {event_type}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="polyresponses", description="One typed Responses API for every LLM provider."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    types_command = commands.add_parser(
        "types", help="summarise the canonical types; optionally validate an SSE stream"
    )
    types_command.add_argument("--sse", type=Path, help="an SSE transcript of a Responses stream to validate")
    args = parser.parse_args(argv)
    match args.command:
        case "types":
            return _types(args.sse)
        case _:  # pragma: no cover - argparse rejects unknown commands
            parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    raise SystemExit(main())
