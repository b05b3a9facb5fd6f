"""The Responses request fields a stateless, non-OpenAI wire format cannot say, refused in one place.

Anthropic Messages and Gemini (and any dialect like them) keep no responses, run nothing in the
background and have no logprobs or prompt templates: asking for those raises the unsupported-feature
error before the network, naming the field and the route, instead of dropping it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyresponses.router._errors import UnsupportedFeatureError

__all__ = ["IGNORED_HINTS", "STATELESS_MAPPED", "STATELESS_REFUSED", "refuse_unsayable"]

STATELESS_REFUSED: Mapping[str, str] = {
    "max_tool_calls": "max_tool_calls",
    "top_logprobs": "top_logprobs (logprobs)",
    "background": "background",
    "previous_response_id": "previous_response_id",
    "conversation": "conversation",
    "prompt": "prompt templates",
    "prompt_cache_retention": "prompt_cache_retention",
}
"""Body field → how the error names it."""

IGNORED_HINTS: frozenset[str] = frozenset({"prompt_cache_key", "client_metadata"})
"""Request fields a non-OpenAI route knowingly leaves out: they change nothing the model does.
``prompt_cache_key`` is a cache-routing hint (Anthropic caches by ``cache_control`` breakpoints, Gemini
by its cache API); ``client_metadata`` is the client's own bookkeeping (Codex CLI sends its thread and
turn ids in it). Sent where the route has them (OpenAI's chat endpoint takes ``prompt_cache_key``)."""


STATELESS_MAPPED: frozenset[str] = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "reasoning",
        "text",
        "stream",
        "stream_options",
        "user",
        "safety_identifier",
        "metadata",
        "store",
        "include",
        "truncation",
        "service_tier",
    }
    | IGNORED_HINTS
)
"""The request fields such a dialect maps, or (``user``, ``metadata``, :data:`IGNORED_HINTS`) knowingly
leaves out: it has no field for them and they change nothing the model does. A dialect without an
equivalent for one of them (Anthropic has no penalties) takes it out and refuses it instead."""


def refuse_unsayable(
    body: Mapping[str, Any], *, provider: str, route: str, refused: Mapping[str, str] = STATELESS_REFUSED
) -> None:
    """Raise for the first field of ``body`` that ``route`` (e.g. "Anthropic Messages") cannot express."""
    for name, feature in refused.items():
        if body.get(name) not in (None, False):
            raise UnsupportedFeatureError(provider, f"{feature} over {route}")
    if body.get("store") is True:
        raise UnsupportedFeatureError(provider, f"store=True over {route}", "it keeps no responses")
    if body.get("service_tier") not in (None, "auto", "default"):
        raise UnsupportedFeatureError(provider, f"service_tier {body['service_tier']!r} over {route}")
    if body.get("truncation") not in (None, "disabled"):
        raise UnsupportedFeatureError(provider, f"truncation {body['truncation']!r} over {route}")
    for name in body.get("include") or []:
        if name != "reasoning.encrypted_content":  # always there: reasoning state travels in it
            raise UnsupportedFeatureError(provider, f"include {name!r} over {route}")
