"""A conformance checker for Responses API streams: is this sequence of events one a client can trust?

Each event validating on its own (what ``polyresponses types --sse`` checks) says little about the
stream: a server can send valid events in an order no accumulator can follow, skip sequence numbers,
or finish with a ``response.completed`` whose ``output`` disagrees with what was streamed. Those are
the bugs a stream translator (ours, or a vendor's) makes, and the ones a client only notices as a
garbled reply. :func:`check_stream` states the rules once, so the router's translators, recorded
provider traffic and third-party servers can all be held to them:

``schema``
    Every event validates against the canonical :data:`polyresponses.types.ResponseStreamEvent`.
``openresponses-schema`` / ``openresponses-unknown-type``
    Every event also validates against the strict OpenResponses models
    (:data:`polyresponses.types.openresponses.ResponseStreamEvent`); an event type the OpenResponses
    spec does not define at all (e.g. ``response.web_search_call.searching``) is the distinct rule
    ``openresponses-unknown-type``, because that is a gap in the spec, not a fault of the server.
``sequence``
    ``sequence_number`` is on every event, starts at 0 and increases by exactly 1.
``lifecycle``
    ``response.created`` first (then optionally ``response.queued``, then ``response.in_progress``);
    exactly one terminal event (``response.completed``/``incomplete``/``failed``, or an ``error``)
    and nothing after it; per output item ``output_item.added`` before anything refers to it, parts
    added before their deltas, no delta after its ``.done``, every part and text done before the
    item's ``output_item.done``, nothing after that, every item done before the terminal event.
``index``
    Added items carry ``output_index`` 0, 1, 2... in order; every later event of an item carries the
    same ``output_index`` and ``item_id``; ``content_index`` / ``summary_index`` of added parts are
    0, 1, ... in order.
``accumulation``
    The deltas of each text (output text, refusal, reasoning text, reasoning summary, function-call
    and MCP arguments, custom tool input, code interpreter code) add up to the text of its ``.done``
    event, of its ``content_part.done`` part and of its ``output_item.done`` item; each
    ``output_item.done`` item equals the terminal response's ``output[output_index]`` (on the fields
    the event carries, ``None`` values ignored), and that ``output`` has as many items as were added.
``checker-error``
    The checker itself failed on an event; it never raises on malformed input, it reports.

Events may be canonical models, dicts parsed from JSON, or the JSON text of an SSE ``data`` field. A
model is checked as the JSON it stands for: ``exclude_none`` (so unset optional fields do not turn
into ``null``), but a ``None`` that was given explicitly (in code or in the parsed JSON) stays ``null``,
because the OpenResponses spec has many required-nullable fields (``error``, ``completed_at``...).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeAlias

from pydantic import BaseModel, TypeAdapter, ValidationError

__all__ = [
    "ACCUMULATION",
    "CHECKER_ERROR",
    "INDEX",
    "LIFECYCLE",
    "OPENRESPONSES_SCHEMA",
    "OPENRESPONSES_UNKNOWN_TYPE",
    "RULES",
    "SCHEMA",
    "SEQUENCE",
    "EventLike",
    "Violation",
    "assert_conformant",
    "check_stream",
]

SCHEMA = "schema"
OPENRESPONSES_SCHEMA = "openresponses-schema"
OPENRESPONSES_UNKNOWN_TYPE = "openresponses-unknown-type"
LIFECYCLE = "lifecycle"
SEQUENCE = "sequence"
INDEX = "index"
ACCUMULATION = "accumulation"
CHECKER_ERROR = "checker-error"
RULES: tuple[str, ...] = (
    SCHEMA,
    OPENRESPONSES_SCHEMA,
    OPENRESPONSES_UNKNOWN_TYPE,
    SEQUENCE,
    LIFECYCLE,
    INDEX,
    ACCUMULATION,
    CHECKER_ERROR,
)
"""Every rule id :func:`check_stream` can report, in the order its docs describe them."""

EventLike: TypeAlias = BaseModel | Mapping[str, Any] | str | bytes
"""A stream event: a canonical model, a dict parsed from JSON, or the JSON text itself."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``index`` is the event's position in the input (``len(events)`` for "the stream ended
    without..."), ``rule`` one of :data:`RULES`, ``message`` what is wrong and where."""

    index: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"event {self.index}: [{self.rule}] {self.message}"


