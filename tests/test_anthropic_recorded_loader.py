"""The recorded Anthropic traffic loader misses no file, and the official SDK's types accept what was recorded.

The ``anthropic`` SDK is a test-only dependency (``pyproject.toml``, group ``test``): its request TypedDicts and
response models are the yardstick an Anthropic dialect is checked against. Request bodies are validated with
``extra="forbid"`` (a TypedDict ignores unknown keys otherwise, so a beta-only field would pass the GA type
unnoticed) and with every lazy ``Iterable[...]`` drained (pydantic validates an ``Iterable`` field only as it is
iterated). Whatever needs the beta types, or fails both, is listed below with its reason: the tables are exact,
so a fixture or SDK change that moves an entry shows up as a failure.
"""

from __future__ import annotations

import json
import operator
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from anthropic.types import ContentBlockParam, Message, RawMessageStreamEvent
from anthropic.types import message_create_params as ga_params
from anthropic.types.beta import BetaContentBlockParam, BetaMessage, BetaRawMessageStreamEvent
from anthropic.types.beta import message_create_params as beta_params
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.warnings import TypedDictExtraConfigWarning

from tests._anthropic_recorded import (
    ANTHROPIC_RECORDED,
    AnthropicExchange,
    anthropic_exchanges,
    anthropic_fixture_files,
)

_EXCHANGES = anthropic_exchanges()
_REQUESTS = [e for e in _EXCHANGES if e.is_messages and e.request_body is not None]
_REPLIES = [e for e in _EXCHANGES if e.is_messages and e.status == 200 and not e.is_stream]
_STREAMS = [e for e in _EXCHANGES if e.is_messages and e.is_stream]

# --- what the folder holds ---------------------------------------------------------------------
_FILES_BY_KIND = {"cassette (*.yaml)": 23, "sdk http snapshot (*.json)": 18, "sdk raw SSE (*.sse, *.txt)": 10}
_EXCHANGE_COUNT = 77  # 35 cassette interactions + 32 snapshot exchanges + 10 raw streams

# Exchanges that are not ``POST /v1/messages`` (e.g. ``/v1/messages/count_tokens``): kept by the loader, listed here.
_NOT_MESSAGES: dict[str, str] = {}

# --- the SDK's verdict (anthropic==0.125.0; 2.14.0 gives the same on every entry) ------------------
# Request bodies the GA ``MessageCreateParams*`` reject (extra="forbid") and the beta ones accept.
_BETA_REQUESTS = {
    "builtin_tools_stream__test_anthropic_advisor_tool_stream.yaml#0": (
        "tools[0] is an advisor_20260301 tool ({type, name, model, max_tokens}): BetaToolUnionParam only"
    ),
    "builtin_tools_stream__test_anthropic_mcp_servers_stream.yaml#0": "top-level mcp_servers (MCP connector)",
    "cached_tokens_stream__test_anthropic_compaction_usage_with_cache_streaming.yaml#0": (
        "top-level context_management (edits: compact_20260112)"
    ),
}
# Non-streamed 200 replies that ``Message`` rejects and ``BetaMessage`` accepts: none.
_BETA_REPLIES: dict[str, str] = {}

