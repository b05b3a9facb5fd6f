"""``polyresponses.mcp._request``: taking the ``mcp`` tools out of a create body, and the outbound rule.

``take_mcp_tools`` decides what the provider is sent (the ``mcp`` tools removed, an ``mcp``
tool choice turned into ``"required"``), what the response echoes (``headers`` as ``null``, never
the ``authorization`` token) and, for the gateway, which servers are refused before any connection.
``check_address`` is the resolved-address half of that rule; it is only given literal IP addresses
here, which the resolver answers without the network.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from polyresponses.mcp._request import McpRequest, check_address, take_mcp_tools
from polyresponses.mcp._results import McpFailure
from polyresponses.mcp._servers import McpServer
from polyresponses.router._errors import InvalidRequestError, UnsupportedFeatureError

_FUNCTION: dict[str, Any] = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}


def _mcp(label: str = "srv", url: str = "https://mcp.example.com/mcp", **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": label, "server_url": url, **extra}


def _take(wire: dict[str, Any], *, allow_private: bool = True) -> McpRequest:
    taken = take_mcp_tools("anthropic", wire, allow_private=allow_private)
    assert taken is not None
    return taken


# -- which bodies have mcp tools


@pytest.mark.parametrize(
    "wire",
    [
        {"model": "m", "input": "hi"},
        {"model": "m", "input": "hi", "tools": []},
        {"model": "m", "input": "hi", "tools": None},
        {"model": "m", "input": "hi", "tools": [_FUNCTION], "tool_choice": "auto"},
    ],
)
def test_a_body_without_mcp_tools_is_left_alone(wire: dict[str, Any]) -> None:
    before = copy.deepcopy(wire)
    assert take_mcp_tools("anthropic", wire) is None
    assert wire == before


# -- what the provider is sent


def test_mcp_tools_are_removed_and_the_others_kept_in_order() -> None:
    web = {"type": "web_search"}
    wire: dict[str, Any] = {"tools": [_FUNCTION, _mcp("a"), web, _mcp("b", "http://b.example.com/mcp")]}
    taken = _take(wire)
    assert wire["tools"] == [_FUNCTION, web]
    assert [(s.label, s.url) for s in taken.servers] == [
        ("a", "https://mcp.example.com/mcp"),
        ("b", "http://b.example.com/mcp"),
    ]


def test_a_body_of_only_mcp_tools_loses_its_tools_key() -> None:
    wire: dict[str, Any] = {"model": "m", "tools": [_mcp()]}
    _take(wire)
    assert wire == {"model": "m"}


def test_other_fields_of_the_body_are_untouched() -> None:
    wire: dict[str, Any] = {"model": "m", "input": "hi", "temperature": 0.2, "tools": [_mcp()]}
    _take(wire)
    assert wire == {"model": "m", "input": "hi", "temperature": 0.2}


# -- the echo


def test_the_echo_keeps_the_tool_but_not_its_headers_or_token() -> None:
    tool = _mcp(
        "docs",
        allowed_tools={"read_only": True},
        require_approval="never",
        server_description="Docs",
        headers={"X-Api-Key": "hdr-secret"},
        authorization="tok-secret",
    )
    taken = _take({"tools": [tool]})
    assert taken.echo == [
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://mcp.example.com/mcp",
            "allowed_tools": {"read_only": True},
            "require_approval": "never",
            "server_description": "Docs",
            "headers": None,
        }
    ]
    assert "secret" not in repr(taken.echo)


def test_the_echo_has_headers_none_even_when_none_were_given() -> None:
    taken = _take({"tools": [_mcp()]})
    assert taken.echo == [
        {"type": "mcp", "server_label": "srv", "server_url": "https://mcp.example.com/mcp", "headers": None}
    ]


def test_the_echo_lists_only_the_mcp_tools_in_request_order() -> None:
    taken = _take({"tools": [_mcp("b"), _FUNCTION, _mcp("a")]})
    assert [tool["server_label"] for tool in taken.echo] == ["b", "a"]


def test_the_servers_still_carry_the_token_for_the_connection() -> None:
    taken = _take({"tools": [_mcp(authorization="tok-secret", headers={"X-Team": "a"})]})
    assert dict(taken.servers[0].headers) == {"X-Team": "a", "Authorization": "Bearer tok-secret"}


def test_the_request_repr_never_shows_a_token_or_header() -> None:
    taken = _take({"tools": [_mcp(authorization="tok-secret", headers={"X-Api-Key": "hdr-secret"})]})
    assert "tok-secret" not in repr(taken)
    assert "hdr-secret" not in repr(taken)


def test_taking_does_not_alter_the_callers_tool_dicts() -> None:
    tool = _mcp(authorization="tok", headers={"X": "1"})
    before = copy.deepcopy(tool)
    _take({"tools": [tool]})
    assert tool == before


# -- tool_choice


def test_an_mcp_tool_choice_is_kept_and_the_provider_is_told_required() -> None:
    choice = {"type": "mcp", "server_label": "docs", "name": "search"}
    wire: dict[str, Any] = {"tools": [_mcp("docs")], "tool_choice": choice}
    taken = _take(wire)
    assert wire["tool_choice"] == "required"
    assert taken.tool_choice == {"type": "mcp", "server_label": "docs", "name": "search"}


@pytest.mark.parametrize("choice", ["auto", "none", "required", {"type": "function", "name": "lookup"}])
def test_a_non_mcp_tool_choice_is_left_alone(choice: Any) -> None:
    wire: dict[str, Any] = {"tools": [_FUNCTION, _mcp()], "tool_choice": copy.deepcopy(choice)}
    taken = _take(wire)
    assert wire["tool_choice"] == choice
    assert taken.tool_choice is None


def test_no_tool_choice_stays_absent() -> None:
    wire: dict[str, Any] = {"tools": [_mcp()]}
    assert _take(wire).tool_choice is None
    assert "tool_choice" not in wire


@pytest.mark.parametrize("choice", [{"type": "mcp", "server_label": "other"}, {"type": "mcp"}])
def test_an_mcp_tool_choice_naming_no_server_of_the_request_is_refused(choice: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        take_mcp_tools("gemini", {"tools": [_mcp("docs")], "tool_choice": choice})
    assert caught.value.location == "tool_choice.server_label"
    assert caught.value.provider == "gemini"


# -- refusals from read_servers, before the body is changed


def test_an_unsupported_mcp_tool_is_refused_and_the_body_left_whole() -> None:
    wire: dict[str, Any] = {"tools": [_FUNCTION, _mcp(connector_id="connector_gmail")], "tool_choice": "auto"}
    before = copy.deepcopy(wire)
    with pytest.raises(UnsupportedFeatureError):
        take_mcp_tools("anthropic", wire)
    assert wire == before


def test_a_duplicate_label_is_refused_naming_its_path() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        take_mcp_tools("anthropic", {"tools": [_mcp("x"), _FUNCTION, _mcp("x")]})
    assert caught.value.location == "tools[2].server_label"


# -- the private-address rule, before the network


_PRIVATE_URLS = [
    "http://localhost:8000/mcp",
    "http://LOCALHOST/mcp",
    "http://mcp.localhost/mcp",
    "http://127.0.0.1:1/mcp",
    "http://127.8.9.10/mcp",
    "http://10.0.0.1/mcp",
    "http://172.16.5.4/mcp",
    "http://192.168.1.1/mcp",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/mcp",
    "http://0.0.0.0/mcp",
    "http://[::1]:8000/mcp",
    "http://[fe80::1]/mcp",
    "http://[fd00::1]/mcp",
    "http://[::ffff:127.0.0.1]/mcp",
]


@pytest.mark.parametrize("url", _PRIVATE_URLS)
def test_without_private_addresses_a_literal_private_server_is_refused(url: str) -> None:
    wire: dict[str, Any] = {"tools": [_mcp(url=url)]}
    before = copy.deepcopy(wire)
    with pytest.raises(InvalidRequestError) as caught:
        take_mcp_tools("anthropic", wire, allow_private=False)
    assert caught.value.location == "tools[0].server_url"
    assert wire == before


@pytest.mark.parametrize("url", _PRIVATE_URLS)
def test_private_addresses_are_allowed_by_default(url: str) -> None:
    assert [s.url for s in _take({"tools": [_mcp(url=url)]}).servers] == [url]


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/mcp",
        "https://[2606:4700:4700::1111]/mcp",
        "https://mcp.example.com/mcp",  # a name: checked once resolved, not here
        "https://notlocalhost.example/mcp",
    ],
)
def test_without_private_addresses_a_public_literal_or_a_name_passes(url: str) -> None:
    assert [s.url for s in _take({"tools": [_mcp(url=url)]}, allow_private=False).servers] == [url]


def test_the_refused_private_server_is_named_among_several() -> None:
    tools = [_mcp("a", "https://mcp.example.com/mcp"), _mcp("b", "http://10.1.2.3/mcp")]
    with pytest.raises(InvalidRequestError) as caught:
        take_mcp_tools("anthropic", {"tools": tools}, allow_private=False)
    assert caught.value.location == "tools[1].server_url"


def test_the_refused_private_server_path_counts_every_tool() -> None:
    tools = [_FUNCTION, _mcp("b", "http://10.1.2.3/mcp")]
    with pytest.raises(InvalidRequestError) as caught:
        take_mcp_tools("anthropic", {"tools": tools}, allow_private=False)
    assert caught.value.location == "tools[1].server_url"


# -- check_address (literal addresses only: resolving them needs no network)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:1/mcp", "http://127.0.0.1:1"),
        ("http://10.0.0.1/mcp", "http://10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "http://169.254.169.254"),
        ("https://192.168.0.10:8443/mcp", "https://192.168.0.10:8443"),
        ("http://0.0.0.0:9/mcp", "http://0.0.0.0:9"),
    ],
)
def test_check_address_refuses_a_non_public_address_as_http_403(url: str, origin: str) -> None:
    with pytest.raises(McpFailure) as caught:
        asyncio.run(check_address(McpServer("x", url, {})))
    assert caught.value.error == {
        "type": "http_error",
        "code": 403,
        "message": f"{origin} is not a public address; the gateway does not dial it",
    }


def test_check_address_refuses_ipv6_loopback() -> None:
    with pytest.raises(McpFailure) as caught:
        asyncio.run(check_address(McpServer("x", "http://[::1]:1/mcp", {})))
    assert caught.value.error["type"] == "http_error"
    assert caught.value.error["code"] == 403


def test_check_address_never_repeats_the_path_or_query() -> None:
    server = McpServer("x", "http://127.0.0.1:1/mcp/secret-path?token=secret-query", {"Authorization": "Bearer t"})
    with pytest.raises(McpFailure) as caught:
        asyncio.run(check_address(server))
    assert "secret" not in str(caught.value)
    assert "secret" not in repr(caught.value.error)


@pytest.mark.parametrize("url", ["http://93.184.216.34/mcp", "https://93.184.216.34:8443/mcp"])
def test_check_address_lets_a_public_address_pass(url: str) -> None:
    assert asyncio.run(check_address(McpServer("x", url, {}))) is None
