"""The Anthropic Messages dialect: the Responses API over ``POST /v1/messages``. Pure, no I/O.

Followed: Anthropic's API reference ("Messages", "Streaming Messages", "Extended thinking",
"Tool use", "Structured outputs"), checked against the recorded traffic in
``shared/fixtures/recorded/anthropic_messages``.

Request: ``instructions`` and system/developer messages become the top-level ``system``; user and
assistant messages become ``messages`` with consecutive same-role turns merged (the API wants
alternating roles); ``function_call`` items become assistant ``tool_use`` blocks and
``function_call_output`` items ``tool_result`` blocks, all results of one turn in one user message;
``max_tokens`` is required, so ``max_output_tokens`` or :data:`DEFAULT_MAX_TOKENS`.

Reasoning round trip: a ``thinking`` block (text and ``signature``) or a ``redacted_thinking``
block becomes a reasoning item whose ``encrypted_content`` carries the block verbatim, tagged with
the provider (``polyresponses.anthropic.v1:`` + base64 JSON). Given back to the same provider the
block is replayed exactly, at the start of the next assistant turn, as Anthropic requires for
tool use with thinking; given to any other provider it is left out (documented, never garbage).

Reply and stream: one state machine. A whole ``message`` is read as the stream of events it equals
(:func:`message_events`), so replies and streams share one code path. Content blocks map by
``index`` to output items: text blocks to ``output_text`` parts of a message item (consecutive
text blocks are parts of one message), ``tool_use`` to ``function_call`` items whose ``call_id`` is
the ``tool_use`` id, thinking blocks to reasoning items. Server-tool blocks (``server_tool_use``,
``web_search_tool_result``, ...) have no Responses item here: they are kept in
``unknown_events``, as are ``citations_delta`` deltas, never dropped silently.

Left out on purpose: ``prompt_cache_key`` and ``client_metadata`` (``_refusals.IGNORED_HINTS``;
Anthropic caches by ``cache_control`` breakpoints, which callers pass as provider extras) and
``stream_options``.
Usage reports ``reasoning_tokens`` 0: Anthropic counts thinking inside ``output_tokens`` and does
not break it out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote

from polyresponses.router._errors import (
    APIResponseValidationError,
    InvalidRequestError,
    UnsupportedFeatureError,
)
from polyresponses.router.dialects._envelope import seal, unseal
from polyresponses.router.dialects._refusals import STATELESS_MAPPED, STATELESS_REFUSED, refuse_unsayable
from polyresponses.router.dialects._synth import SynthesizedStream, function_call_item, output_text_part
from polyresponses.router.dialects._wire_request import WireRequest

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "THINKING_BUDGETS",
    "AnthropicStreamTranslator",
    "build_create",
    "decode_thinking",
    "encode_thinking",
    "fit_thinking",
    "for_bedrock",
    "for_vertex",
    "message_events",
    "parse_response",
]

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header (API reference, "Versions")."""

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when ``max_output_tokens`` is not given: the API requires one. With thinking on,
the budget is added to it so the answer still has room."""

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
"""``anthropic_version`` in the body of a Claude request to Bedrock's InvokeModel (Bedrock user guide,
"Anthropic Claude Messages API"; Anthropic's SDK, ``AnthropicBedrock``)."""

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
"""``anthropic_version`` in the body of a Claude request on Vertex AI (Vertex AI docs, "Use Claude models")."""

THINKING_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000}
"""``reasoning.effort`` → ``thinking.budget_tokens`` (the API's minimum is 1,024)."""

_ENVELOPE = "polyresponses.anthropic.v1:"

