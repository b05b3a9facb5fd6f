"""Structured Outputs: ``text_format_for`` builds the Responses ``text.format``; ``parse_output`` reads it back.

Each format is checked against the strict-mode rules, openai-python's strictifier (a fixpoint) and the
generated ``TextResponseFormatJsonSchema`` model; parsing goes through valid, invalid and
schema-violating JSON for a model, a dataclass and a TypedDict.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, Generic, Literal, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict, RootModel, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from polyresponses.router._structured import parse_output, text_format_for
from polyresponses.router._tools import type_adapter
from polyresponses.types import TextResponseFormatConfiguration, TextResponseFormatJsonSchema

from ._strict_rules import assert_json_schema_accepts, assert_sdk_fixpoint, assert_strict

T = TypeVar("T")


class Sentiment(enum.Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class Entity(BaseModel):
    text: str
    kind: Literal["person", "place", "thing"]


class Review(BaseModel):
    """What the model extracts from one review."""

    title: str
    stars: int
    sentiment: Sentiment
    entities: list[Entity]
    summary: str | None = None
    language: str = "en"


@dataclasses.dataclass
class Invoice:
    number: str
    total: float
    paid: bool = False


class Span(TypedDict):
    start: int
    end: int
    label: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class Scores(BaseModel):
    values: dict[str, float]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


class Wrapped(RootModel[list[int]]):
    pass


GOOD: list[tuple[Any, Any]] = [
    (
        Review,
        Review(
            title="Great",
            stars=5,
            sentiment=Sentiment.POSITIVE,
            entities=[Entity(text="Paris", kind="place")],
            summary=None,
        ),
    ),
    (Invoice, Invoice(number="A-1", total=9.5, paid=True)),
    (Span, Span(start=0, end=5, label="greeting")),
    (Page[Entity], Page[Entity](items=[Entity(text="x", kind="thing")], next_cursor="c2")),
]


@pytest.mark.parametrize(("tp", "value"), GOOD, ids=["model", "dataclass", "typeddict", "generic-model"])
def test_text_format_is_a_strict_json_schema_format(tp: Any, value: Any) -> None:
    fmt = text_format_for(tp)
    assert set(fmt) == {"type", "name", "schema", "strict"}
    assert fmt["type"] == "json_schema"
    assert fmt["strict"] is True
    assert_strict(fmt["schema"])
    assert_sdk_fixpoint(fmt["schema"])
    instance = TypeAdapter(tp).dump_python(value, mode="json")
    assert_json_schema_accepts(fmt["schema"], instance)

    validated = TextResponseFormatJsonSchema.model_validate(fmt)
    assert validated.name == fmt["name"]
    assert validated.strict is True
    assert validated.schema_.model_dump() == fmt["schema"]
    TypeAdapter(TextResponseFormatConfiguration).validate_python(fmt)

    # What the schema admits parses back to the same value.
    assert parse_output(tp, json.dumps(instance)) == value


def test_model_format_details() -> None:
    fmt = text_format_for(Review)
    assert fmt["name"] == "Review"
    schema = fmt["schema"]
    assert schema["description"] == "What the model extracts from one review."
    assert schema["required"] == ["title", "stars", "sentiment", "entities", "summary", "language"]
    assert schema["properties"]["summary"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schema["properties"]["language"]["description"] == 'Default: "en".'
    assert schema["properties"]["sentiment"] == {"$ref": "#/$defs/Sentiment"}
    assert schema["$defs"]["Entity"]["additionalProperties"] is False


def test_names_are_sanitised_to_the_spec_pattern() -> None:
    assert text_format_for(Page[Entity])["name"] == "Page_Entity_"
    long = type("X" * 80, (BaseModel,), {"__annotations__": {"a": int}})
    assert text_format_for(long)["name"] == "X" * 64


def test_dict_formats_pass_through_as_copies() -> None:
    flat = {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": False}
    passed = text_format_for(flat)
    assert passed == flat
    assert passed is not flat and passed["schema"] is not flat["schema"]
    assert text_format_for({"type": "json_object"}) == {"type": "json_object"}
    assert text_format_for({"type": "text"}) == {"type": "text"}


def test_chat_completions_response_format_is_flattened() -> None:
    chat = {
        "type": "json_schema",
        "json_schema": {"name": "r", "description": "d", "schema": {"type": "object"}, "strict": True},
    }
    fmt = text_format_for(chat)
    assert fmt == {"type": "json_schema", "name": "r", "description": "d", "schema": {"type": "object"}, "strict": True}
    TextResponseFormatJsonSchema.model_validate(fmt)


@pytest.mark.parametrize(
    ("response_format", "error", "message"),
    [
        ({"type": "object", "properties": {}}, ValueError, "bare JSON Schema"),
        ({"properties": {"a": {"type": "string"}}}, ValueError, "bare JSON Schema"),
        ({"name": "r"}, ValueError, "has no 'type'"),
        ({"type": "json_schema", "json_schema": "nope"}, TypeError, r"\['json_schema'\] must be a dict"),
        (int, TypeError, "must be a pydantic model, dataclass or TypedDict class"),
        (list[Review], TypeError, "must be a pydantic model"),
        (Review(title="t", stars=1, sentiment=Sentiment.NEGATIVE, entities=[]), TypeError, "must be a pydantic"),
        (Scores, ValueError, r"text_format_for\(Scores\):.*open object"),
        (Open, ValueError, r"text_format_for\(Open\):.*open object"),
        (Wrapped, ValueError, r"text_format_for\(Wrapped\):.*object at the schema root, got type 'array'"),
    ],
    ids=[
        "bare-schema",
        "bare-properties",
        "no-type",
        "chat-not-dict",
        "int",
        "list-alias",
        "instance",
        "dict-field",
        "extra-allow",
        "root-model",
    ],
)
def test_text_format_errors(response_format: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        text_format_for(response_format)


# --- parse_output --------------------------------------------------------------------------------------


def test_parse_into_model_dataclass_and_typeddict() -> None:
    review = parse_output(
        Review,
        '{"title": "ok", "stars": 3, "sentiment": "negative", "entities": [{"text": "Bob", "kind": "person"}],'
        ' "summary": null, "language": "fr"}',
    )
    assert isinstance(review, Review)
    assert review.sentiment is Sentiment.NEGATIVE
    assert review.entities == [Entity(text="Bob", kind="person")]

    invoice = parse_output(Invoice, '{"number": "7", "total": 12, "paid": false}')
    assert invoice == Invoice(number="7", total=12.0, paid=False)

    span = parse_output(Span, '{"start": 1, "end": 2, "label": "x"}')
    assert span == {"start": 1, "end": 2, "label": "x"}
    assert type(span) is dict


def test_invalid_json_raises_value_error_with_the_text() -> None:
    with pytest.raises(ValueError, match=r"not valid JSON for Review: .*output: '\{\"title\": \"cut'") as caught:
        parse_output(Review, '{"title": "cut')
    assert isinstance(caught.value.__cause__, ValidationError)
    with pytest.raises(ValueError, match="not valid JSON for Invoice"):
        parse_output(Invoice, "")


def test_schema_violation_names_the_fields() -> None:
    text = '{"title": "t", "stars": "many", "sentiment": "meh", "entities": []}'
    with pytest.raises(ValueError, match=r"does not match Review: stars: .*sentiment: .*output: ") as caught:
        parse_output(Review, text)
    assert text in str(caught.value)
    assert not isinstance(caught.value, ValidationError)  # a plain ValueError; the cause keeps the details
    assert isinstance(caught.value.__cause__, ValidationError)
    with pytest.raises(ValueError, match=r"does not match Span: end: Field required"):
        parse_output(Span, '{"start": 1, "label": "x"}')
    with pytest.raises(ValueError, match=r"does not match Invoice: \(root\): Input should be"):
        parse_output(Invoice, "[1, 2]")


def test_long_output_is_truncated_in_the_message() -> None:
    text = json.dumps({"number": "1", "total": "x" * 1000})
    with pytest.raises(ValueError, match=r"total: .*\.\.\.'$") as caught:
        parse_output(Invoice, text)
    assert len(str(caught.value)) < 600


def test_parse_reuses_one_adapter_per_type() -> None:
    parse_output(Invoice, '{"number": "1", "total": 1}')
    assert type_adapter(Invoice) is type_adapter(Invoice)
    assert type_adapter(Span) is type_adapter(Span)
