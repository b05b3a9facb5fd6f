"""The Bedrock Converse dialect: the Responses API over ``POST /model/{modelId}/converse[-stream]``. Pure.

Followed: the Bedrock API reference "Converse" and "ConverseStream" (docs.aws.amazon.com/bedrock/latest/
APIReference/API_runtime_Converse.html, API_runtime_ConverseStream.html, and the shapes they link:
Message, ContentBlock, ToolConfiguration, ReasoningContentBlock, ConverseStreamOutput, TokenUsage,
OutputConfig), checked against the recorded traffic in ``shared/fixtures/recorded/bedrock_converse``
and botocore's bedrock-runtime service model (tests).

Request: the model id (or inference-profile id, or ARN) is one path segment, percent-encoded whole
(``us.amazon.nova-micro-v1:0`` → ``us.amazon.nova-micro-v1%3A0``). ``instructions`` and system or
developer messages become ``system`` blocks; user messages and tool outputs ``user`` messages,
assistant-side items ``assistant`` messages (consecutive items of one role share a message, as
Converse wants roles to alternate). Parts: text; images as ``image`` blocks from base64 data URLs
(Converse takes bytes or S3 locations, not web URLs); files as ``document`` blocks; a
``function_call`` is a ``toolUse`` (its arguments parsed: Converse takes the input as an object), a
``function_call_output`` a ``toolResult``. A part, system part or function tool carrying
``cache_point`` (a provider extension: ``{"type": "default"}``) is followed by a ``cachePoint`` block.

Reasoning round trip: a ``reasoningContent`` block becomes a reasoning item (``reasoning_text`` with
the text; none for redacted content) whose ``encrypted_content`` keeps the text, the signature or the
redacted bytes and the model, tagged with the provider (``polyresponses.bedrock.v1:`` + base64 JSON).
Given back to the same provider and model it is the same block again, byte for byte (Anthropic's
models on Bedrock reject a changed signature); to any other model or provider it is left out, as
every dialect leaves out what is not its own.

``reasoning.effort`` is model-family specific (``additionalModelRequestFields``, "Inference request
parameters for foundation models"): Anthropic's models take ``thinking`` with a token budget, Amazon
Nova 2 ``reasoningConfig`` with ``maxReasoningEffort``, OpenAI's open-weight models
``reasoning_effort``; other families refuse it (pass their own fields as a provider extra).

Reply and stream: one state machine; a whole reply is read as the stream of events it equals
(:func:`reply_events`). ConverseStream's frames (AWS event-stream framing, ``_eventstream``) carry
``messageStart`` → ``contentBlockStart`` (tool blocks) → ``contentBlockDelta`` → ``contentBlockStop``
→ ``messageStop`` (``stopReason``) → ``metadata`` (usage), which ends the response. An exception
frame (``throttlingException``, ``modelStreamErrorException``, ...) fails the response with what AWS
said. Blocks of a tool Bedrock runs itself (``server_tool_use``, Nova's code interpreter, with its
``toolResult``) have no Responses item and must not read as a call to run: they are kept in
``unknown_events``, as are citations. ``stopReason`` → status: ``max_tokens`` and
``model_context_window_exceeded`` are incomplete (``max_output_tokens``), ``guardrail_intervened``
and ``content_filtered`` incomplete (``content_filter``). Usage counts cache reads and writes into
``input_tokens`` (Converse reports them apart, as Anthropic does) and cache reads as ``cached_tokens``.

Left out on purpose: ``user``, ``safety_identifier``, ``metadata``, ``stream_options`` and the
``IGNORED_HINTS``. Refused: penalties (no Converse field), ``parallel_tool_calls=False`` (no switch),
``json_object`` output (only a JSON schema), and the stateless dialects' list. What Converse has and
the Responses API lacks (``additionalModelRequestFields``, ``guardrailConfig``, ``performanceConfig``,
``requestMetadata``, ``promptVariables``, ``serviceTier``, ...) is a provider extra, sent as given.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote

from polyresponses.router._errors import APIResponseValidationError, InvalidRequestError, UnsupportedFeatureError
from polyresponses.router._eventstream import EventStreamDecoder, EventStreamError, EventStreamMessage
from polyresponses.router.dialects._envelope import seal, unseal
from polyresponses.router.dialects._refusals import STATELESS_MAPPED, STATELESS_REFUSED, refuse_unsayable
from polyresponses.router.dialects._synth import SynthesizedStream, function_call_item, output_text_part
from polyresponses.router.dialects._wire_request import WireRequest
from polyresponses.router.dialects.anthropic_messages import THINKING_BUDGETS, fit_thinking

if TYPE_CHECKING:
    from polyresponses.types import Response, ResponseStreamEvent

__all__ = [
    "BedrockStreamTranslator",
    "build_create",
    "decode_reasoning",
    "encode_reasoning",
    "model_path",
    "parse_response",
    "reply_events",
]

_ENVELOPE = "polyresponses.bedrock.v1:"
_ROUTE = "Bedrock Converse"

_MAPPED = STATELESS_MAPPED
_REFUSED = {
    **STATELESS_REFUSED,
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
# API_runtime_InferenceConfiguration: the sampling and length fields and their Converse names.
_INFERENCE = (("max_output_tokens", "maxTokens"), ("temperature", "temperature"), ("top_p", "topP"))
# API_runtime_ImageBlock / DocumentBlock: the formats Converse names (a media type's subtype mostly).
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_NOVA_EFFORTS = frozenset({"low", "medium", "high"})  # Nova 2 "Extended thinking": maxReasoningEffort
_OPENAI_EFFORTS = frozenset({"low", "medium", "high"})  # gpt-oss on Bedrock: reasoning_effort


def model_path(model: str, *, stream: bool) -> str:
    """``/model/{modelId}/converse[-stream]``; the id percent-encoded as one segment (ARNs hold ``/``)."""
    return f"/model/{quote(model, safe='')}/{'converse-stream' if stream else 'converse'}"


# ------------------------------------------------------------------------------------ request


def build_create(body: Mapping[str, Any], *, provider: str) -> WireRequest:
    """The Converse (or ConverseStream) request for a Responses request ``body``."""
    refuse_unsayable(body, provider=provider, route=_ROUTE, refused=_REFUSED)
    if body.get("parallel_tool_calls") is False:
        raise UnsupportedFeatureError(
            provider, f"parallel_tool_calls=False over {_ROUTE}", "Converse has no switch for parallel tool calls"
        )
    model = str(body["model"])
    stream = bool(body.get("stream"))
    system, messages = _messages(body, provider, model)
    wire: dict[str, Any] = {"messages": messages}
    if system:
        wire["system"] = system
    inference = {key: body[name] for name, key in _INFERENCE if body.get(name) is not None}
    if inference:
        wire["inferenceConfig"] = inference
    _map_tools(body, wire, provider)
    extra_fields = _map_reasoning(body, provider, model)
    thinking = extra_fields.get("thinking")
    if isinstance(thinking, dict):  # Claude: budget_tokens < maxTokens, with room left for the answer
        inference["maxTokens"] = fit_thinking(body.get("max_output_tokens"), thinking, provider)
        wire["inferenceConfig"] = inference
    _map_format(body, wire, provider)
    _unique_document_names(messages)
    for name, value in body.items():
        if name in _MAPPED or name in _REFUSED:
            continue
        if name in wire and wire[name] != value:
            raise InvalidRequestError(provider, name, "set both by the request and by a provider extra")
        wire[name] = value  # provider extras (additionalModelRequestFields, guardrailConfig, ...)
    if extra_fields:
        given = wire.get("additionalModelRequestFields") or {}
        clash = sorted(set(given) & set(extra_fields))
        if clash:
            raise InvalidRequestError(
                provider,
                f"additionalModelRequestFields.{clash[0]}",
                "set both by reasoning.effort and by a provider extra",
            )
        wire["additionalModelRequestFields"] = {**given, **extra_fields}
    accept = "application/vnd.amazon.eventstream" if stream else "application/json"
    return WireRequest("POST", model_path(model, stream=stream), wire, stream=stream, accept=accept)


def _messages(body: Mapping[str, Any], provider: str, model: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system, messages)``: system blocks gathered in order, messages with alternating roles."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        system.append({"text": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return system, [{"role": "user", "content": [{"text": items}]}]
    for position, item in enumerate(items or []):
        kind = item.get("type", "message")
        where = f"input[{position}]"
        match kind:
            case "message":
                role = item["role"]
                blocks = _blocks(item.get("content"), where, provider, role=role)
                if role in ("system", "developer"):
                    system.extend(blocks)
                elif blocks:  # an empty message says nothing, and Converse rejects empty content
                    _turn(messages, "assistant" if role == "assistant" else "user").extend(blocks)
            case "function_call":
                _turn(messages, "assistant").append(_tool_use(item, where, provider))
            case "function_call_output":
                _turn(messages, "user").append(_tool_result(item, where, provider))
            case "reasoning":
                block = decode_reasoning(item.get("encrypted_content"), provider, model)
                if block is not None:  # another model's or provider's reasoning (or a summary): left out
                    _turn(messages, "assistant").append(block)
            case _:
                raise UnsupportedFeatureError(provider, f"input item type {kind!r} over {_ROUTE} ({where})")
    return system, messages


def _turn(messages: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """The content of the message being gathered for ``role``: the last one if it has that role."""
    if not messages or messages[-1]["role"] != role:
        messages.append({"role": role, "content": []})
    content: list[dict[str, Any]] = messages[-1]["content"]
    return content


def _blocks(content: Any, where: str, provider: str, *, role: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content or []):
        at = f"{where}.content[{index}]"
        block = _map_part(part, at, provider)
        if block.get("text") == "":
            continue  # Converse rejects blank text blocks; an empty part says nothing
        if role in ("system", "developer") and "text" not in block:
            raise UnsupportedFeatureError(provider, f"{part.get('type')} in a {role} message over {_ROUTE} ({at})")
        blocks.append(block)
        blocks.extend(_cache_point(part, at, provider))
    return blocks


def _cache_point(part: Mapping[str, Any], where: str, provider: str) -> list[dict[str, Any]]:
    """``cache_point`` on a part or tool (a provider extension) → the ``cachePoint`` block after it
    (API_runtime_CachePointBlock: ``{"type": "default"}``)."""
    point = part.get("cache_point")
    if point is None:
        return []
    if not isinstance(point, Mapping):
        raise InvalidRequestError(provider, f"{where}.cache_point", 'must be an object such as {"type": "default"}')
    return [{"cachePoint": dict(point)}]


def _map_part(part: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A Responses content part as a Converse ContentBlock."""
    kind = part.get("type")
    match kind:
        case "input_text" | "output_text":
            return {"text": part["text"]}
        case "refusal":
            return {"text": part["refusal"]}
        case "input_image":
            url = part.get("image_url")
            if url is None:
                raise UnsupportedFeatureError(provider, f"input_image by file_id over {_ROUTE} ({where})")
            media_type, data = _data_url(url, where, provider, "an image")
            image_format = _IMAGE_FORMATS.get(media_type)
            if image_format is None:
                raise UnsupportedFeatureError(provider, f"{media_type} images over {_ROUTE} ({where})")
            return {"image": {"format": image_format, "source": {"bytes": data}}}
        case "input_file":
            if part.get("file_data") is None:
                raise UnsupportedFeatureError(
                    provider, f"input_file by file_id or file_url over {_ROUTE} ({where})", "give file_data"
                )
            media_type, data = _data_url(part["file_data"], where, provider, "a file", default="application/pdf")
            document_format = _DOCUMENT_FORMATS.get(media_type)
            if document_format is None:
                raise UnsupportedFeatureError(provider, f"{media_type} documents over {_ROUTE} ({where})")
            name = _document_name(part.get("filename"))
            return {"document": {"name": name, "format": document_format, "source": {"bytes": data}}}
        case _:
            raise UnsupportedFeatureError(provider, f"content part {kind!r} over {_ROUTE} ({where})")