_START = ("response.created", "response.queued", "response.in_progress")
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_ERROR = "error"
_ITEM_ADDED = "response.output_item.added"
_ITEM_DONE = "response.output_item.done"
# part event type -> (item slot holding the parts, event field naming the part, "added" or "done")
_PART_EVENTS: dict[str, tuple[str, str, str]] = {
    "response.content_part.added": ("content", "content_index", "added"),
    "response.content_part.done": ("content", "content_index", "done"),
    "response.reasoning_summary_part.added": ("summary", "summary_index", "added"),
    "response.reasoning_summary_part.done": ("summary", "summary_index", "done"),
}
_PART_WORD = {"content": "content part", "summary": "reasoning summary part"}


@dataclass(frozen=True, slots=True)
class _TextKind:
    """A streamed text: its delta/done events, the field of the done event holding the whole text, and
    where it lands in the item: a part of ``slot`` (named by ``index_field``) or the item's ``item_field``."""

    name: str
    done_field: str
    slot: str | None = None
    index_field: str | None = None
    item_field: str | None = None

    @property
    def delta(self) -> str:
        return f"response.{self.name}.delta"

    @property
    def done(self) -> str:
        return f"response.{self.name}.done"


_KINDS = (
    _TextKind("output_text", "text", "content", "content_index"),
    _TextKind("refusal", "refusal", "content", "content_index"),
    _TextKind("reasoning_text", "text", "content", "content_index"),
    _TextKind("reasoning", "text", "content", "content_index"),  # OpenResponses' name for reasoning_text
    _TextKind("reasoning_summary_text", "text", "summary", "summary_index"),
    _TextKind("function_call_arguments", "arguments", item_field="arguments"),
    _TextKind("mcp_call_arguments", "arguments", item_field="arguments"),
    _TextKind("custom_tool_call_input", "input", item_field="input"),
    _TextKind("code_interpreter_call_code", "code", item_field="code"),
)
_TEXT_EVENTS: dict[str, tuple[_TextKind, bool]] = {
    **{kind.delta: (kind, False) for kind in _KINDS},
    **{kind.done: (kind, True) for kind in _KINDS},
}


@dataclass(frozen=True, slots=True)
class _Schemas:
    """The two stream unions, and which item references each canonical event type declares."""

    canonical: TypeAdapter[Any]
    openresponses: TypeAdapter[Any]
    openresponses_types: frozenset[str]
    references: dict[str, tuple[bool, bool]]  # type -> (declares item_id, declares output_index)


def _members(alias: Any) -> tuple[type[BaseModel], ...]:
    """The models of a generated ``Annotated[A | B | ..., Field(discriminator=...)]`` type alias."""
    annotated = typing.get_args(alias.__value__)[0]
    return tuple(m for m in typing.get_args(annotated) if isinstance(m, type) and issubclass(m, BaseModel))


