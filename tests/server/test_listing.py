"""``GET /v1/responses`` (an extension): a key's stored responses, newest first, filtered and paginated; another
key's are absent, and another key's id as the cursor is a 404 like a missing one."""

from __future__ import annotations

import time

import httpx
import openai

from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, BOB


def _list(gateway: RunningGateway, key: str, **query: str | int) -> httpx.Response:
    return httpx.get(f"{gateway.url}/responses", params=query, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_newest_first_paginated_filtered_and_owned(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    made = []
    for n in range(5):
        made.append(alice.responses.create(model="mistral:m", input=f"question {n}").id)
        time.sleep(0.002)
    other = alice.responses.create(model="mistral:other", input="x").id
    with openai.OpenAI(base_url=gateway.url, api_key=BOB, max_retries=0) as bob:
        bobs = bob.responses.create(model="mistral:m", input="bob's").id

    first = _list(gateway, ALICE, limit=4).json()
    assert first["object"] == "list" and first["has_more"] is True
    ids = [entry["id"] for entry in first["data"]]
    assert len(ids) == 4 and bobs not in ids
    assert first["first_id"] == ids[0] and first["last_id"] == ids[-1]
    rest = _list(gateway, ALICE, limit=4, after=ids[-1]).json()
    everything = ids + [entry["id"] for entry in rest["data"]]
    assert rest["has_more"] is False
    assert sorted(everything) == sorted([*made, other]) and len(set(everything)) == 6  # no repeat, no gap
    entry = first["data"][0]
    assert entry["object"] == "response" and entry["_gateway"] == {"provider": "mistral", "native": False}
    assert "output_text" not in entry

    by_model = _list(gateway, ALICE, model="other").json()["data"]
    assert [entry["id"] for entry in by_model] == [other]
    assert _list(gateway, ALICE, status="failed").json()["data"] == []
    assert len(_list(gateway, ALICE, provider="mistral", limit=100).json()["data"]) == 6
    assert _list(gateway, ALICE, provider="openrouter").json()["data"] == []
    assert _list(gateway, ALICE, created_after=int(time.time()) + 60).json()["data"] == []

    assert [entry["id"] for entry in _list(gateway, BOB).json()["data"]] == [bobs]
    missing = _list(gateway, BOB, after=made[0])
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "after"
    assert _list(gateway, BOB, after="resp_nope").json() == missing.json() | {
        "error": missing.json()["error"] | {"message": missing.json()["error"]["message"].replace(made[0], "resp_nope")}
    }
    bad = _list(gateway, ALICE, limit=0)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"
    assert _list(gateway, ALICE, status="done").status_code == 400


def test_a_deleted_response_leaves_the_list(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    kept = alice.responses.create(model="mistral:m", input="keep").id
    gone = alice.responses.create(model="mistral:m", input="drop").id
    alice.responses.delete(gone)
    assert [entry["id"] for entry in _list(gateway, ALICE).json()["data"]] == [kept]