# Stream events (by ``type:block-or-delta-type``) that ``RawMessageStreamEvent`` rejects and the beta union accepts.
_BETA_EVENTS = {
    "builtin_tools_stream__test_anthropic_advisor_tool_stream.yaml#0": (
        {"content_block_start:server_tool_use", "content_block_start:advisor_tool_result"},
        "server_tool_use named 'advisor' and its advisor_tool_result block exist in the beta types only",
    ),
    "builtin_tools_stream__test_anthropic_mcp_servers_stream.yaml#0": (
        {"content_block_start:mcp_tool_use", "content_block_start:mcp_tool_result"},
        "MCP connector blocks are beta only",
    ),
    "cached_tokens_stream__test_anthropic_compaction_usage_with_cache_streaming.yaml#0": (
        {"content_block_start:compaction", "content_block_delta:compaction_delta"},
        "compaction block and compaction_delta are beta only",
    ),
    "sdk__anthropic-sdk-python__streaming__compaction_response.txt#0": (
        {"content_block_start:compaction", "content_block_delta:compaction_delta"},
        "compaction block and compaction_delta are beta only",
    ),
    "sdk__anthropic-sdk-python__streaming__fallback_response.txt#0": (
        {"content_block_start:fallback"},
        "the fallback content block is beta only",
    ),
}
# Stream events that neither union accepts: genuine mismatches between the recording and the SDK.
_INVALID_EVENTS = {
    "builtin_tools_stream__test_anthropic_mcp_servers_stream.yaml#0": (
        {"message_delta"},
        "usage.server_tool_use is {web_search_requests} only; the SDK's (Beta)ServerToolUsage requires"
        " web_fetch_requests (older API replies, 2025, claude-sonnet-4-5, omit it)",
    ),
    "builtin_tools_stream__test_anthropic_web_search_tool_stream.yaml#0": (
        {"message_delta"},
        "usage.server_tool_use is {web_search_requests} only; the SDK's (Beta)ServerToolUsage requires"
        " web_fetch_requests (older API replies, 2025, claude-sonnet-4-0, omit it)",
    ),
}
# Fields on the wire that the validating SDK model does not declare (kept as pydantic extras), per stream.
_UNDECLARED_STREAM_FIELDS = {
    "builtin_tools_stream__test_anthropic_advisor_tool_stream.yaml#0": {"MessageDeltaUsage.iterations"},
    "cached_tokens_stream__test_anthropic_compaction_usage_with_cache_streaming.yaml#0": {
        "MessageDeltaUsage.iterations",
        "RawMessageDeltaEvent.context_management",
    },
    "sdk__anthropic-sdk-python__fable-fallback__stream-a-refusal.sse#0": {
        "MessageDeltaUsage.iterations",
        "RefusalStopDetails.fallback_credit_token",
        "RefusalStopDetails.fallback_has_prefill_claim",
    },
    "sdk__anthropic-sdk-python__fable-fallback__stream-a-toolrefusal.sse#0": {
        "MessageDeltaUsage.iterations",
        "RefusalStopDetails.fallback_credit_token",
        "RefusalStopDetails.fallback_has_prefill_claim",
    },
    "sdk__anthropic-sdk-python__fable-fallback__stream-b-fallback.sse#0": {"MessageDeltaUsage.iterations"},
    "sdk__anthropic-sdk-python__streaming__fallback_credit_response.txt#0": {"MessageDeltaUsage.fallback_credit"},
}


def _forbidding_extras(typed_dict: Any) -> TypeAdapter[list[Any]]:
    """A TypedDict cannot take ``config`` itself; in a list, ``extra="forbid"`` reaches every nested TypedDict."""
    with warnings.catch_warnings():
        # The SDK declares a few TypedDicts open to extra items (PEP 728, e.g. BetaFallbackParam): they stay open.
        warnings.simplefilter("ignore", TypedDictExtraConfigWarning)
        list_of: Any = list.__class_getitem__(typed_dict)
        return TypeAdapter(list_of, config=ConfigDict(extra="forbid"))


def _is_response_model(member: Any) -> bool:
    if get_origin(member) is Annotated:
        member = get_args(member)[0]
    if get_origin(member) in (Union, UnionType):
        return all(_is_response_model(inner) for inner in get_args(member))
    return isinstance(member, type) and issubclass(member, BaseModel)


def _params_only(union: Any) -> Any:
    """``union`` less the response models it admits (so that ``message.content`` can be sent back as is)."""
    return reduce(operator.or_, [member for member in get_args(union) if not _is_response_model(member)])


@dataclass(frozen=True)
class _RequestCheck:
    """One flavour (GA or beta) of ``MessageCreateParams``, extra keys forbidden, response models not taken."""

    by_stream: dict[bool, TypeAdapter[list[Any]]]
    block: TypeAdapter[list[Any]]

    def errors(self, body: dict[str, Any]) -> str | None:
        problems = self._check(self.by_stream[body.get("stream") is True], body, "body")
        return "\n".join(problems) or None

    def _check(self, adapter: TypeAdapter[list[Any]], value: object, path: str) -> list[str]:
        try:
            models = list(_response_models_in(adapter.validate_python([value])[0], value, path))
        except ValidationError as error:
            return [f"{path}: {error}"]
        # The SDK's MessageParam.content also takes its response ContentBlock models (extra fields allowed): a
        # block that a model took must still be a valid block param, else it would not be sent as recorded.
        return [problem for where, block in models for problem in self._check(self.block, block, where)]