def _tags(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(str(tag) for tag in typing.get_args(model.model_fields["type"].annotation))


@cache
def _schemas() -> _Schemas:
    """Built on first use: importing this module must stay as cheap as importing ``polyresponses``."""
    from polyresponses.generated import openai, openresponses

    references: dict[str, tuple[bool, bool]] = {}
    for model in _members(openai.ResponseStreamEvent):
        for tag in _tags(model):
            references[tag] = ("item_id" in model.model_fields, "output_index" in model.model_fields)
    return _Schemas(
        canonical=TypeAdapter(openai.ResponseStreamEvent),
        openresponses=TypeAdapter(openresponses.ResponseStreamEvent),
        openresponses_types=frozenset(t for m in _members(openresponses.ResponseStreamEvent) for t in _tags(m)),
        references=references,
    )


def check_stream(events: Iterable[EventLike], *, openresponses: bool = True) -> list[Violation]:
    """Every rule the stream ``events`` breaks, in event order; empty when it conforms.

    ``openresponses=False`` skips the two OpenResponses schema rules (for streams that use OpenAI's
    many event types the OpenResponses spec leaves out). Never raises on malformed events.
    """
    checker = _Checker(openresponses=openresponses)
    count = 0
    for index, raw in enumerate(events):
        count = index + 1
        try:
            checker.feed(index, raw)
        except Exception as exc:  # the contract is to report, never to crash
            checker.report(index, CHECKER_ERROR, f"the checker failed on this event: {type(exc).__name__}: {exc}")
    checker.finish(count)
    return sorted(checker.violations, key=lambda v: v.index)


def assert_conformant(events: Iterable[EventLike], *, openresponses: bool = True, ignore: Collection[str] = ()) -> None:
    """Raise ``AssertionError`` listing every violation of :func:`check_stream` whose rule is not in ``ignore``."""
    violations = [v for v in check_stream(events, openresponses=openresponses) if v.rule not in ignore]
    if violations:
        lines = "\n".join(f"  {v}" for v in violations)
        raise AssertionError(f"the stream has {len(violations)} conformance violation(s):\n{lines}")


# --- the checker ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Part:
    """One streamed text: a content/summary part of an item, or an item field such as ``arguments``."""

    position: int
    label: str
    added_at: int | None = None
    done_at: int | None = None
    pieces: list[str] = field(default_factory=list)
    deltas: int = 0
    text_done_at: int | None = None
    text_kind: _TextKind | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(slots=True)
class _Item:
    position: int
    output_index: int | None
    id: str | None
    added_at: int
    done_at: int | None = None
    done_item: dict[str, Any] | None = None
    parts: dict[str, dict[int | None, _Part]] = field(default_factory=lambda: {"content": {}, "summary": {}})
    fields: dict[str, _Part] = field(default_factory=dict)

    @property
    def label(self) -> str:
        where = f"output_index {self.output_index}" if self.output_index is not None else f"item #{self.position}"
        return f"item {self.id!r} ({where}, added at event {self.added_at})"


class _Checker:
    """Feeds events one by one, keeping just enough state to check each against what came before."""

    def __init__(self, *, openresponses: bool) -> None:
        self.openresponses = openresponses
        self.violations: list[Violation] = []
        self.previous_type: str | None = None
        self.previous_sequence: int | None = None
        self.seen_in_progress = False
        self.terminal: tuple[int, str] | None = None
        self.items: list[_Item] = []
        self.by_id: dict[str, _Item] = {}
        self.by_index: dict[int, _Item] = {}
        self.unknown_refs: set[tuple[str | None, int | None]] = set()

    def report(self, index: int, rule: str, message: str) -> None:
        self.violations.append(Violation(index, rule, message))

    # -- per event --

    def feed(self, index: int, raw: EventLike) -> None:
        event = self.normalise(index, raw)
        if event is None:
            self.previous_type = None
            return
        kind = event.get("type")
        etype = kind if isinstance(kind, str) else None
        self.check_schema(index, event, etype)
        self.check_sequence(index, event)
        if etype is not None:
            self.check_structure(index, event, etype)
        self.previous_type = etype

    def normalise(self, index: int, raw: object) -> dict[str, Any] | None:
        """The event as wire JSON (a dict), or None (reported) when it is not a JSON object at all."""
        if isinstance(raw, BaseModel):
            return _dump(raw)
        if isinstance(raw, str | bytes | bytearray):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                self.report(index, SCHEMA, f"the event is not valid JSON: {exc}")
                return None
        if isinstance(raw, Mapping):
            return dict(raw)
        self.report(index, SCHEMA, f"the event is a {type(raw).__name__}, not a JSON object")
        return None

    def check_schema(self, index: int, event: dict[str, Any], etype: str | None) -> None:
        schemas = _schemas()
        if not _valid(schemas.canonical, event):
            self.report(index, SCHEMA, f"not a valid ResponseStreamEvent: {_explain(schemas.canonical, event)}")
        if not self.openresponses or etype is None:
            return
        if etype not in schemas.openresponses_types:
            self.report(index, OPENRESPONSES_UNKNOWN_TYPE, f"the OpenResponses spec has no event type {etype!r}")
        elif not _valid(schemas.openresponses, event):
            explanation = _explain(schemas.openresponses, event)
            self.report(index, OPENRESPONSES_SCHEMA, f"not a valid OpenResponses {etype} event: {explanation}")

    def check_sequence(self, index: int, event: dict[str, Any]) -> None:
        number = _int(event, "sequence_number")
        if number is None:
            self.report(
                index,
                SEQUENCE,
                "no sequence_number" if "sequence_number" not in event else "sequence_number is not an integer",
            )
            return
        if self.previous_sequence is None:
            if index == 0 and number != 0:
                self.report(index, SEQUENCE, f"the first sequence_number is {number}, expected 0")
        elif number != self.previous_sequence + 1:
            self.report(
                index,
                SEQUENCE,
                f"sequence_number {number} after {self.previous_sequence}, expected {self.previous_sequence + 1}",
            )
        self.previous_sequence = number

    def check_structure(self, index: int, event: dict[str, Any], etype: str) -> None:
        if self.terminal is not None:
            at, terminal_type = self.terminal
            self.report(index, LIFECYCLE, f"{etype} after the terminal {terminal_type} (event {at})")
        if index == 0 and etype != "response.created":
            self.report(index, LIFECYCLE, f"the first event is {etype}, expected response.created")
        if etype in _START:
            self.check_start(index, etype)
        elif etype in _TERMINAL or etype == _ERROR:
            self.on_terminal(index, event, etype)
        elif etype == _ITEM_ADDED:
            self.on_item_added(index, event)
        elif etype == _ITEM_DONE:
            self.on_item_done(index, event)
        elif etype in _PART_EVENTS:
            self.on_part(index, event, etype)
        elif etype in _TEXT_EVENTS:
            self.on_text(index, event, etype)
        elif etype == "response.output_text.annotation.added":
            item = self.resolve(index, event, etype)
            if item is not None:
                self.find_part(index, event, etype, item, "content", "content_index")
        else:
            declared = _schemas().references.get(etype)
            if declared is None:  # a type we do not know: an item event if it names one
                declared = ("item_id" in event, "output_index" in event)
            if any(declared):
                self.resolve(index, event, etype, declared)

    def check_start(self, index: int, etype: str) -> None:
        if etype == "response.created":
            if index != 0:
                self.report(index, LIFECYCLE, f"response.created at event {index}: only the first event may be one")
            return
        if index == 0:
            return  # already reported as "the first event is ..."
        allowed = ("response.created",) if etype == "response.queued" else ("response.created", "response.queued")
        if etype == "response.in_progress" and self.seen_in_progress:
            self.report(index, LIFECYCLE, "a second response.in_progress")
        elif self.previous_type not in allowed:
            self.report(
                index, LIFECYCLE, f"{etype} after {self.previous_type}, expected right after {' or '.join(allowed)}"
            )
        self.seen_in_progress = self.seen_in_progress or etype == "response.in_progress"

    # -- items --

    def on_item_added(self, index: int, event: dict[str, Any]) -> None:
        output_index = _int(event, "output_index")
        item = _dict(event.get("item"))
        item_id = _str(item, "id") if item is not None else None
        expected = len(self.items)
        if output_index is None:
            self.report(index, INDEX, f"output_item.added carries no output_index (expected {expected})")
        elif output_index != expected:
            self.report(
                index,
                INDEX,
                f"output_item.added has output_index {output_index}, expected {expected} (items are numbered 0, 1, ... "
                "in the order they are added)",
            )
        state = _Item(position=expected, output_index=output_index, id=item_id, added_at=index)
        if item_id is not None and item_id in self.by_id:
            self.report(index, LIFECYCLE, f"{self.by_id[item_id].label} is added a second time")
        if output_index is not None and output_index in self.by_index:
            self.report(
                index, INDEX, f"output_index {output_index} is already taken by {self.by_index[output_index].label}"
            )
        self.items.append(state)
        if item_id is not None:
            self.by_id.setdefault(item_id, state)
        if output_index is not None:
            self.by_index.setdefault(output_index, state)

    def resolve(
        self, index: int, event: dict[str, Any], etype: str, declared: tuple[bool, bool] = (True, True)
    ) -> _Item | None:
        """The added item ``event`` refers to (by ``item_id``, else ``output_index``), checking both match it."""
        wants_id, wants_index = declared
        item_id = _str(event, "item_id")
        output_index = _int(event, "output_index")
        if wants_index and output_index is None:
            self.report(index, INDEX, f"{etype} carries no output_index")
        if wants_id and item_id is None:
            self.report(index, INDEX, f"{etype} carries no item_id")
        item = self.by_id.get(item_id) if item_id is not None else None
        if item is None and output_index is not None:
            item = self.by_index.get(output_index)
        if item is None:
            ref = (item_id, output_index)
            if ref not in self.unknown_refs:  # once per unknown item: the first event is the news
                self.unknown_refs.add(ref)
                self.report(
                    index,
                    LIFECYCLE,
                    f"{etype} refers to item {item_id!r} (output_index {output_index}), which no earlier "
                    "response.output_item.added announced",
                )
            return None
        if output_index is not None and item.output_index is not None and output_index != item.output_index:
            self.report(index, INDEX, f"{etype} has output_index {output_index}, but it refers to {item.label}")
        if item_id is not None and item.id is not None and item_id != item.id:
            self.report(
                index, INDEX, f"{etype} has item_id {item_id!r}, but output_index {output_index} is {item.label}"
            )
        if item.done_at is not None:
            self.report(
                index, LIFECYCLE, f"{etype} refers to {item.label} after its output_item.done (event {item.done_at})"
            )
        return item

    def on_item_done(self, index: int, event: dict[str, Any]) -> None:
        output_index = _int(event, "output_index")
        done = _dict(event.get("item"))
        item_id = _str(done, "id") if done is not None else None
        item = self.by_id.get(item_id) if item_id is not None else None
        if item is None and output_index is not None:
            item = self.by_index.get(output_index)
        if item is None:
            self.report(
                index,
                LIFECYCLE,
                f"output_item.done for item {item_id!r} (output_index {output_index}), which was never added",
            )
            return
        if output_index is None:
            self.report(index, INDEX, f"output_item.done of {item.label} carries no output_index")
        elif item.output_index is not None and output_index != item.output_index:
            self.report(index, INDEX, f"output_item.done has output_index {output_index}, but its item is {item.label}")
        if item_id is None or item_id != item.id:
            self.report(index, INDEX, f"output_item.done carries item id {item_id!r}, but it closes {item.label}")
        if item.done_at is not None:
            self.report(index, LIFECYCLE, f"a second output_item.done for {item.label} (first at event {item.done_at})")
            return
        item.done_at, item.done_item = index, done
        for slot, parts in item.parts.items():
            for part in parts.values():
                if part.added_at is not None and part.done_at is None:
                    self.report(index, LIFECYCLE, f"output_item.done of {item.label} before {part.label} is done")
                self.check_text_done(index, item, part)
            if parts and done is not None:
                self.check_item_parts(index, item, slot, parts, done.get(slot))
        for name, part in item.fields.items():
            self.check_text_done(index, item, part)
            if done is not None and isinstance(done.get(name), str) and done[name] != part.text:
                self.report(index, ACCUMULATION, _differs(f"output_item.done {name}", done[name], part))

    def check_text_done(self, index: int, item: _Item, part: _Part) -> None:
        if part.deltas and part.text_done_at is None and part.text_kind is not None:
            self.report(
                index, LIFECYCLE, f"output_item.done of {item.label} before {part.text_kind.done} of {part.label}"
            )

    def check_item_parts(self, index: int, item: _Item, slot: str, parts: dict[int | None, _Part], got: object) -> None:
        if not isinstance(got, list):
            self.report(
                index, ACCUMULATION, f"output_item.done of {item.label} has no {slot} list, {len(parts)} streamed"
            )
            return
        if len(got) != len(parts):
            self.report(
                index,
                ACCUMULATION,
                f"output_item.done of {item.label} has {len(got)} {slot} parts, {len(parts)} streamed",
            )
        for part in parts.values():
            if part.position < len(got):
                text = _part_text(got[part.position])
                if text is not None and text != part.text:
                    self.report(index, ACCUMULATION, _differs(f"output_item.done {slot}[{part.position}]", text, part))

    # -- parts and texts --

    def on_part(self, index: int, event: dict[str, Any], etype: str) -> None:
        slot, index_field, stage = _PART_EVENTS[etype]
        item = self.resolve(index, event, etype)
        if item is None:
            return
        key = _int(event, index_field)
        parts = item.parts[slot]
        text = _part_text(event.get("part"))
        if stage == "added":
            expected = sum(1 for p in parts.values() if p.added_at is not None)
            if key is None:
                self.report(index, INDEX, f"{etype} carries no {index_field} (expected {expected})")
            elif key != expected:
                self.report(index, INDEX, f"{etype} has {index_field} {key}, expected {expected} for {item.label}")
            if key in parts:
                self.report(index, LIFECYCLE, f"{parts[key].label} of {item.label} is added a second time")
                return
            part = _Part(position=len(parts), label=_part_label(slot, index_field, key), added_at=index)
            if text:
                part.pieces.append(text)  # an accumulator starts from the added part's text
            parts[key] = part
            return
        part = self.find_part(index, event, etype, item, slot, index_field)
        if part.done_at is not None:
            self.report(index, LIFECYCLE, f"a second {etype} for {part.label} (first at event {part.done_at})")
            return
        part.done_at = index
        if part.deltas and part.text_done_at is None and part.text_kind is not None:
            self.report(index, LIFECYCLE, f"{etype} before {part.text_kind.done} of {part.label}")
        if text is not None and text != part.text:
            self.report(index, ACCUMULATION, _differs(f"{etype} part", text, part))

    def find_part(
        self, index: int, event: dict[str, Any], etype: str, item: _Item, slot: str, index_field: str
    ) -> _Part:
        """The part an event refers to; when it was never added, reported once and then tracked anyway."""
        key = _int(event, index_field)
        if key is None:
            self.report(index, INDEX, f"{etype} carries no {index_field}")
        parts = item.parts[slot]
        part = parts.get(key)
        if part is None:
            part = parts[key] = _Part(position=len(parts), label=_part_label(slot, index_field, key))
            self.report(
                index, LIFECYCLE, f"{etype} before the {_PART_WORD[slot]}'s .added event ({part.label} of {item.label})"
            )
        elif part.done_at is not None and not etype.endswith("_part.done"):
            self.report(index, LIFECYCLE, f"{etype} after {part.label} of {item.label} is done (event {part.done_at})")
        return part

    def on_text(self, index: int, event: dict[str, Any], etype: str) -> None:
        kind, is_done = _TEXT_EVENTS[etype]
        item = self.resolve(index, event, etype)
        if item is None:
            return
        if kind.slot is not None and kind.index_field is not None:
            part = self.find_part(index, event, etype, item, kind.slot, kind.index_field)
        else:
            name = kind.item_field or kind.done_field
            part = item.fields.setdefault(name, _Part(position=0, label=name))
        part.text_kind = part.text_kind or kind
        if part.text_done_at is not None:
            what = "a second" if is_done else "a delta after"
            self.report(
                index, LIFECYCLE, f"{what} {kind.done} of {part.label} of {item.label} (event {part.text_done_at})"
            )
            return
        if not is_done:
            delta = event.get("delta")
            if isinstance(delta, str):
                part.pieces.append(delta)
            part.deltas += 1
            return
        part.text_done_at = index
        text = event.get(kind.done_field)
        if isinstance(text, str) and text != part.text:
            self.report(index, ACCUMULATION, _differs(f"{etype} {kind.done_field}", text, part))

    # -- the end --

    def on_terminal(self, index: int, event: dict[str, Any], etype: str) -> None:
        if self.terminal is not None:
            return  # "after the terminal" already reported
        self.terminal = (index, etype)
        if etype == _ERROR:
            return  # an error aborts the stream: open items are expected
        for item in self.items:
            if item.done_at is None:
                self.report(index, LIFECYCLE, f"{etype} while {item.label} was never done (no output_item.done)")
        response = _dict(event.get("response"))
        output = response.get("output") if response is not None else None
        if not isinstance(output, list):
            if self.items:
                self.report(
                    index, ACCUMULATION, f"the {etype} response has no output list, {len(self.items)} items were added"
                )
            return
        if len(output) != len(self.items):
            self.report(
                index,
                ACCUMULATION,
                f"the {etype} response has {len(output)} output items, {len(self.items)} were added",
            )
        for item in self.items:
            if item.done_item is None:
                continue
            at = item.output_index if item.output_index is not None else item.position
            if not 0 <= at < len(output):
                continue
            streamed, final = _without_none(item.done_item), _without_none(output[at])
            if not isinstance(final, dict) or not isinstance(streamed, dict):
                self.report(index, ACCUMULATION, f"output[{at}] of the {etype} response is not an object")
                continue
            differing = sorted(key for key, value in streamed.items() if final.get(key) != value)
            if differing:
                details = "; ".join(
                    f"{k}: streamed {_short(streamed[k])}, final {_short(final.get(k))}" for k in differing
                )
                self.report(
                    index,
                    ACCUMULATION,
                    f"output[{at}] of the {etype} response differs from the output_item.done of {item.label} "
                    f"(event {item.done_at}) in {', '.join(differing)} ({details})",
                )

    def finish(self, count: int) -> None:
        if count == 0:
            self.report(0, LIFECYCLE, "the stream has no events")
        elif self.terminal is None:
            self.report(
                count,
                LIFECYCLE,
                "the stream ends without a terminal event (response.completed, response.incomplete, "
                "response.failed or error)",
            )


# --- helpers --------------------------------------------------------------------------------------------


def _dump(model: BaseModel) -> dict[str, Any]:
    """``model`` as JSON: ``exclude_none``, then the explicitly given ``None`` values put back, at any depth."""
    from polyresponses.router._wire import to_reply

    return to_reply(model)


def _valid(adapter: TypeAdapter[Any], event: dict[str, Any]) -> bool:
    try:
        adapter.validate_python(event)
    except ValidationError:
        return False
    return True


def _explain(adapter: TypeAdapter[Any], event: dict[str, Any], limit: int = 3) -> str:
    """The first few validation errors, as ``field.path: message``."""
    try:
        adapter.validate_python(event)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        tag = event.get("type")
        parts = []
        for error in errors[:limit]:
            loc = [str(p) for p in error["loc"]]
            if loc and loc[0] == tag:
                loc = loc[1:]
            parts.append(f"{'.'.join(loc) or '(event)'}: {error['msg']}")
        more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
        return "; ".join(parts) + more
    return "valid"


def _int(data: Mapping[str, Any] | None, key: str) -> int | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(data: Mapping[str, Any] | None, key: str) -> str | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, str) else None


def _dict(value: object) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def _part_text(part: object) -> str | None:
    """The text of a content/summary part: ``refusal`` for refusals, else ``text`` (None for non-text parts)."""
    if not isinstance(part, Mapping):
        return None
    value = part.get("refusal" if part.get("type") == "refusal" else "text")
    return value if isinstance(value, str) else None


def _part_label(slot: str, index_field: str, key: int | None) -> str:
    return f"{_PART_WORD[slot]} {index_field} {key}"


def _short(value: object, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _differs(what: str, got: str, part: _Part) -> str:
    return (
        f"{what} {_short(got)} differs from the {part.deltas} delta(s) concatenated {_short(part.text)} ({part.label})"
    )


def _without_none(value: object) -> object:
    """``value`` as ``exclude_none`` would dump it: the comparison ignores absent-vs-null differences."""
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
