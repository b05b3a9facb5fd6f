"""The ownership matrix: every route that reads or continues a stored object answers another key's id
exactly as it answers a missing one (the same 404 body, the id aside), and no provider key leaks."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.sync.client import connect

from tests._loopback import LoopbackServer
from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, BOB, UPSTREAM_KEY, gateway_config

Request = Callable[[httpx.Client, str], httpx.Response]
"""One route, asked about an id."""


def _post_json(path: str, body: Callable[[str], dict[str, Any]]) -> Request:
    return lambda http, ident: http.post(path.format(id=ident), json=body(ident))


RESPONSE_ROUTES: dict[str, Request] = {
    "GET response": lambda http, ident: http.get(f"/responses/{ident}"),
    "GET response stream": lambda http, ident: http.get(f"/responses/{ident}", params={"stream": "true"}),
    "GET input_items": lambda http, ident: http.get(f"/responses/{ident}/input_items"),
    "DELETE response": lambda http, ident: http.delete(f"/responses/{ident}"),
    "POST cancel": lambda http, ident: http.post(f"/responses/{ident}/cancel"),
    "create previous_response_id": _post_json(
        "/responses", lambda ident: {"model": "mistral:m", "input": "x", "previous_response_id": ident}
    ),
    "stream previous_response_id": _post_json(
        "/responses", lambda ident: {"model": "mistral:m", "input": "x", "previous_response_id": ident, "stream": True}
    ),
    "background previous_response_id": _post_json(
        "/responses",
        lambda ident: {"model": "mistral:m", "input": "x", "previous_response_id": ident, "background": True},
    ),
    "compact previous_response_id": _post_json(
        "/responses/compact", lambda ident: {"model": "mistral:m", "input": "x", "previous_response_id": ident}
    ),
}
CONVERSATION_ROUTES: dict[str, Request] = {
    "GET conversation": lambda http, ident: http.get(f"/conversations/{ident}"),
    "POST conversation": lambda http, ident: http.post(f"/conversations/{ident}", json={"metadata": {"a": "b"}}),
    "DELETE conversation": lambda http, ident: http.delete(f"/conversations/{ident}"),
    "GET items": lambda http, ident: http.get(f"/conversations/{ident}/items"),
    "POST items": lambda http, ident: http.post(
        f"/conversations/{ident}/items", json={"items": [{"type": "message", "role": "user", "content": "x"}]}
    ),
    "GET item": lambda http, ident: http.get(f"/conversations/{ident}/items/msg_1"),
    "DELETE item": lambda http, ident: http.delete(f"/conversations/{ident}/items/msg_1"),
    "create conversation": _post_json(
        "/responses", lambda ident: {"model": "mistral:m", "input": "x", "conversation": ident}
    ),
    "create conversation object": _post_json(
        "/responses", lambda ident: {"model": "mistral:m", "input": "x", "conversation": {"id": ident}}
    ),
}


def _http(gateway: RunningGateway, key: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _same_404(theirs: httpx.Response, missing: httpx.Response, ident: str, missing_id: str) -> None:
    assert theirs.status_code == missing.status_code == 404, (theirs.text, missing.text)
    assert theirs.json() == json.loads(missing.text.replace(missing_id, ident))


@pytest.fixture
def owned(alice: openai.OpenAI) -> dict[str, str]:
    """One of each stored object, made by alice: a response, a background response, a conversation."""
    response = alice.responses.create(model="mistral:m", input="alice's secret")
    background = alice.responses.create(model="mistral:m", input="alice's job", background=True)
    conversation = alice.conversations.create(items=[{"type": "message", "role": "user", "content": "alice's notes"}])
    deadline = time.monotonic() + 10  # the job's upstream call is done before a test counts upstream calls
    while alice.responses.retrieve(background.id).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return {"response": response.id, "background": background.id, "conversation": conversation.id}


@pytest.mark.parametrize("route", sorted(RESPONSE_ROUTES))
@pytest.mark.parametrize("which", ["response", "background"])
def test_another_keys_response_is_missing(
    gateway: RunningGateway, owned: dict[str, str], route: str, which: str, upstream: LoopbackServer
) -> None:
    ask = RESPONSE_ROUTES[route]
    before = upstream.attempts
    with _http(gateway, BOB) as bob:
        _same_404(ask(bob, owned[which]), ask(bob, "resp_missing0"), owned[which], "resp_missing0")
    assert upstream.attempts == before  # refused before any provider was asked
    with _http(gateway, ALICE) as alice:  # the owner still sees it
        assert alice.get(f"/responses/{owned[which]}").status_code == 200


@pytest.mark.parametrize("route", sorted(CONVERSATION_ROUTES))
def test_another_keys_conversation_is_missing(gateway: RunningGateway, owned: dict[str, str], route: str) -> None:
    ask = CONVERSATION_ROUTES[route]
    with _http(gateway, BOB) as bob:
        _same_404(ask(bob, owned["conversation"]), ask(bob, "conv_missing0"), owned["conversation"], "conv_missing0")
    with _http(gateway, ALICE) as alice:
        assert alice.get(f"/conversations/{owned['conversation']}").status_code == 200
        assert len(alice.get(f"/conversations/{owned['conversation']}/items").json()["data"]) == 1


def test_another_keys_compaction_item_is_missing(alice: openai.OpenAI, bob: openai.OpenAI) -> None:
    compacted = alice.responses.compact(model="mistral:m", input="remember the number 41")
    item = compacted.output[0].model_dump()
    with pytest.raises(openai.NotFoundError) as caught:
        bob.responses.create(model="mistral:m", input=[item])  # type: ignore[list-item]
    assert caught.value.body == {
        "message": "compaction item at input[0] not found",
        "type": "not_found",
        "param": "input[0]",
        "code": "not_found",
    }
    mine = alice.responses.create(model="mistral:m", input=[item, {"role": "user", "content": "and?"}])  # type: ignore[list-item]
    given = alice.responses.input_items.list(mine.id, order="asc").data
    assert [i.model_dump()["content"][0]["text"] for i in given] == [
        "[Summary of the earlier conversation]\necho: remember the number 41",
        "and?",
    ]
    forged = {**item, "encrypted_content": item["encrypted_content"][:-4] + "AAAA"}
    with pytest.raises(openai.NotFoundError):
        alice.responses.create(model="mistral:m", input=[forged])  # type: ignore[list-item]


def test_another_keys_id_over_websocket(gateway: RunningGateway, owned: dict[str, str]) -> None:
    url = gateway.url.replace("http://", "ws://") + "/responses"
    with connect(url, additional_headers={"Authorization": f"Bearer {BOB}"}) as socket:
        frames = []
        for ident in (owned["response"], "resp_missing0"):
            socket.send(
                json.dumps(
                    {"type": "response.create", "model": "mistral:m", "input": "x", "previous_response_id": ident}
                )
            )
            frames.append(json.loads(socket.recv(timeout=10)))
    assert frames[0] == json.loads(json.dumps(frames[1]).replace("resp_missing0", owned["response"]))
    assert frames[0]["status"] == 404 and frames[0]["error"]["code"] == "previous_response_not_found"


def test_bob_cannot_cancel_or_follow_alices_background_job(
    gateway: RunningGateway, owned: dict[str, str], alice: openai.OpenAI
) -> None:
    with _http(gateway, BOB) as bob:
        assert bob.post(f"/responses/{owned['background']}/cancel").status_code == 404
    deadline = time.monotonic() + 10
    while (
        alice.responses.retrieve(owned["background"]).status in ("queued", "in_progress")
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert alice.responses.retrieve(owned["background"]).status == "completed"  # bob's cancel did nothing


def test_no_keys_means_loopback_only() -> None:
    from polyresponses.server import ConfigError, GatewayConfig

    GatewayConfig(host="127.0.0.1").check_bind()
    GatewayConfig(host="::1").check_bind()
    with pytest.raises(ConfigError, match="no gateway keys"):
        GatewayConfig(host="0.0.0.0").check_bind()


def test_provider_key_never_stored_logged_or_answered(
    upstream: LoopbackServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store.sqlite3"
    environ = {"MISTRAL_API_KEY": UPSTREAM_KEY, "OPENROUTER_API_KEY": UPSTREAM_KEY}
    from tests._loopback import json_reply

    upstream.script(json_reply({"error": {"message": f"key {UPSTREAM_KEY} is over quota"}}, status=500))
    with (
        RunningGateway(gateway_config(upstream.url, store=str(store)), environ) as gateway,
        _http(gateway, ALICE) as http,
    ):
        answers = [
            http.post("/responses", json={"model": "mistral:m", "input": "x"}),
            http.post("/responses", json={"model": "mistral:m", "input": "x"}),
            http.post("/responses", json={"model": "mistral:m", "input": "x", "stream": True}),
            http.post("/responses", json={"model": "mistral:m", "input": "x", "background": True}),
            http.get("/metrics"),
        ]
        assert answers[0].status_code == 502 and "over quota" in answers[0].text
        time.sleep(0.3)
    for answer in answers:
        assert UPSTREAM_KEY not in answer.text and ALICE not in answer.text
    assert UPSTREAM_KEY not in caplog.text and ALICE not in caplog.text
    database = sqlite3.connect(store)
    dumped = "\n".join(database.iterdump())
    assert UPSTREAM_KEY not in dumped and ALICE not in dumped and "alice" in dumped  # owners by key name
    assert UPSTREAM_KEY.encode() not in store.read_bytes()
