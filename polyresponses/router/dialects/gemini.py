"""The Gemini dialect: the Responses API over Google's ``generateContent``. Pure, no I/O.

Followed: the Gemini API reference ("Generating content": ``models.generateContent`` and
``models.streamGenerateContent``, with ``Content``, ``Part``, ``Tool``/``FunctionDeclaration``,
``ToolConfig``, ``GenerationConfig``, ``ThinkingConfig``, ``GenerateContentResponse``,
``FinishReason``, ``UsageMetadata``) and the guides "Function calling", "Thinking", "Thought
signatures" and "Structured output", checked against the recorded traffic in
``shared/fixtures/recorded/gemini`` and against google-genai's types (tests).

Request: ``instructions`` and system/developer messages become ``systemInstruction``; user and
assistant messages become ``contents`` with roles ``user``/``model`` (consecutive same-role turns
merged); ``function_call`` items become model ``functionCall`` parts and ``function_call_output``
items user ``functionResponse`` parts (the function name is looked up from the call with the same
``call_id``); function tools become one ``functionDeclarations`` tool with ``parametersJsonSchema``.

Thought signatures (guide "Thought signatures"): every ``thoughtSignature`` Gemini sends is kept,
tagged with the provider, in a reasoning item's ``encrypted_content`` (``polyresponses.gemini.v1:``
+ base64 JSON). Two shapes:

* ``{"provider", "parts": [...]}``: parts that are reasoning themselves (``thought: true`` parts,
  and parts that carry nothing but a signature, such as the empty-text part ending a stream), kept
  verbatim and replayed verbatim, in place.
* ``{"provider", "signature": "..."}``: the signature of the *next* item's part. A signed
  ``functionCall`` or text part is preceded by such an item; given back, the signature is put on
  the part built from the item right after it (the ``functionCall`` part, or the message's first
  text part). A signed text part is a message item of its own, so its signature never lands on text
  it did not come with.

Given back to the same provider the signatures go exactly where they came from (never merged, never
moved); given to any other provider the reasoning items are left out (documented, never garbage).

Reply and stream: one state machine; a whole ``GenerateContentResponse`` is consumed as one stream
chunk. Chunks carry whole parts with no block start/stop, so the translator opens and closes items
itself: text parts append to the open message, thought parts to the open reasoning item, and each
``functionCall`` part is one whole ``function_call`` item (added, one arguments delta, done).
Server-side parts (``executableCode``, ``codeExecutionResult``, ``toolCall``, ...) and
``groundingMetadata`` have no Responses item here: they are kept in ``unknown_events``.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote, urlsplit

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
    "GeminiStreamTranslator",
    "build_create",
    "decode_signature",
    "encode_signature",
    "parse_response",
]

THINKING_BUDGETS: dict[str, int] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}
"""``reasoning.effort`` → ``thinkingConfig.thinkingBudget`` ("Thinking" guide, "Set the thinking budget":
2.5 Flash takes 0-24,576 and 0 turns thinking off; 2.5 Pro takes 128-32,768 and cannot turn it off).
Gemini 3 models read ``thinkingLevel`` but still accept a budget."""

_ENVELOPE = "polyresponses.gemini.v1:"

# Request fields this dialect maps (or, for user/metadata and IGNORED_HINTS, knowingly ignores:
# Gemini has no field for them and they change nothing the model does).
_MAPPED = STATELESS_MAPPED
# Responses fields with no generateContent equivalent: refused rather than dropped.
_REFUSED = STATELESS_REFUSED
# Provider extras that may also be set by the mapping: merged key by key (a conflict is an error).
_MERGED_EXTRAS = frozenset({"generationConfig", "toolConfig"})

# File extensions whose media type Gemini needs and ``mimetypes`` spells differently or not at all
# (Gemini's "Audio understanding" and "Video understanding" guides list these types).
_MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mp3",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".aac": "audio/aac",
    ".mp4": "video/mp4",
    ".webp": "image/webp",
    ".heic": "image/heic",
}


# ------------------------------------------------------------------------------------ request


def build_create(body: Mapping[str, Any], *, provider: str) -> WireRequest:
    """The ``POST /models/{model}:generateContent`` (or ``:streamGenerateContent?alt=sse``) request."""
    refuse_unsayable(body, provider=provider, route="Gemini generateContent", refused=_REFUSED)
    if body.get("parallel_tool_calls") is False:
        raise UnsupportedFeatureError(
            provider, "parallel_tool_calls=False over Gemini generateContent", "Gemini has no switch for it"
        )

    model = str(body["model"]).removeprefix("models/")
    system, contents = _contents(body, provider)
    wire: dict[str, Any] = {"contents": contents}
    if system:
        wire["systemInstruction"] = {"parts": system}
    _map_tools(body, wire, provider)
    config = _generation_config(body, provider)
    if config:
        wire["generationConfig"] = config
    for name, value in body.items():
        if name in _MAPPED or name in _REFUSED:
            continue
        if name in _MERGED_EXTRAS and name in wire and isinstance(value, Mapping):
            wire[name] = _merge(wire[name], cast("Mapping[str, Any]", value), name, provider)
        else:
            wire[name] = value  # provider extras (cachedContent, safetySettings, ...), as given
    stream = bool(body.get("stream"))
    # "Generating content": POST /v1beta/{model=models/*}:generateContent, :streamGenerateContent (alt=sse).
    path = f"/models/{quote(model, safe='')}:{'streamGenerateContent' if stream else 'generateContent'}"
    return WireRequest("POST", path, wire, params={"alt": "sse"} if stream else {}, stream=stream)


def _merge(mapped: dict[str, Any], extra: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    merged = dict(mapped)
    for key, value in extra.items():
        if key in merged and merged[key] != value:
            raise InvalidRequestError(provider, f"{where}.{key}", "set both by the request and by an extra")
        merged[key] = value
    return merged


def _contents(body: Mapping[str, Any], provider: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(systemInstruction parts, contents)``; consecutive same-role contents merged into one."""
    system: list[dict[str, Any]] = []
    if body.get("instructions"):
        system.append({"text": body["instructions"]})
    contents: list[dict[str, Any]] = []

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    items = body.get("input")
    if isinstance(items, str):
        add("user", [{"text": items}])
        return system, contents
    names = {
        item["call_id"]: item["name"]
        for item in items or []
        if item.get("type") == "function_call" and item.get("call_id")
    }
    signature: str | None = None  # a signature for the part built from the next item
    for position, item in enumerate(items or []):
        kind = item.get("type", "message")
        where = f"input[{position}]"
        match kind:
            case "message":
                role = item["role"]
                parts = _content_parts(item.get("content"), where, provider)
                if role in ("system", "developer"):
                    system.extend(_text_only(parts, where, provider, role))
                elif role == "assistant":
                    parts = _text_only(parts, where, provider, role)
                    if signature is not None and parts:
                        parts[0] = {**parts[0], "thoughtSignature": signature}
                    add("model", parts)
                else:
                    add("user", parts)
                signature = None
            case "function_call":
                part = _function_call(item, where, provider)
                if signature is not None:
                    part["thoughtSignature"] = signature
                add("model", [part])
                signature = None
            case "function_call_output":
                add("user", [_function_response(item, names, where, provider)])
                signature = None
            case "reasoning":
                kept = decode_signature(item.get("encrypted_content"), provider)
                if kept is None:
                    continue  # another provider's reasoning (or a summary only): left out, documented
                if "signature" in kept:
                    signature = str(kept["signature"])
                else:
                    add("model", [dict(part) for part in kept.get("parts") or []])
            case _:
                raise UnsupportedFeatureError(
                    provider, f"input item type {kind!r} over Gemini generateContent ({where})"
                )
    return system, contents


