"""The Chat Completions wire dialect: the Responses API over any ``POST /chat/completions`` server.

Most providers, and every local server, speak OpenAI Chat Completions rather than Responses. This
module maps a canonical ``CreateResponse`` body onto a chat request, and a chat reply (whole, or a
stream of ``chat.completion.chunk`` objects) back onto the canonical ``Response`` and the full
Responses stream lifecycle. It is pure: no I/O.

One code path builds both kinds of reply. :class:`ChatStreamTranslator` turns chunks into events
with a small state machine; a non-streamed ``chat.completion`` is read as the single chunk it is
equivalent to, so ``create()`` and ``create(stream=True)`` can never disagree about the response.

The lifecycle follows the Responses API reference ("Streaming events") and avoids the faults listed
in ``shared/notes/wire-formats.md`` sections 1, 2 and 6: ``response.created`` and
``response.in_progress`` first; per item ``output_item.added`` → ``content_part.added`` → deltas →
``*.done`` → ``output_item.done``; one ``sequence_number`` counter from 0; ``output_index`` given in
order of first appearance and kept; reasoning before text when the provider streams it that way;
parallel tool calls keyed by the chunk's ``index`` so interleaved argument deltas stay apart; usage
requested with ``stream_options.include_usage`` and put on the final response, which equals the
accumulation of the deltas; ``finish_reason`` mapped to ``status`` and ``incomplete_details``.

Reasoning text a provider returns (``reasoning_content`` as DeepSeek, vLLM, llama.cpp send it;
``reasoning`` as OpenRouter and Groq do; Magistral's ``thinking`` content parts) becomes a reasoning
item with a ``reasoning_text`` part. Its ``encrypted_content`` carries a small tagged envelope
(provider, field, text) so that, given back as input, it is replayed into that same provider's
reasoning field and left out for any other provider, never sent as garbage.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import from_json

from polyresponses.router._errors import (
    APIResponseValidationError,
    InvalidRequestError,
    UnsupportedFeatureError,
)
from polyresponses.router._sse import ServerSentEvent
from polyresponses.router.dialects._envelope import seal, unseal
from polyresponses.router.dialects._refusals import IGNORED_HINTS
from polyresponses.router.dialects._synth import SERVICE_TIERS, SynthesizedStream, function_call_item, output_text_part
from polyresponses.router.dialects._wire_request import WireRequest

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = [
    "ChatOptions",
    "ChatStreamTranslator",
    "build_create",
    "decode_reasoning",
    "encode_reasoning",
    "parse_response",
]

_ENVELOPE_PREFIX = "polyresponses.chat.v1:"

# CreateResponse fields the chat body gets by translation (or that only shape our own Response);
# any other top-level key of the request body is a provider extra (seed, stop, top_k, ...) and is
# passed through to the chat body unchanged.
_TRANSLATED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "parallel_tool_calls",
        "user",
        "safety_identifier",
        "stream",
        "stream_options",
        "metadata",
        "store",
        "include",
        "truncation",
        "top_logprobs",
        "service_tier",
        "prompt_cache_retention",
        "max_tool_calls",
        "background",
        "previous_response_id",
        "conversation",
        "prompt",
        "context_management",
    }
    | IGNORED_HINTS  # prompt_cache_key is sent where the endpoint has it (openai_extras)
)


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How one provider's chat endpoint differs from OpenAI's: a provider row's data, not code."""

    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    """Where ``max_output_tokens`` goes: OpenAI deprecated ``max_tokens``; most others only know it."""
    required_tool_choice: str = "required"
    """The word for "must call a tool": Mistral calls it ``any``."""
    reasoning_effort: bool = False
    """Whether ``reasoning.effort`` can be sent as ``reasoning_effort``; if not, asking for it is refused."""
    reasoning_field: str | None = "reasoning_content"
    """Where this provider reads replayed reasoning (``None``: never replay). Reasoning items go back
    into the field they arrived in; this one is for those that came as content parts."""
    reasoning_object: bool = False
    """OpenRouter's unified ``reasoning`` object: the request's ``reasoning`` goes as it is (``effort``,
    ``max_tokens``, ``enabled``, ``exclude``; ``summary`` left out) instead of ``reasoning_effort``."""
    developer_role: bool = False
    """Whether ``developer`` messages can be sent as such (OpenAI); otherwise they become ``system``."""
    stream_usage: bool = True
    """Whether ``stream_options.include_usage`` is accepted (usage then arrives in the last chunk)."""
    openai_extras: bool = False
    """OpenAI's own chat fields (``service_tier``, ``prompt_cache_key``, ``safety_identifier``, ``store``)."""
    path: str = "/chat/completions"
    """Where the chat endpoint is under the base URL (watsonx.ai: ``/ml/v1/text/chat``)."""
    stream_path: str | None = None
    """A separate streaming endpoint (watsonx.ai: ``/ml/v1/text/chat_stream``); the body then carries no
    ``stream`` field."""
    model_field: str = "model"
    """The model's field name in the body (watsonx.ai: ``model_id``)."""
    tool_choice_option: bool = False
    """String tool choices (``auto``, ``none``, ``required``) go in ``tool_choice_option`` (watsonx.ai), the
    named function in ``tool_choice``."""


