"""The request parameters, typed once and shared by every entry point.

``CreateParams`` are openai-python's ``client.responses.create`` keyword names (so switching is one
import); ``RequestOptions`` are per-call transport knobs; ``ResponsesParams`` are the extra keywords
of the module-level :func:`polyresponses.responses`, which follows any-llm (``shared/seeds/001``).
The vLLM/Tzafon request extras are typed here because the ``openai.vllm-lightcone`` spec overlay
defines them; anything else goes through ``extra_body`` (or ``**kwargs`` of ``responses()``).

What users write is typed by the TypedDicts generated from the spec (``polyresponses.types.params``,
openai-python's ``*Param`` types), so a misspelt key or literal is a type error; the generated
models are accepted wherever a dict is, and Python functions wherever a tool is. The types are
imported for type checkers only: nothing here costs import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict

if TYPE_CHECKING:
    from pydantic import BaseModel

    from polyresponses.generated import openai as models
    from polyresponses.generated import openai_params as params

__all__ = [
    "ConversationParam",
    "CreateParams",
    "IncludeValue",
    "InputItemLike",
    "InputLike",
    "ReasoningLike",
    "RequestOptions",
    "ResponsesParams",
    "TextLike",
    "ToolChoiceLike",
    "ToolLike",
    "VllmExtras",
]

InputItemLike: TypeAlias = "params.InputItemParam | models.InputItem | BaseModel"
"""An input item: the TypedDict a user writes, or a model (ours, or another SDK's pydantic model)."""
InputLike: TypeAlias = "str | Sequence[InputItemLike]"
ToolLike: TypeAlias = "params.ToolParam | models.Tool | BaseModel | Callable[..., Any]"
"""A tool: its TypedDict, a model, or a Python function (it becomes a strict function tool)."""
ToolChoiceLike: TypeAlias = "params.ToolChoiceParamParam | models.ToolChoiceParam"
ReasoningLike: TypeAlias = "params.ReasoningParam | models.Reasoning"
TextLike: TypeAlias = "params.ResponseTextParamParam | models.ResponseTextParam"
IncludeValue: TypeAlias = "params.IncludeEnumParam"
ConversationParam: TypeAlias = "str | params.ResponseConversationParamParam"


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

    input: InputLike
    instructions: str
    tools: Sequence[ToolLike]
    tool_choice: ToolChoiceLike
    max_output_tokens: int
    max_tool_calls: int
    temperature: float
    top_p: float
    top_logprobs: int
    presence_penalty: float
    frequency_penalty: float
    parallel_tool_calls: bool
    reasoning: ReasoningLike
    text: TextLike
    truncation: params.TruncationEnumParam
    store: bool
    background: bool
    service_tier: params.ServiceTierResponsesParam
    user: str
    metadata: Mapping[str, str]
    previous_response_id: str
    conversation: ConversationParam
    include: Sequence[IncludeValue]
    safety_identifier: str
    prompt_cache_key: str
    prompt_cache_retention: params.PromptCacheRetentionEnumParam
    prompt: params.PromptParamPromptParam
    stream_options: params.ResponseStreamOptionsParamResponseStreamOptionsParam
    context_management: Sequence[params.ContextManagementParamParam]


class ResponsesParams(CreateParams, total=False):
    """What :func:`polyresponses.responses` takes besides ``model``, ``input_data`` and ``stream``."""

    provider: str
    api_key: str
    api_base: str
    dialect: Literal["openai_responses", "chat_completions"]
    """``"chat_completions"``: talk to the provider's ``/chat/completions`` (see ``Client``)."""
    client_args: Mapping[str, Any]