# Request fields this dialect maps; anything else in the body is an error or a provider extra.
_MAPPED = STATELESS_MAPPED - {"presence_penalty", "frequency_penalty"}
# Responses fields with no Messages equivalent: refused rather than dropped.
_REFUSED = {**STATELESS_REFUSED, "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}


# ------------------------------------------------------------------------------------ request


def fit_thinking(max_output_tokens: int | None, thinking: dict[str, Any] | None, provider: str) -> int:
    """``max_tokens`` for Claude with ``thinking`` (its ``budget_tokens`` shrunk in place to fit).

    Claude requires ``budget_tokens < max_tokens`` wherever it is served (Anthropic, Bedrock, Vertex):
    without ``max_output_tokens`` the budget is added to :data:`DEFAULT_MAX_TOKENS` so the answer keeps
    room; with it, the budget shrinks below it, never past Anthropic's minimum of 1,024 (then refused)."""
    budget = int(thinking.get("budget_tokens", 0)) if thinking else 0
    if max_output_tokens is None:
        return DEFAULT_MAX_TOKENS + budget
    if thinking and budget >= max_output_tokens:
        if max_output_tokens - 1 < THINKING_BUDGETS["minimal"]:
            raise InvalidRequestError(
                provider,
                "max_output_tokens",
                f"{max_output_tokens} leaves no room for thinking (Anthropic's minimum budget is 1,024 tokens, "
                "and it must be below max_tokens)",
            )
        thinking["budget_tokens"] = max_output_tokens - 1
    return max_output_tokens


def for_vertex(request: WireRequest) -> WireRequest:
    """``request`` as Vertex AI serves Claude: ``POST .../models/{model}:rawPredict`` (``:streamRawPredict``
    for a stream) under the publisher's base URL, ``anthropic_version`` in the body, no ``model`` there
    (Vertex AI docs, "Use Claude models"; Anthropic's SDK, ``AnthropicVertex``)."""
    body = dict(request.body or {})
    model = str(body.pop("model"))
    body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
    method = "streamRawPredict" if request.stream else "rawPredict"
    return replace(request, path=f"/models/{quote(model, safe='@')}:{method}", body=body)


def for_bedrock(request: WireRequest) -> WireRequest:
    """``request`` as Bedrock's InvokeModel takes Claude: ``POST /model/{model}/invoke`` (a stream:
    ``/invoke-with-response-stream``, replying in AWS event-stream frames whose ``chunk.bytes`` are the
    Messages API's events), ``anthropic_version`` in the body, neither ``model`` nor ``stream`` there (as
    ``AnthropicBedrock`` sends it); the model id is one percent-encoded path segment (ARNs hold ``/``)."""
    body = dict(request.body or {})
    model = str(body.pop("model"))
    body.pop("stream", None)
    body["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    method = "invoke-with-response-stream" if request.stream else "invoke"
    accept = "application/vnd.amazon.eventstream" if request.stream else "application/json"
    return replace(request, path=f"/model/{quote(model, safe='')}/{method}", body=body, accept=accept)


def build_create(body: Mapping[str, Any], *, provider: str) -> WireRequest:
    """The ``POST /messages`` request for a Responses request ``body`` (validated, by alias)."""
    refuse_unsayable(body, provider=provider, route="Anthropic Messages", refused=_REFUSED)

    system, messages = _messages(body, provider)
    wire: dict[str, Any] = {"model": body["model"], "messages": messages}
    if system:
        wire["system"] = system
    thinking = _map_reasoning(body, provider)
    wire["max_tokens"] = fit_thinking(body.get("max_output_tokens"), thinking, provider)
    if thinking:
        wire["thinking"] = thinking
    _map_tools(body, wire, provider)
    _map_format(body, wire, provider)
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            wire[name] = body[name]
    user = body.get("safety_identifier") or body.get("user")
    if user is not None:
        wire["metadata"] = {"user_id": user}
    stream = bool(body.get("stream"))
    if stream:
        wire["stream"] = True
    for name, value in body.items():
        if name not in _MAPPED and name not in _REFUSED:
            wire[name] = value  # provider extras (top_k, stop_sequences, container, ...), as given
    return WireRequest("POST", "/messages", wire, stream=stream)


def _messages(body: Mapping[str, Any], provider: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, messages)``; consecutive same-role turns merged into one."""
    system: list[dict[str, Any]] = []
    if body.get("instructions"):
        system.append({"type": "text", "text": body["instructions"]})
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    items = body.get("input")
    if isinstance(items, str):
        add("user", [{"type": "text", "text": items}])
        return system, messages
    pending: list[dict[str, Any]] = []  # thinking blocks waiting for the assistant turn they belong to
    for position, item in enumerate(items or []):
        kind = item.get("type", "message")
        where = f"input[{position}]"
        match kind:
            case "message":
                role = item["role"]
                blocks = _content_blocks(item.get("content"), where, provider)
                if role in ("system", "developer"):
                    system.extend(_text_only(blocks, where, provider, role))
                elif role == "assistant":
                    add("assistant", [*pending, *_text_only(blocks, where, provider, role)])
                    pending = []
                else:
                    add("user", blocks)
            case "function_call":
                add("assistant", [*pending, _tool_use(item, where, provider)])
                pending = []
            case "function_call_output":
                add("user", [_tool_result(item, where, provider)])
            case "reasoning":
                block = decode_thinking(item.get("encrypted_content"), provider)
                if block is not None:
                    pending.append(block)
                # Otherwise another provider's reasoning (or a summary only): left out, documented.
            case _:
                raise UnsupportedFeatureError(provider, f"input item type {kind!r} over Anthropic Messages ({where})")
    if pending:  # thinking with nothing after it: it opens the assistant turn the model continues
        add("assistant", pending)
    return system, messages


def _content_blocks(content: Any, where: str, provider: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [_map_part(part, f"{where}.content[{index}]", provider) for index, part in enumerate(content or [])]


def _text_only(blocks: list[dict[str, Any]], where: str, provider: str, role: str) -> list[dict[str, Any]]:
    for index, block in enumerate(blocks):
        if block["type"] != "text":
            raise UnsupportedFeatureError(
                provider, f"{block['type']} content in a {role} message ({where}.content[{index}])"
            )
    return blocks


def _map_part(part: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A Responses content part as an Anthropic content block ("Vision", "PDF support")."""
    kind = part.get("type")
    match kind:
        case "input_text" | "output_text":
            return {"type": "text", "text": part["text"]}
        case "refusal":
            return {"type": "text", "text": part["refusal"]}
        case "input_image":
            url = part.get("image_url")
            if url is None:
                raise UnsupportedFeatureError(provider, f"input_image by file_id over Anthropic Messages ({where})")
            return {"type": "image", "source": _source(url, where, provider)}
        case "input_file":
            if part.get("file_url") is not None:
                return {"type": "document", "source": {"type": "url", "url": part["file_url"]}}
            if part.get("file_data") is not None:
                return {"type": "document", "source": _source(part["file_data"], where, provider, "application/pdf")}
            raise UnsupportedFeatureError(provider, f"input_file by file_id over Anthropic Messages ({where})")
        case _:
            raise UnsupportedFeatureError(provider, f"content part {kind!r} over Anthropic Messages ({where})")


def _source(url: str, where: str, provider: str, default_type: str | None = None) -> dict[str, Any]:
    """A data URL as a base64 source, anything else as a URL source."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0] or default_type
        if ";base64" not in header or not media_type:
            raise InvalidRequestError(provider, where, "a data URL must be base64 with a media type")
        return {"type": "base64", "media_type": media_type, "data": data}
    if default_type is not None and not url.startswith(("http://", "https://")):
        return {"type": "base64", "media_type": default_type, "data": url}  # file_data given as bare base64
    return {"type": "url", "url": url}


def _tool_use(item: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    arguments = item.get("arguments") or "{}"
    try:
        parsed = json.loads(arguments)
    except ValueError:
        raise InvalidRequestError(
            provider, f"{where}.arguments", "not JSON: Anthropic takes tool input as an object"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(provider, f"{where}.arguments", "Anthropic takes tool input as a JSON object")
    return {"type": "tool_use", "id": item["call_id"], "name": item["name"], "input": parsed}


def _tool_result(item: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    output = item.get("output")
    content: Any
    if isinstance(output, str):
        content = output
    else:
        content = [_map_part(part, f"{where}.output[{index}]", provider) for index, part in enumerate(output or [])]
    return {"type": "tool_result", "tool_use_id": item["call_id"], "content": content}


def _map_tools(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            raise UnsupportedFeatureError(
                provider, f"{tool.get('type')!r} tools over Anthropic Messages (tools[{index}])"
            )
        mapped: dict[str, Any] = {
            "name": tool["name"],
            "input_schema": tool.get("parameters") or {"type": "object", "properties": {}},
        }
        if tool.get("description") is not None:
            mapped["description"] = tool["description"]
        if tool.get("strict") is not None:
            mapped["strict"] = tool["strict"]
        tools.append(mapped)
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "allowed_tools":
        allowed = {entry.get("name") for entry in choice.get("tools", [])}
        tools = [tool for tool in tools if tool["name"] in allowed]
        choice = choice.get("mode", "auto")
    if tools:
        wire["tools"] = tools
    # Tool use reference: tool_choice {auto|any|tool|none}, disable_parallel_tool_use on auto/any/tool.
    mapped_choice: dict[str, Any] | None = None
    match choice:
        case None:
            pass
        case "auto":
            mapped_choice = {"type": "auto"}
        case "required":
            mapped_choice = {"type": "any"}
        case "none":
            mapped_choice = {"type": "none"}
        case {"type": "function", "name": name}:
            if name not in {tool["name"] for tool in tools}:
                raise InvalidRequestError(
                    provider, "tool_choice.name", f"{name!r} is not one of the offered function tools"
                )
            mapped_choice = {"type": "tool", "name": name}
        case _:
            label = choice.get("type") if isinstance(choice, Mapping) else choice
            raise UnsupportedFeatureError(provider, f"tool_choice {label!r} over Anthropic Messages")
    if not tools:
        if mapped_choice is not None and mapped_choice["type"] in ("any", "tool"):
            raise InvalidRequestError(
                provider, "tool_choice", "it asks for a tool call but no function tool is offered"
            )
        return
    if body.get("parallel_tool_calls") is False:
        mapped_choice = mapped_choice or {"type": "auto"}
        if mapped_choice["type"] != "none":
            mapped_choice["disable_parallel_tool_use"] = True
    if mapped_choice is not None:
        wire["tool_choice"] = mapped_choice


def _map_format(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    """``text.format`` json_schema → ``output_config.format`` (Structured outputs reference)."""
    text = body.get("text") or {}
    fmt = text.get("format")
    if text.get("verbosity") is not None:
        raise UnsupportedFeatureError(provider, "text.verbosity over Anthropic Messages")
    if fmt is None or fmt.get("type") == "text":
        return
    if fmt["type"] == "json_schema":
        wire["output_config"] = {"format": {"type": "json_schema", "schema": fmt.get("schema", {})}}
        return
    raise UnsupportedFeatureError(
        provider, f"text.format {fmt['type']!r} over Anthropic Messages", "use a json_schema format"
    )


def _map_reasoning(body: Mapping[str, Any], provider: str) -> dict[str, Any] | None:
    reasoning = body.get("reasoning") or {}
    effort = reasoning.get("effort")
    if effort is None or effort == "none":
        return None
    if effort not in THINKING_BUDGETS:
        raise UnsupportedFeatureError(provider, f"reasoning.effort {effort!r} over Anthropic Messages")
    return {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}


def encode_thinking(provider: str, block: Mapping[str, Any]) -> str:
    """A ``thinking``/``redacted_thinking`` block as a reasoning item's ``encrypted_content``."""
    return seal(_ENVELOPE, provider, {"block": dict(block)})


def decode_thinking(value: str | None, provider: str) -> dict[str, Any] | None:
    """The block :func:`encode_thinking` stored, if it came from ``provider``; else ``None``."""
    payload = unseal(_ENVELOPE, value)
    if payload is None or payload.get("provider") != provider:
        return None
    block = payload.get("block")
    return cast("dict[str, Any]", block) if isinstance(block, dict) else None


# -------------------------------------------------------------------------------- reply, stream


def parse_response(content: bytes, *, provider: str, request: Mapping[str, Any]) -> Response:
    """A whole Anthropic ``message`` as the canonical ``Response``."""
    translator = AnthropicStreamTranslator(provider, request)
    translator.whole_reply(content)
    if translator.final is None:  # pragma: no cover - close() always ends the response
        raise APIResponseValidationError("message had no end", provider=provider)
    return translator.final


def message_events(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stream events a whole ``message`` equals (Streaming Messages reference, "Event types")."""
    start = {key: value for key, value in message.items() if key not in ("content", "stop_reason", "stop_sequence")}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**start, "content": [], "stop_reason": None, "stop_sequence": None}}
    ]
    for index, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        opened = dict(block)
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            opened["text"] = ""
            deltas.append({"type": "text_delta", "text": block.get("text", "")})
            opened.pop("citations", None)
            for citation in block.get("citations") or []:
                deltas.append({"type": "citations_delta", "citation": citation})
        elif kind == "thinking":
            opened["thinking"], opened["signature"] = "", ""
            deltas.append({"type": "thinking_delta", "thinking": block.get("thinking", "")})
            if block.get("signature"):
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            opened["input"] = {}
            deltas.append({"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))})
        events.append({"type": "content_block_start", "index": index, "content_block": opened})
        events.extend({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas)
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")},
            "usage": message.get("usage") or {},
        }
    )
    events.append({"type": "message_stop"})
    return events


@dataclass(slots=True)
class _Item:
    """One output item being built."""

    output_index: int
    id: str
    kind: Literal["message", "reasoning", "function_call"]
    parts: list[list[str]] = field(default_factory=list[list[str]])
    """Message: one list of text pieces per ``output_text`` part. Reasoning/call: ``parts[0]``."""
    call_id: str = ""
    name: str = ""
    block: dict[str, Any] | None = None
    """Reasoning: the thinking block as Anthropic sent it (text and signature filled at the end)."""
    done: bool = False
    data: dict[str, Any] | None = None


class AnthropicStreamTranslator(SynthesizedStream):
    """Anthropic Messages SSE → Responses events: ``feed(bytes)``/``finish()``, or ``consume(event)``.

    Same surface as the other translators (``final``, ``snapshot``, ``done``, ``partial()``,
    ``error_for()``, ``unknown_events``, ``whole_reply()``), so the stream shells drive any of them.
    """

    what = "Anthropic message"

    def __init__(self, provider: str, request: Mapping[str, Any]) -> None:
        super().__init__(provider, request)
        self._items: list[_Item] = []
        self._by_block: dict[int, _Item] = {}
        self._message: _Item | None = None
        self._stop_reason: str | None = None
        self._error: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------- driving

    def finish(self) -> list[ResponseStreamEvent]:
        return self._translate(self._decoder.finish())

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """A whole ``message`` (a reply, or a server that ignored ``stream: true``), as its events."""
        message = self._json_object(content, "the reply")
        if message.get("type") != "message":
            raise APIResponseValidationError(
                "reply is not an Anthropic message (no type 'message')", provider=self.provider, body=str(message)[:500]
            )
        for event in message_events(message):
            self.consume(event)
        self.close()
        return self._take()

    # ----------------------------------------------------------------------------- events

    def consume(self, event: Mapping[str, Any]) -> None:
        """One Anthropic stream event (Streaming Messages reference); Responses events queue up."""
        kind = event.get("type")
        match kind:
            case "message_start":
                self._start(event.get("message") or {})
            case "content_block_start":
                self._ensure_started()
                self._block_start(int(event.get("index", 0)), event.get("content_block") or {})
            case "content_block_delta":
                self._ensure_started()
                self._block_delta(int(event.get("index", 0)), event.get("delta") or {}, event)
            case "content_block_stop":
                self._block_stop(int(event.get("index", 0)))
            case "message_delta":
                delta = event.get("delta") or {}
                if delta.get("stop_reason") is not None:
                    self._stop_reason = delta["stop_reason"]
                self._add_usage(event.get("usage"))
            case "message_stop":
                self.close()
            case "ping":
                pass
            case "error":
                self._ensure_started()
                error = event.get("error")
                self._error = dict(error) if isinstance(error, Mapping) else {"message": str(error)}
                self.close()
            case _:
                self.unknown_events.append(dict(event))  # new event types are kept, not guessed at

    def _ensure_started(self) -> None:
        if not self._started:
            self._start({})

    def _start(self, message: Mapping[str, Any]) -> None:
        if self._started:
            return
        self._add_usage(message.get("usage"))
        self._begin(message.get("id"), None, message.get("model"))

    def _add_usage(self, usage: Any) -> None:
        """Usage arrives in parts (message_start, then message_delta): later counts win."""
        if isinstance(usage, Mapping):
            fresh = {k: v for k, v in cast("Mapping[str, Any]", usage).items() if v is not None}
            self._usage = {**(self._usage or {}), **fresh}

    def _map_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        return _map_usage(usage)

    def _open(self, kind: Literal["message", "reasoning", "function_call"], prefix: str) -> _Item:
        index = len(self._items)
        item = _Item(index, f"{prefix}_{self._id.removeprefix('resp_')}_{index}", kind)
        self._items.append(item)
        return item

    def _block_start(self, index: int, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        if kind != "text" and self._message is not None:
            self._close_message()
        match kind:
            case "text":
                item = self._message
                if item is None:
                    item = self._message = self._open("message", "msg")
                    self._item_added(item.output_index, item.id, "message")
                item.parts.append([])
                self._by_block[index] = item
                self._emit(
                    self._part_event(
                        "response.content_part.added",
                        item.id,
                        item.output_index,
                        len(item.parts) - 1,
                        output_text_part(""),
                    )
                )
                if block.get("text"):
                    self._text_delta(item, block["text"])
            case "thinking" | "redacted_thinking":
                item = self._open("reasoning", "rs")
                item.block = dict(block)
                item.parts.append([])
                self._by_block[index] = item
                self._item_added(item.output_index, item.id, "reasoning")
                if kind == "thinking":
                    self._emit(
                        self._part_event(
                            "response.content_part.added",
                            item.id,
                            item.output_index,
                            0,
                            {"type": "reasoning_text", "text": ""},
                        )
                    )
                    if block.get("thinking"):
                        self._reasoning_delta(item, block["thinking"])
            case "tool_use":
                item = self._open("function_call", "fc")
                item.call_id = str(block.get("id") or f"toolu_{uuid.uuid4().hex[:24]}")
                item.name = str(block.get("name") or "")
                item.parts.append([])
                self._by_block[index] = item
                self._item_added(item.output_index, item.id, "function_call", call_id=item.call_id, name=item.name)
                initial = block.get("input")
                if isinstance(initial, Mapping) and initial:
                    self._arguments_delta(item, json.dumps(initial))
            case _:
                # server_tool_use, web_search_tool_result, mcp_tool_use, container_upload, ...: no
                # Responses item on this route; kept whole, never dropped silently.
                self.unknown_events.append(
                    {"type": "content_block_start", "index": index, "content_block": dict(block)}
                )

    def _block_delta(self, index: int, delta: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        item = self._by_block.get(index)
        kind = delta.get("type")
        if item is None or item.done:
            self.unknown_events.append(dict(event))
            return
        match kind:
            case "text_delta" if item.kind == "message":
                if delta.get("text"):
                    self._text_delta(item, delta["text"])
            case "thinking_delta" if item.kind == "reasoning":
                if delta.get("thinking"):
                    self._reasoning_delta(item, delta["thinking"])
            case "signature_delta" if item.kind == "reasoning" and item.block is not None:
                item.block["signature"] = item.block.get("signature", "") + str(delta.get("signature") or "")
            case "input_json_delta" if item.kind == "function_call":
                if delta.get("partial_json"):
                    self._arguments_delta(item, delta["partial_json"])
            case _:
                self.unknown_events.append(dict(event))  # citations_delta and anything new

    def _block_stop(self, index: int) -> None:
        item = self._by_block.get(index)
        if item is None or item.done:
            return
        match item.kind:
            case "message":
                pass  # the message stays open for a following text block; closed by the next item
            case "reasoning":
                self._close_reasoning(item)
            case "function_call":
                self._close_call(item)

    # ----------------------------------------------------------------------------- deltas

    def _text_delta(self, item: _Item, text: str) -> None:
        item.parts[-1].append(text)
        self._item_event(
            "response.output_text.delta",
            item.id,
            item.output_index,
            content_index=len(item.parts) - 1,
            delta=text,
            logprobs=[],
        )

    def _reasoning_delta(self, item: _Item, text: str) -> None:
        item.parts[0].append(text)
        self._item_event("response.reasoning_text.delta", item.id, item.output_index, content_index=0, delta=text)

    def _arguments_delta(self, item: _Item, text: str) -> None:
        item.parts[0].append(text)
        self._item_event("response.function_call_arguments.delta", item.id, item.output_index, delta=text)

    # ----------------------------------------------------------------------------- closing

    def _close_message(self) -> None:
        item = self._message
        if item is None:
            return
        self._message = None
        for index, pieces in enumerate(item.parts):
            text = "".join(pieces)
            self._item_event(
                "response.output_text.done", item.id, item.output_index, content_index=index, text=text, logprobs=[]
            )
            self._emit(
                self._part_event(
                    "response.content_part.done", item.id, item.output_index, index, output_text_part(text)
                )
            )
        self._finish_item(item)

    def _close_reasoning(self, item: _Item) -> None:
        if item.block is not None and item.block.get("type") == "thinking":
            text = "".join(item.parts[0])
            item.block["thinking"] = text
            self._item_event("response.reasoning_text.done", item.id, item.output_index, content_index=0, text=text)
            self._emit(
                self._part_event(
                    "response.content_part.done",
                    item.id,
                    item.output_index,
                    0,
                    {"type": "reasoning_text", "text": text},
                )
            )
        self._finish_item(item)

    def _close_call(self, item: _Item) -> None:
        arguments = "".join(item.parts[0]) or "{}"
        item.parts[0] = [arguments]
        self._item_event(
            "response.function_call_arguments.done", item.id, item.output_index, name=item.name, arguments=arguments
        )
        self._finish_item(item)

    def _finish_item(self, item: _Item) -> None:
        item.done = True
        item.data = self._item_data(item)
        self._item_done(item.output_index, item.data)

    def _output_so_far(self) -> list[dict[str, Any]]:
        return [self._item_data(item) for item in self._items]

    def _item_data(self, item: _Item) -> dict[str, Any]:
        if item.data is not None:
            return item.data
        status = "completed" if item.done else "in_progress"
        if item.done and self._stop_reason == "max_tokens":
            status = "incomplete"
        match item.kind:
            case "message":
                content = [output_text_part("".join(pieces)) for pieces in item.parts]
                return {"type": "message", "id": item.id, "role": "assistant", "status": status, "content": content}
            case "reasoning":
                block = item.block or {}
                data: dict[str, Any] = {"type": "reasoning", "id": item.id, "summary": [], "status": status}
                data["content"] = (
                    [{"type": "reasoning_text", "text": "".join(item.parts[0])}]
                    if block.get("type") == "thinking"
                    else []
                )
                if item.done:
                    data["encrypted_content"] = encode_thinking(self.provider, block)
                return data
            case "function_call":
                return function_call_item(item.id, item.call_id, item.name, "".join(item.parts[0]), status)

    def close(self) -> None:
        """End the response: close open items in output order, then the terminal event."""
        if self.final is not None:
            return
        self._ensure_started()
        for item in self._items:
            if item.done:
                continue
            match item.kind:
                case "message":
                    self._close_message()
                case "reasoning":
                    self._close_reasoning(item)
                case "function_call":
                    self._close_call(item)
        output = [self._item_data(item) for item in self._items]
        if self._error is not None:
            self._end(output, "failed", error=_map_error(self._error))
        else:
            status, details = _map_stop(self._stop_reason)
            self._end(output, status, incomplete=details)


def _map_stop(reason: str | None) -> tuple[str, dict[str, Any] | None]:
    """``stop_reason`` → ``(status, incomplete_details)`` (Messages reference, "stop_reason")."""
    match reason:
        case "max_tokens" | "model_context_window_exceeded":
            return "incomplete", {"reason": "max_output_tokens"}
        case "refusal":
            return "incomplete", {"reason": "content_filter"}
        case _:
            # end_turn, tool_use, stop_sequence; pause_turn (a server-tool turn the caller may
            # continue by sending the reply back) is a completed response of its own.
            return "completed", None


def _map_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; Responses counts them in."""
    fresh = int(usage.get("input_tokens") or 0)
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    output = int(usage.get("output_tokens") or 0)
    total_input = fresh + read + written
    return {
        "input_tokens": total_input,
        "input_tokens_details": {"cached_tokens": read},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total_input + output,
    }


def _map_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """An ``error`` event's payload as the spec's ``ResponseError`` (its ``code`` is an enum)."""
    kind = error.get("type")
    code = "rate_limit_exceeded" if kind == "rate_limit_error" else "server_error"
    message = str(error.get("message") or "stream error")
    return {"code": code, "message": f"{message} ({kind})" if kind else message}