def _response_models_in(validated: object, original: object, path: str) -> Iterator[tuple[str, object]]:
    """Where the validated value holds a response model, with the input there; drains every lazy ``Iterable``.

    pydantic validates an ``Iterable[...]`` field lazily, item by item as it is iterated: iterating is validating.
    """
    if isinstance(validated, BaseModel):
        yield path, original
    elif isinstance(validated, dict):
        for key, item in validated.items():
            yield from _response_models_in(
                item, original.get(key) if isinstance(original, dict) else None, f"{path}.{key}"
            )
    elif isinstance(validated, list | tuple | Iterator):
        items = original if isinstance(original, list) else []
        for index, item in enumerate(validated):
            yield from _response_models_in(item, items[index] if index < len(items) else None, f"{path}[{index}]")


_GA = _RequestCheck(
    by_stream={
        False: _forbidding_extras(ga_params.MessageCreateParamsNonStreaming),
        True: _forbidding_extras(ga_params.MessageCreateParamsStreaming),
    },
    block=_forbidding_extras(_params_only(ContentBlockParam)),
)
_BETA = _RequestCheck(
    by_stream={
        False: _forbidding_extras(beta_params.MessageCreateParamsNonStreaming),
        True: _forbidding_extras(beta_params.MessageCreateParamsStreaming),
    },
    block=_forbidding_extras(_params_only(BetaContentBlockParam)),
)
_GA_EVENT = TypeAdapter[RawMessageStreamEvent](RawMessageStreamEvent)
_BETA_EVENT = TypeAdapter[BetaRawMessageStreamEvent](BetaRawMessageStreamEvent)


def _ids(exchanges: list[AnthropicExchange]) -> list[str]:
    return [e.name for e in exchanges]


def _undeclared(value: object) -> set[str]:
    """``Model.field`` for every field on the wire that an SDK model does not declare, anywhere inside ``value``."""
    found: set[str] = set()
    if isinstance(value, BaseModel):
        found.update(f"{type(value).__name__}.{name}" for name in value.model_extra or {})
        for name in type(value).model_fields:
            found |= _undeclared(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            found |= _undeclared(item)
    return found


def _event_key(event: dict[str, Any]) -> str:
    """``content_block_start:<block type>``, ``content_block_delta:<delta type>``, or the event type alone."""
    inner = event.get("content_block", event.get("delta")) if event["type"].startswith("content_block_") else None
    return f"{event['type']}:{inner['type']}" if isinstance(inner, dict) else event["type"]


# --- the loader ------------------------------------------------------------------------------------


def test_every_fixture_file_is_loaded() -> None:
    files = anthropic_fixture_files()
    kinds = Counter(
        "cassette (*.yaml)"
        if path.suffix == ".yaml"
        else "sdk http snapshot (*.json)"
        if path.suffix == ".json"
        else "sdk raw SSE (*.sse, *.txt)"
        for path in files
    )
    assert dict(kinds) == _FILES_BY_KIND
    assert sum(_FILES_BY_KIND.values()) == len(list(ANTHROPIC_RECORDED.iterdir()))  # no folder, nothing hidden
    assert {e.file for e in _EXCHANGES} == {path.name for path in files}


def _recorded_count(path: Path) -> int:
    if path.suffix == ".yaml":
        return len(yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"])
    if path.suffix == ".json":
        return len(json.loads(path.read_text(encoding="utf-8")))
    return 1


def test_one_entry_per_recorded_exchange() -> None:
    per_file = Counter(e.file for e in _EXCHANGES)
    assert per_file == {path.name: _recorded_count(path) for path in anthropic_fixture_files()}
    assert len(_EXCHANGES) == _EXCHANGE_COUNT
    assert len({e.name for e in _EXCHANGES}) == len(_EXCHANGES)
    for e in _EXCHANGES:
        assert e.name == f"{e.file}#{e.index}"
    assert anthropic_exchanges() == _EXCHANGES  # cached: the same entries every call
    assert anthropic_exchanges() is not anthropic_exchanges()  # ... in a fresh list


def test_non_messages_exchanges_are_listed() -> None:
    assert {e.name for e in _EXCHANGES if not e.is_messages} == set(_NOT_MESSAGES)


@pytest.mark.parametrize("exchange", _EXCHANGES, ids=_ids(_EXCHANGES))
def test_exchange_is_whole(exchange: AnthropicExchange) -> None:
    assert (exchange.response_json is None) == exchange.is_stream
    if exchange.source == "sdk_sse":
        assert exchange.url is None and exchange.request_body is None and exchange.request_headers is None
    else:
        assert exchange.method == "POST" and exchange.request_body is not None
        if exchange.status == 200:  # an error reply to a stream request is JSON
            assert exchange.request_body.get("stream", False) is exchange.is_stream
    if exchange.source == "sdk_http_snapshot":
        assert exchange.request_headers is not None
        assert exchange.request_headers["anthropic-version"] == "2023-06-01"
    if exchange.is_stream:
        types = [event["type"] for event in exchange.events()]
        assert types[0] == "message_start" and types[-1] == "message_stop"
    elif exchange.status != 200:
        assert exchange.response_json["type"] == "error"


# --- the SDK's types accept the recordings ---------------------------------------------------------


@pytest.mark.parametrize("exchange", _REQUESTS, ids=_ids(_REQUESTS))
def test_request_body_is_message_create_params(exchange: AnthropicExchange) -> None:
    assert exchange.request_body is not None
    ga_errors = _GA.errors(exchange.request_body)
    if exchange.name not in _BETA_REQUESTS:
        assert ga_errors is None, ga_errors
        return
    assert ga_errors is not None, f"now GA-valid: drop it from _BETA_REQUESTS ({_BETA_REQUESTS[exchange.name]})"
    assert exchange.is_beta  # the beta body went to the beta endpoint
    beta_errors = _BETA.errors(exchange.request_body)
    assert beta_errors is None, beta_errors


def test_request_check_reaches_nested_blocks_and_unknown_fields() -> None:
    """The request check itself: lazy iterables drained, unknown keys refused, response models not a way round."""
    body: dict[str, Any] = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    assert _GA.errors(body) is None and _BETA.errors(body) is None
    # A text block with a stray key: TextBlockParam refuses it, the response model TextBlock would keep it.
    stray = body | {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "oops": 1}]}]}
    assert "oops" in (_GA.errors(stray) or "") and "oops" in (_BETA.errors(stray) or "")
    # Deep in an Iterable (tool_result.content), behind a str | Iterable union.
    deep = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": 1}]}
    assert _GA.errors(body | {"messages": [{"role": "user", "content": [deep]}]}) is not None
    assert "mcp_servers" in (_GA.errors(body | {"mcp_servers": []}) or "")
    assert _BETA.errors(body | {"mcp_servers": []}) is None