# ------------------------------------------------------------------------------------------ request


def build_create(body: Mapping[str, Any], *, provider: str, options: ChatOptions) -> WireRequest:
    """``POST /chat/completions`` for a validated ``CreateResponse`` wire body.

    What a chat endpoint cannot express raises :class:`UnsupportedFeatureError` naming it; the
    capability flags have already refused built-in tools, background and stored state.
    """
    chat: dict[str, Any] = {options.model_field: body["model"], "messages": _messages(body, provider, options)}
    _map_tools(body, chat, provider, options)
    _map_format(body, chat, provider)
    _map_reasoning(body, chat, provider, options)
    if (limit := body.get("max_output_tokens")) is not None:
        chat[options.max_tokens_field] = limit
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("user") is not None:
        chat["user"] = body["user"]
    if body.get("safety_identifier") is not None:
        if options.openai_extras:
            chat["safety_identifier"] = body["safety_identifier"]
        else:
            chat.setdefault("user", body["safety_identifier"])
    if body.get("top_logprobs") is not None:
        chat["logprobs"] = True
        chat["top_logprobs"] = body["top_logprobs"]
    for name in ("service_tier", "prompt_cache_key", "prompt_cache_retention"):
        if body.get(name) is not None:
            if options.openai_extras:
                chat[name] = body[name]
            elif name not in IGNORED_HINTS:
                raise UnsupportedFeatureError(provider, f"{name} over Chat Completions")
    if body.get("max_tool_calls") is not None:
        raise UnsupportedFeatureError(provider, "max_tool_calls over Chat Completions")
    if body.get("prompt") is not None:
        raise UnsupportedFeatureError(provider, "prompt templates over Chat Completions")
    if body.get("truncation") not in (None, "disabled"):
        raise UnsupportedFeatureError(provider, f"truncation={body['truncation']!r} over Chat Completions")
    stream = bool(body.get("stream"))
    if stream and options.stream_path is None:
        chat["stream"] = True
        if options.stream_usage:
            chat["stream_options"] = {"include_usage": True}
    for name, value in body.items():
        if name not in _TRANSLATED:
            chat[name] = value  # provider extras (seed, stop, top_k, ...), as given
    if options.tool_choice_option and isinstance(chat.get("tool_choice"), str):
        chat["tool_choice_option"] = chat.pop("tool_choice")
    path = options.stream_path if stream and options.stream_path is not None else options.path
    return WireRequest("POST", path, chat, stream=stream)


