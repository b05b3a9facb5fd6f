"""The request parameters, typed once and shared by every entry point.

``CreateParams`` are openai-python's ``client.responses.create`` keyword names (so switching is one
import); ``RequestOptions`` are per-call transport knobs; ``ResponsesParams`` are the extra keywords
of the module-level :func:`polyresponses.responses`, which follows any-llm (``shared/seeds/001``).
The vLLM/Tzafon request extras are typed here because the ``openai.vllm-lightcone`` spec overlay
defines them; anything else goes through ``extra_body`` (or ``**kwargs`` of ``responses()``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

__all__ = ["CreateParams", "RequestOptions", "ResponsesParams", "VllmExtras"]


class VllmExtras(TypedDict, total=False):
    """vLLM / Tzafon Lightcone request extras (spec overlay ``openai.vllm-lightcone``)."""

    top_k: int
    cache_salt: str
    priority: int
    request_id: str
    skip_special_tokens: bool
    include_stop_str_in_output: bool
    logit_bias: Mapping[str, float]
    mm_processor_kwargs: Mapping[str, Any]
    previous_input_messages: Sequence[Mapping[str, Any]]
    enable_response_messages: bool


class RequestOptions(TypedDict, total=False):
    """Per-call transport options; they never reach the request body."""

    extra_headers: Mapping[str, str]
    extra_body: Mapping[str, Any]
    timeout: float
    max_retries: int


class CreateParams(VllmExtras, RequestOptions, total=False):
    """``POST /responses`` body fields (``CreateResponse``), by their wire names."""

    input: str | Sequence[Any]
    instructions: str
    tools: Sequence[Any]
    tool_choice: str | Mapping[str, Any]
    max_output_tokens: int
    max_tool_calls: int
    temperature: float
    top_p: float
    top_logprobs: int
    presence_penalty: float
    frequency_penalty: float
    parallel_tool_calls: bool
    reasoning: Mapping[str, Any]
    text: Mapping[str, Any]
    truncation: str
    store: bool
    background: bool
    service_tier: str
    user: str
    metadata: Mapping[str, str]
    previous_response_id: str
    conversation: str | Mapping[str, Any]
    include: Sequence[str]
    safety_identifier: str
    prompt_cache_key: str
    prompt_cache_retention: str
    prompt: Mapping[str, Any]
    stream_options: Mapping[str, Any]
    context_management: Sequence[Mapping[str, Any]]


class ResponsesParams(CreateParams, total=False):
    """What :func:`polyresponses.responses` takes besides ``model``, ``input_data`` and ``stream``."""

    provider: str
    api_key: str
    api_base: str
    dialect: Literal["openai_responses", "chat_completions"]
    """``"chat_completions"``: talk to the provider's ``/chat/completions`` (see ``Client``)."""
    client_args: Mapping[str, Any]
