"""Scripted model upstreams that call the tools they are offered: one per wire dialect the MCP loop rides on.

A tiny local model cannot be made to call a tool on cue, so these answer as the provider would
(Chat Completions, Anthropic Messages, Gemini, the Responses API; whole replies and streams) from
a script: turn *n* of a conversation (counted by the tool-call turns already in the request) plays
``turns[n]``, a list of ``(tool name, arguments JSON)`` calls; past the script the model answers
``"done: <the last tool result it was given>"``, so a test sees that results were fed back.
``seen`` keeps every request body for assertions on what the model was offered and told.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from tests._loopback import Exchange

__all__ = ["Dialect", "ScriptedTools", "offered_names"]

Dialect = Literal["chat", "anthropic", "gemini", "responses"]
Call = tuple[str, str]

USAGE_IN, USAGE_OUT = 11, 5


class ScriptedTools:
    """A :data:`~tests._loopback.Behaviour` speaking ``dialect``."""

    def __init__(self, dialect: Dialect, turns: Sequence[Sequence[Call]] = ()) -> None:
        self.dialect = dialect
        self.turns = [list(turn) for turn in turns]
        self.seen: list[dict[str, Any]] = []

    def __call__(self, exchange: Exchange) -> None:
        body = exchange.request.json()
        self.seen.append(body)
        turn, last = _progress(self.dialect, body)
        calls = self.turns[turn] if turn < len(self.turns) else []
        text = "" if calls else f"done: {last}"
        stream = bool(body.get("stream")) or "streamGenerateContent" in exchange.request.path
        match self.dialect:
            case "chat":
                _chat(exchange, calls, text, stream, turn)
            case "anthropic":
                _anthropic(exchange, calls, text, stream, turn)
            case "gemini":
                _gemini(exchange, calls, text, stream)
            case "responses":
                _responses(exchange, calls, text, stream, turn, body)


def offered_names(dialect: Dialect, body: dict[str, Any]) -> list[str]:
    """The function names a request offered the model."""
    tools = body.get("tools") or []
    match dialect:
        case "chat":
            return [tool["function"]["name"] for tool in tools]
        case "anthropic" | "responses":
            return [tool["name"] for tool in tools]
        case "gemini":
            return [decl["name"] for tool in tools for decl in tool.get("functionDeclarations", [])]


def _progress(dialect: Dialect, body: dict[str, Any]) -> tuple[int, str]:
    """How many tool-call turns the request already holds, and the last tool result in it."""
    turns, last = 0, ""
    match dialect:
        case "chat":
            for message in body.get("messages", []):
                turns += bool(message.get("role") == "assistant" and message.get("tool_calls"))
                if message.get("role") == "tool":
                    last = str(message.get("content"))
        case "anthropic":
            for message in body.get("messages", []):
                blocks = message.get("content") if isinstance(message.get("content"), list) else []
                turns += any(block.get("type") == "tool_use" for block in blocks)
                for block in blocks:
                    if block.get("type") == "tool_result":
                        content = block.get("content")
                        last = content if isinstance(content, str) else "".join(c.get("text", "") for c in content)
        case "gemini":
            for content in body.get("contents", []):
                parts = content.get("parts", [])
                turns += any("functionCall" in part for part in parts)
                for part in parts:
                    if "functionResponse" in part:
                        response = part["functionResponse"]["response"]
                        last = str(response.get("output", response.get("result", response)))
        case "responses":
            given = body.get("input")
            items: list[dict[str, Any]] = given if isinstance(given, list) else []
            index = 0
            while index < len(items):  # consecutive function calls are one turn
                if items[index].get("type") == "function_call":
                    turns += 1
                    while index < len(items) and items[index].get("type") in ("function_call", "function_call_output"):
                        if items[index].get("type") == "function_call_output":
                            last = str(items[index].get("output"))
                        index += 1
                    continue
                index += 1
    return turns, last


def _chat(exchange: Exchange, calls: list[Call], text: str, stream: bool, turn: int) -> None:
    tool_calls: list[dict[str, Any]] = [
        {"id": f"call_{turn}_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, (name, arguments) in enumerate(calls)
    ]
    usage = {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT, "total_tokens": USAGE_IN + USAGE_OUT}
    finish = "tool_calls" if calls else "stop"
    base = {"id": f"chatcmpl-{turn}", "created": 1, "model": "m"}
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        reply = {**base, "object": "chat.completion", "usage": usage}
        reply["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
        exchange.reply(200, json.dumps(reply).encode(), content_type="application/json")
        return
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks: list[dict[str, Any]] = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    for i, call in enumerate(tool_calls):
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        opening = {"index": i, "id": call["id"], "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append({**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [opening]}}]})
        for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
            delta = {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
            chunks.append({**chunk, "choices": [{"index": 0, "delta": delta}]})
    for word in _words(text):
        chunks.append({**chunk, "choices": [{"index": 0, "delta": {"content": word}}]})
    chunks.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
    _send_sse(exchange, [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"])


def _anthropic(exchange: Exchange, calls: list[Call], text: str, stream: bool, turn: int) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "tool_use", "id": f"toolu_{turn}_{i}", "name": name, "input": json.loads(arguments or "{}")}
        for i, (name, arguments) in enumerate(calls)
    ] or [{"type": "text", "text": text}]
    stop = "tool_use" if calls else "end_turn"
    usage = {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT}
    message = {"id": f"msg_{turn}", "type": "message", "role": "assistant", "model": "claude", "usage": usage}
    if not stream:
        reply = {**message, "content": blocks, "stop_reason": stop, "stop_sequence": None}
        exchange.reply(200, json.dumps(reply).encode(), content_type="application/json")
        return
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**message, "content": [], "stop_reason": None, "stop_sequence": None}}
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            events.append({"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}})
            partial = json.dumps(block["input"])
            for piece in (partial[: len(partial) // 2], partial[len(partial) // 2 :]):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        else:
            events.append(
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            )
            for word in _words(block["text"]):
                delta = {"type": "text_delta", "text": word}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 5}}
    )
    events.append({"type": "message_stop"})
    _send_sse(exchange, [f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events])


def _gemini(exchange: Exchange, calls: list[Call], text: str, stream: bool) -> None:
    parts: list[dict[str, Any]] = [
        {"functionCall": {"name": name, "args": json.loads(arguments or "{}")}} for name, arguments in calls
    ]
    usage = {"promptTokenCount": USAGE_IN, "candidatesTokenCount": USAGE_OUT, "totalTokenCount": USAGE_IN + USAGE_OUT}
    if not stream:
        candidate = {
            "content": {"role": "model", "parts": parts or [{"text": text}]},
            "finishReason": "STOP",
            "index": 0,
        }
        reply = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini"}
        exchange.reply(200, json.dumps(reply).encode(), content_type="application/json")
        return
    chunks: list[dict[str, Any]] = []
    if parts:
        chunks.append({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]})
    for word in _words(text):
        chunks.append({"candidates": [{"content": {"role": "model", "parts": [{"text": word}]}, "index": 0}]})
    last = {"content": {"role": "model", "parts": []}, "finishReason": "STOP", "index": 0}
    chunks.append({"candidates": [last], "usageMetadata": usage, "modelVersion": "gemini"})
    _send_sse(exchange, [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks])


def _responses(exchange: Exchange, calls: list[Call], text: str, stream: bool, turn: int, body: dict[str, Any]) -> None:
    output: list[dict[str, Any]] = [
        {
            "type": "function_call",
            "id": f"fc_{turn}_{i}",
            "call_id": f"call_{turn}_{i}",
            "name": name,
            "arguments": arguments,
            "status": "completed",
        }
        for i, (name, arguments) in enumerate(calls)
    ]
    if not calls:
        part = {"type": "output_text", "text": text, "annotations": []}
        output.append(
            {"type": "message", "id": f"msg_{turn}", "role": "assistant", "status": "completed", "content": [part]}
        )
    usage = {
        "input_tokens": USAGE_IN,
        "output_tokens": USAGE_OUT,
        "total_tokens": USAGE_IN + USAGE_OUT,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    response: dict[str, Any] = {
        "id": f"resp_up_{turn}",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": body.get("model", "m"),
        "output": output,
        "usage": usage,
        "tools": body.get("tools") or [],
        "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": True,
    }
    if not stream:
        exchange.reply(200, json.dumps(response).encode(), content_type="application/json")
        return
    events: list[dict[str, Any]] = []
    skeleton = {**response, "status": "in_progress", "output": [], "usage": None}
    events.append({"type": "response.created", "response": skeleton})
    for index, item in enumerate(output):
        if item["type"] == "function_call":
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": ""}}
            )
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": item["arguments"],
                }
            )
            events.append(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "arguments": item["arguments"],
                }
            )
        else:
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "status": "in_progress", "content": []},
                }
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append({"type": "response.content_part.added", **where, "part": part})
            for word in _words(text):
                events.append({"type": "response.output_text.delta", **where, "delta": word, "logprobs": []})
            events.append({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", **where, "part": {**part, "text": text}})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": response})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    _send_sse(exchange, [f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events])


def _send_sse(exchange: Exchange, frames: list[str]) -> None:
    exchange.start()
    for frame in frames:
        exchange.write(frame.encode())
    exchange.end()


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [word if i == len(words) - 1 else word + " " for i, word in enumerate(words)] if text else []
