"""The Cohere v2 dialect: the Responses API over Cohere's ``POST /v2/chat``. Pure, no I/O.

Followed: Cohere's API reference "Chat" and "Chat with Streaming" (docs.cohere.com/reference/chat,
/reference/chat-stream) and the guides "Streaming Responses" (docs.cohere.com/docs/streaming),
"Streaming for tool use" (/docs/tool-use-streaming), "Reasoning" (/docs/reasoning), "Structured
Outputs" (/docs/structured-outputs) and "Image Inputs" (/docs/image-inputs), checked against the
recorded traffic in ``shared/fixtures/recorded/cohere`` and cohere-python's v2 types (tests).

Request: ``instructions`` and system/developer messages become ``system`` messages, in place; user
messages ``user`` messages (text and ``image_url`` parts); assistant-side items in a row (messages,
reasoning, ``function_call``) gather into one ``assistant`` message: text and thinking as ``content``
parts, calls as ``tool_calls`` (arguments as the JSON string they are), the plan as ``tool_plan``;
each ``function_call_output`` is a ``tool`` message. ``stream`` is always sent (the reference
requires it).

Reasoning round trip: a ``thinking`` content part and a ``tool_plan`` (the plan Cohere writes before
calling tools) each become a reasoning item with a ``reasoning_text`` part; its ``encrypted_content``
carries the text and its kind, tagged with the provider (``polyresponses.cohere.v1:`` + base64 JSON).
Given back to the same provider, thinking is a ``thinking`` part of the next assistant message and a
plan that message's ``tool_plan`` (as the tool-use streaming guide sends it back); given to any other
provider both are left out, as every dialect leaves out what is not its own.

Reply and stream: one state machine; a whole reply is read as the stream of events it equals
(:func:`reply_events`). ``content-start`` opens a reasoning item (``thinking``) or an ``output_text``
part of the open message (``text``); ``tool-plan-delta`` feeds a reasoning item;
``tool-call-start``/``-delta``/``-end`` build a ``function_call`` whose ``call_id`` is Cohere's id;
``message-end`` brings ``finish_reason`` and usage and ends the response. Citations have no
Responses annotation type that fits Cohere's sources (tool outputs and documents by id): like
``debug`` events they are kept in ``unknown_events``, never dropped silently.

Usage: ``usage.tokens`` gives the counts and ``cached_tokens`` the cached input; ``billed_units``
(what Cohere bills) is kept beside them as ``usage.billed_units``. Thinking tokens are not broken
out (``reasoning_tokens`` 0). Left out on purpose: ``user``, ``safety_identifier``, ``metadata``
(no Cohere field), ``stream_options`` and ``_refusals.IGNORED_HINTS``. What Cohere has and the
Responses API lacks (``documents``, ``citation_options``, ``safety_mode``, ``k``, ``seed``,
``stop_sequences``, ``priority``, ...) is a provider extra, sent as given.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

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
    "THINKING_BUDGETS",
    "CohereStreamTranslator",
    "ReasoningKind",
    "build_create",
    "decode_reasoning",
    "encode_reasoning",
    "parse_response",
    "reply_events",
]

ReasoningKind = Literal["thinking", "tool_plan"]
"""Where a Cohere reasoning item came from, and so where it goes back."""

THINKING_BUDGETS: dict[str, int | None] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": None}
"""``reasoning.effort`` → ``thinking.token_budget`` (reference "Chat", ``thinking``; guide "Reasoning",
"Thinking Budgets"). ``None``: thinking on with no budget, the guide's recommendation for the most
reasoning. ``effort: "none"`` sends ``{"type": "disabled"}``."""

_ENVELOPE = "polyresponses.cohere.v1:"
_ROUTE = "Cohere v2 chat"

# Request fields this dialect maps (or, for user/metadata and IGNORED_HINTS, knowingly ignores:
# Cohere has no field for them and they change nothing the model does).
_MAPPED = STATELESS_MAPPED
# Responses fields with no /v2/chat equivalent: refused rather than dropped.
_REFUSED = STATELESS_REFUSED
# Reference "Chat", request body: sampling and length fields and their Cohere names.
_SAMPLING = (
    ("max_output_tokens", "max_tokens"),
    ("temperature", "temperature"),
    ("top_p", "p"),
    ("presence_penalty", "presence_penalty"),
    ("frequency_penalty", "frequency_penalty"),
)
_IMAGE_DETAILS = frozenset({"auto", "low", "high"})  # reference "Chat", ImageUrl.detail


# ------------------------------------------------------------------------------------ request


def build_create(body: Mapping[str, Any], *, provider: str) -> WireRequest:
    """The ``POST /chat`` request (under ``https://api.cohere.com/v2``) for a Responses request ``body``."""
    refuse_unsayable(body, provider=provider, route=_ROUTE, refused=_REFUSED)
    if body.get("parallel_tool_calls") is False:
        raise UnsupportedFeatureError(
            provider, f"parallel_tool_calls=False over {_ROUTE}", "Cohere has no switch for parallel tool calls"
        )
    stream = bool(body.get("stream"))
    wire: dict[str, Any] = {"model": body["model"], "messages": _messages(body, provider), "stream": stream}
    _map_tools(body, wire, provider)
    thinking = _map_reasoning(body, provider)
    if thinking is not None:
        wire["thinking"] = thinking
    for name, key in _SAMPLING:
        if body.get(name) is not None:
            wire[key] = body[name]
    for name, value in body.items():
        if name in _MAPPED or name in _REFUSED:
            continue
        if name in wire and wire[name] != value:
            raise InvalidRequestError(provider, name, "set both by the request and by a provider extra")
        wire[name] = value  # provider extras (documents, citation_options, safety_mode, k, seed, ...)
    _map_format(body, wire, provider)
    return WireRequest("POST", "/chat", wire, stream=stream)


def _messages(body: Mapping[str, Any], provider: str) -> list[dict[str, Any]]:
    """``messages``: one per Responses message or tool output; assistant-side items in a row share one."""
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    for position, item in enumerate(items or []):
        kind = item.get("type", "message")
        where = f"input[{position}]"
        match kind:
            case "message":
                role = item["role"]
                if role == "assistant":
                    parts = _parts(item.get("content"), where, provider, images=False)
                    _assistant(messages).setdefault("content", []).extend(parts)
                elif role in ("system", "developer"):
                    messages.append({"role": "system", "content": _content(item, where, provider, images=False)})
                else:
                    messages.append({"role": "user", "content": _content(item, where, provider, images=True)})
            case "function_call":
                _assistant(messages).setdefault("tool_calls", []).append(_map_call(item))
            case "function_call_output":
                messages.append(_map_output(item, where, provider))
            case "reasoning":
                kept = decode_reasoning(item.get("encrypted_content"), provider)
                if kept is None:
                    continue  # another provider's reasoning (or a summary only): left out, documented
                reasoning_kind, text = kept
                turn = _assistant(messages)
                if reasoning_kind == "tool_plan":
                    turn["tool_plan"] = turn.get("tool_plan", "") + text
                else:
                    turn.setdefault("content", []).append({"type": "thinking", "thinking": text})
            case _:
                raise UnsupportedFeatureError(provider, f"input item type {kind!r} over {_ROUTE} ({where})")
    return messages


def _assistant(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message being gathered: the last message if it is one, else a new one."""
    if messages and messages[-1]["role"] == "assistant":
        return messages[-1]
    turn: dict[str, Any] = {"role": "assistant"}
    messages.append(turn)
    return turn


def _content(item: Mapping[str, Any], where: str, provider: str, *, images: bool) -> Any:
    """A user or system message's ``content``: a string stays a string, parts become Cohere parts."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    return _parts(content, where, provider, images=images)


def _parts(content: Any, where: str, provider: str, *, images: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [
        _map_part(part, f"{where}.content[{index}]", provider, images=images)
        for index, part in enumerate(content or [])
    ]


def _map_part(part: Mapping[str, Any], where: str, provider: str, *, images: bool) -> dict[str, Any]:
    """A Responses content part as a Cohere part (reference "Chat": ``text``; ``image_url`` in user messages)."""
    kind = part.get("type")
    match kind:
        case "input_text" | "output_text":
            return {"type": "text", "text": part["text"]}
        case "refusal":
            return {"type": "text", "text": part["refusal"]}
        case "input_image" if images:
            url = part.get("image_url")
            if url is None:
                raise UnsupportedFeatureError(provider, f"input_image by file_id over {_ROUTE} ({where})")
            image: dict[str, Any] = {"url": url}  # a web URL or a base64 data URL ("Image Inputs")
            if part.get("detail") in _IMAGE_DETAILS:
                image["detail"] = part["detail"]
            return {"type": "image_url", "image_url": image}
        case "input_file":
            raise UnsupportedFeatureError(
                provider,
                f"input_file over {_ROUTE} ({where})",
                "Cohere takes no files in messages; pass text as `documents` (a provider extra)",
            )
        case _:
            raise UnsupportedFeatureError(provider, f"content part {kind!r} here over {_ROUTE} ({where})")


def _map_call(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``function_call`` item as a ``ToolCallV2``; ``arguments`` is a JSON string on both sides."""
    function = {"name": item["name"], "arguments": item.get("arguments") or "{}"}
    return {"id": item["call_id"], "type": "function", "function": function}


def _map_output(item: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A ``function_call_output`` as a ``tool`` message (reference "Chat", ToolMessageV2: text content)."""
    output = item.get("output")
    content: Any = output
    if not isinstance(output, str):
        content = []
        for index, part in enumerate(output or []):
            if part.get("type") != "input_text":
                raise UnsupportedFeatureError(
                    provider, f"{part.get('type')} in a function_call_output over {_ROUTE} ({where}.output[{index}])"
                )
            content.append({"type": "text", "text": part["text"]})
    return {"role": "tool", "tool_call_id": item["call_id"], "content": content}


def _map_tools(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    """Function tools → ``tools``/``strict_tools``; ``tool_choice`` → ``REQUIRED``/``NONE`` or nothing."""
    tools: list[dict[str, Any]] = []
    strict: set[bool | None] = set()
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            raise UnsupportedFeatureError(provider, f"{tool.get('type')!r} tools over {_ROUTE} (tools[{index}])")
        # Reference "Chat", ToolV2Function: name and parameters (JSON Schema) are required.
        function: dict[str, Any] = {
            "name": tool["name"],
            "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
        }
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
        strict.add(tool.get("strict"))
    if True in strict:
        if strict != {True}:
            raise UnsupportedFeatureError(
                provider,
                f"strict on some function tools only over {_ROUTE}",
                "Cohere's strict_tools applies to every tool of a request",
            )
        wire["strict_tools"] = True  # "Structured Outputs", "Structured Outputs (Tools)"
    names = [tool["function"]["name"] for tool in tools]
    choice = body.get("tool_choice")
    mapped: str | None = None
    # Reference "Chat", tool_choice: REQUIRED or NONE; left out, the model chooses (auto).
    match choice:
        case None | "auto":
            pass
        case "required":
            mapped = "REQUIRED"
        case "none":
            mapped = "NONE"
        case {"type": "function", "name": name}:
            if name not in names:
                raise InvalidRequestError(
                    provider, "tool_choice.name", f"{name!r} is not one of the offered function tools"
                )
            if names != [name]:
                raise UnsupportedFeatureError(
                    provider,
                    f"tool_choice forcing the function {name!r} over {_ROUTE}",
                    "Cohere can require a call to one of the offered tools (REQUIRED), not to a named one; "
                    "offer only that tool, or use tool_choice 'required'",
                )
            mapped = "REQUIRED"  # the only tool offered: requiring a call is requiring this one
        case {"type": "allowed_tools"}:
            allowed = [entry.get("name") for entry in choice.get("tools") or []]
            unknown = [name for name in allowed if name not in names]
            if unknown:
                raise InvalidRequestError(provider, "tool_choice.tools", f"{unknown!r} are not offered function tools")
            tools = [tool for tool in tools if tool["function"]["name"] in allowed]  # only these may be called
            mapped = "REQUIRED" if choice.get("mode", "auto") == "required" else None
        case _:
            label = choice.get("type") if isinstance(choice, Mapping) else choice
            raise UnsupportedFeatureError(provider, f"tool_choice {label!r} over {_ROUTE}")
    if not tools:
        if mapped == "REQUIRED":
            raise InvalidRequestError(
                provider, "tool_choice", "it asks for a tool call but no function tool is offered"
            )
        wire.pop("strict_tools", None)
        return
    wire["tools"] = tools
    if mapped is not None:
        wire["tool_choice"] = mapped


def _map_format(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    """``text.format`` → ``response_format`` (reference "Chat", ResponseFormatV2: ``json_object`` with an
    optional ``json_schema``; the "Structured Outputs" guide spells the key ``schema``, the reference and
    cohere-python ``json_schema``, which is what is sent)."""
    text = body.get("text") or {}
    if text.get("verbosity") is not None:
        raise UnsupportedFeatureError(provider, f"text.verbosity over {_ROUTE}")
    fmt = text.get("format")
    match fmt.get("type") if isinstance(fmt, Mapping) else None:
        case None | "text":
            return
        case "json_schema":
            response_format = {"type": "json_object", "json_schema": cast("Mapping[str, Any]", fmt).get("schema", {})}
        case "json_object":
            response_format = {"type": "json_object"}
        case other:
            raise UnsupportedFeatureError(provider, f"text.format {other!r} over {_ROUTE}")
    # Reference "Chat", response_format: "not supported when used in combinations with the documents or
    # tools parameters" — refused here rather than sent to fail.
    for clashing in ("tools", "documents"):
        if wire.get(clashing):
            raise UnsupportedFeatureError(
                provider,
                f"text.format {response_format['type']} together with {clashing} over {_ROUTE}",
                "Cohere's reference: response_format is not supported in combination with tools or documents",
            )
    if "response_format" in wire and wire["response_format"] != response_format:
        raise InvalidRequestError(provider, "response_format", "set both by text.format and by a provider extra")
    wire["response_format"] = response_format


def _map_reasoning(body: Mapping[str, Any], provider: str) -> dict[str, Any] | None:
    """``reasoning.effort`` → ``thinking`` (reference "Chat", Thinking: ``type``, ``token_budget``)."""
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is None:
        return None
    if effort == "none":
        return {"type": "disabled"}  # "Reasoning": thinking is on by default for reasoning models
    if effort not in THINKING_BUDGETS:
        raise UnsupportedFeatureError(provider, f"reasoning.effort {effort!r} over {_ROUTE}")
    budget = THINKING_BUDGETS[effort]
    return {"type": "enabled"} if budget is None else {"type": "enabled", "token_budget": budget}


def encode_reasoning(provider: str, kind: ReasoningKind, text: str) -> str:
    """Thinking text or a tool plan as a reasoning item's ``encrypted_content``."""
    return seal(_ENVELOPE, provider, {kind: text})


def decode_reasoning(value: str | None, provider: str) -> tuple[ReasoningKind, str] | None:
    """``(kind, text)`` as :func:`encode_reasoning` stored it, if it came from ``provider``; else ``None``."""
    payload = unseal(_ENVELOPE, value)
    if payload is None or payload.get("provider") != provider:
        return None
    for kind in ("thinking", "tool_plan"):
        if isinstance(payload.get(kind), str):
            return kind, str(payload[kind])
    return None


# -------------------------------------------------------------------------------- reply, stream


def parse_response(content: bytes, *, provider: str, request: Mapping[str, Any]) -> Response:
    """A whole ``/v2/chat`` reply as the canonical ``Response``."""
    translator = CohereStreamTranslator(provider, request)
    translator.whole_reply(content)
    if translator.final is None:  # pragma: no cover - whole_reply always ends the response
        raise APIResponseValidationError("reply had no end", provider=provider)
    return translator.final


def reply_events(reply: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stream events a whole reply equals (reference "Chat with Streaming"; guide "Streaming Responses")."""
    message: Mapping[str, Any] = reply.get("message") or {}
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": reply.get("id"), "delta": {"message": {"role": "assistant"}}}
    ]
    for index, part in enumerate(message.get("content") or []):
        kind = part.get("type")
        opened = {**part, kind: ""} if kind in ("text", "thinking") else dict(part)
        events.append({"type": "content-start", "index": index, "delta": {"message": {"content": opened}}})
        if kind in ("text", "thinking") and part.get(kind):
            delta = {"message": {"content": {kind: part[kind]}}}
            events.append({"type": "content-delta", "index": index, "delta": delta})
        events.append({"type": "content-end", "index": index})
    if message.get("tool_plan"):
        events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": message["tool_plan"]}}})
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        started = {**call, "function": {**function, "arguments": ""}}
        events.append({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": started}}})
        if function.get("arguments"):
            arguments = {"function": {"arguments": function["arguments"]}}
            events.append({"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls": arguments}}})
        events.append({"type": "tool-call-end", "index": index})
    for index, citation in enumerate(message.get("citations") or []):
        events.append({"type": "citation-start", "index": index, "delta": {"message": {"citations": citation}}})
        events.append({"type": "citation-end", "index": index})
    end = {"finish_reason": reply.get("finish_reason"), "usage": reply.get("usage")}
    events.append({"type": "message-end", "delta": end})
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
    source: ReasoningKind = "thinking"
    """Reasoning: a ``thinking`` content part, or the ``tool_plan``."""
    done: bool = False
    data: dict[str, Any] | None = None


class CohereStreamTranslator(SynthesizedStream):
    """``/v2/chat`` stream → Responses events: ``feed(bytes)``/``finish()``, or ``consume(event)``.

    Same surface as the other translators (``final``, ``snapshot``, ``done``, ``partial()``,
    ``error_for()``, ``unknown_events``, ``whole_reply()``), so the stream shells drive any of them.
    Each SSE ``data`` is a JSON event whose ``type`` names it (the ``event:`` line repeats the type).
    """

    what = "Cohere chat reply"

    def __init__(self, provider: str, request: Mapping[str, Any]) -> None:
        super().__init__(provider, request)
        self._items: list[_Item] = []
        self._open_item: _Item | None = None
        self._by_content: dict[int, _Item] = {}
        self._by_call: dict[int, _Item] = {}
        self._finish_reason: str | None = None
        self._error: str | None = None

    # ----------------------------------------------------------------------------- driving

    def finish(self) -> list[ResponseStreamEvent]:
        """End of the byte stream. Without a ``message-end`` the response stays open: cut short."""
        return self._translate(self._decoder.finish())

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """A whole reply (or a server that ignored ``stream: true``), as its events."""
        reply = self._json_object(content, "the reply")
        if not isinstance(reply.get("message"), Mapping) or "finish_reason" not in reply:
            raise APIResponseValidationError(
                "reply is not a Cohere chat reply (no message and finish_reason)",
                provider=self.provider,
                body=str(reply)[:500],
            )
        extra = {key: value for key, value in reply.items() if key not in ("id", "finish_reason", "message", "usage")}
        for event in reply_events(reply):
            self.consume(event)
        if extra:
            self.unknown_events.append(extra)  # logprobs, and anything new: kept, not guessed at
        self.close()
        return self._take()

    # ----------------------------------------------------------------------------- events

    def consume(self, event: Mapping[str, Any]) -> None:
        """One ``/v2/chat`` stream event ("Chat with Streaming" reference); Responses events queue up."""
        kind = event.get("type")
        index = event.get("index")
        position = index if isinstance(index, int) and not isinstance(index, bool) else 0
        message = _message_of(event)
        match kind:
            case "message-start":
                self._start(event.get("id"))
            case "content-start":
                self._start(None)
                self._content_start(position, _mapping(message.get("content")), event)
            case "content-delta":
                self._start(None)
                self._content_delta(position, _mapping(message.get("content")))
            case "content-end":
                item = self._by_content.get(position)
                if item is not None and item.kind == "reasoning":
                    self._close_item(item)  # a message stays open: a following text part joins it
            case "tool-plan-delta":
                self._start(None)
                self._plan_delta(message.get("tool_plan"))
            case "tool-call-start":
                self._start(None)
                self._call_start(position, _call_of(message))
            case "tool-call-delta":
                self._call_delta(position, _call_of(message), event)
            case "tool-call-end":
                item = self._by_call.get(position)
                if item is not None:
                    self._close_item(item)
            case "message-end":
                self._start(None)
                delta = _mapping(event.get("delta"))
                if isinstance(delta.get("finish_reason"), str):
                    self._finish_reason = delta["finish_reason"]
                if isinstance(delta.get("usage"), Mapping):
                    self._usage = dict(delta["usage"])
                if delta.get("error"):
                    self._error = str(delta["error"])
                self.close()
            case _:
                # citation-start/-end, debug and anything new: kept whole, never dropped silently.
                self.unknown_events.append(dict(event))

    def _start(self, raw_id: Any) -> None:
        if not self._started:
            self._begin(raw_id)

    def _map_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        return _map_usage(usage)

    def _content_start(self, index: int, content: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """A content block opens: ``thinking`` → a reasoning item, ``text`` → a part of the open message."""
        kind = content.get("type") or ("thinking" if "thinking" in content else "text")
        match kind:
            case "thinking":
                item = self._open_reasoning("thinking")
            case "text":
                item = self._open_part()
            case _:
                self.unknown_events.append(dict(event))
                return
        self._by_content[index] = item
        self._content_delta(index, content)

    def _content_delta(self, index: int, content: Mapping[str, Any]) -> None:
        """``delta.message.content.text`` or ``.thinking``; a delta with no open block opens one."""
        item = self._by_content.get(index)
        thinking, text = content.get("thinking"), content.get("text")
        if isinstance(thinking, str) and thinking:
            if item is None or item.done or item.kind != "reasoning":
                item = self._by_content[index] = self._open_reasoning("thinking")
            self._append(item, thinking)
        if isinstance(text, str) and text:
            if item is None or item.done or item.kind != "message":
                item = self._by_content[index] = self._open_part()
            self._append(item, text)

    def _plan_delta(self, text: Any) -> None:
        """``delta.message.tool_plan``: the plan before the calls, one reasoning item."""
        item = self._open_item
        if item is None or item.kind != "reasoning" or item.source != "tool_plan":
            item = self._open_reasoning("tool_plan")
        if isinstance(text, str) and text:
            self._append(item, text)

    def _call_start(self, index: int, call: Mapping[str, Any]) -> None:
        """``delta.message.tool_calls``: the call's id and function name; arguments follow as deltas."""
        self._close_open()
        item = self._open("function_call", "fc")
        function = _mapping(call.get("function"))
        item.call_id = str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")
        item.name = str(function.get("name") or "")
        item.parts.append([])
        self._open_item = self._by_call[index] = item
        self._item_added(item.output_index, item.id, "function_call", call_id=item.call_id, name=item.name)
        if isinstance(function.get("arguments"), str) and function["arguments"]:
            self._append(item, function["arguments"])

    def _call_delta(self, index: int, call: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        item = self._by_call.get(index)
        if item is None or item.done:
            self.unknown_events.append(dict(event))
            return
        arguments = _mapping(call.get("function")).get("arguments")
        if isinstance(arguments, str) and arguments:
            self._append(item, arguments)

    # ----------------------------------------------------------------------------- items

    def _open(self, kind: Literal["message", "reasoning", "function_call"], prefix: str) -> _Item:
        index = len(self._items)
        item = _Item(index, f"{prefix}_{self._id.removeprefix('resp_')}_{index}", kind)
        self._items.append(item)
        return item

    def _close_open(self) -> None:
        if self._open_item is not None:
            self._close_item(self._open_item)

    def _open_reasoning(self, source: ReasoningKind) -> _Item:
        self._close_open()
        item = self._open_item = self._open("reasoning", "rs")
        item.source = source
        item.parts.append([])
        self._item_added(item.output_index, item.id, "reasoning")
        part = {"type": "reasoning_text", "text": ""}
        self._emit(self._part_event("response.content_part.added", item.id, item.output_index, 0, part))
        return item

    def _open_part(self) -> _Item:
        """A new ``output_text`` part: of the open message, or of a new one."""
        item = self._open_item
        if item is None or item.kind != "message":
            self._close_open()
            item = self._open_item = self._open("message", "msg")
            self._item_added(item.output_index, item.id, "message")
        item.parts.append([])
        part_index = len(item.parts) - 1
        self._emit(
            self._part_event(
                "response.content_part.added", item.id, item.output_index, part_index, output_text_part("")
            )
        )
        return item

    def _append(self, item: _Item, text: str) -> None:
        item.parts[-1].append(text)
        at = (item.id, item.output_index)
        match item.kind:
            case "message":
                last = len(item.parts) - 1
                self._item_event("response.output_text.delta", *at, content_index=last, delta=text, logprobs=[])
            case "reasoning":
                self._item_event("response.reasoning_text.delta", *at, content_index=0, delta=text)
            case "function_call":
                self._item_event("response.function_call_arguments.delta", *at, delta=text)

    def _close_item(self, item: _Item) -> None:
        if item.done:
            return
        if self._open_item is item:
            self._open_item = None
        at = (item.id, item.output_index)
        match item.kind:
            case "message":
                for index, pieces in enumerate(item.parts):
                    text = "".join(pieces)
                    self._item_event("response.output_text.done", *at, content_index=index, text=text, logprobs=[])
                    self._emit(self._part_event("response.content_part.done", *at, index, output_text_part(text)))
            case "reasoning":
                text = "".join(item.parts[0])
                self._item_event("response.reasoning_text.done", *at, content_index=0, text=text)
                part = {"type": "reasoning_text", "text": text}
                self._emit(self._part_event("response.content_part.done", *at, 0, part))
            case "function_call":
                arguments = "".join(item.parts[0]) or "{}"
                item.parts[0] = [arguments]
                self._item_event("response.function_call_arguments.done", *at, name=item.name, arguments=arguments)
        item.done = True
        item.data = self._item_data(item)
        self._item_done(item.output_index, item.data)

    def _output_so_far(self) -> list[dict[str, Any]]:
        return [self._item_data(item) for item in self._items]

    def _item_data(self, item: _Item) -> dict[str, Any]:
        if item.data is not None:
            return item.data
        status = "completed" if item.done else "in_progress"
        if item.done and self._finish_reason == "MAX_TOKENS":
            status = "incomplete"
        match item.kind:
            case "message":
                content = [output_text_part("".join(pieces)) for pieces in item.parts]
                return {"type": "message", "id": item.id, "role": "assistant", "status": status, "content": content}
            case "reasoning":
                text = "".join(item.parts[0])
                data: dict[str, Any] = {"type": "reasoning", "id": item.id, "summary": [], "status": status}
                data["content"] = [{"type": "reasoning_text", "text": text}]
                if item.done:
                    data["encrypted_content"] = encode_reasoning(self.provider, item.source, text)
                return data
            case "function_call":
                return function_call_item(item.id, item.call_id, item.name, "".join(item.parts[0]), status)

    def close(self) -> None:
        """End the response: close the open item, then the terminal event."""
        if self.final is not None:
            return
        self._start(None)
        for item in self._items:
            self._close_item(item)
        output = [self._item_data(item) for item in self._items]
        error = _finish_error(self._finish_reason, self._error)
        if error is not None:
            self._end(output, "failed", error=error)
        else:
            status, details = _map_finish(self._finish_reason)
            self._end(output, status, incomplete=details)


def _mapping(value: Any) -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}


def _message_of(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """``delta.message`` of a stream event (every event with a payload nests it there)."""
    return _mapping(_mapping(event.get("delta")).get("message"))


def _call_of(message: Mapping[str, Any]) -> Mapping[str, Any]:
    """``delta.message.tool_calls``: one call object in the stream (a one-element list is read too)."""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        return _mapping(calls[0])
    return _mapping(calls)


def _map_finish(reason: str | None) -> tuple[str, dict[str, Any] | None]:
    """``finish_reason`` → ``(status, incomplete_details)`` (reference "Chat", ChatFinishReason)."""
    match reason:
        case "MAX_TOKENS":
            return "incomplete", {"reason": "max_output_tokens"}
        case _:
            # COMPLETE, STOP_SEQUENCE, TOOL_CALL, or none at all: a completed answer.
            return "completed", None


def _finish_error(reason: str | None, message: str | None) -> dict[str, Any] | None:
    """``ERROR`` and ``TIMEOUT`` (and ``message-end``'s ``delta.error``): the response fails, clearly."""
    detail = f": {message}" if message else ""
    match reason:
        case "ERROR":
            return {"code": "server_error", "message": f"Cohere ended the reply with an error (ERROR){detail}"}
        case "TIMEOUT":
            return {"code": "server_error", "message": f"Cohere timed out generating the reply (TIMEOUT){detail}"}
        case _ if message:
            return {"code": "server_error", "message": f"Cohere reported an error: {message}"}
        case _:
            return None


def _map_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """``usage`` → usage (reference "Chat", Usage): ``tokens`` counted, ``billed_units`` kept beside them.

    ``tokens`` are what the model read and wrote (the system preamble Cohere adds included);
    ``billed_units`` what Cohere charges. Without ``tokens`` the billed units are the best count there is.
    """
    tokens = _mapping(usage.get("tokens"))
    billed = _mapping(usage.get("billed_units"))
    counted = tokens or billed
    prompt = int(counted.get("input_tokens") or 0)
    output = int(counted.get("output_tokens") or 0)
    mapped: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": min(int(usage.get("cached_tokens") or 0), prompt)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }
    if billed:
        mapped["billed_units"] = {key: int(value) for key, value in billed.items() if isinstance(value, int | float)}
    return mapped
