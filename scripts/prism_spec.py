#!/usr/bin/env python3
"""Derive the spec that ``scripts/prism`` serves from the vendored OpenAI spec.

    prism_spec.py [--fix-nullable] IN OUT   write the derived spec
    prism_spec.py --check    validate the canned SSE streams (needs the repo's .venv for
                             jsonschema and polyresponses; the derivation itself is stdlib only)

Changes, nothing else:
1. every path gets a ``/v1`` prefix, so ``http://127.0.0.1:4010/v1`` stands in for
   ``https://api.openai.com/v1`` (Prism ignores ``servers``);
2. every ``text/event-stream`` response content becomes ``{"schema": {"type": "string"},
   "example": <SSE text>}`` (Prism cannot render a schema as an event stream; with a string
   schema it returns the example verbatim as ``text/event-stream``). ``POST /responses`` gets a
   complete, schema-valid text-message stream; the other operations a minimal valid one.

Opt-in, ``--fix-nullable``: rewrite the 24 schemas that carry the OpenAPI 3.0 keyword
``nullable`` without a ``type`` (``{"nullable": true, "oneOf": [...]}``) to
``{"anyOf": [{...}, {"type": "null"}]}``. Prism's ajv refuses to compile such a schema and Prism then
skips validation silently: without the fix, request bodies of POST /chat/completions, /completions,
/images/*, /moderations and a few more are never validated (the /responses family is unaffected).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PREFIX = "/v1"
CREATED_AT = 1741487325
COMPLETED_AT = 1741487326
RESPONSE_ID = "resp_mock_0001"
MESSAGE_ID = "msg_mock_0001"
MODEL = "gpt-4o-mini-2024-07-18"
DELTAS = ("Hello", ", world!")
TEXT = "".join(DELTAS)


def say(line: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(line + "\n")


def sse(events: list[dict[str, Any]], *, event_lines: bool = True, done: bool = False) -> str:
    """``event: <type>\\ndata: <json>\\n\\n`` per event (``data:`` only when not ``event_lines``)."""
    out = []
    for ev in events:
        data = json.dumps(ev, separators=(",", ":"))
        out.append(f"event: {ev['type']}\ndata: {data}\n\n" if event_lines else f"data: {data}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out)


def response_object(status: str, output: list[dict[str, Any]], *, done: bool) -> dict[str, Any]:
    """A full Response as OpenAI sends it (``usage`` only once done: the spec does not allow null)."""
    resp: dict[str, Any] = {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "background": False,
        "completed_at": COMPLETED_AT if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
    }
    if done:
        resp["usage"] = {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 4,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 9,
        }
    return resp


def responses_events() -> list[dict[str, Any]]:
    """The events of one streamed text reply, in order, with consecutive sequence numbers."""
    part_empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    part_full = {**part_empty, "text": TEXT}
    item_open = {"id": MESSAGE_ID, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    item_done = {**item_open, "status": "completed", "content": [part_full]}
    where = {"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response_object("in_progress", [], done=False)},
        {"type": "response.in_progress", "response": response_object("in_progress", [], done=False)},
        {"type": "response.output_item.added", "output_index": 0, "item": item_open},
        {"type": "response.content_part.added", **where, "part": part_empty},
        *({"type": "response.output_text.delta", **where, "delta": d, "logprobs": []} for d in DELTAS),
        {"type": "response.output_text.done", **where, "text": TEXT, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part_full},
        {"type": "response.output_item.done", "output_index": 0, "item": item_done},
        {"type": "response.completed", "response": response_object("completed", [item_done], done=True)},
    ]
    return [{"type": ev["type"], "sequence_number": n, **ev} for n, ev in enumerate(events)]


def chat_chunks() -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-mock-0001", "object": "chat.completion.chunk", "created": CREATED_AT, "model": MODEL}
    deltas = [{"role": "assistant", "content": ""}, *({"content": d} for d in DELTAS), {}]
    return [
        {
            **base,
            "choices": [
                {"index": 0, "delta": d, "logprobs": None, "finish_reason": "stop" if i == len(deltas) - 1 else None}
            ],
        }
        for i, d in enumerate(deltas)
    ]


def image_events(kind: str) -> list[dict[str, Any]]:
    return [
        {
            "type": f"{kind}.completed",
            "b64_json": "iVBORw0KGgo=",
            "created_at": CREATED_AT,
            "size": "1024x1024",
            "quality": "low",
            "background": "opaque",
            "output_format": "png",
            "usage": {
                "total_tokens": 100,
                "input_tokens": 50,
                "output_tokens": 50,
                "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
            },
        }
    ]


SPEECH: list[dict[str, Any]] = [
    {"type": "speech.audio.delta", "audio": "AAAA"},
    {"type": "speech.audio.done", "usage": {"input_tokens": 5, "output_tokens": 10, "total_tokens": 15}},
]
TRANSCRIPT: list[dict[str, Any]] = [
    {"type": "transcript.text.delta", "delta": "Hello"},
    {"type": "transcript.text.done", "text": "Hello"},
]

# schema name of the event-stream content -> (events, schema each event must satisfy, SSE text)
STREAMS: dict[str, tuple[list[dict[str, Any]], str]] = {
    "ResponseStreamEvent": (responses_events(), "ResponseStreamEvent"),
    "BetaResponseStreamEvent": (responses_events(), "BetaResponseStreamEvent"),
    "CreateChatCompletionStreamResponse": (chat_chunks(), "CreateChatCompletionStreamResponse"),
    "ImageGenStreamEvent": (image_events("image_generation"), "ImageGenStreamEvent"),
    "ImageEditStreamEvent": (image_events("image_edit"), "ImageEditStreamEvent"),
    "CreateSpeechResponseStreamEvent": (SPEECH, "CreateSpeechResponseStreamEvent"),
    "CreateTranscriptionResponseStreamEvent": (TRANSCRIPT, "CreateTranscriptionResponseStreamEvent"),
}


def stream_text(schema_name: str | None) -> str:
    if schema_name == "CreateChatCompletionStreamResponse":  # Chat Completions: data-only lines + [DONE]
        return sse(chat_chunks(), event_lines=False, done=True)
    if schema_name in STREAMS:
        return sse(STREAMS[schema_name][0])
    return sse([{"type": "done"}])  # unknown event schema: a placeholder, still well-formed SSE


def fix_nullable(node: Any) -> Any:
    """Return ``node`` with every type-less ``nullable`` replaced by an explicit null alternative."""
    if isinstance(node, list):
        return [fix_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: fix_nullable(v) for k, v in node.items()}
    if "nullable" in node and "type" not in node:
        nullable = node.pop("nullable")
        if nullable is True:
            return {"anyOf": [node, {"type": "null"}]}
    return node


def derive(spec: dict[str, Any], *, nullable: bool = False) -> tuple[dict[str, Any], list[str]]:
    patched: list[str] = []
    if nullable:
        spec = fix_nullable(spec)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for code, resp in op.get("responses", {}).items():
                content = resp.get("content", {}) if isinstance(resp, dict) else {}
                media = content.get("text/event-stream")
                if media is None:
                    continue
                ref = media.get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1] if ref else None
                content["text/event-stream"] = {"schema": {"type": "string"}, "example": stream_text(name)}
                patched.append(f"{method.upper()} {PREFIX}{path} {code} ({name})")
    spec["paths"] = {PREFIX + path: item for path, item in spec["paths"].items()}
    return spec, patched


def check(spec_path: Path) -> int:
    """Validate every canned event against the spec (jsonschema) and our models (pydantic)."""
    import jsonschema  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    spec = json.loads(spec_path.read_text())
    uri = "urn:openai-spec"
    registry = Registry().with_resource(uri, Resource.from_contents(spec, default_specification=_draft()))
    base = jsonschema.Draft202012Validator

    def nullable(keyword: str) -> Any:
        # The spec is 3.1 but still uses the 3.0 keyword `nullable: true` in places (chat chunks).
        plain = base.VALIDATORS[keyword]

        def check_keyword(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Any:
            if instance is None and schema.get("nullable") is True:
                return
            yield from plain(validator, value, instance, schema)

        return check_keyword

    validator_cls = jsonschema.validators.extend(base, {k: nullable(k) for k in ("type", "enum")})
    failures = 0
    for name, (events, schema) in STREAMS.items():
        validator = validator_cls({"$ref": f"{uri}#/components/schemas/{schema}"}, registry=registry)
        for ev in events:
            errs = list(validator.iter_errors(ev))
            if errs:
                failures += 1
                best = jsonschema.exceptions.best_match(errs)
                say(f"FAIL {name} {ev.get('type')}: {list(best.absolute_path)}: {best.message[:300]}")
        say(f"jsonschema {name}: {len(events)} events checked")
    try:
        from pydantic import TypeAdapter

        from polyresponses.types import ResponseStreamEvent
    except ImportError as exc:
        say(f"pydantic check skipped: {exc}")
        return 1 if failures else 0
    adapter: Any = TypeAdapter(ResponseStreamEvent)
    for ev in responses_events():
        try:
            parsed = adapter.validate_python(ev)
        except Exception as exc:
            failures += 1
            say(f"FAIL pydantic {ev['type']}: {exc}")
            continue
        root = getattr(parsed, "root", parsed)
        say(f"pydantic {ev['type']} -> {type(root).__name__}")
    return 1 if failures else 0


def _draft() -> Any:
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--check":
        default = Path(__file__).resolve().parent.parent / "spec" / "openai" / "openapi.json"
        return check(Path(argv[1]) if len(argv) > 1 else default)
    nullable = "--fix-nullable" in argv
    argv = [a for a in argv if a != "--fix-nullable"]
    if len(argv) != 2:
        say(__doc__ or "", err=True)
        return 2
    src, dst = Path(argv[0]), Path(argv[1])
    spec, patched = derive(json.loads(src.read_text(encoding="utf-8")), nullable=nullable)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    tmp.replace(dst)
    for line in patched:
        say(f"prism_spec: text/event-stream example: {line}", err=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