@pytest.mark.parametrize("exchange", _REPLIES, ids=_ids(_REPLIES))
def test_reply_is_message(exchange: AnthropicExchange) -> None:
    model: BaseModel
    if exchange.name in _BETA_REPLIES:
        with pytest.raises(ValidationError):
            Message.model_validate(exchange.response_json)
        model = BetaMessage.model_validate(exchange.response_json)
    else:
        model = Message.model_validate(exchange.response_json)
    assert _undeclared(model) == set()


@pytest.mark.parametrize("exchange", _STREAMS, ids=_ids(_STREAMS))
def test_stream_events_are_raw_message_stream_events(exchange: AnthropicExchange) -> None:
    beta_only: set[str] = set()
    invalid: set[str] = set()
    undeclared: set[str] = set()
    for event in exchange.events():
        if event["type"] == "ping":  # sent on the wire, not in the SDK's event union
            continue
        try:
            undeclared |= _undeclared(_GA_EVENT.validate_python(event))
            continue
        except ValidationError:
            beta_only.add(_event_key(event))
        try:
            undeclared |= _undeclared(_BETA_EVENT.validate_python(event))
        except ValidationError:
            beta_only.discard(_event_key(event))
            invalid.add(_event_key(event))
    assert beta_only == _BETA_EVENTS.get(exchange.name, (set(), ""))[0]
    assert invalid == _INVALID_EVENTS.get(exchange.name, (set(), ""))[0]
    assert undeclared == _UNDECLARED_STREAM_FIELDS.get(exchange.name, set())


def test_tables_name_real_exchanges() -> None:
    names = {e.name for e in _EXCHANGES}
    for table in (
        _NOT_MESSAGES,
        _BETA_REQUESTS,
        _BETA_REPLIES,
        _BETA_EVENTS,
        _INVALID_EVENTS,
        _UNDECLARED_STREAM_FIELDS,
    ):
        assert set(table) <= names


def test_polyresponses_never_imports_anthropic() -> None:
    package = Path(__file__).resolve().parents[1] / "polyresponses"
    importing = re.compile(r"^\s*(?:import|from)\s+anthropic\b", re.MULTILINE)
    offenders = [str(p) for p in package.rglob("*.py") if importing.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], "anthropic is a test-only dependency"