def _messages(body: Mapping[str, Any], provider: str, options: ChatOptions) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    pending_reasoning: tuple[str, str] | None = None  # (field, text) replayed onto the next assistant turn
    previous = ""  # the kind of the previous item: calls join an assistant turn directly before them
    for position, item in enumerate(items or []):
        kind = item.get("type", "message")
        where = f"input[{position}]"
        if kind == "message":
            message = _map_message(item, where, provider, options)
            if message["role"] == "assistant" and pending_reasoning is not None:
                message[pending_reasoning[0]], pending_reasoning = pending_reasoning[1], None
            messages.append(message)
            previous = "assistant" if message["role"] == "assistant" else "message"
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item.get("arguments") or "{}"},
            }
            if previous in ("assistant", "function_call"):
                messages[-1].setdefault("tool_calls", []).append(call)  # one assistant turn, as the model made it
            else:
                turn: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
                if pending_reasoning is not None:
                    turn[pending_reasoning[0]], pending_reasoning = pending_reasoning[1], None
                messages.append(turn)
            previous = "function_call"
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item["call_id"],
                    "content": _tool_output(item["output"], where, provider),
                }
            )
            previous = "function_call_output"
        elif kind == "reasoning":
            replay = decode_reasoning(item.get("encrypted_content"))
            if replay is not None and replay[0] == provider and options.reasoning_field is not None:
                # Back into the field it came in (reasoning_content, reasoning); thinking parts into the default.
                source = replay[1] if replay[1] in ("reasoning_content", "reasoning") else options.reasoning_field
                text = (pending_reasoning[1] if pending_reasoning else "") + replay[2]
                pending_reasoning = (source, text)
            # Otherwise left out: another provider's reasoning means nothing here (documented).
        else:
            raise UnsupportedFeatureError(provider, f"input item type {kind!r} over Chat Completions ({where})")
    return messages


def _map_message(item: Mapping[str, Any], where: str, provider: str, options: ChatOptions) -> dict[str, Any]:
    role = item["role"]
    if role == "developer" and not options.developer_role:
        role = "system"
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    parts = [_map_part(part, f"{where}.content[{index}]", provider) for index, part in enumerate(content or [])]
    if not parts:
        return {"role": role, "content": ""}  # an empty list is off-spec in chat; the empty text says the same
    if role in ("assistant", "system", "developer"):
        # Assistant and system turns take text only (Chat Completions reference): join the parts.
        texts: list[str] = []
        for index, part in enumerate(parts):
            if part["type"] != "text":
                raise UnsupportedFeatureError(
                    provider, f"{part['type']} content in a {role} message ({where}.content[{index}])"
                )
            texts.append(part["text"])
        return {"role": role, "content": "".join(texts)}
    if all(part["type"] == "text" for part in parts) and len(parts) == 1:
        return {"role": role, "content": parts[0]["text"]}
    return {"role": role, "content": parts}


def _map_part(part: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": part["refusal"]}
    if kind == "input_image":
        if part.get("image_url") is None:
            raise UnsupportedFeatureError(provider, f"input_image by file_id over Chat Completions ({where})")
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") not in (None, "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file: dict[str, Any] = {}
        for name in ("file_data", "file_id", "filename"):
            if part.get(name) is not None:
                file[name] = part[name]
        if part.get("file_url") is not None:
            raise UnsupportedFeatureError(provider, f"input_file by file_url over Chat Completions ({where})")
        return {"type": "file", "file": file}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part["input_audio"]}
    raise UnsupportedFeatureError(provider, f"content part {kind!r} over Chat Completions ({where})")


def _tool_output(output: Any, where: str, provider: str) -> Any:
    """A ``function_call_output`` as a ``tool`` message's content: text only (Chat Completions
    reference, ``ChatCompletionRequestToolMessage``: "content: string or array of text parts")."""
    if isinstance(output, str):
        return output
    texts: list[str] = []
    for index, part in enumerate(output):
        kind = part.get("type")
        if kind not in ("input_text", "output_text"):
            raise UnsupportedFeatureError(
                provider,
                f"{kind} in a function_call_output over Chat Completions ({where}.output[{index}])",
                "tool messages take text only; send the image or file in a user message after the tool output",
            )
        texts.append(part["text"])
    return "".join(texts)


def _map_tools(body: Mapping[str, Any], chat: dict[str, Any], provider: str, options: ChatOptions) -> None:
    tools = body.get("tools") or []
    functions: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise UnsupportedFeatureError(
                provider, f"{tool.get('type')!r} tools over Chat Completions (tools[{index}])"
            )
        function: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        functions.append({"type": "function", "function": function})
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "allowed_tools":
        # Portable form of allowed_tools: offer only the allowed functions, with the mode as the choice.
        allowed = {tool.get("name") for tool in choice.get("tools", [])}
        functions = [tool for tool in functions if tool["function"]["name"] in allowed]
        choice = choice.get("mode", "auto")
    if functions:
        chat["tools"] = functions
        if body.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if choice is None:
        return
    if not functions:
        # Chat Completions refuses tool_choice without tools (reference: "tool_choice ... is only
        # allowed when tools are specified"). none/auto mean nothing then; the rest cannot be met.
        if choice in ("none", "auto"):
            return
        raise InvalidRequestError(
            provider, "tool_choice", f"{_choice_label(choice)} but the request offers no function tool to call"
        )
    if isinstance(choice, str):
        chat["tool_choice"] = options.required_tool_choice if choice == "required" else choice
    elif choice.get("type") == "function":
        if choice["name"] not in {tool["function"]["name"] for tool in functions}:
            raise InvalidRequestError(
                provider, "tool_choice.name", f"{choice['name']!r} is not one of the offered function tools"
            )
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise UnsupportedFeatureError(provider, f"tool_choice {choice.get('type')!r} over Chat Completions")


