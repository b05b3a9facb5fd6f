"""``POST /responses/input_tokens`` for providers whose own counting route speaks another dialect. Pure.

The request is built exactly as the create request would be (same messages, system, tools), then
sent to the provider's counting route, so the count is of what ``create`` would send:

- Anthropic Messages: ``POST /messages/count_tokens`` with ``model``, ``messages``, ``system``,
  ``tools``, ``tool_choice`` and ``thinking`` (Anthropic API reference, "Count Message tokens");
  the reply is ``{"input_tokens": N}``.
- Gemini: ``POST /models/{model}:countTokens`` with the whole ``generateContentRequest`` (Gemini
  API reference, "models.countTokens"), so system instruction and tools are counted too; the reply
  is ``{"totalTokens": N}``.

- Gemini on Vertex AI: the same route, but ``contents``, ``systemInstruction``, ``tools`` and
  ``generationConfig`` at the top level of the body (as google-genai's Vertex path sends them).
- Bedrock: ``POST /model/{modelId}/count-tokens`` with ``{"input": {"converse": {messages, system,
  toolConfig, additionalModelRequestFields}}}`` (Bedrock API reference, "CountTokens"); the reply is
  ``{"inputTokens": N}``.

Each becomes the Responses API's ``{"object": "response.input_tokens", "input_tokens": N}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from polyresponses.router._errors import APIResponseValidationError
from polyresponses.router.dialects._wire_request import WireRequest

if TYPE_CHECKING:
    from polyresponses.types import TokenCountsResource

__all__ = ["build_anthropic_count", "build_bedrock_count", "build_gemini_count", "parse_count"]

_VERTEX_GEMINI_FIELDS = ("contents", "systemInstruction", "tools", "generationConfig")
"""What Vertex AI's countTokens takes of a generateContent request (no toolConfig or safety settings)."""

_ANTHROPIC_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")


def build_anthropic_count(body: Mapping[str, Any], *, provider: str) -> WireRequest:
    from polyresponses.router.dialects.anthropic_messages import build_create

    create = build_create(body, provider=provider)
    assert create.body is not None  # a create request always has a body
    counted = {key: create.body[key] for key in _ANTHROPIC_FIELDS if key in create.body}
    return WireRequest("POST", "/messages/count_tokens", counted)


def build_gemini_count(body: Mapping[str, Any], *, provider: str, vertex: bool = False) -> WireRequest:
    from polyresponses.router.dialects.gemini import build_create

    create = build_create({**body, "stream": False}, provider=provider)
    model = str(body["model"]).removeprefix("models/")
    assert create.body is not None
    # The model is a path segment, quoted whole as build_create quotes it: "../batches/x:cancel#" must not
    # reach another route with the operator's key.
    path = f"/models/{quote(model, safe='')}:countTokens"
    if vertex:
        return WireRequest("POST", path, {key: create.body[key] for key in _VERTEX_GEMINI_FIELDS if key in create.body})
    return WireRequest("POST", path, {"generateContentRequest": {"model": f"models/{model}", **create.body}})


_CONVERSE_FIELDS = ("messages", "system", "toolConfig", "additionalModelRequestFields")
"""What API_runtime_ConverseTokensRequest takes of a Converse request."""


def build_bedrock_count(body: Mapping[str, Any], *, provider: str) -> WireRequest:
    from polyresponses.router.dialects.bedrock_converse import build_create

    create = build_create({**body, "stream": False}, provider=provider)
    assert create.body is not None
    counted = {key: create.body[key] for key in _CONVERSE_FIELDS if key in create.body}
    path = create.path.removesuffix("/converse") + "/count-tokens"  # the model id, encoded as create encodes it
    return WireRequest("POST", path, {"input": {"converse": counted}})


def parse_count(field: str) -> Callable[[bytes, str], TokenCountsResource]:
    """A parser of a counting reply whose count is in ``field``."""

    def parse(content: bytes, provider: str) -> TokenCountsResource:
        from polyresponses.types import TokenCountsResource

        try:
            count = json.loads(content)[field]
            if isinstance(count, bool) or not isinstance(count, int):
                raise TypeError(field)
        except (ValueError, KeyError, TypeError):
            snippet = content[:200].decode("utf-8", "replace")
            raise APIResponseValidationError(
                f"the token count reply has no integer {field!r}: {snippet}", provider=provider, body=snippet
            ) from None
        return TokenCountsResource(object="response.input_tokens", input_tokens=count)

    return parse
