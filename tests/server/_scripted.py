"""A scripted upstream in the Chat Completions wire format: deterministic where a tiny model is not.

It answers ``POST /v1/chat/completions`` as Mistral, Groq or a local server would (OpenAI's Chat
Completions reference): when the request offers tools and its last message is not a tool result,
it calls the first tool, or the one named ``tool`` (arguments ``{"city": "Paris"}`` unless given); otherwise it answers
``"echo: <last user text>"``. ``stream: true`` gets the chunked SSE form, one delta per word, usage
in the last chunk. ``delay`` seconds pass between chunks, so a test can cancel or disconnect mid-stream.
"""

from __future__ import annotations

import json
from typing import Any

from tests._loopback import Exchange

__all__ = ["ScriptedChat"]


class ScriptedChat:
    """A :data:`~tests._loopback.Behaviour` (use it as ``LoopbackServer(default=ScriptedChat())``)."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        words: int | None = None,
        tool: str | None = None,
        arguments: str = '{"city": "Paris"}',
    ) -> None:
        self.delay = delay
        self.words = words
        """Answer with this many words (``w1 w2 ...``) instead of the echo; for long streams."""
        self.tool = tool
        """Call the offered tool of this name (``None``: the first tool offered)."""
        self.arguments = arguments
        self.calls = 0

    def __call__(self, exchange: Exchange) -> None:
        self.calls += 1
        body = exchange.request.json()
        messages: list[dict[str, Any]] = body.get("messages", [])
        last = messages[-1] if messages else {}
        call_id = f"call_{self.calls}"
        tool_call = None
        names = [tool["function"]["name"] for tool in body.get("tools") or [] if tool.get("type") == "function"]
        wanted = names[0] if names and self.tool is None else self.tool
        if wanted in names and last.get("role") != "tool":
            tool_call = {"id": call_id, "name": wanted, "arguments": self.arguments}
        text = "" if tool_call else self._text(last)
        ident = f"chatcmpl-{self.calls}"
        usage = {"prompt_tokens": 7, "completion_tokens": max(1, len(text.split())), "total_tokens": 8}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if tool_call:
                message["tool_calls"] = [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool_call["name"], "arguments": tool_call["arguments"]},
                    }
                ]
            reply = {
                "id": ident,
                "object": "chat.completion",
                "created": 1,
                "model": body.get("model", "m"),
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_call else "stop"}],
                "usage": usage,
            }
            data = json.dumps(reply).encode()
            exchange.reply(200, data, content_type="application/json")
            return
        exchange.start()
        base = {"id": ident, "object": "chat.completion.chunk", "created": 1, "model": body.get("model", "m")}
        chunks: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        ]
        if tool_call:
            delta = {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool_call["name"], "arguments": tool_call["arguments"]},
                    }
                ]
            }
            chunks.append({**base, "choices": [{"index": 0, "delta": delta}]})
        else:
            for index, word in enumerate(text.split(" ")):
                piece = word if index == 0 else " " + word
                chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
        chunks.append(
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if tool_call else "stop"}]}
        )
        chunks.append({**base, "choices": [], "usage": usage})
        for chunk in chunks:
            exchange.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.delay:
                exchange.pause(self.delay)
        exchange.write(b"data: [DONE]\n\n")
        exchange.end()

    def _text(self, last: dict[str, Any]) -> str:
        if self.words is not None:
            return " ".join(f"w{number}" for number in range(1, self.words + 1))
        content = last.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        return f"echo: {content}"
