"""The console over plain HTTP: sign-in, the security headers, cross-origin and forged-cookie refusals, and what
one key may see of another's (nothing)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests._loopback import LoopbackServer
from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, BOB
from tests.server.console._upstream import GOOD_KEY, EchoBoth, console_config


@pytest.fixture
def running() -> Iterator[RunningGateway]:
    with LoopbackServer(default=EchoBoth()) as upstream:
        config = console_config(upstream.url)
        environ = {"MISTRAL_API_KEY": GOOD_KEY, "OPENROUTER_API_KEY": GOOD_KEY, "GROQ_API_KEY": "wrong-key"}
        with RunningGateway(config, environ) as gateway:
            yield gateway


def _root(gateway: RunningGateway) -> str:
    return gateway.url.removesuffix("/v1")


@contextlib.contextmanager
def _signed_in(gateway: RunningGateway, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_root(gateway), headers={"Origin": _root(gateway)}, follow_redirects=False) as client:
        reply = client.post("/console/login", data={"key": key})
        assert reply.status_code == 303 and reply.headers["location"] == "/console"
        cookie = reply.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert key not in cookie
        yield client


def test_pages_need_a_sign_in_and_carry_the_security_headers(running: RunningGateway) -> None:
    root = _root(running)
    for path in ("/console", "/console/playground", "/console/providers", "/console/metrics"):
        reply = httpx.get(root + path)
        assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    login = httpx.get(root + "/console/login")
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert login.headers["x-frame-options"] == "DENY" and login.headers["x-content-type-options"] == "nosniff"
    with _signed_in(running, ALICE) as alice:
        for path in ("/console", "/console/playground", "/console/providers", "/console/metrics"):
            page = alice.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-security-policy"] == csp
            assert "<script>" not in page.text and " style=" not in page.text  # no inline script or style


def test_a_wrong_key_a_forged_cookie_and_another_origin_are_refused(running: RunningGateway) -> None:
    root = _root(running)
    wrong = httpx.post(root + "/console/login", data={"key": "sk-nope"}, headers={"Origin": root})
    assert wrong.status_code == 401 and "invalid gateway key" in wrong.text
    forged = httpx.get(root + "/console", cookies={"polyresponses_console": "YWxpY2U~pgw1.deadbeef.AAAA"})
    assert forged.status_code == 303
    elsewhere = httpx.post(root + "/console/login", data={"key": ALICE}, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    with _signed_in(running, ALICE) as alice:
        alice.headers.pop("Origin")
        cross = alice.post(
            "/console/providers/mistral/check", data={"model": "m"}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403
        none = alice.post("/console/api/responses", json={"model": "mistral:m", "input": "x"})
        assert none.status_code == 403


def test_another_keys_responses_are_absent(running: RunningGateway) -> None:
    with openai.OpenAI(base_url=running.url, api_key=BOB, max_retries=0) as bob:
        bobs = bob.responses.create(model="mistral:m", input="bob's secret plan").id
    with _signed_in(running, ALICE) as alice:
        listing = alice.get("/console")
        assert bobs not in listing.text and "bob&#x27;s secret plan" not in listing.text
        page = alice.get(f"/console/responses/{bobs}")
        missing = alice.get("/console/responses/resp_missing")
        assert page.status_code == missing.status_code == 404
        assert "bob" not in page.text.lower()
    with _signed_in(running, BOB) as bob_console:
        own = bob_console.get(f"/console/responses/{bobs}")
        assert own.status_code == 200 and "bob&#x27;s secret plan" in own.text


def test_the_playground_api_is_the_create_route_as_the_signed_in_key(running: RunningGateway) -> None:
    with _signed_in(running, ALICE) as alice:
        reply = alice.post("/console/api/responses", json={"model": "mistral:m", "input": "from the console"})
        assert reply.status_code == 200
        ident = reply.json()["id"]
    with openai.OpenAI(base_url=running.url, api_key=ALICE, max_retries=0) as owner:
        assert owner.responses.retrieve(ident).output_text == "echo: from the console"


def test_a_rotated_key_ends_its_sessions_and_no_compaction_item_passes_for_a_cookie(running: RunningGateway) -> None:
    from dataclasses import replace

    from polyresponses.server._config import GatewayKey, key_digest

    gateway = running.gateway
    with _signed_in(running, ALICE) as alice:
        cookie = alice.cookies["polyresponses_console"]
        assert alice.get("/console").status_code == 200
        keys = gateway.config.keys
        gateway.config = replace(
            gateway.config,
            keys=tuple(GatewayKey(k.name, key_digest("sk-rotated")) if k.name == "alice" else k for k in keys),
        )
        try:
            assert alice.get("/console").status_code == 303  # the key it was made with is gone
        finally:
            gateway.config = replace(gateway.config, keys=keys)
        assert alice.get("/console").status_code == 200
    name, _, _ = cookie.partition("~")
    claims = json.dumps({"exp": 99999999999, "key": ""})
    forged = name + "~" + gateway.sealer.seal(claims, "alice")  # what a compaction item of alice's looks like
    assert httpx.get(_root(running) + "/console", cookies={"polyresponses_console": forged}).status_code == 303


def test_odd_input_is_a_clear_error_never_a_500(running: RunningGateway) -> None:
    with _signed_in(running, ALICE) as alice:
        huge = alice.get("/console", params={"limit": "99999999999999999999"})
        assert huge.status_code == 400 and "64 bits" in huge.text
        assert alice.get("/console", params={"limit": "1_0"}).status_code == 400
        big = alice.post(
            "/console/providers/mistral/check",
            content=b"model=" + b"m" * 70_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert big.status_code == 413
    api = httpx.get(
        f"{running.url}/responses", params={"created_after": "9" * 30}, headers={"Authorization": f"Bearer {ALICE}"}
    )
    assert api.status_code == 400 and api.json()["error"]["param"] == "created_after"


def test_the_chain_shows_every_later_turn_and_marks_a_branch(running: RunningGateway) -> None:
    with openai.OpenAI(base_url=running.url, api_key=ALICE, max_retries=0) as alice:
        root = alice.responses.create(model="mistral:m", input="root").id
        turns = [root]
        for n in range(4):  # made within a second: the order must not depend on ids
            turns.append(alice.responses.create(model="mistral:m", input=f"t{n}", previous_response_id=turns[-1]).id)
        branch = alice.responses.create(model="openrouter:m", input="branch", previous_response_id=root).id
    with _signed_in(running, ALICE) as console:
        page = console.get(f"/console/responses/{root}").text
    chain = page.split('<ol class="chain">', 1)[1].split("</ol>", 1)[0]
    positions = [chain.index(ident) for ident in turns]
    assert positions == sorted(positions) and branch in chain
    entries = {ident: chain.split(ident, 1)[1].split("</li>", 1)[0] for ident in (turns[1], branch)}
    assert [f"continues {root}" in entry for entry in entries.values()].count(True) == 1  # the second child of root