def _choice_label(choice: Any) -> str:
    if isinstance(choice, str):
        return f"tool_choice {choice!r}"
    return f"tool_choice {choice.get('type')!r} naming {choice.get('name')!r}"


def _map_format(body: Mapping[str, Any], chat: dict[str, Any], provider: str) -> None:
    text = body.get("text") or {}
    fmt = text.get("format")
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    if fmt is None or fmt.get("type") == "text":
        return
    if fmt["type"] == "json_object":
        chat["response_format"] = {"type": "json_object"}
        return
    if fmt["type"] == "json_schema":
        schema: dict[str, Any] = {"name": fmt["name"], "schema": fmt.get("schema", {})}
        for name in ("description", "strict"):
            if fmt.get(name) is not None:
                schema[name] = fmt[name]
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
        return
    raise UnsupportedFeatureError(provider, f"text.format {fmt['type']!r} over Chat Completions")


def _map_reasoning(body: Mapping[str, Any], chat: dict[str, Any], provider: str, options: ChatOptions) -> None:
    reasoning = body.get("reasoning") or {}
    if options.reasoning_object:
        sent = {key: value for key, value in reasoning.items() if key != "summary" and value is not None}
        if sent:
            chat["reasoning"] = sent
        return
    effort = reasoning.get("effort")
    if effort is None:
        return
    if not options.reasoning_effort:
        raise UnsupportedFeatureError(provider, "reasoning.effort over its Chat Completions endpoint")
    chat["reasoning_effort"] = effort


# ------------------------------------------------------------------------------- reasoning envelope


def encode_reasoning(provider: str, field: str, text: str) -> str:
    """The ``encrypted_content`` of a chat reasoning item: which provider, which field, what text."""
    return seal(_ENVELOPE_PREFIX, provider, {"field": field, "text": text})


def decode_reasoning(value: str | None) -> tuple[str, str, str] | None:
    """``(provider, field, text)`` from an envelope made by :func:`encode_reasoning`, else ``None``."""
    payload = unseal(_ENVELOPE_PREFIX, value)
    if payload is None or not all(isinstance(payload.get(key), str) for key in ("provider", "field", "text")):
        return None
    return payload["provider"], payload["field"], payload["text"]


# ------------------------------------------------------------------------------------------- reply


def parse_response(content: bytes, *, provider: str, request: Mapping[str, Any]) -> Response:
    """A whole ``chat.completion`` as the canonical ``Response`` (read as the one chunk it equals)."""
    translator = ChatStreamTranslator(provider, request)
    translator.whole_reply(content)
    if translator.final is None:  # pragma: no cover - close() always ends the response
        raise APIResponseValidationError("chat.completion had no choice", provider=provider)
    return translator.final