def _data_url(url: str, where: str, provider: str, what: str, default: str | None = None) -> tuple[str, str]:
    """``(media type, base64 data)`` of a base64 data URL (or bare base64 with a ``default`` type)."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0] or default
        if ";base64" not in header or not media_type:
            raise InvalidRequestError(provider, where, "a data URL must be base64 with a media type")
        return media_type.lower(), data
    if url.startswith(("http://", "https://")):
        raise UnsupportedFeatureError(
            provider,
            f"{what} by URL over {_ROUTE} ({where})",
            "Converse takes the bytes (a base64 data URL) or an S3 location (a provider extra), not web URLs",
        )
    if default is None:
        raise InvalidRequestError(provider, where, "expected a base64 data URL")
    return default, url


def _document_name(filename: Any) -> str:
    """API_runtime_DocumentBlock ``name``: letters, digits, whitespace, hyphens, parentheses and square
    brackets only, no consecutive whitespace; the file name is reduced to that."""
    stem = str(filename or "document").rsplit(".", 1)[0]
    cleaned = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9\s\-\(\)\[\]]", " ", stem)).strip()
    return cleaned or "document"


_DOCUMENT_NAME_LIMIT = 200  # API_runtime_DocumentBlock: name, length 1..200


def _unique_document_names(messages: list[dict[str, Any]]) -> None:
    """Converse refuses a request whose documents share a name ("duplicate document names"), and the whole
    history is sent again every turn: the names of a request's documents (tool results' included) are
    made unique (``name``, ``name 2``, ...) within the length limit, deterministically in order."""
    seen: set[str] = set()
    for document in _documents(messages):
        stem = str(document["name"])[:_DOCUMENT_NAME_LIMIT]
        name, number = stem, 1
        while name in seen:
            number += 1
            suffix = f" {number}"
            name = stem[: _DOCUMENT_NAME_LIMIT - len(suffix)] + suffix
        seen.add(name)
        document["name"] = name


def _documents(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for message in messages:
        for block in message["content"]:
            inner = block.get("toolResult", {}).get("content", []) if "toolResult" in block else [block]
            found += [part["document"] for part in inner if "document" in part]
    return found


def _tool_use(item: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A ``function_call`` as a ``toolUse`` block (API_runtime_ToolUseBlock: ``input`` is a JSON document)."""
    arguments = item.get("arguments") or "{}"
    try:
        parsed = json.loads(arguments)
    except ValueError:
        raise InvalidRequestError(
            provider, f"{where}.arguments", "not JSON: Converse takes tool input as an object"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(provider, f"{where}.arguments", "Converse takes tool input as a JSON object")
    return {"toolUse": {"toolUseId": item["call_id"], "name": item["name"], "input": parsed}}


def _tool_result(item: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A ``function_call_output`` as a ``toolResult`` block (API_runtime_ToolResultBlock: text and image
    content; ``status`` success, as the Responses item has no error flag)."""
    output = item.get("output")
    content: list[dict[str, Any]]
    if isinstance(output, str):
        content = [{"text": output}]
    else:
        content = []
        for index, part in enumerate(output or []):
            at = f"{where}.output[{index}]"
            if part.get("type") not in ("input_text", "input_image", "input_file"):
                raise UnsupportedFeatureError(provider, f"{part.get('type')} in a function_call_output ({at})")
            content.append(_map_part(part, at, provider))
    return {"toolResult": {"toolUseId": item["call_id"], "content": content, "status": "success"}}


def _map_tools(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    """Function tools → ``toolConfig.tools`` (``toolSpec``); ``tool_choice`` → ``auto``/``any``/``tool``."""
    tools: list[dict[str, Any]] = []
    names: list[str] = []
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            raise UnsupportedFeatureError(provider, f"{tool.get('type')!r} tools over {_ROUTE} (tools[{index}])")
        spec: dict[str, Any] = {
            "name": tool["name"],
            "inputSchema": {"json": tool.get("parameters") or {"type": "object", "properties": {}}},
        }
        if tool.get("description") is not None:
            spec["description"] = tool["description"]
        if tool.get("strict"):
            spec["strict"] = True  # API_runtime_ToolSpecification.strict: structured output for the call's input
        tools.append({"toolSpec": spec})
        tools.extend(_cache_point(tool, f"tools[{index}]", provider))
        names.append(tool["name"])
    choice = body.get("tool_choice")
    mapped: dict[str, Any] | None = None
    # API_runtime_ToolChoice: auto, any (a call to some tool) or tool (that one).
    match choice:
        case None:
            pass
        case "auto":
            mapped = {"auto": {}}
        case "required":
            mapped = {"any": {}}
        case "none":
            if _has_tool_history(body):
                raise UnsupportedFeatureError(
                    provider,
                    f"tool_choice 'none' with earlier tool calls over {_ROUTE}",
                    "Converse has no 'none' choice, and a conversation with tool calls needs the tools offered",
                )
            return  # no tools offered: the model cannot call one
        case {"type": "function", "name": name}:
            if name not in names:
                raise InvalidRequestError(
                    provider, "tool_choice.name", f"{name!r} is not one of the offered function tools"
                )
            mapped = {"tool": {"name": name}}
        case {"type": "allowed_tools"}:
            allowed = [entry.get("name") for entry in choice.get("tools") or []]
            unknown = [name for name in allowed if name not in names]
            if unknown:
                raise InvalidRequestError(provider, "tool_choice.tools", f"{unknown!r} are not offered function tools")
            tools = [tool for tool in tools if "toolSpec" not in tool or tool["toolSpec"]["name"] in allowed]
            mapped = {"any": {}} if choice.get("mode", "auto") == "required" else {"auto": {}}
        case _:
            label = choice.get("type") if isinstance(choice, Mapping) else choice
            raise UnsupportedFeatureError(provider, f"tool_choice {label!r} over {_ROUTE}")
    if not any("toolSpec" in tool for tool in tools):
        if mapped is not None and "auto" not in mapped:
            raise InvalidRequestError(
                provider, "tool_choice", "it asks for a tool call but no function tool is offered"
            )
        return
    config: dict[str, Any] = {"tools": tools}
    if mapped is not None:
        config["toolChoice"] = mapped
    wire["toolConfig"] = config


def _has_tool_history(body: Mapping[str, Any]) -> bool:
    items = body.get("input")
    return isinstance(items, list) and any(
        item.get("type") in ("function_call", "function_call_output") for item in items
    )


def _map_format(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    """``text.format`` json_schema → ``outputConfig.textFormat`` (API_runtime_OutputConfig: a JSON schema
    given as a string, with its name and description)."""
    text = body.get("text") or {}
    if text.get("verbosity") is not None:
        raise UnsupportedFeatureError(provider, f"text.verbosity over {_ROUTE}")
    fmt = text.get("format")
    match fmt.get("type") if isinstance(fmt, Mapping) else None:
        case None | "text":
            return
        case "json_schema":
            fmt = cast("Mapping[str, Any]", fmt)
            schema: dict[str, Any] = {
                "name": fmt.get("name") or "response",
                "schema": json.dumps(fmt.get("schema", {})),
            }
            if fmt.get("description") is not None:
                schema["description"] = fmt["description"]
            output_config = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}
        case other:
            raise UnsupportedFeatureError(
                provider, f"text.format {other!r} over {_ROUTE}", "Converse's structured output takes a JSON schema"
            )
    if "outputConfig" in wire and wire["outputConfig"] != output_config:
        raise InvalidRequestError(provider, "outputConfig", "set both by text.format and by a provider extra")
    wire["outputConfig"] = output_config


def _map_reasoning(body: Mapping[str, Any], provider: str, model: str) -> dict[str, Any]:
    """``reasoning.effort`` → the model family's own ``additionalModelRequestFields``."""
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is None:
        return {}
    family = _family(model)
    if family == "anthropic" and effort in THINKING_BUDGETS:
        return {"thinking": {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}}
    if family == "anthropic" and effort == "none":
        return {}  # thinking is off unless asked for
    if family == "nova" and effort in _NOVA_EFFORTS:
        return {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": effort}}
    if effort == "none" and family in ("nova", "other"):
        return {}  # no reasoning asked of a model that reasons only when asked: nothing to send
    if family == "openai" and effort in _OPENAI_EFFORTS:
        return {"reasoning_effort": effort}
    raise UnsupportedFeatureError(
        provider,
        f"reasoning.effort {effort!r} for {model!r} over {_ROUTE}",
        "pass the model's own fields in additionalModelRequestFields",
    )


def _family(model: str) -> str:
    """The vendor in a model id, inference-profile id (``us.anthropic...``) or ARN."""
    tail = model.rsplit("/", 1)[-1]
    for family, marker in (("anthropic", "anthropic."), ("nova", "amazon.nova-2"), ("openai", "openai.")):
        if marker in tail:
            return family
    return "other"


def encode_reasoning(provider: str, model: str, block: Mapping[str, Any]) -> str:
    """A ``reasoningContent`` block (text and signature, or redacted content) as ``encrypted_content``."""
    return seal(_ENVELOPE, provider, {"model": model, "block": dict(block)})


def decode_reasoning(value: str | None, provider: str, model: str) -> dict[str, Any] | None:
    """The ``{"reasoningContent": ...}`` block kept by :func:`encode_reasoning` for this provider and model."""
    payload = unseal(_ENVELOPE, value)
    if payload is None or payload.get("provider") != provider or payload.get("model") != model:
        return None
    block = payload.get("block")
    return {"reasoningContent": dict(block)} if isinstance(block, Mapping) else None


# -------------------------------------------------------------------------------- reply, stream


def parse_response(content: bytes, *, provider: str, request: Mapping[str, Any]) -> Response:
    """A whole Converse reply as the canonical ``Response``."""
    translator = BedrockStreamTranslator(provider, request)
    translator.whole_reply(content)
    if translator.final is None:  # pragma: no cover - whole_reply always ends the response
        raise APIResponseValidationError("reply had no end", provider=provider)
    return translator.final


def reply_events(reply: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ConverseStream events a whole Converse reply equals (API_runtime_ConverseStreamOutput)."""
    message = _mapping(_mapping(reply.get("output")).get("message"))
    events: list[dict[str, Any]] = [{"type": "messageStart", "role": message.get("role", "assistant")}]
    for index, block in enumerate(message.get("content") or []):
        at = {"contentBlockIndex": index}
        if isinstance(block.get("text"), str):
            events.append({"type": "contentBlockDelta", **at, "delta": {"text": block["text"]}})
        elif isinstance(block.get("toolUse"), Mapping):
            use = block["toolUse"]
            start = {"toolUse": {key: use[key] for key in ("toolUseId", "name", "type") if key in use}}
            events.append({"type": "contentBlockStart", **at, "start": start})
            arguments = json.dumps(use.get("input", {}), separators=(",", ":"), ensure_ascii=False)
            events.append({"type": "contentBlockDelta", **at, "delta": {"toolUse": {"input": arguments}}})
        elif isinstance(block.get("reasoningContent"), Mapping):
            reasoning = block["reasoningContent"]
            text_block = _mapping(reasoning.get("reasoningText"))
            if "redactedContent" in reasoning:
                delta: dict[str, Any] = {"redactedContent": reasoning["redactedContent"]}
                events.append({"type": "contentBlockDelta", **at, "delta": {"reasoningContent": delta}})
            if isinstance(text_block.get("text"), str):
                delta = {"text": text_block["text"]}
                events.append({"type": "contentBlockDelta", **at, "delta": {"reasoningContent": delta}})
            if isinstance(text_block.get("signature"), str):
                delta = {"signature": text_block["signature"]}
                events.append({"type": "contentBlockDelta", **at, "delta": {"reasoningContent": delta}})
        else:  # toolResult of a server tool, citations, and anything new: a block start the translator keeps
            events.append({"type": "contentBlockStart", **at, "start": dict(block)})
        events.append({"type": "contentBlockStop", **at})
    stop: dict[str, Any] = {"type": "messageStop", "stopReason": reply.get("stopReason")}
    if reply.get("additionalModelResponseFields") is not None:
        stop["additionalModelResponseFields"] = reply["additionalModelResponseFields"]
    events.append(stop)
    events.append({"type": "metadata", "usage": reply.get("usage") or {}, "metrics": reply.get("metrics") or {}})
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
    signature: str | None = None
    redacted: str | None = None
    """Reasoning: the signature, or the redacted content (base64), to give back verbatim."""
    done: bool = False
    data: dict[str, Any] | None = None


class BedrockStreamTranslator(SynthesizedStream):
    """ConverseStream bytes (AWS event-stream frames) → Responses events; or a whole reply's events.

    Same surface as the other translators (``final``, ``snapshot``, ``done``, ``partial()``,
    ``error_for()``, ``unknown_events``, ``whole_reply()``), so the stream shells drive it unchanged.
    """

    what = "Bedrock Converse reply"

    def __init__(self, provider: str, request: Mapping[str, Any]) -> None:
        super().__init__(provider, request)
        self._frames = EventStreamDecoder()
        self._items: list[_Item] = []
        self._message: _Item | None = None
        self._by_block: dict[int, _Item] = {}
        self._server_blocks: set[int] = set()
        self._ending: _Item | None = None
        self._stop_reason: str | None = None
        self._error: dict[str, Any] | None = None
        self._stopped = False

    # ----------------------------------------------------------------------------- driving

    def feed(self, chunk: bytes) -> list[ResponseStreamEvent]:
        try:
            frames = self._frames.feed(chunk)
        except EventStreamError as error:
            raise APIResponseValidationError(f"{self.what}: {error}", provider=self.provider) from None
        for frame in frames:
            if self.final is not None:
                self.unknown_events.append(frame)
                continue
            self._frame(frame)
        return self._take()

    def finish(self) -> list[ResponseStreamEvent]:
        """End of the bytes: a stream that sent ``messageStop`` but no ``metadata`` ends without usage;
        one cut before ``messageStop`` stays open (cut short)."""
        try:
            self._frames.finish()
        except EventStreamError as error:
            raise APIResponseValidationError(f"{self.what}: {error}", provider=self.provider) from None
        if self._stopped:
            self.close()
        return self._take()

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """A whole Converse reply (or a server that answered the stream request with one), as its events."""
        reply = self._json_object(content, "the reply")
        if not isinstance(_mapping(reply.get("output")).get("message"), Mapping):
            raise APIResponseValidationError(
                "reply is not a Converse reply (no output.message)", provider=self.provider, body=str(reply)[:500]
            )
        for event in reply_events(reply):
            self.consume(event)
        self.close()
        return self._take()

    def _frame(self, frame: EventStreamMessage) -> None:
        """One event-stream message: an event (its JSON payload consumed), or an exception that fails it."""
        payload = self._json_object(frame.payload or b"{}", f"{frame.event_type or 'stream'} event")
        if frame.message_type == "event":
            payload.pop("p", None)  # AWS pads events with a random-length "p" field (against length attacks)
            self.consume({"type": frame.event_type, **payload})
            return
        kind = frame.exception_type or frame.error_code or "unknownException"
        message = str(payload.get("message") or payload.get("Message") or frame.error_message or kind)
        self._fail(kind, message)

    # ----------------------------------------------------------------------------- events

    def consume(self, event: Mapping[str, Any]) -> None:
        """One ConverseStream event (API_runtime_ConverseStreamOutput); Responses events queue up."""
        kind = event.get("type")
        index = event.get("contentBlockIndex")
        position = index if isinstance(index, int) and not isinstance(index, bool) else 0
        match kind:
            case "messageStart":
                self._start()
            case "contentBlockStart":
                self._start()
                self._settle()
                use = _mapping(_mapping(event.get("start")).get("toolUse"))
                if use and use.get("type") != "server_tool_use":
                    self._call_start(position, use)
                else:
                    # A tool Bedrock runs itself (Nova's code interpreter) and its result: no Responses item
                    # fits them, and a function_call would ask the caller to run it; kept, never dropped.
                    self._server_blocks.add(position)
                    self.unknown_events.append(dict(event))
            case "contentBlockDelta":
                self._start()
                if self._ending is not None and self._by_block.get(position) is not self._ending:
                    self._settle()
                self._delta(position, _mapping(event.get("delta")), event)
            case "contentBlockStop" if position in self._server_blocks:
                self.unknown_events.append(dict(event))
            case "contentBlockStop":
                item = self._by_block.get(position)
                if item is not None and item.kind != "message":  # a message stays open: a text block may follow
                    # Ended only when what comes next is known: if that is messageStop with max_tokens, this
                    # block is the one the limit cut, and it must end incomplete, not completed.
                    self._settle()
                    self._ending = item
            case "messageStop":
                self._start()
                if isinstance(event.get("stopReason"), str):
                    self._stop_reason = event["stopReason"]
                if event.get("additionalModelResponseFields") is not None:
                    self.unknown_events.append(dict(event))  # model-specific extras: kept, not guessed at
                self._stopped = True
                self._settle()
            case "metadata":
                self._start()
                if isinstance(event.get("usage"), Mapping):
                    self._usage = dict(event["usage"])
                self.close()
            case _:
                self.unknown_events.append(dict(event))  # new event types are kept, never dropped silently

    def _start(self) -> None:
        if not self._started:
            self._begin(None)  # Converse replies carry no id: ours is generated

    def _settle(self) -> None:
        """End the block whose contentBlockStop came last, now that the next event is known."""
        if self._ending is not None:
            item, self._ending = self._ending, None
            self._close_item(item)

    def _map_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        return _map_usage(usage)

    def _delta(self, index: int, delta: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        if index in self._server_blocks:
            self.unknown_events.append(dict(event))
            return
        item = self._by_block.get(index)
        if isinstance(delta.get("text"), str):
            if not delta["text"]:
                return  # an empty delta opens nothing (gpt-oss on Bedrock starts with one, recorded)
            if item is None or item.done or item.kind != "message":
                item = self._by_block[index] = self._open_part()
            self._append(item, delta["text"])
        elif isinstance(delta.get("toolUse"), Mapping):
            if item is None or item.kind != "function_call" or item.done:
                self.unknown_events.append(dict(event))
                return
            arguments = delta["toolUse"].get("input")
            if isinstance(arguments, str) and arguments:
                self._append(item, arguments)
        elif isinstance(delta.get("reasoningContent"), Mapping):
            if item is None or item.done or item.kind != "reasoning":
                item = self._by_block[index] = self._open_reasoning()
            reasoning = delta["reasoningContent"]
            if isinstance(reasoning.get("text"), str) and reasoning["text"]:
                self._append(item, reasoning["text"])
            if isinstance(reasoning.get("signature"), str):
                item.signature = (item.signature or "") + reasoning["signature"]
            if reasoning.get("redactedContent") is not None:
                item.redacted = _base64(reasoning["redactedContent"])
        else:
            self.unknown_events.append(dict(event))  # citations and anything new: kept

    def _call_start(self, index: int, use: Mapping[str, Any]) -> None:
        self._close_message()
        item = self._open("function_call", "fc")
        item.call_id = str(use.get("toolUseId") or f"tooluse_{item.id}")
        item.name = str(use.get("name") or "")
        item.parts.append([])
        self._by_block[index] = item
        self._item_added(item.output_index, item.id, "function_call", call_id=item.call_id, name=item.name)

    # ----------------------------------------------------------------------------- items

    def _open(self, kind: Literal["message", "reasoning", "function_call"], prefix: str) -> _Item:
        index = len(self._items)
        item = _Item(index, f"{prefix}_{self._id.removeprefix('resp_')}_{index}", kind)
        self._items.append(item)
        return item

    def _close_message(self) -> None:
        if self._message is not None:
            self._close_item(self._message)

    def _open_reasoning(self) -> _Item:
        self._close_message()
        item = self._open("reasoning", "rs")
        item.parts.append([])
        self._item_added(item.output_index, item.id, "reasoning")
        part = {"type": "reasoning_text", "text": ""}
        self._emit(self._part_event("response.content_part.added", item.id, item.output_index, 0, part))
        return item

    def _open_part(self) -> _Item:
        """A new ``output_text`` part: of the open message, or of a new one."""
        item = self._message
        if item is None:
            item = self._message = self._open("message", "msg")
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
        if self._message is item:
            self._message = None
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
        if item.done and self._stop_reason in ("max_tokens", "model_context_window_exceeded"):
            status = "incomplete"
        match item.kind:
            case "message":
                content = [output_text_part("".join(pieces)) for pieces in item.parts]
                return {"type": "message", "id": item.id, "role": "assistant", "status": status, "content": content}
            case "reasoning":
                text = "".join(item.parts[0])
                data: dict[str, Any] = {"type": "reasoning", "id": item.id, "summary": [], "status": status}
                data["content"] = [{"type": "reasoning_text", "text": text}] if item.redacted is None else []
                if item.done:
                    data["encrypted_content"] = encode_reasoning(self.provider, self._model, _reasoning_block(item))
                return data
            case "function_call":
                return function_call_item(item.id, item.call_id, item.name, "".join(item.parts[0]), status)

    def _fail(self, kind: str, message: str) -> None:
        self._error = _map_exception(kind, message)
        self.close()

    def close(self) -> None:
        """End the response: close the open items, then the terminal event."""
        if self.final is not None:
            return
        self._start()
        for item in self._items:
            self._close_item(item)
        output = [self._item_data(item) for item in self._items]
        error = self._error or _malformed(self._stop_reason)
        if error is not None:
            self._end(output, "failed", error=error)
        else:
            status, details = _map_stop(self._stop_reason)
            self._end(output, status, incomplete=details)


def _reasoning_block(item: _Item) -> dict[str, Any]:
    """The ``reasoningContent`` value to give back: the redacted bytes, or the text with its signature."""
    if item.redacted is not None:
        return {"redactedContent": item.redacted}
    text_block: dict[str, Any] = {"text": "".join(item.parts[0])}
    if item.signature is not None:
        text_block["signature"] = item.signature
    return {"reasoningText": text_block}


def _base64(value: Any) -> str:
    """Redacted content as base64 text: the JSON wire carries it base64-encoded already (a blob)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    text = str(value)
    try:
        base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return base64.b64encode(text.encode()).decode()
    return text


def _mapping(value: Any) -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}


def _map_stop(reason: str | None) -> tuple[str, dict[str, Any] | None]:
    """``stopReason`` → ``(status, incomplete_details)`` (API_runtime_Converse, ``stopReason``)."""
    match reason:
        case "max_tokens" | "model_context_window_exceeded":
            return "incomplete", {"reason": "max_output_tokens"}
        case "guardrail_intervened" | "content_filtered":
            return "incomplete", {"reason": "content_filter"}
        case _:
            # end_turn, tool_use, stop_sequence, or none at all: a completed answer.
            return "completed", None


def _malformed(reason: str | None) -> dict[str, Any] | None:
    """``malformed_tool_use`` / ``malformed_model_output``: the model's output cannot be trusted (a tool
    call's arguments may be cut JSON), so the response fails instead of handing them on as completed."""
    if reason in ("malformed_tool_use", "malformed_model_output"):
        return {"code": "server_error", "message": f"Bedrock: the model's output was malformed ({reason})"}
    return None


def _map_exception(kind: str, message: str) -> dict[str, Any]:
    """A stream exception (API_runtime_ConverseStreamOutput's error members) as the spec's ``ResponseError``."""
    code = "rate_limit_exceeded" if kind in ("throttlingException", "serviceQuotaExceededException") else "server_error"
    return {"code": code, "message": f"{message} ({kind})"}


def _map_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """API_runtime_TokenUsage: cache reads and writes are counted apart from ``inputTokens``; Responses
    counts them in, and the reads are its ``cached_tokens``."""
    fresh = int(usage.get("inputTokens") or 0)
    read = int(usage.get("cacheReadInputTokens") or 0)
    written = int(usage.get("cacheWriteInputTokens") or 0)
    output = int(usage.get("outputTokens") or 0)
    total_input = fresh + read + written
    return {
        "input_tokens": total_input,
        "input_tokens_details": {"cached_tokens": read},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total_input + output,
    }
