"""An owner recorded in the turn's own transaction (:class:`OwnerClaim`), where the gateway's owner table
lives in the store's database: one transaction per stored turn instead of two."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyresponses.server.ledger import Ledger, open_ledger
from polyresponses.store import MemoryStore, PostgresStore, ResponseStore, SQLiteStore, StoredItem, StoredResponse
from polyresponses.store._records import OwnerClaim


@pytest.fixture(params=["sqlite", "postgres"])
def store_and_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ResponseStore, Ledger]]:
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite3"
        ledger = open_ledger(str(path))  # the gateway's tables in the store's file
        store: ResponseStore = SQLiteStore(path)
    else:
        url: str = request.getfixturevalue("postgres_url")
        store = PostgresStore(url)
        ledger = open_ledger(url, store)
    try:
        yield store, ledger
    finally:
        store.close()
        ledger.close()


def _turn(ident: str, claim: OwnerClaim | None) -> StoredResponse:
    return StoredResponse(ident, "mistral", False, json.dumps({"id": ident}), claim=claim)


def test_the_owner_is_written_with_the_turn(store_and_ledger: tuple[ResponseStore, Ledger]) -> None:
    store, ledger = store_and_ledger
    claim = OwnerClaim("resp_1", "alice", "mistral")
    assert store.save_response(_turn("resp_1", claim), [StoredItem("in", {"type": "message"})])
    assert claim.granted is True
    assert ledger.provider_of("response", "resp_1", "alice") == "mistral"
    assert ledger.provider_of("response", "resp_1", "bob") is None


def test_an_id_another_owner_has_is_refused_and_keeps_its_owner(
    store_and_ledger: tuple[ResponseStore, Ledger],
) -> None:
    store, ledger = store_and_ledger
    assert ledger.own("response", "resp_2", "alice", "mistral")
    claim = OwnerClaim("resp_2", "bob", "mistral")
    store.save_response(_turn("resp_2", claim), [])
    assert claim.granted is False
    assert ledger.provider_of("response", "resp_2", "alice") == "mistral"
    assert ledger.provider_of("response", "resp_2", "bob") is None


def test_a_claim_for_another_id_is_not_written(store_and_ledger: tuple[ResponseStore, Ledger]) -> None:
    store, ledger = store_and_ledger
    claim = OwnerClaim("resp_other", "alice", "mistral")
    store.save_response(_turn("resp_3", claim), [])
    assert claim.granted is None
    assert ledger.provider_of("response", "resp_3", "alice") is None


def test_stores_without_the_owner_table_leave_the_claim_to_the_caller(tmp_path: Path) -> None:
    for store in (MemoryStore(), SQLiteStore(tmp_path / "library-only.sqlite3")):
        claim = OwnerClaim("resp_4", "alice", "mistral")
        assert store.save_response(_turn("resp_4", claim), [])
        assert claim.granted is None
        assert store.get_response("resp_4") is not None
        store.close()