def _content_parts(content: Any, where: str, provider: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [_map_part(part, f"{where}.content[{index}]", provider) for index, part in enumerate(content or [])]


def _text_only(parts: list[dict[str, Any]], where: str, provider: str, role: str) -> list[dict[str, Any]]:
    for index, part in enumerate(parts):
        if "text" not in part:
            raise UnsupportedFeatureError(
                provider, f"{next(iter(part))} content in a {role} message ({where}.content[{index}])"
            )
    return parts


def _map_part(part: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A Responses content part as a Gemini ``Part`` (reference "Part": ``text``, ``inlineData``, ``fileData``)."""
    kind = part.get("type")
    match kind:
        case "input_text" | "output_text":
            return {"text": part["text"]}
        case "refusal":
            return {"text": part["refusal"]}
        case "input_image":
            url = part.get("image_url")
            if url is None:
                raise UnsupportedFeatureError(provider, f"input_image by file_id over Gemini generateContent ({where})")
            return _media(url, where, provider, None)
        case "input_file":
            if part.get("file_url") is not None:
                return _media(part["file_url"], where, provider, part.get("filename"))
            if part.get("file_data") is not None:
                return _media(part["file_data"], where, provider, part.get("filename"), inline=True)
            raise UnsupportedFeatureError(provider, f"input_file by file_id over Gemini generateContent ({where})")
        case _:
            raise UnsupportedFeatureError(provider, f"content part {kind!r} over Gemini generateContent ({where})")


def _media(url: str, where: str, provider: str, filename: str | None, *, inline: bool = False) -> dict[str, Any]:
    """A data URL (or bare base64 ``file_data``) as ``inlineData``, anything else as ``fileData``."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0]
        if ";base64" not in header or not media_type:
            raise InvalidRequestError(provider, where, "a data URL must be base64 with a media type")
        return {"inlineData": {"mimeType": media_type, "data": data}}
    if inline:  # file_data given as bare base64: the type from the file name, PDF by default
        return {"inlineData": {"mimeType": _guess_type(filename or "") or "application/pdf", "data": url}}
    file_data: dict[str, Any] = {"fileUri": url}
    guessed = _guess_type(filename or urlsplit(url).path)
    if guessed is not None:
        file_data["mimeType"] = guessed
    return {"fileData": file_data}


def _guess_type(name: str) -> str | None:
    dot = name.rfind(".")
    if dot >= 0 and name[dot:].lower() in _MEDIA_TYPES:
        return _MEDIA_TYPES[name[dot:].lower()]
    return mimetypes.guess_type(name)[0] if name else None


def _function_call(item: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    """A ``function_call`` item as a ``functionCall`` part (reference "FunctionCall": ``id``, ``name``, ``args``)."""
    arguments = item.get("arguments") or "{}"
    try:
        parsed = json.loads(arguments)
    except ValueError:
        raise InvalidRequestError(
            provider, f"{where}.arguments", "not JSON: Gemini takes function arguments as an object"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(provider, f"{where}.arguments", "Gemini takes function arguments as a JSON object")
    return {"functionCall": {"id": item["call_id"], "name": item["name"], "args": parsed}}


def _function_response(item: Mapping[str, Any], names: Mapping[str, str], where: str, provider: str) -> dict[str, Any]:
    """A ``function_call_output`` as a ``functionResponse`` part (reference "FunctionResponse").

    ``response`` must be an object: output that is a JSON object is sent as it is (the reference:
    without ``output``/``error`` keys "the whole response is treated as function output"); any
    other output as ``{"output": text}``.
    """
    call_id = item["call_id"]
    name = names.get(call_id)
    if name is None:
        raise InvalidRequestError(
            provider,
            f"{where}.call_id",
            f"no function_call with call_id {call_id!r} earlier in input: Gemini needs its name",
        )
    output = item.get("output")
    if not isinstance(output, str):
        texts = []
        for index, part in enumerate(output or []):
            if part.get("type") != "input_text":
                raise UnsupportedFeatureError(
                    provider,
                    f"{part.get('type')} in a function_call_output over Gemini ({where}.output[{index}])",
                )
            texts.append(part["text"])
        output = "".join(texts)
    response: Any
    try:
        response = json.loads(output)
    except ValueError:
        response = None
    if not isinstance(response, dict):
        response = {"output": output}
    return {"functionResponse": {"id": call_id, "name": name, "response": response}}


def _map_tools(body: Mapping[str, Any], wire: dict[str, Any], provider: str) -> None:
    """Function tools → ``functionDeclarations``; ``tool_choice`` → ``toolConfig.functionCallingConfig``."""
    declarations: list[dict[str, Any]] = []
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            raise UnsupportedFeatureError(
                provider, f"{tool.get('type')!r} tools over Gemini generateContent (tools[{index}])"
            )
        declaration: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description") is not None:
            declaration["description"] = tool["description"]
        if tool.get("parameters") is not None:
            # "FunctionDeclaration.parametersJsonSchema": plain JSON Schema, no conversion to OpenAPI Schema.
            declaration["parametersJsonSchema"] = tool["parameters"]
        declarations.append(declaration)
    names = [declaration["name"] for declaration in declarations]
    choice = body.get("tool_choice")
    config: dict[str, Any] | None = None
    # "ToolConfig" / "FunctionCallingConfig": mode AUTO | ANY | NONE, allowedFunctionNames only with ANY.
    match choice:
        case None:
            pass
        case "auto":
            config = {"mode": "AUTO"}
        case "required":
            config = {"mode": "ANY"}
        case "none":
            config = {"mode": "NONE"}
        case {"type": "function", "name": name}:
            if name not in names:
                raise InvalidRequestError(
                    provider, "tool_choice.name", f"{name!r} is not one of the offered function tools"
                )
            config = {"mode": "ANY", "allowedFunctionNames": [name]}
        case {"type": "allowed_tools"}:
            allowed = [entry.get("name") for entry in choice.get("tools") or []]
            unknown = [name for name in allowed if name not in names]
            if unknown:
                raise InvalidRequestError(provider, "tool_choice.tools", f"{unknown!r} are not offered function tools")
            if choice.get("mode", "auto") == "required":
                config = {"mode": "ANY", "allowedFunctionNames": allowed}
            else:  # AUTO takes no name list: offer only the allowed declarations
                declarations = [declaration for declaration in declarations if declaration["name"] in allowed]
                config = {"mode": "AUTO"}
        case _:
            label = choice.get("type") if isinstance(choice, Mapping) else choice
            raise UnsupportedFeatureError(provider, f"tool_choice {label!r} over Gemini generateContent")
    if not declarations:
        if config is not None and config["mode"] == "ANY":
            raise InvalidRequestError(
                provider, "tool_choice", "it asks for a tool call but no function tool is offered"
            )
        return
    wire["tools"] = [{"functionDeclarations": declarations}]
    if config is not None:
        wire["toolConfig"] = {"functionCallingConfig": config}


def _generation_config(body: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """Sampling, length, output format and thinking → ``generationConfig`` (reference "GenerationConfig")."""
    config: dict[str, Any] = {}
    for name, key in (
        ("max_output_tokens", "maxOutputTokens"),
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if body.get(name) is not None:
            config[key] = body[name]
    text = body.get("text") or {}
    if text.get("verbosity") is not None:
        raise UnsupportedFeatureError(provider, "text.verbosity over Gemini generateContent")
    fmt = text.get("format")
    match fmt.get("type") if isinstance(fmt, Mapping) else None:
        case None | "text":
            pass
        case "json_schema":
            # "Structured output": responseMimeType application/json + responseJsonSchema (JSON Schema).
            config["responseMimeType"] = "application/json"
            config["responseJsonSchema"] = cast("Mapping[str, Any]", fmt).get("schema", {})
        case "json_object":
            config["responseMimeType"] = "application/json"
        case other:
            raise UnsupportedFeatureError(provider, f"text.format {other!r} over Gemini generateContent")
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        if effort not in THINKING_BUDGETS:
            raise UnsupportedFeatureError(provider, f"reasoning.effort {effort!r} over Gemini generateContent")
        budget = THINKING_BUDGETS[effort]
        # "ThinkingConfig": includeThoughts returns thought summaries (as thought parts).
        config["thinkingConfig"] = {"includeThoughts": budget > 0, "thinkingBudget": budget}
    return config


def encode_signature(provider: str, kept: Mapping[str, Any]) -> str:
    """``{"parts": [...]}`` or ``{"signature": "..."}`` as a reasoning item's ``encrypted_content``."""
    return seal(_ENVELOPE, provider, kept)


def decode_signature(value: str | None, provider: str) -> dict[str, Any] | None:
    """What :func:`encode_signature` stored (without ``provider``), if it came from ``provider``; else ``None``."""
    payload = unseal(_ENVELOPE, value)
    if payload is None or payload.get("provider") != provider:
        return None
    kept = {key: field for key, field in payload.items() if key != "provider"}
    if isinstance(kept.get("signature"), str) or isinstance(kept.get("parts"), list):
        return kept
    return None


# -------------------------------------------------------------------------------- reply, stream


def parse_response(content: bytes, *, provider: str, request: Mapping[str, Any]) -> Response:
    """A whole ``GenerateContentResponse`` as the canonical ``Response``."""
    translator = GeminiStreamTranslator(provider, request)
    translator.whole_reply(content)
    if translator.final is None:  # pragma: no cover - whole_reply always ends the response
        raise APIResponseValidationError("reply had no end", provider=provider)
    return translator.final


@dataclass(slots=True)
class _Item:
    """One output item being built."""

    output_index: int
    id: str
    kind: Literal["message", "reasoning", "function_call"]
    pieces: list[str] = field(default_factory=list[str])
    """Message: the text pieces of its one ``output_text`` part; reasoning: thought text; call: arguments."""
    call_id: str = ""
    name: str = ""
    kept: dict[str, Any] | None = None
    """Reasoning: ``{"parts": [...]}`` (verbatim thought/signature parts) or ``{"signature": ...}``."""
    done: bool = False
    data: dict[str, Any] | None = None


class GeminiStreamTranslator(SynthesizedStream):
    """``streamGenerateContent?alt=sse`` → Responses events: ``feed(bytes)``/``finish()``, or ``consume(chunk)``.

    Same surface as the other translators (``final``, ``snapshot``, ``done``, ``partial()``,
    ``error_for()``, ``unknown_events``, ``whole_reply()``), so the stream shells drive any of them.
    """

    what = "Gemini GenerateContentResponse"

    def __init__(self, provider: str, request: Mapping[str, Any]) -> None:
        super().__init__(provider, request)
        self._model = self._model.removeprefix("models/")
        self._items: list[_Item] = []
        self._open_item: _Item | None = None
        self._finish_reason: str | None = None
        self._finish_message = ""
        self._error: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------- driving

    def finish(self) -> list[ResponseStreamEvent]:
        """End of the byte stream: Gemini sends no stop event, so a chunk with a ``finishReason`` ends it.

        Without one the response stays open and the shell reports the stream as cut short.
        """
        events = self._translate(self._decoder.finish())
        if self.final is None and (self._finish_reason is not None or self._error is not None):
            self.close()
            events += self._take()
        return events

    def whole_reply(self, content: bytes) -> list[ResponseStreamEvent]:
        """A whole ``GenerateContentResponse`` (a reply, or a server that ignored streaming), as its events."""
        reply = self._json(content, "the reply")
        # streamGenerateContent without alt=sse answers one JSON array of chunks.
        chunks: list[Any] = reply if isinstance(reply, list) else [reply]
        for chunk in chunks:
            if not isinstance(chunk, dict) or not (
                {"candidates", "promptFeedback", "usageMetadata", "error"} & set(chunk)
            ):
                raise APIResponseValidationError(
                    "reply is not a GenerateContentResponse (no candidates, promptFeedback or usageMetadata)",
                    provider=self.provider,
                    body=str(chunk)[:500],
                )
            self.consume(cast("dict[str, Any]", chunk))
        self.close()
        return self._take()

    # ----------------------------------------------------------------------------- chunks

    def consume(self, chunk: Mapping[str, Any]) -> None:
        """One ``GenerateContentResponse`` (a whole reply or one stream chunk); Responses events queue up."""
        if self.final is not None:
            self.unknown_events.append(dict(chunk))
            return
        self._start(chunk)
        if isinstance(chunk.get("error"), Mapping):  # an error object inside a 200 stream
            self._error = dict(chunk["error"])
            self.close()
            return
        usage = chunk.get("usageMetadata")
        if isinstance(usage, Mapping):
            self._usage = dict(cast("Mapping[str, Any]", usage))  # each chunk carries the running totals
        candidates = chunk.get("candidates") or []
        feedback = chunk.get("promptFeedback")
        if not candidates and isinstance(feedback, Mapping) and feedback.get("blockReason"):
            # "PromptFeedback.blockReason": the prompt was blocked and there is no candidate at all.
            reason = feedback["blockReason"]
            message = feedback.get("blockReasonMessage")
            self._error = {
                "code": "server_error",
                "message": f"Gemini blocked the prompt ({reason})" + (f": {message}" if message else ""),
            }
            return
        for candidate in candidates:
            if candidate.get("index", 0) != 0:
                self.unknown_events.append({"candidate": dict(candidate)})  # only candidateCount=1 is mapped
                continue
            extra = {key: value for key, value in candidate.items() if key not in ("content", "finishReason", "index")}
            for part in (candidate.get("content") or {}).get("parts") or []:
                self._part(part)
            if extra:
                self.unknown_events.append(extra)  # groundingMetadata, citationMetadata, safetyRatings, ...
            if candidate.get("finishReason") is not None:
                self._finish_reason = str(candidate["finishReason"])
                if candidate.get("finishMessage"):
                    self._finish_message = str(candidate["finishMessage"])

    def _start(self, chunk: Mapping[str, Any]) -> None:
        if isinstance(chunk.get("modelVersion"), str) and chunk["modelVersion"]:
            self._model = chunk["modelVersion"]
        if not self._started:
            self._begin(chunk.get("responseId"))

    def _map_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        return _map_usage(usage)

    def _part(self, part: Mapping[str, Any]) -> None:
        """One ``Part`` of the candidate's content ("Part" union: text, functionCall, ... plus ``thought``,
        ``thoughtSignature``)."""
        signature = part.get("thoughtSignature")
        text = part.get("text")
        if part.get("thought") is True or (
            signature is not None and (set(part) <= {"thoughtSignature", "text"}) and not text
        ):
            # A thought part, or one carrying nothing but a signature: reasoning, kept verbatim.
            item = self._open_item if self._open_item is not None and self._open_item.kind == "reasoning" else None
            if item is None or (item.kept or {}).get("signature") is not None:
                item = self._open_reasoning({"parts": []})
            kept = cast("dict[str, Any]", item.kept)
            kept["parts"].append(dict(part))
            if part.get("thought") is True and text:
                self._reasoning_delta(item, str(text))
            return
        if "functionCall" in part:
            call = part["functionCall"] or {}
            self._close_open()
            if signature is not None:
                self._close_item(self._open_reasoning({"signature": signature}))
            self._function_call(call)
            return
        if set(part) - {"text", "thoughtSignature"}:
            # executableCode, codeExecutionResult, toolCall, toolResponse, inlineData, ...: no
            # Responses item on this route; kept whole, never dropped silently.
            self.unknown_events.append({"part": dict(part)})
            return
        if signature is not None:
            # A signed text part is its own message, after the item holding its signature.
            self._close_open()
            self._close_item(self._open_reasoning({"signature": signature}))
            item = self._open_message()
            self._text_delta(item, str(text or ""))
            self._close_item(item)
            return
        if not text:
            return  # the empty text part that ends many streams says nothing
        item = self._open_item if self._open_item is not None and self._open_item.kind == "message" else None
        if item is None:
            item = self._open_message()
        self._text_delta(item, str(text))

    # ----------------------------------------------------------------------------- items

    def _open(self, kind: Literal["message", "reasoning", "function_call"], prefix: str) -> _Item:
        index = len(self._items)
        item = _Item(index, f"{prefix}_{self._id.removeprefix('resp_')}_{index}", kind)
        self._items.append(item)
        return item

    def _close_open(self) -> None:
        if self._open_item is not None:
            self._close_item(self._open_item)

    def _open_message(self) -> _Item:
        self._close_open()
        item = self._open_item = self._open("message", "msg")
        self._item_added(item.output_index, item.id, "message")
        self._emit(self._part_event("response.content_part.added", item.id, item.output_index, 0, output_text_part("")))
        return item

    def _open_reasoning(self, kept: dict[str, Any]) -> _Item:
        self._close_open()
        item = self._open_item = self._open("reasoning", "rs")
        item.kept = kept
        self._item_added(item.output_index, item.id, "reasoning")
        return item

    def _function_call(self, call: Mapping[str, Any]) -> None:
        """A whole ``functionCall`` part: added, one arguments delta, arguments done, item done."""
        item = self._open("function_call", "fc")
        item.call_id = str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")
        item.name = str(call.get("name") or "")
        self._item_added(item.output_index, item.id, "function_call", call_id=item.call_id, name=item.name)
        arguments = json.dumps(call.get("args") or {})
        item.pieces.append(arguments)
        self._item_event("response.function_call_arguments.delta", item.id, item.output_index, delta=arguments)
        self._close_item(item)

    def _text_delta(self, item: _Item, text: str) -> None:
        item.pieces.append(text)
        self._item_event(
            "response.output_text.delta", item.id, item.output_index, content_index=0, delta=text, logprobs=[]
        )

    def _reasoning_delta(self, item: _Item, text: str) -> None:
        if not item.pieces:
            self._emit(
                self._part_event(
                    "response.content_part.added", item.id, item.output_index, 0, {"type": "reasoning_text", "text": ""}
                )
            )
        item.pieces.append(text)
        self._item_event("response.reasoning_text.delta", item.id, item.output_index, content_index=0, delta=text)

    def _close_item(self, item: _Item) -> None:
        if item.done:
            return
        if self._open_item is item:
            self._open_item = None
        text = "".join(item.pieces)
        match item.kind:
            case "message":
                self._item_event(
                    "response.output_text.done", item.id, item.output_index, content_index=0, text=text, logprobs=[]
                )
                self._emit(
                    self._part_event(
                        "response.content_part.done", item.id, item.output_index, 0, output_text_part(text)
                    )
                )
            case "reasoning":
                if item.pieces:
                    self._item_event(
                        "response.reasoning_text.done", item.id, item.output_index, content_index=0, text=text
                    )
                    self._emit(
                        self._part_event(
                            "response.content_part.done",
                            item.id,
                            item.output_index,
                            0,
                            {"type": "reasoning_text", "text": text},
                        )
                    )
            case "function_call":
                self._item_event(
                    "response.function_call_arguments.done", item.id, item.output_index, name=item.name, arguments=text
                )
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
        text = "".join(item.pieces)
        match item.kind:
            case "message":
                return {
                    "type": "message",
                    "id": item.id,
                    "role": "assistant",
                    "status": status,
                    "content": [output_text_part(text)],
                }
            case "reasoning":
                data: dict[str, Any] = {"type": "reasoning", "id": item.id, "summary": [], "status": status}
                data["content"] = [{"type": "reasoning_text", "text": text}] if item.pieces else []
                if item.done:
                    data["encrypted_content"] = encode_signature(self.provider, item.kept or {"parts": []})
                return data
            case "function_call":
                return function_call_item(item.id, item.call_id, item.name, text, status)

    def close(self) -> None:
        """End the response: close the open item, then the terminal event."""
        if self.final is not None:
            return
        if not self._started:
            self._start({})
        self._close_open()
        output = [self._item_data(item) for item in self._items]
        error = self._error
        if error is None and self._finish_reason is not None:
            error = _finish_error(self._finish_reason, self._finish_message)
        if error is not None:
            self._end(output, "failed", error=_map_error(error))
        else:
            status, details = _map_finish(self._finish_reason)
            self._end(output, status, incomplete=details)


_CONTENT_FILTER = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"}
)


def _map_finish(reason: str | None) -> tuple[str, dict[str, Any] | None]:
    """``finishReason`` → ``(status, incomplete_details)`` (reference "FinishReason")."""
    match reason:
        case "MAX_TOKENS":
            return "incomplete", {"reason": "max_output_tokens"}
        case str() if reason in _CONTENT_FILTER:
            return "incomplete", {"reason": "content_filter"}
        case _:
            # STOP, LANGUAGE, OTHER, FINISH_REASON_UNSPECIFIED, or none at all: a completed answer.
            return "completed", None


def _finish_error(reason: str, message: str) -> dict[str, Any] | None:
    """Finish reasons that mean the model produced nothing usable: the response fails, clearly."""
    match reason:
        case "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" | "TOO_MANY_TOOL_CALLS":
            what = {
                "MALFORMED_FUNCTION_CALL": "Gemini generated a malformed function call",
                "UNEXPECTED_TOOL_CALL": "Gemini called a tool that was not offered",
                "TOO_MANY_TOOL_CALLS": "Gemini made too many tool calls",
            }[reason]
            return {
                "code": "server_error",
                "message": f"{what} (finishReason {reason})" + (f": {message}" if message else ""),
            }
        case _:
            return None


def _map_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """``usageMetadata`` → usage (reference "UsageMetadata").

    ``promptTokenCount`` already includes the cached tokens; tool-use prompt tokens (server tools)
    are input too. Thought tokens are counted apart from ``candidatesTokenCount``: output is both.
    """
    prompt = int(usage.get("promptTokenCount") or 0) + int(usage.get("toolUsePromptTokenCount") or 0)
    thoughts = int(usage.get("thoughtsTokenCount") or 0)
    output = int(usage.get("candidatesTokenCount") or 0) + thoughts
    total = usage.get("totalTokenCount")
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int(usage.get("cachedContentTokenCount") or 0)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": thoughts},
        "total_tokens": int(total) if total is not None else prompt + output,
    }


def _map_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """An error (``{code, message, status}`` from Google, or ours) as the spec's ``ResponseError``."""
    status = error.get("status")
    code = "rate_limit_exceeded" if status == "RESOURCE_EXHAUSTED" or error.get("code") == 429 else "server_error"
    message = str(error.get("message") or "stream error")
    return {"code": code, "message": f"{message} ({status})" if isinstance(status, str) else message}
