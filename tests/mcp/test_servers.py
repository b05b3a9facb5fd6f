"""``polyresponses.mcp._servers``: reading a request's ``mcp`` tools and naming their tools for the model.

These rules decide what the router dials, which tools a model is offered, which calls wait for the
caller's approval and which function name maps back to which server: a mistake here runs the wrong
tool or skips an approval. They follow OpenAI's ``MCPTool`` semantics (``allowed_tools`` as a list
or a ``{tool_names, read_only}`` filter; ``require_approval`` as ``"always"``, ``"never"`` or
``{always, never}``, default ``"always"``), so each rule is pinned here, with property tests for
``tool_names`` (every name valid in every dialect, unique, deterministic, order-independent).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyresponses.mcp._servers import (
    McpServer,
    fallback_name,
    is_read_only,
    listed_tool,
    needs_approval,
    read_servers,
    tool_names,
)
from polyresponses.router._errors import InvalidRequestError, UnsupportedFeatureError

VALID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
"""What every dialect accepts as a function name (restated, not imported, so a loosened rule fails here)."""


def _mcp(label: str = "srv", url: str = "https://mcp.example.com/mcp", **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": label, "server_url": url, **extra}


def _server(allowed_tools: Any = None, require_approval: Any = None) -> McpServer:
    return McpServer("srv", "https://mcp.example.com/mcp", {}, allowed_tools, require_approval)


def _tool(name: str, read_only: bool | None = None) -> dict[str, Any]:
    """A tool as an MCP server lists it (``annotations.readOnlyHint``)."""
    tool: dict[str, Any] = {"name": name, "inputSchema": {"type": "object", "properties": {}}}
    if read_only is not None:
        tool["annotations"] = {"readOnlyHint": read_only}
    return tool


def _listed(name: str, read_only: bool = False) -> dict[str, Any]:
    """A tool as ``MCPListToolsTool`` (``annotations.read_only``), what ``needs_approval`` reads."""
    return {"name": name, "input_schema": {"type": "object"}, "annotations": {"read_only": read_only}}


# -- read_servers: what is read


def test_read_servers_reads_every_field_of_an_mcp_tool() -> None:
    tool = _mcp(
        "weather",
        "https://weather.example.com/mcp",
        allowed_tools=["forecast"],
        require_approval="never",
        server_description="Forecasts",
        headers={"X-Team": "a"},
    )
    (server,) = read_servers("anthropic", [tool])
    assert server.label == "weather"
    assert server.url == "https://weather.example.com/mcp"
    assert server.allowed_tools == ["forecast"]
    assert server.require_approval == "never"
    assert server.description == "Forecasts"
    assert dict(server.headers) == {"X-Team": "a"}


def test_read_servers_leaves_unset_fields_as_none_and_headers_empty() -> None:
    (server,) = read_servers("anthropic", [_mcp()])
    assert (server.allowed_tools, server.require_approval, server.description) == (None, None, None)
    assert dict(server.headers) == {}


def test_read_servers_skips_other_tools_and_keeps_order() -> None:
    tools = [
        {"type": "function", "name": "f"},
        _mcp("b", "https://b.example.com/mcp"),
        {"type": "web_search"},
        _mcp("a", "http://a.example.com/mcp"),
    ]
    assert [s.label for s in read_servers("gemini", tools)] == ["b", "a"]


def test_read_servers_of_no_mcp_tools_is_empty() -> None:
    assert read_servers("gemini", [{"type": "function", "name": "f"}]) == []


def test_authorization_becomes_a_bearer_header_next_to_the_given_headers() -> None:
    (server,) = read_servers("anthropic", [_mcp(authorization="tok-123", headers={"X-Team": "a"})])
    assert dict(server.headers) == {"X-Team": "a", "Authorization": "Bearer tok-123"}


def test_authorization_replaces_an_authorization_header() -> None:
    (server,) = read_servers("anthropic", [_mcp(authorization="new", headers={"Authorization": "Bearer old"})])
    assert dict(server.headers) == {"Authorization": "Bearer new"}


def test_header_values_are_strings() -> None:
    (server,) = read_servers("anthropic", [_mcp(headers={"X-Count": 3})])
    assert dict(server.headers) == {"X-Count": "3"}


def test_server_headers_are_a_copy_of_the_request_headers() -> None:
    headers = {"X-Team": "a"}
    (server,) = read_servers("anthropic", [_mcp(headers=headers)])
    headers["X-Team"] = "changed"
    assert dict(server.headers) == {"X-Team": "a"}


def test_the_repr_of_a_server_shows_neither_headers_nor_token() -> None:
    (server,) = read_servers("anthropic", [_mcp(authorization="sk-secret-token", headers={"X-Key": "hdr-secret"})])
    shown = repr(server)
    assert "sk-secret-token" not in shown
    assert "hdr-secret" not in shown
    assert "headers" not in shown
    assert "srv" in shown  # the repr is still useful


def test_a_server_is_immutable() -> None:
    server = _server()
    with pytest.raises(dataclasses.FrozenInstanceError):
        server.url = "http://elsewhere.example.com"  # type: ignore[misc]


# -- read_servers: what is refused


@pytest.mark.parametrize(
    ("field", "value"), [("connector_id", "connector_gmail"), ("tunnel_id", "tun_1"), ("defer_loading", True)]
)
def test_openai_only_fields_are_refused_naming_the_path(field: str, value: Any) -> None:
    tools = [{"type": "function", "name": "f"}, {**_mcp(), field: value}]
    with pytest.raises(UnsupportedFeatureError) as caught:
        read_servers("anthropic", tools)
    assert caught.value.provider == "anthropic"
    assert caught.value.feature == f"mcp {field} (tools[1].{field})"
    assert "server_url" in str(caught.value)


def test_a_connector_without_server_url_is_unsupported_not_invalid() -> None:
    tool = {"type": "mcp", "server_label": "gmail", "connector_id": "connector_gmail"}
    with pytest.raises(UnsupportedFeatureError):
        read_servers("anthropic", [tool])


@pytest.mark.parametrize("value", [None, False])
def test_unset_or_false_openai_only_fields_are_accepted(value: Any) -> None:
    tool = _mcp(connector_id=value, tunnel_id=value, defer_loading=value)
    assert [s.label for s in read_servers("anthropic", [tool])] == ["srv"]


@pytest.mark.parametrize(
    "url",
    [
        None,
        42,
        "",
        "mcp.example.com/mcp",
        "ftp://mcp.example.com/mcp",
        "file:///etc/passwd",
        "ws://mcp.example.com/mcp",
        "javascript:alert(1)",
        "http://",
        "https:///mcp",
    ],
)
def test_a_server_url_that_is_not_an_http_url_is_refused_naming_the_path(url: Any) -> None:
    tool: dict[str, Any] = {"type": "mcp", "server_label": "srv"}
    if url is not None:
        tool["server_url"] = url
    with pytest.raises(InvalidRequestError) as caught:
        read_servers("bedrock", [{"type": "function", "name": "f"}, {"type": "function", "name": "g"}, tool])
    assert caught.value.location == "tools[2].server_url"
    assert caught.value.provider == "bedrock"


@pytest.mark.parametrize(
    "url", ["http://mcp.example.com", "HTTPS://MCP.EXAMPLE.COM/mcp", "http://127.0.0.1:8000/mcp", "http://[::1]/mcp"]
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert [s.url for s in read_servers("bedrock", [_mcp(url=url)])] == [url]


def test_two_servers_with_one_label_are_refused_naming_the_second() -> None:
    tools = [_mcp("docs", "https://a.example.com/mcp"), _mcp("docs", "https://b.example.com/mcp")]
    with pytest.raises(InvalidRequestError) as caught:
        read_servers("gemini", tools)
    assert caught.value.location == "tools[1].server_label"
    assert "'docs'" in str(caught.value)


def test_labels_differing_only_in_case_are_two_servers() -> None:
    tools = [_mcp("docs", "https://a.example.com/mcp"), _mcp("Docs", "https://b.example.com/mcp")]
    assert [s.label for s in read_servers("gemini", tools)] == ["docs", "Docs"]


@pytest.mark.parametrize("url", ["http://mcp.example.com:abc/mcp", "http://mcp.example.com:70000/mcp"])
def test_a_server_url_with_an_invalid_port_is_refused(url: str) -> None:
    try:
        read_servers("gemini", [_mcp(url=url)])
    except InvalidRequestError as error:
        assert error.location == "tools[0].server_url"
    else:
        raise AssertionError(f"{url} was accepted")


# -- McpServer.origin


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com"),
        ("https://mcp.example.com/mcp?token=secret#frag", "https://mcp.example.com"),
        ("http://mcp.example.com:8080/v1/mcp", "http://mcp.example.com:8080"),
        ("https://user:password@mcp.example.com/mcp", "https://mcp.example.com"),
        ("http://127.0.0.1:1/mcp", "http://127.0.0.1:1"),
        ("https://user:pw@mcp.example.com:8443/mcp?t=1", "https://mcp.example.com:8443"),
    ],
)
def test_origin_is_scheme_host_and_port_without_path_query_or_credentials(url: str, origin: str) -> None:
    assert McpServer("s", url, {}).origin == origin


def test_origin_of_an_ipv6_host_keeps_its_brackets() -> None:
    assert McpServer("s", "http://[::1]:8080/mcp", {}).origin == "http://[::1]:8080"


# -- listed_tool


def test_a_listed_tool_is_the_mcp_list_tools_tool_shape() -> None:
    tool = {
        "name": "forecast",
        "title": "Forecast",
        "description": "Weather",
        "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "outputSchema": {"type": "object"},
        "annotations": {"readOnlyHint": True, "destructiveHint": False},
    }
    assert listed_tool(_server(), tool) == {
        "name": "forecast",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "description": "Weather",
        "annotations": {"read_only": True},
    }


@pytest.mark.parametrize("annotations", [None, {}, {"destructiveHint": True}, {"readOnlyHint": False}])
def test_a_tool_without_read_only_hint_is_listed_as_not_read_only(annotations: Any) -> None:
    listed = listed_tool(_server(), {"name": "t", "annotations": annotations})
    assert listed is not None
    assert listed["annotations"] == {"read_only": False}


def test_a_tool_without_schema_gets_an_object_schema_and_no_description() -> None:
    assert listed_tool(_server(), {"name": "t"}) == {
        "name": "t",
        "input_schema": {"type": "object"},
        "annotations": {"read_only": False},
    }


@pytest.mark.parametrize("tool", [{}, {"name": ""}, {"name": None}])
def test_a_tool_without_name_is_not_listed(tool: Mapping[str, Any]) -> None:
    assert listed_tool(_server(), tool) is None


@pytest.mark.parametrize(
    ("allowed_tools", "expected"),
    [
        (None, ["read", "write", "search"]),
        (["read", "search"], ["read", "search"]),
        ([], []),
        ({}, ["read", "write", "search"]),
        ({"tool_names": ["write"]}, ["write"]),
        ({"tool_names": []}, []),
        ({"read_only": True}, ["read", "search"]),
        ({"read_only": False}, ["write"]),
        ({"tool_names": ["read", "write"], "read_only": True}, ["read"]),
        ({"tool_names": ["write"], "read_only": True}, []),
        ({"tool_names": None, "read_only": None}, ["read", "write", "search"]),
    ],
)
def test_allowed_tools_imports_only_matching_tools(allowed_tools: Any, expected: list[str]) -> None:
    tools = [_tool("read", read_only=True), _tool("write"), _tool("search", read_only=True)]
    server = _server(allowed_tools=allowed_tools)
    kept = [listed["name"] for tool in tools if (listed := listed_tool(server, tool)) is not None]
    assert kept == expected


# -- is_read_only


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"read_only": True}, True),
        ({"readOnlyHint": True}, True),
        ({"read_only": False}, False),
        ({"read_only": False, "readOnlyHint": True}, False),  # OpenAI's own spelling wins
        ({"read_only": True, "readOnlyHint": False}, True),
        ({}, False),
        (None, False),
    ],
)
def test_is_read_only_reads_openai_and_mcp_spellings(annotations: Any, expected: bool) -> None:
    assert is_read_only({"name": "t", "annotations": annotations}) is expected


def test_a_tool_without_annotations_is_not_read_only() -> None:
    assert is_read_only({"name": "t"}) is False


# -- needs_approval


@pytest.mark.parametrize(
    ("policy", "tool", "expected"),
    [
        (None, _listed("a"), True),  # the spec's default is "always"
        ("always", _listed("a", read_only=True), True),
        ("never", _listed("a"), False),
        ({}, _listed("a"), True),  # neither filter: ask
        ({"always": None, "never": None}, _listed("a"), True),
        ({"never": {}}, _listed("a"), False),  # an empty filter matches every tool
        ({"always": {}}, _listed("a"), True),
        ({"never": {"tool_names": ["a"]}}, _listed("a"), False),
        ({"never": {"tool_names": ["a"]}}, _listed("b"), True),  # matched by neither
        ({"always": {"tool_names": ["a"]}}, _listed("a"), True),
        ({"always": {"tool_names": ["a"]}}, _listed("b"), True),  # matched by neither
        ({"always": {"tool_names": ["a"]}, "never": {"tool_names": ["a"]}}, _listed("a"), True),  # both: ask
        ({"always": {"tool_names": ["a"]}, "never": {"tool_names": ["b"]}}, _listed("b"), False),
        ({"always": {"tool_names": ["a"]}, "never": {}}, _listed("b"), False),
        ({"always": {"tool_names": ["a"]}, "never": {}}, _listed("a"), True),
        ({"never": {"read_only": True}}, _listed("a", read_only=True), False),
        ({"never": {"read_only": True}}, _listed("a", read_only=False), True),
        ({"always": {"read_only": False}, "never": {}}, _listed("w", read_only=False), True),
        ({"always": {"read_only": False}, "never": {}}, _listed("r", read_only=True), False),
        ({"never": {"tool_names": ["a"], "read_only": True}}, _listed("a", read_only=False), True),
        ({"never": {"tool_names": ["a"], "read_only": True}}, _listed("a", read_only=True), False),
        ({"never": ["a"]}, _listed("a"), False),  # a plain list of names
        ({"never": {"tool_names": []}}, _listed("a"), True),
    ],
)
def test_needs_approval_follows_require_approval(policy: Any, tool: Mapping[str, Any], expected: bool) -> None:
    assert needs_approval(_server(require_approval=policy), tool) is expected


def test_needs_approval_reads_the_mcp_read_only_hint_too() -> None:
    server = _server(require_approval={"never": {"read_only": True}})
    assert needs_approval(server, {"name": "a", "annotations": {"readOnlyHint": True}}) is False


def test_an_unlisted_tool_known_only_by_name_follows_the_name_rules() -> None:
    server = _server(require_approval={"never": {"tool_names": ["a"]}})
    assert needs_approval(server, {"name": "a"}) is False
    assert needs_approval(server, {"name": "b"}) is True


# -- tool_names: the rules


def test_unique_valid_names_are_kept() -> None:
    names = tool_names([("weather", [{"name": "forecast"}]), ("docs", [{"name": "search"}, {"name": "fetch-page"}])])
    assert names == {
        ("weather", "forecast"): "forecast",
        ("docs", "search"): "search",
        ("docs", "fetch-page"): "fetch-page",
    }


def test_a_name_two_servers_share_is_prefixed_on_both_and_others_are_kept() -> None:
    names = tool_names([("a", [{"name": "search"}, {"name": "only_a"}]), ("b", [{"name": "search"}])])
    assert names == {("a", "search"): "mcp_a__search", ("a", "only_a"): "only_a", ("b", "search"): "mcp_b__search"}


def test_a_name_the_caller_uses_is_prefixed() -> None:
    names = tool_names([("a", [{"name": "search"}, {"name": "fetch"}])], taken=["search"])
    assert names == {("a", "search"): "mcp_a__search", ("a", "fetch"): "fetch"}


def test_taken_may_be_any_iterable_and_is_read_once() -> None:
    names = tool_names([("a", [{"name": "search"}])], taken=iter(["search"]))
    assert names == {("a", "search"): "mcp_a__search"}


def test_a_name_one_server_lists_twice_is_one_tool() -> None:
    assert tool_names([("a", [{"name": "x"}, {"name": "x"}])]) == {("a", "x"): "x"}


@pytest.mark.parametrize(
    "name",
    [
        "get.weather",
        "1st",
        "-dash-first",
        "with space",
        "ünïcode",
        "",
        "slash/name",
        "y" * 65,
    ],
)
def test_a_name_not_valid_in_every_dialect_is_replaced_by_a_valid_one(name: str) -> None:
    mapped = tool_names([("srv", [{"name": name}])])[("srv", name)]
    assert VALID.fullmatch(mapped), mapped
    assert mapped.startswith("mcp_srv__")


@pytest.mark.parametrize("name", ["_private", "a", "A-b_9", "z" * 64])
def test_names_at_the_edges_of_validity_are_kept(name: str) -> None:
    assert tool_names([("srv", [{"name": name}])]) == {("srv", name): name}


def test_a_label_that_is_not_name_safe_is_made_safe_with_a_hash() -> None:
    expected = f"mcp_my_server__get_weather_{hashlib.sha1(b'my server' + bytes(1) + b'get.weather').hexdigest()[:8]}"
    assert tool_names([("my server", [{"name": "get.weather"}])]) == {("my server", "get.weather"): expected}


def test_a_long_prefixed_name_is_cut_to_64_with_a_pinned_sha1_suffix() -> None:
    """Pinned literally: a run in another process (another hash seed) must name the tool the same."""
    mapped = tool_names([("srv", [{"name": "x" * 70}])])[("srv", "x" * 70)]
    assert mapped == "mcp_srv__" + "x" * 46 + "_8bed3ae2"
    assert len(mapped) == 64


def test_long_names_sharing_their_first_55_characters_stay_distinct() -> None:
    first, second = "x" * 60 + "_one", "x" * 60 + "_two"
    names = tool_names([("srv", [{"name": first}, {"name": second}])], taken=[first, second])
    assert names[("srv", first)] != names[("srv", second)]
    assert names[("srv", first)][:55] == names[("srv", second)][:55]


def test_tool_names_of_no_listings_is_empty() -> None:
    assert tool_names([]) == {}
    assert tool_names([("srv", [])], taken=["x"]) == {}


# -- fallback_name


def test_fallback_name_is_the_prefixed_name() -> None:
    assert fallback_name("srv", "search") == "mcp_srv__search"


def test_fallback_name_matches_the_name_a_colliding_tool_got() -> None:
    names = tool_names([("a", [{"name": "get.it"}]), ("b", [{"name": "get.it"}])])
    assert fallback_name("a", "get.it") == names[("a", "get.it")]
    assert fallback_name("b", "get.it") == names[("b", "get.it")]
    assert names[("a", "get.it")] != names[("b", "get.it")]


@pytest.mark.parametrize(("label", "name"), [("srv", "x" * 80), ("my server", "a.b"), ("", ""), ("é" * 30, "ü" * 40)])
def test_fallback_name_is_always_valid(label: str, name: str) -> None:
    assert VALID.fullmatch(fallback_name(label, name))


# -- tool_names: known collisions (bugs: the prefixed form is not injective)


def test_labels_containing_double_underscores_do_not_merge_two_tools() -> None:
    listings = [("a", [{"name": "b__c"}]), ("a__b", [{"name": "c"}]), ("z", [{"name": "c"}, {"name": "b__c"}])]
    names = tool_names(listings)
    assert len(set(names.values())) == len(names), names


def test_a_kept_name_never_equals_a_prefixed_name() -> None:
    names = tool_names([("s", [{"name": "mcp_t__x"}]), ("t", [{"name": "x"}]), ("u", [{"name": "x"}])])
    assert len(set(names.values())) == len(names), names


def test_a_prefixed_name_never_equals_a_callers_tool() -> None:
    names = tool_names([("t", [{"name": "x"}]), ("u", [{"name": "x"}])], taken=["mcp_t__x"])
    assert "mcp_t__x" not in names.values(), names


# -- tool_names: properties

_LABELS = st.sampled_from(["a", "b", "my server", "x" * 60]) | st.text(alphabet="abcXYZ09-_.é ", max_size=12)
"""Labels of every shape, underscores included (``a``+``b__c`` against ``a__b``+``c`` is tested above)."""

_NAMES = (
    st.sampled_from(["search", "get.it", "", "y" * 70])
    | st.text(alphabet="abAB_-.09 ü", max_size=70)
    | st.sampled_from(["mcp_a__search", "mcp_b__get_it"])
)
"""Tool names, valid or not, short or past 64, often shared (the fixed few), some shaped like prefixed names."""

_LISTINGS = st.dictionaries(_LABELS, st.lists(_NAMES, max_size=6), max_size=5).map(
    lambda servers: [(label, [{"name": name} for name in names]) for label, names in servers.items()]
)


def _digest(label: str, name: str) -> str:
    return hashlib.sha1(f"{label}\0{name}".encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _pairs(listings: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> set[tuple[str, str]]:
    return {(label, str(tool["name"])) for label, tools in listings for tool in tools}


@settings(max_examples=50)
@given(st.lists(st.tuples(st.text(max_size=80), st.lists(st.text(max_size=80), max_size=4)), max_size=4))
def test_every_mapped_name_is_valid_in_every_dialect_for_any_text(raw: list[tuple[str, list[str]]]) -> None:
    names = tool_names([(label, [{"name": name} for name in tools]) for label, tools in raw])
    for mapped in names.values():
        assert VALID.fullmatch(mapped), mapped


@settings(max_examples=50)
@given(_LISTINGS, st.lists(_NAMES, max_size=4))
def test_tool_names_maps_every_tool_to_a_unique_name_free_of_taken_ones(
    listings: list[tuple[str, list[dict[str, Any]]]], taken: list[str]
) -> None:
    names = tool_names(listings, taken)
    assert set(names) == _pairs(listings)
    assert len(set(names.values())) == len(names)
    assert not set(names.values()) & set(taken)


@settings(max_examples=50)
@given(_LISTINGS, st.lists(_NAMES, max_size=4), st.randoms(use_true_random=False))
def test_tool_names_depends_only_on_its_inputs_not_their_order(
    listings: list[tuple[str, list[dict[str, Any]]]], taken: list[str], random: Any
) -> None:
    expected = tool_names(listings, taken)
    shuffled = [(label, random.sample(tools, len(tools))) for label, tools in random.sample(listings, len(listings))]
    assert tool_names(shuffled, random.sample(taken, len(taken))) == expected
    assert tool_names(listings, taken) == expected


@settings(max_examples=50)
@given(_LISTINGS, st.lists(_NAMES, max_size=4))
def test_a_name_is_kept_exactly_when_it_is_valid_unique_and_free(
    listings: list[tuple[str, list[dict[str, Any]]]], taken: list[str]
) -> None:
    every = [name for _, name in _pairs(listings)]  # a name one server lists twice is one tool
    names = tool_names(listings, taken)
    for (label, name), mapped in names.items():
        keep = every.count(name) == 1 and name not in taken and VALID.fullmatch(name) is not None
        if keep:
            assert mapped == name
        else:
            assert mapped != name and mapped.startswith("mcp_")
            assert mapped == fallback_name(label, name) or mapped.endswith(_digest(label, name))