def _as_chunk(reply: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` as the single ``chat.completion.chunk`` it is equivalent to."""
    choices: list[dict[str, Any]] = []
    for choice in reply["choices"]:
        message = dict(choice.get("message") or {})
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            message["tool_calls"] = [{**call, "index": index} for index, call in enumerate(calls)]
        choices.append(
            {"index": choice.get("index", 0), "delta": message, "finish_reason": choice.get("finish_reason")}
        )
    return {**reply, "choices": choices}


# A JSON string, "unrolled" (runs of plain characters between escapes) so the engine does not try
# an alternation per character (RFC 8259 section 7: no raw control characters, these escapes only).
_JSON_CHARS = r'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*'
_JSON_TEXT = '"(' + _JSON_CHARS + ')"'
_JSON_NAME = '"' + _JSON_CHARS + '"'
_PLAIN_TEXT_CHUNK = re.compile(
    r'\{"id":'
    + _JSON_NAME
    + r',"object":"chat\.completion\.chunk","created":\d+,"model":'
    + _JSON_NAME
    + r'(?:,"service_tier":'
    + _JSON_NAME
    + r')?(?:,"system_fingerprint":(?:'
    + _JSON_NAME
    + r"|null))?"
    + r',"choices":\[\{"index":0,"delta":\{"content":'
    + _JSON_TEXT
    + r'\}(?:,"logprobs":null)?,"finish_reason":null\}\]'
    + r'(?:,"usage":null)?(?:,"system_fingerprint":(?:'
    + _JSON_NAME
    + r'|null))?(?:,"obfuscation":'
    + _JSON_NAME
    + r")?\}"
)
"""A ``chat.completion.chunk`` whose only news is ``choices[0].delta.content`` (group 1, still JSON-escaped),
in the compact key order servers serialise it in. Anything else takes the full parse."""


@cache
def _text_delta_maker() -> Callable[[str, int, str, int], ResponseStreamEvent]:
    """A maker of ``response.output_text.delta`` events for the hot path, built without validation.

    Every field is known to be of its declared type here (two strings, two ints, an empty list), so
    the event is assembled the way pydantic's ``model_construct`` does it, minus its per-field
    bookkeeping: about half the cost of validating a dict (bench/stream_translation.py).
    ``test_chat_completions.py`` checks the result equals the validated event, field for field.
    """
    from polyresponses.types import ResponseTextDeltaEvent

    new, set_attribute = ResponseTextDeltaEvent.__new__, object.__setattr__
    fields_set = frozenset(("type", "item_id", "output_index", "content_index", "delta", "logprobs", "sequence_number"))

    def make(item_id: str, output_index: int, delta: str, sequence_number: int) -> ResponseStreamEvent:
        event = new(ResponseTextDeltaEvent)
        set_attribute(
            event,
            "__dict__",
            {
                "type": "response.output_text.delta",
                "item_id": item_id,
                "output_index": output_index,
                "content_index": 0,
                "delta": delta,
                "sequence_number": sequence_number,
                "logprobs": [],
            },  # in the class's field order, as validation fills it
        )
        set_attribute(event, "__pydantic_fields_set__", set(fields_set))
        set_attribute(event, "__pydantic_extra__", {})  # the class allows extra fields: an empty dict, as validated
        set_attribute(event, "__pydantic_private__", None)
        return event

    return make


@dataclass(slots=True)
class _Item:
    """One output item being built: its index, id, kind and the text or arguments accumulated so far."""

    output_index: int
    id: str
    kind: Literal["message", "reasoning", "function_call"]
    pieces: list[str] = field(default_factory=list[str])
    """Text or argument deltas as they came; joined once at the end (``+=`` on a long text is quadratic)."""
    has_text: bool = False
    """A message's ``output_text`` part was opened (content index 0)."""
    refusal: str | None = None
    call_id: str = ""
    name: str = ""
    done: bool = False
    data: dict[str, Any] | None = None
    """The finished item, once done."""

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class ChatStreamTranslator(SynthesizedStream):
    """``chat.completion.chunk`` stream → Responses events: ``feed(bytes)``/``finish()``, or ``consume(chunk)``.

    Same surface as the Responses dialect's translator (``final``, ``done``, ``partial()``,
    ``error_for()``, ``unknown_events``), so the stream shells drive either.
    """

    what = "chat reply"

    def __init__(self, provider: str, request: Mapping[str, Any]) -> None:
        super().__init__(provider, request)
        self._items: list[_Item] = []
        self._message: _Item | None = None
        self._reasoning: _Item | None = None
        self._calls: dict[int, _Item] = {}
        self._finish_reason: str | None = None
        self._error: dict[str, Any] | None = None
        self._reasoning_field = "reasoning_content"
        self._seen_done_marker = False
        self._text_delta_event = _text_delta_maker()

    # -------------------------------------------------------------------------------- driving

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """A whole ``chat.completion`` (a reply, or a server that ignored ``stream: true``): read as
        the one chunk it equals, so it makes the same full, conformant event lifecycle."""
        reply = self._json_object(content, "the reply")
        if not isinstance(reply.get("choices"), list):
            raise APIResponseValidationError(
                "reply is not a chat.completion: no 'choices' list", provider=self.provider, body=str(reply)[:500]
            )
        self.consume(_as_chunk(reply))
        self.close()
        return self._take()

    def finish(self) -> list[ResponseStreamEvent]:
        events = self._translate(self._decoder.finish())
        if self.final is None and (self._finish_reason is not None or self._seen_done_marker):
            self.close()
            events += self._take()
        return events

    def _translate(self, sse_events: list[ServerSentEvent]) -> list[ResponseStreamEvent]:
        for sse in sse_events:
            data = sse.data
            if data == "[DONE]":
                self._seen_done_marker = True
                if self.final is None:
                    self.close()
                continue
            if self.final is not None:
                self.unknown_events.append(sse)  # after the end (OpenRouter repeats chunks): kept, not replayed
                continue
            item = self._message
            if item is not None and item.has_text and (plain := _PLAIN_TEXT_CHUNK.fullmatch(data)) is not None:
                # The bulk of a stream, in the exact compact shape OpenAI, vLLM and llama.cpp send:
                # one more piece of text, read without parsing the whole chunk (the parse was 40%
                # of the translator's time; tests/router check it against the full parse).
                text = plain.group(1)
                if "\\" in text:
                    text = json.loads(f'"{text}"')
                if text:
                    item.pieces.append(text)
                    self._events.append(self._text_delta_event(item.id, item.output_index, text, self._sequence))
                    self._sequence += 1
                continue
            try:
                chunk = from_json(data)  # pydantic-core's parser: about 3x json.loads on chunk-sized objects
            except ValueError as error:
                raise APIResponseValidationError(
                    f"stream chunk is not JSON: {data[:200]!r}", provider=self.provider, body=data
                ) from error
            if not isinstance(chunk, dict):
                raise APIResponseValidationError(
                    f"stream chunk is not a JSON object: {data[:200]!r}", provider=self.provider, body=data
                )
            # The bulk of a stream: one more piece of text for the open message. Handled here with
            # the event assembled directly (_text_delta_maker; bench/stream_translation.py);
            # anything else (and any doubt) goes the general way through consume().
            choices = chunk.get("choices")
            item = self._message
            if (
                item is not None
                and item.has_text
                and type(choices) is list
                and len(choices) == 1
                and chunk.get("usage") is None
                and "error" not in chunk
            ):
                choice = choices[0]
                delta = choice.get("delta")
                text = delta.get("content") if type(delta) is dict else None
                if (
                    type(text) is str
                    and text
                    and choice.get("finish_reason") is None
                    and choice.get("index", 0) == 0
                    and (
                        len(delta) == 1  # {"content": ...} alone, as OpenAI sends it: nothing else to look at
                        or not (
                            delta.get("tool_calls")
                            or delta.get("reasoning_content")
                            or delta.get("reasoning")
                            or delta.get("refusal")
                        )
                    )
                ):
                    item.pieces.append(text)
                    self._events.append(self._text_delta_event(item.id, item.output_index, text, self._sequence))
                    self._sequence += 1
                    continue
            self.consume(chunk)
        return self._take()

    # ------------------------------------------------------------------------------- chunks

    def consume(self, chunk: Mapping[str, Any]) -> None:
        """One parsed chunk (or a whole ``chat.completion`` read as one); events queue for ``_take``."""
        if not self._started:
            self._start(chunk)
        if isinstance(chunk.get("error"), Mapping):
            self._error = dict(chunk["error"])
            self.close()
            return
        if isinstance(chunk.get("usage"), Mapping):
            self._usage = dict(chunk["usage"])
        if chunk.get("service_tier") in SERVICE_TIERS:
            # Groq's ``on_demand`` and the like are not Responses tiers; those stay "default".
            self._service_tier = chunk["service_tier"]
        choices = chunk.get("choices") or []
        for choice in choices:
            if choice.get("index", 0) != 0:
                continue  # n > 1 is not a Responses concept; the first choice is the response
            delta = choice.get("delta") or {}
            if self._finish_reason is not None:
                # The choice has ended; OpenRouter has been recorded repeating earlier chunks after
                # finish_reason. Kept aside, never appended to a finished answer.
                if any(delta.get(name) for name in ("content", "reasoning", "reasoning_content", "tool_calls")):
                    self.unknown_events.append(dict(chunk))
                continue
            self._map_delta(delta)
            if choice.get("finish_reason") is not None:
                self._finish_reason = choice["finish_reason"]

    def _start(self, chunk: Mapping[str, Any]) -> None:
        self._begin(chunk.get("id"), chunk.get("created"), chunk.get("model"))

    def _map_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        return _map_usage(usage)

    def _map_delta(self, delta: Mapping[str, Any]) -> None:
        for source in ("reasoning_content", "reasoning"):
            value = delta.get(source)
            if isinstance(value, str) and value:
                self._reasoning_field = source
                self._reasoning_delta(value)
        content = delta.get("content")
        if isinstance(content, str):
            if content:
                self._text_delta(content)
        elif isinstance(content, list):
            self._content_parts(content)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refusal_delta(refusal)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for position, call in enumerate(calls):
                self._call_delta(call, position)

    def _content_parts(self, parts: Iterable[Any]) -> None:
        """Mistral's content lists: ``text`` parts and Magistral ``thinking`` parts (lists of text)."""
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                if part["text"]:
                    self._text_delta(part["text"])
            elif part.get("type") == "thinking":
                self._reasoning_field = "thinking"
                for piece in part.get("thinking") or []:
                    if isinstance(piece, Mapping) and isinstance(piece.get("text"), str) and piece["text"]:
                        self._reasoning_delta(piece["text"])
            else:
                self.unknown_events.append(part)

    # ------------------------------------------------------------------------------- items

    def _open(self, kind: Literal["message", "reasoning", "function_call"], prefix: str) -> _Item:
        index = len(self._items)
        item = _Item(index, f"{prefix}_{self._id.removeprefix('resp_')}_{index}", kind)
        self._items.append(item)
        return item

    def _reasoning_delta(self, text: str) -> None:
        item = self._reasoning
        if item is None:
            if self._message is not None:
                self._close_message()
            item = self._reasoning = self._open("reasoning", "rs")
            self._item_added(item.output_index, item.id, "reasoning")
            self._emit(
                self._part_event(
                    "response.content_part.added", item.id, item.output_index, 0, {"type": "reasoning_text", "text": ""}
                )
            )
        item.pieces.append(text)
        self._item_event("response.reasoning_text.delta", item.id, item.output_index, content_index=0, delta=text)

    def _ensure_message(self) -> _Item:
        item = self._message
        if item is None:
            if self._reasoning is not None:
                self._close_reasoning()
            item = self._message = self._open("message", "msg")
            self._item_added(item.output_index, item.id, "message")
        return item

    def _text_delta(self, text: str) -> None:
        item = self._ensure_message()
        if not item.has_text:
            item.has_text = True
            self._emit(
                self._part_event("response.content_part.added", item.id, item.output_index, 0, output_text_part(""))
            )
        item.pieces.append(text)
        self._item_event(
            "response.output_text.delta", item.id, item.output_index, content_index=0, delta=text, logprobs=[]
        )

    def _refusal_delta(self, text: str) -> None:
        item = self._ensure_message()
        index = 1 if item.has_text else 0
        if item.refusal is None:
            item.refusal = ""
            self._emit(
                self._part_event(
                    "response.content_part.added", item.id, item.output_index, index, {"type": "refusal", "refusal": ""}
                )
            )
        item.refusal += text
        self._item_event("response.refusal.delta", item.id, item.output_index, content_index=index, delta=text)

    def _call_delta(self, call: Mapping[str, Any], position: int) -> None:
        key = call.get("index", position)
        key = key if isinstance(key, int) else position
        function = call.get("function") or {}
        item = self._calls.get(key)
        if item is None:
            if self._message is not None:
                self._close_message()
            if self._reasoning is not None:
                self._close_reasoning()
            item = self._calls[key] = self._open("function_call", "fc")
            call_id = call.get("id")
            item.call_id = call_id if isinstance(call_id, str) and call_id else f"call_{uuid.uuid4().hex[:24]}"
            item.name = function.get("name") or ""
            self._item_added(item.output_index, item.id, "function_call", call_id=item.call_id, name=item.name)
        elif not item.name and function.get("name"):
            item.name = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):  # some servers send parsed arguments
            arguments = json.dumps(arguments)
        if isinstance(arguments, str) and arguments:
            item.pieces.append(arguments)
            self._item_event("response.function_call_arguments.delta", item.id, item.output_index, delta=arguments)

    def _close_reasoning(self) -> None:
        item = self._reasoning
        if item is None:
            return
        self._reasoning = None
        part = {"type": "reasoning_text", "text": item.text}
        self._item_event("response.reasoning_text.done", item.id, item.output_index, content_index=0, text=item.text)
        self._emit(self._part_event("response.content_part.done", item.id, item.output_index, 0, part))
        self._finish_item(item)

    def _close_message(self) -> None:
        item = self._message
        if item is None:
            return
        self._message = None
        if item.has_text:
            self._item_event(
                "response.output_text.done", item.id, item.output_index, content_index=0, text=item.text, logprobs=[]
            )
            self._emit(
                self._part_event(
                    "response.content_part.done", item.id, item.output_index, 0, output_text_part(item.text)
                )
            )
        if item.refusal is not None:
            index = 1 if item.has_text else 0
            self._item_event(
                "response.refusal.done", item.id, item.output_index, content_index=index, refusal=item.refusal
            )
            self._emit(
                self._part_event(
                    "response.content_part.done",
                    item.id,
                    item.output_index,
                    index,
                    {"type": "refusal", "refusal": item.refusal},
                )
            )
        self._finish_item(item)

    def _close_call(self, item: _Item) -> None:
        self._item_event(
            "response.function_call_arguments.done", item.id, item.output_index, name=item.name, arguments=item.text
        )
        self._finish_item(item)

    def _finish_item(self, item: _Item) -> None:
        item.done = True
        data = self._item_data(item)
        item.data = data
        self._item_done(item.output_index, data)

    def _output_so_far(self) -> list[dict[str, Any]]:
        return [self._item_data(item) for item in self._items]

    def _item_data(self, item: _Item) -> dict[str, Any]:
        if item.done and item.data is not None:
            return item.data
        status = "completed" if item.done else "in_progress"
        if self._finish_reason == "length" and item.done:
            status = "incomplete"
        match item.kind:
            case "message":
                content: list[dict[str, Any]] = []
                if item.has_text:
                    content.append(output_text_part(item.text))
                if item.refusal is not None:
                    content.append({"type": "refusal", "refusal": item.refusal})
                return {"type": "message", "id": item.id, "role": "assistant", "status": status, "content": content}
            case "reasoning":
                data: dict[str, Any] = {
                    "type": "reasoning",
                    "id": item.id,
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": item.text}],
                    "status": status,
                }
                if item.done:
                    data["encrypted_content"] = encode_reasoning(self.provider, self._reasoning_field, item.text)
                return data
            case "function_call":
                return function_call_item(item.id, item.call_id, item.name, item.text, status)

    # ------------------------------------------------------------------------------- the end

    def close(self) -> None:
        """End the response: close open items in output order, then the terminal event."""
        if self.final is not None:
            return
        if not self._started:
            self._start({})
        for item in self._items:
            if item.done:
                continue
            if item is self._message:
                self._close_message()
            elif item is self._reasoning:
                self._close_reasoning()
            else:
                self._close_call(item)
        output = [self._item_data(item) for item in self._items]
        if self._error is not None:
            self._end(output, "failed", error=_map_error(self._error))
        else:
            status, details = _map_finish(self._finish_reason)
            self._end(output, status, incomplete=details)


def _map_finish(reason: str | None) -> tuple[str, dict[str, Any] | None]:
    """``finish_reason`` → ``(status, incomplete_details)`` (Chat Completions and Responses references)."""
    match reason:
        case "length":
            return "incomplete", {"reason": "max_output_tokens"}
        case "content_filter":
            return "incomplete", {"reason": "content_filter"}
        case _:
            return "completed", None  # stop, tool_calls, function_call, eos, None at [DONE]


def _map_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = usage.get("prompt_cache_hit_tokens")  # DeepSeek's name for it
    reasoning = completion_details.get("reasoning_tokens")
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int(cached or 0)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(reasoning or 0)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def _map_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """A chat stream's ``error`` object as the spec's ``ResponseError`` (its ``code`` is an enum)."""
    code = error.get("code")
    mapped = "rate_limit_exceeded" if code in (429, "429", "rate_limit_exceeded") else "server_error"
    message = str(error.get("message") or "stream error")
    return {"code": mapped, "message": f"{message} (provider code {code})" if code is not None else message}
