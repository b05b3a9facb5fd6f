"""``polyresponses`` command line.

``polyresponses "prompt" -m provider:model [--stream] [--json] [--instructions ...]`` asks a model:
text is printed as it arrives with ``--stream``; ``--json`` prints the final typed ``Response``.
``--previous-response-id ID`` continues a conversation (from the response store, so on any provider,
across invocations); the id of each answer is printed on stderr.
``polyresponses types [--sse FILE]`` prints what the canonical types cover.
``polyresponses serve [--config gateway.toml] [--host H] [--port N]`` runs the gateway (``[server]`` extra).
``polyresponses store migrate [URL]`` creates or upgrades a PostgreSQL store's schema (``[postgres]`` extra);
``polyresponses store version [URL]`` prints it. URL defaults to ``$POLYRESPONSES_STORE``.
``polyresponses providers [--json]`` prints the provider table: dialect, base URL, key variable, what each
row can do, and whether its facts were seen in recorded traffic or taken from documentation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyresponses.router._provider_model import Provider

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


def _ask(args: argparse.Namespace) -> int:
    import polyresponses
    from polyresponses.router._errors import PolyresponsesError

    options: dict[str, object] = {}
    if args.instructions is not None:
        options["instructions"] = args.instructions
    if args.max_output_tokens is not None:
        options["max_output_tokens"] = args.max_output_tokens
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.api_base is not None:
        options["api_base"] = args.api_base
    if args.dialect is not None:
        options["dialect"] = args.dialect
    if args.previous_response_id is not None:
        options["previous_response_id"] = args.previous_response_id
    if args.conversation is not None:
        options["conversation"] = args.conversation
    try:
        if args.stream:
            with polyresponses.responses(args.model, args.prompt, stream=True, **options) as stream:  # type: ignore[call-overload]
                for event in stream:
                    if event.type == "response.output_text.delta" and not args.json:
                        print(event.delta, end="", flush=True)
                final = stream.get_final_response()
            if not args.json:
                print()
        else:
            final = polyresponses.responses(args.model, args.prompt, **options)  # type: ignore[call-overload]
            if not args.json:
                print(final.output_text)
    except (PolyresponsesError, ValueError) as error:
        print(f"polyresponses: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(final.model_dump_json(indent=2, by_alias=True, exclude_none=True))
    else:
        usage = final.usage
        tokens = f", {usage.input_tokens} in / {usage.output_tokens} out tokens" if usage is not None else ""
        print(f"[{final.id} {final.status} {final.model}{tokens}]", file=sys.stderr)
    return 0


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="polyresponses serve",
        description="Run the gateway: the Responses API over every provider (needs polyresponses[server]).",
    )
    parser.add_argument("--config", type=Path, help="gateway.toml (see README, 'Gateway'); default: none")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; others need gateway keys)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    args = parser.parse_args(argv)
    try:
        from polyresponses.server import ConfigError, load_config, serve
    except ImportError as error:
        print(f"polyresponses: {error}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        if overrides:
            from dataclasses import replace

            config = replace(config, **overrides)
        config.check_bind()
    except ConfigError as error:
        print(f"polyresponses serve: {error}", file=sys.stderr)
        return 2
    serve(config, log_level=args.log_level)
    return 0


def _store(argv: list[str]) -> int:
    import os

    parser = argparse.ArgumentParser(
        prog="polyresponses store",
        description="Manage a PostgreSQL response store's schema. Run 'migrate' once per upgrade, before the "
        "new version's replicas start (they refuse a schema they do not know); a SQLite store needs nothing.",
    )
    parser.add_argument("action", choices=("migrate", "version"))
    parser.add_argument("url", nargs="?", help="postgresql://user:password@host/db (default: $POLYRESPONSES_STORE)")
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("POLYRESPONSES_STORE", "")
    from polyresponses.router._errors import PolyresponsesError
    from polyresponses.store._postgres import SCHEMA_VERSION, is_postgres_url, migrate, read_version, redact_url

    if not is_postgres_url(url):
        print("polyresponses store: give a postgresql:// URL (or set POLYRESPONSES_STORE to one)", file=sys.stderr)
        return 2
    try:
        if args.action == "version":
            print(f"{redact_url(url)}: schema version {read_version(url)} (this polyresponses: {SCHEMA_VERSION})")
            return 0
        before, after = migrate(url)
    except (ImportError, RuntimeError, PolyresponsesError) as error:
        print(f"polyresponses store: {error}", file=sys.stderr)
        return 1
    state = "up to date" if before == after else f"migrated from version {before}"
    print(f"{redact_url(url)}: schema version {after} ({state})")
    return 0


def _capabilities(row: Provider) -> dict[str, object]:
    caps = row.capabilities
    return {
        "streaming": caps.streaming,
        "stored_state": caps.stored_state,
        "background": caps.background,
        "reasoning": caps.reasoning,
        "image_input": caps.image_input,
        "structured_output": caps.structured_output,
        "tools": sorted(caps.tools),
        "endpoints": sorted(caps.endpoints),
    }


def _row(row: Provider) -> dict[str, object]:
    """One row as JSON: everything a user needs to reach the provider and to know what it refuses."""
    return {
        "name": row.name,
        "dialect": row.dialect,
        "base_url": row.base_url,
        "base_url_env": row.base_url_env,
        "base_path": row.base_path,
        "api_key_env": row.api_key_env,
        "key_required": row.key_required,
        "auth_header": row.auth_header,
        "auth_scheme": row.auth_scheme,
        "capabilities": _capabilities(row),
        "facts": row.facts,
        "docs": row.docs,
        "notes": row.notes,
    }


def _short_capabilities(row: Provider) -> str:
    """``stream state reasoning ... tools=function,mcp`` (flags that are off are left out)."""
    caps = _capabilities(row)
    words = {"streaming": "stream", "stored_state": "state", "background": "background", "reasoning": "reasoning"}
    words |= {"image_input": "images", "structured_output": "json-schema"}
    flags = [short for name, short in words.items() if caps[name]]
    flags.append("tools=" + (",".join(sorted(row.capabilities.tools)) or "none"))
    if row.capabilities.endpoints:
        flags.append("routes=" + ",".join(sorted(row.capabilities.endpoints)))
    return " ".join(flags)


def _providers(argv: list[str]) -> int:
    import json

    import polyresponses

    parser = argparse.ArgumentParser(
        prog="polyresponses providers",
        description="The provider table: where each provider lives, its key variable, what it can do, and whether "
        "its facts come from recorded traffic or from documentation only.",
    )
    parser.add_argument("--json", action="store_true", help="print every row as JSON (with docs and notes)")
    args = parser.parse_args(argv)
    rows = polyresponses.providers()
    if args.json:
        print(json.dumps([_row(row) for row in rows], indent=2))
        return 0
    table = [("name", "dialect", "base URL", "key variable", "facts", "capabilities")]
    for row in rows:
        base = row.base_url
        if not base and row.base_url_env:
            base = f"${row.base_url_env}{row.base_path}"  # no default host: the variable (or api_base=) names it
        key = row.api_key_env or "-"
        if row.api_key_env and not row.key_required:
            key += " (optional)"
        table.append((row.name, row.dialect, base or "(api_base=)", key, row.facts, _short_capabilities(row)))
    widths = [max(len(line[column]) for line in table) for column in range(5)]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[5])
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        return _serve(argv[1:])
    if argv[:1] == ["providers"]:
        return _providers(argv[1:])
    if argv[:1] == ["store"]:
        return _store(argv[1:])
    if argv[:1] == ["types"]:
        types_parser = argparse.ArgumentParser(
            prog="polyresponses types", description="Summarise the canonical types; optionally validate a stream."
        )
        types_parser.add_argument("--sse", type=Path, help="an SSE transcript of a Responses stream to validate")
        return _types(types_parser.parse_args(argv[1:]).sse)
    parser = argparse.ArgumentParser(
        prog="polyresponses",
        description="One typed Responses API for every LLM provider. "
        "Ask a model (`polyresponses 'Hi' -m openai:gpt-4o-mini`), or run `polyresponses types` / `providers`.",
    )
    parser.add_argument("prompt", help="the input text")
    parser.add_argument("-m", "--model", required=True, help="provider:model, e.g. llamacpp:smollm2")
    parser.add_argument("--stream", action="store_true", help="print text as it arrives")
    parser.add_argument("--json", action="store_true", help="print the final Response as JSON")
    parser.add_argument("--instructions", help="a system (developer) message")
    parser.add_argument("--max-output-tokens", type=int, dest="max_output_tokens")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--api-base", dest="api_base", help="override the provider's base URL")
    parser.add_argument(
        "--dialect",
        choices=("openai_responses", "chat_completions"),
        help="the wire format to speak (default: the provider's own; chat_completions for /chat/completions)",
    )
    parser.add_argument(
        "--previous-response-id",
        dest="previous_response_id",
        help="continue from a response (its id is printed after each answer), on any provider",
    )
    parser.add_argument("--conversation", help="a conversation id: read it as context and add this turn to it")
    return _ask(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
