"""Function tools from callables, the strict-mode schema rewrite, and ``prepare_tools``.

Every tool produced here is checked three ways, independently of the code under test: against the
strict-mode rules (``assert_strict``), against openai-python's own strictifier (it must change
nothing), and against the generated ``FunctionTool`` model.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

from polyresponses.router._tools import (
    function_tool,
    json_schema_of,
    prepare_tools,
    strict_json_schema,
    type_adapter,
)
from polyresponses.types import FunctionTool, MCPTool, Tool, WebSearchTool

from ._strict_rules import assert_json_schema_accepts, assert_sdk_fixpoint, assert_strict, dereference

# --- fixtures: types and functions at module level (annotations are strings here) ---------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = "Paris"
    zip_code: str | None = None


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Node(BaseModel):
    name: str
    children: list[Node] = []


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Span(TypedDict):
    start: int
    end: int


class Person(BaseModel):
    name: str
    address: Address = Field(description="Where they live.")
    favourite: Color = Color.BLUE
    pets: list[Annotated[Cat | Dog, Field(discriminator="kind")]] = []
    nickname: str | None = None


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


def google(city: str, days: int = 3, unit: Literal["c", "f"] = "c", verbose: bool | None = None) -> None:
    """Get the weather forecast.

    Uses the national service.

    Args:
        city: The city to look up,
            spelled in English.
        days (int, optional): How many days ahead.
        unit: Temperature unit.

    Returns:
        The forecast text.

    Raises:
        ValueError: Never.
    """


def numpy_style(query: str, limit: int, tags: list[str]) -> None:
    """Search the catalogue.

    Parameters
    ----------
    query : str
        Free text.
        Case-insensitive.
    limit : int
        Maximum number of hits.
    tags : list of str
        Tags to filter by.

    Returns
    -------
    list of str
        The hits.
    """


def rest_style(path: str, mode: int = 0o644) -> None:
    """Write a file.

    :param path: Where to write,
        relative to the root.
    :param int mode: Permission bits.
    :type mode: int
    :returns: Nothing.
    """


def annotated(
    amount: Annotated[float, Field(description="From the annotation.", gt=0)],
    currency: Annotated[str, Field(max_length=3)] = "EUR",
) -> None:
    """Pay.

    Args:
        amount: From the docstring (loses to the annotation).
        currency: ISO code.
    """


def optional(note: str | None, count: int | None = None, color: Color | None = None) -> None:
    """Optional values."""


def enums(color: Color, size: Literal["s", "m", "l"], fixed: Literal["only"] = "only") -> None:
    """Enums and literals."""


def nested(person: Person, point: Point, span: Span, tree: Node) -> None:
    """Nested models, a dataclass, a TypedDict and a recursive model."""


def containers(ids: list[int], pairs: list[tuple[str, int]], matrix: list[list[float]]) -> None:
    """Lists."""


def mapping(scores: dict[str, int]) -> None:
    """A free-form mapping."""


def reserved(schema: str, model_config: int, json: bool) -> None:
    """Parameter names that clash with BaseModel attributes."""


def no_params() -> str:
    """Ping."""
    return "pong"


def undocumented(x: int) -> int:
    return x


def star_args(*values: int) -> None:
    """Bad."""


def star_kwargs(a: int, **options: str) -> None:
    """Bad."""


def positional_only(a: int, /, b: int) -> None:
    """Bad."""


def unannotated(a: int, b) -> None:  # type: ignore[no-untyped-def]
    """Bad."""


def untyped_any(value: Any) -> None:
    """Any cannot be strict."""


def loose(item: Loose) -> None:
    """An open model."""


class Arbitrary:
    pass


def arbitrary(thing: Arbitrary) -> None:
    """pydantic cannot describe this."""


class Service:
    def lookup(self, key: str) -> str:
        """Look a key up.

        Args:
            key: The key.
        """
        return key

    @classmethod
    def build(cls, size: int) -> int:
        """Build."""
        return size


STRICT_FUNCTIONS: list[Callable[..., Any]] = [
    google,
    numpy_style,
    rest_style,
    annotated,
    optional,
    enums,
    nested,
    containers,
    reserved,
    no_params,
    undocumented,
    Service().lookup,
    Service.build,
]

# Known-good arguments for each function above: strictifying must still accept them.
SAMPLE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "google": {"city": "Oslo", "days": 2, "unit": "f", "verbose": None},
    "numpy_style": {"query": "q", "limit": 3, "tags": ["a"]},
    "rest_style": {"path": "a.txt", "mode": 420},
    "annotated": {"amount": 1.5, "currency": "USD"},
    "optional": {"note": None, "count": None, "color": "red"},
    "enums": {"color": "blue", "size": "m", "fixed": "only"},
    "nested": {
        "person": {
            "name": "Ada",
            "address": {"street": "1 Rue", "city": "Lyon", "zip_code": None},
            "favourite": "red",
            "pets": [{"kind": "cat", "lives": 9}, {"kind": "dog", "good": True}],
            "nickname": None,
        },
        "point": {"x": 1.0, "y": 2.0},
        "span": {"start": 0, "end": 4},
        "tree": {"name": "root", "children": [{"name": "leaf", "children": []}]},
    },
    "containers": {"ids": [1], "pairs": [["a", 1]], "matrix": [[1.0]]},
    "reserved": {"schema": "s", "model_config": 1, "json": True},
    "no_params": {},
    "undocumented": {"x": 1},
    "lookup": {"key": "k"},
    "build": {"size": 2},
}


def _properties(tool: dict[str, Any]) -> dict[str, Any]:
    properties = tool["parameters"]["properties"]
    assert isinstance(properties, dict)
    return properties


# --- every strict tool obeys the rules -----------------------------------------------------------------


@pytest.mark.parametrize("fn", STRICT_FUNCTIONS, ids=lambda fn: fn.__name__)
def test_strict_tool_satisfies_strict_mode_rules(fn: Callable[..., Any]) -> None:
    tool = function_tool(fn)
    assert tool["type"] == "function"
    assert tool["name"] == fn.__name__
    assert tool["strict"] is True
    assert_strict(tool["parameters"])
    assert_sdk_fixpoint(tool["parameters"])
    assert_json_schema_accepts(tool["parameters"], SAMPLE_ARGUMENTS[fn.__name__])
    validated = FunctionTool.model_validate(tool)
    assert validated.name == fn.__name__
    assert validated.strict is True
    assert validated.parameters == tool["parameters"]
    TypeAdapter(Tool).validate_python(tool)


@pytest.mark.parametrize("fn", STRICT_FUNCTIONS, ids=lambda fn: fn.__name__)
def test_non_strict_tool_keeps_pydantic_schema(fn: Callable[..., Any]) -> None:
    tool = function_tool(fn, strict=False)
    assert tool["strict"] is False  # written out: the Responses API defaults an absent strict to true
    FunctionTool.model_validate(tool)
    assert_json_schema_accepts(tool["parameters"], SAMPLE_ARGUMENTS[fn.__name__])


# --- docstrings ----------------------------------------------------------------------------------------


def test_google_docstring() -> None:
    tool = function_tool(google)
    assert tool["description"] == "Get the weather forecast.\n\nUses the national service."
    properties = _properties(tool)
    assert properties["city"]["description"] == "The city to look up, spelled in English."
    assert properties["days"]["description"] == "How many days ahead. Default: 3."
    assert properties["unit"]["description"] == 'Temperature unit. Default: "c".'
    assert "description" not in properties["verbose"]  # undocumented, and a None default adds nothing


def test_numpy_docstring() -> None:
    tool = function_tool(numpy_style)
    assert tool["description"] == "Search the catalogue."
    properties = _properties(tool)
    assert properties["query"]["description"] == "Free text. Case-insensitive."
    assert properties["limit"]["description"] == "Maximum number of hits."
    assert properties["tags"]["description"] == "Tags to filter by."


def test_rest_docstring() -> None:
    tool = function_tool(rest_style)
    assert tool["description"] == "Write a file."
    properties = _properties(tool)
    assert properties["path"]["description"] == "Where to write, relative to the root."
    assert properties["mode"]["description"] == "Permission bits. Default: 420."


def test_annotated_description_wins_over_docstring_and_constraints_stay() -> None:
    properties = _properties(function_tool(annotated))
    assert properties["amount"]["description"] == "From the annotation."
    assert properties["amount"]["exclusiveMinimum"] == 0
    assert properties["currency"] == {
        "description": 'ISO code. Default: "EUR".',
        "maxLength": 3,
        "title": "Currency",
        "type": "string",
    }


def test_no_docstring_means_no_description() -> None:
    tool = function_tool(undocumented)
    assert "description" not in tool
    assert tool["parameters"]["required"] == ["x"]


def test_no_parameters() -> None:
    parameters = function_tool(no_params)["parameters"]
    assert parameters["properties"] == {}
    assert parameters["required"] == []
    assert parameters["additionalProperties"] is False


# --- strict-mode decisions -----------------------------------------------------------------------------


def test_optional_parameters_stay_required_and_nullable() -> None:
    parameters = function_tool(optional)["parameters"]
    assert parameters["required"] == ["note", "count", "color"]
    assert parameters["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert parameters["properties"]["count"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert parameters["properties"]["color"]["anyOf"] == [{"$ref": "#/$defs/Color"}, {"type": "null"}]
    assert parameters["$defs"]["Color"]["enum"] == ["red", "blue"]


def test_defaults_are_dropped_in_strict_mode_and_kept_otherwise() -> None:
    strict = function_tool(google)["parameters"]
    assert strict["required"] == ["city", "days", "unit", "verbose"]
    assert "default" not in strict["properties"]["days"]
    assert strict["properties"]["days"]["description"].endswith("Default: 3.")

    loose = function_tool(google, strict=False)["parameters"]
    assert loose["required"] == ["city"]
    assert loose["properties"]["days"]["default"] == 3
    assert loose["properties"]["verbose"]["default"] is None
    assert "additionalProperties" not in loose


def test_enum_and_literal() -> None:
    parameters = function_tool(enums)["parameters"]
    assert parameters["properties"]["color"] == {"$ref": "#/$defs/Color"}
    assert parameters["$defs"]["Color"] == {"enum": ["red", "blue"], "title": "Color", "type": "string"}
    assert parameters["properties"]["size"]["enum"] == ["s", "m", "l"]
    assert parameters["properties"]["fixed"]["const"] == "only"


def test_nested_models_dataclass_typeddict_and_recursion() -> None:
    parameters = function_tool(nested)["parameters"]
    defs = parameters["$defs"]
    # Address and Color are only used with sibling keywords (description, default): inlined, then pruned.
    assert set(defs) == {"Person", "Cat", "Dog", "Point", "Span", "Node"}
    # A defaulted field of a nested model is required too, its default moved to the description.
    address = defs["Person"]["properties"]["address"]
    assert address["required"] == ["street", "city", "zip_code"]
    assert address["properties"]["city"]["description"] == 'Default: "Paris".'
    assert defs["Point"]["required"] == ["x", "y"]
    assert defs["Span"]["required"] == ["start", "end"]
    # `$ref` + description is inlined (the sibling wins); a bare `$ref` stays a reference.
    assert "$ref" not in address
    assert address["description"] == "Where they live."
    assert address["properties"]["street"] == {"title": "Street", "type": "string"}
    assert address["additionalProperties"] is False
    assert parameters["properties"]["tree"] == {"$ref": "#/$defs/Node"}
    assert defs["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    # A discriminated union (oneOf + discriminator) becomes an anyOf.
    assert defs["Person"]["properties"]["pets"]["items"] == {
        "anyOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]
    }


def test_ref_with_default_is_inlined_and_orphaned_defs_pruned() -> None:
    parameters = function_tool(google)["parameters"]
    assert "$defs" not in parameters
    person = strict_json_schema(json_schema_of(Person))
    favourite = person["properties"]["favourite"]
    assert favourite == {"enum": ["red", "blue"], "title": "Color", "type": "string", "description": 'Default: "blue".'}
    assert "Color" not in person.get("$defs", {})  # its only use was inlined


def test_lists_and_tuples() -> None:
    properties = _properties(function_tool(containers))
    assert properties["ids"] == {"items": {"type": "integer"}, "title": "Ids", "type": "array"}
    assert properties["matrix"]["items"] == {"items": {"type": "number"}, "type": "array"}
    assert properties["pairs"]["items"]["prefixItems"] == [{"type": "string"}, {"type": "integer"}]


def test_free_form_mapping_is_rejected_in_strict_mode_only() -> None:
    with pytest.raises(ValueError, match=r"function_tool\(mapping\).*#/properties/scores.*open object.*strict=False"):
        function_tool(mapping)
    loose = function_tool(mapping, strict=False)
    assert loose["parameters"]["properties"]["scores"]["additionalProperties"] == {"type": "integer"}


def test_open_model_and_any_are_rejected_in_strict_mode() -> None:
    with pytest.raises(ValueError, match=r"#/\$defs/Loose.*open object"):
        function_tool(loose)
    with pytest.raises(ValueError, match=r"#/properties/value.*no type"):
        function_tool(untyped_any)
    assert function_tool(untyped_any, strict=False)["parameters"]["properties"]["value"] == {"title": "Value"}


def test_reserved_parameter_names_are_kept() -> None:
    parameters = function_tool(reserved)["parameters"]
    assert parameters["required"] == ["schema", "model_config", "json"]


def test_methods_skip_self_and_cls() -> None:
    bound = function_tool(Service().lookup)
    assert bound["parameters"]["required"] == ["key"]
    assert bound["parameters"]["properties"]["key"]["description"] == "The key."
    assert function_tool(Service.build)["parameters"]["required"] == ["size"]
    unbound = function_tool(Service.lookup)  # taken from the class: `self` is skipped too
    assert unbound["parameters"]["required"] == ["key"]


# --- rejected signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (star_args, r"function_tool\(star_args\): \*values"),
        (star_kwargs, r"function_tool\(star_kwargs\): \*\*options"),
        (positional_only, r"function_tool\(positional_only\): parameter 'a' is positional-only"),
        (unannotated, r"function_tool\(unannotated\): parameter 'b' has no type annotation"),
        (arbitrary, r"function_tool\(arbitrary\): pydantic cannot describe parameter 'thing'"),
        (Service, r"Service is a class"),
        (functools.partial(google, "Oslo"), r"has no __name__"),
    ],
    ids=["args", "kwargs", "positional-only", "unannotated", "arbitrary-type", "class", "partial"],
)
def test_rejected_signatures(fn: Callable[..., Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        function_tool(fn)


def test_lambda_name_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"'<lambda>' is not a valid tool name"):
        function_tool(lambda x: x)


# --- strict_json_schema on its own ---------------------------------------------------------------------


def _semantics(schema: dict[str, Any]) -> Any:
    """What a schema constrains: refs resolved, annotations (description, default, title) dropped."""

    def strip(node: Any) -> Any:
        if isinstance(node, list):
            return [strip(item) for item in node]
        if isinstance(node, dict):
            return {key: strip(value) for key, value in node.items() if key not in ("description", "default", "title")}
        return node

    return strip(dereference(schema, schema.get("$defs", {})))


@pytest.mark.parametrize("tp", [Address, Node, Cat, Point, Span, list[Address]], ids=str)
def test_same_constraints_as_openai_sdk(tp: Any) -> None:
    ours = strict_json_schema(json_schema_of(tp))
    assert _semantics(ours) == _semantics(to_strict_json_schema(TypeAdapter(tp)))


def test_discriminated_union_differs_from_sdk_only_by_one_of() -> None:
    ours = _semantics(strict_json_schema(json_schema_of(Person)))
    sdk = _semantics(to_strict_json_schema(Person))
    sdk_pets = sdk["properties"]["pets"]["items"]
    assert set(sdk_pets) == {"oneOf", "discriminator"}  # the SDK sends these as is
    assert ours["properties"]["pets"]["items"] == {"anyOf": sdk_pets["oneOf"]}


def test_strict_json_schema_does_not_mutate_its_input() -> None:
    schema = json_schema_of(Person)
    before = copy.deepcopy(schema)
    strict_json_schema(schema)
    assert schema == before


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}, {"minLength": 1}]}}}, "allOf"),
        ({"type": "object", "properties": {"a": {"type": "string", "not": {"const": ""}}}}, "'not'"),
        ({"type": "object"}, "open object"),
        ({"type": "object", "properties": {}, "additionalProperties": True}, "open object"),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/A"}},
                "$defs": {"A": {"$ref": "#/$defs/A", "description": "loop"}},
            },
            "refers back to itself",
        ),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing", "title": "x"}}}, "does not resolve"),
        ({"type": "object", "properties": {"a": {"$ref": "other.json#/A", "title": "x"}}}, "only local"),
    ],
    ids=["allOf", "not", "bare-object", "additional-true", "ref-cycle", "dangling-ref", "remote-ref"],
)
def test_strict_json_schema_rejects(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        strict_json_schema(schema)


def test_single_all_of_is_unwrapped() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"allOf": [{"$ref": "#/$defs/A"}], "description": "the a"}},
        "$defs": {"A": {"type": "object", "properties": {"x": {"type": "integer"}}}},
    }
    strict = strict_json_schema(schema)
    assert strict["properties"]["a"] == {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "description": "the a",
        "additionalProperties": False,
        "required": ["x"],
    }
    assert "$defs" not in strict
    assert_strict(strict)


def test_json_schema_of_unsupported_type_names_it() -> None:
    with pytest.raises(TypeError, match="cannot build a JSON schema for .*Arbitrary"):
        json_schema_of(Arbitrary)


def test_type_adapter_is_cached() -> None:
    assert type_adapter(Person) is type_adapter(Person)
    assert type_adapter(list[int]) is type_adapter(list[int])


# --- prepare_tools -------------------------------------------------------------------------------------


def test_prepare_tools_mixes_callables_dicts_and_models() -> None:
    raw = {"type": "function", "name": "raw", "parameters": {"type": "object"}, "strict": False}
    web = WebSearchTool(type="web_search", search_context_size="low")
    prepared = prepare_tools([google, raw, web])
    assert prepared[0] == function_tool(google)
    assert prepared[1] == raw
    assert prepared[1] is not raw and prepared[1]["parameters"] is not raw["parameters"]  # a deep copy
    assert prepared[2] == {
        "type": "web_search",
        "external_web_access": True,
        "search_context_size": "low",
    }
    for tool in prepared:
        TypeAdapter(Tool).validate_python(tool)


@pytest.mark.parametrize(
    "model",
    [
        WebSearchTool(type="web_search", filters={"allowed_domains": ["example.com"]}),
        MCPTool(type="mcp", server_label="docs", server_url="https://mcp.example.com", require_approval="never"),
        MCPTool(type="mcp", server_label="drive", connector_id="connector_googledrive", authorization="tok"),
        FunctionTool(type="function", name="f", parameters={"type": "object", "properties": {}}, strict=True),
        FunctionTool(type="function", name="g", parameters=None, strict=None),
    ],
    ids=["web-search", "mcp-url", "mcp-connector", "function", "function-nulls"],
)
def test_prepare_tools_round_trips_generated_models(model: BaseModel) -> None:
    (dumped,) = prepare_tools([model])
    assert type(model).model_validate(dumped) == model
    assert all(value is not None for key, value in dumped.items() if key not in ("parameters", "strict"))


def test_prepare_tools_keeps_required_nulls_of_function_tool() -> None:
    (dumped,) = prepare_tools([FunctionTool(type="function", name="g", parameters=None, strict=None)])
    assert dumped == {"type": "function", "name": "g", "parameters": None, "strict": None}


@pytest.mark.parametrize(
    ("tools", "error", "message"),
    [
        ([google, 42], TypeError, r"tools\[1\]: expected a function, a tool dict or a tool model.*got int"),
        ([Person], TypeError, r"tools\[0\]: the class Person is not a tool"),
        ([no_params, star_args], TypeError, r"tools\[1\]: function_tool\(star_args\)"),
        ([mapping], ValueError, r"tools\[0\]: function_tool\(mapping\)"),
        ("google", TypeError, "tools must be a list of tools, got str"),
    ],
    ids=["int", "class", "bad-signature", "not-strict-able", "string"],
)
def test_prepare_tools_errors(tools: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        prepare_tools(tools)
