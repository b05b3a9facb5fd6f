"""What only the PostgreSQL store does: its versioned schema, its secrets, its driver, its pool.

The contract every backend shares is tested in ``test_backends.py``. Here: a fresh database is set up
at first use, an older one is refused until ``polyresponses store migrate`` upgrades it (with its data
intact), a newer one is refused outright, migrations are idempotent and safe when replicas start
together, the URL's password shows up nowhere, a missing ``[postgres]`` extra says which extra, and a
store keeps working across a database restart (and fails fast while the database is down) without
being made again. Everything runs against the real server of ``tests/_postgres.py``.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from types import ModuleType
from typing import Any, cast

import psycopg
import pytest

from polyresponses.__main__ import main
from polyresponses.store import (
    STORE_ENV,
    PostgresStore,
    StoredConversation,
    StoredItem,
    StoredResponse,
    async_store,
    open_store,
)
from polyresponses.store import _open as store_open
from polyresponses.store._postgres import (
    MIGRATIONS,
    SCHEMA_VERSION,
    StoreUnavailableError,
    _driver,  # pyright: ignore[reportPrivateUsage]
    connection_settings,
    migrate,
    read_version,
    redact_url,
)
from tests._postgres import PostgresServer

_STORE_TABLES = {"meta", "responses", "conversations", "items"}
_GATEWAY_TABLES = {"gateway_owners", "gateway_jobs", "gateway_events", "gateway_rate", "gateway_sealing_keys"}


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()


def _tables(url: str) -> set[str]:
    return {row[0] for row in _rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'polyresponses'")}


def _record(response_id: str, **changes: Any) -> StoredResponse:
    fields: dict[str, Any] = {"created_at": 1_700_000_000} | changes
    return StoredResponse(response_id, "anthropic", False, json.dumps({"id": response_id, "output": []}), **fields)


def _item(ident: str, provider: str | None = None) -> StoredItem:
    return StoredItem(ident, {"type": "message", "role": "user", "content": f"text of {ident}"}, provider)


def _closed_port() -> int:
    """A loopback port with nothing listening: connections to it are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_secret_free(error: BaseException, *secrets_: str) -> None:
    """Neither the message, nor the repr, nor the traceback a logger would print holds a secret."""
    printed = "".join(traceback.format_exception(error))
    for secret in secrets_:
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in printed
        context = error.__context__  # hidden by ``from None``, yet still reachable by an error reporter
        assert context is None or secret not in f"{context!s} {context!r}"


@contextmanager
def _running_afterwards(postgres: PostgresServer) -> Iterator[None]:
    """Start the session's server again if a test left it stopped, so the tests after it find it up."""
    try:
        yield
    finally:
        if not postgres.running:
            postgres.start()


# ------------------------------------------------------------------------------------------ schema


def test_a_fresh_database_gets_the_schema_at_first_use(postgres_url: str) -> None:
    assert read_version(postgres_url) == 0
    with closing(PostgresStore(postgres_url)) as store:
        assert read_version(postgres_url) == 0  # making the store connects to nothing
        assert store.get_response("resp_x") is None
        assert read_version(postgres_url) == SCHEMA_VERSION
        assert _tables(postgres_url) == _STORE_TABLES | _GATEWAY_TABLES
        # Its own PostgreSQL schema: whatever else the database holds keeps its namespace.
        assert _rows(postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def _write_version_1_rows(url: str) -> None:
    """What a version-1 polyresponses left in its tables, written as it wrote them (PostgresStore refuses v1)."""
    body = json.dumps({"id": "resp_v1", "output": [{"type": "message", "content": "hi"}]}, separators=(",", ":"))
    with psycopg.connect(url) as connection:  # committed when the block ends
        connection.execute(
            "INSERT INTO polyresponses.conversations VALUES ('conv_v1', 1700000000, '{\"topic\":\"v1\"}', 3)"
        )
        connection.execute(
            "INSERT INTO polyresponses.responses VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            ("resp_v1", "anthropic", False, 1_700_000_001, "resp_v0", "conv_v1", 1, body),
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO polyresponses.items VALUES (%s, %s, %s, %s, %s)",
                [
                    ("resp_v1", 0, "in_a", None, json.dumps(_item("in_a").item, separators=(",", ":"))),
                    ("resp_v1", 1, "in_b", None, json.dumps(_item("in_b").item, separators=(",", ":"))),
                    ("conv_v1", 0, "c0", None, json.dumps(_item("c0").item, separators=(",", ":"))),
                    ("conv_v1", 1, "in_a", None, json.dumps(_item("in_a").item, separators=(",", ":"))),
                    ("conv_v1", 2, "out", "anthropic", json.dumps(_item("out").item, separators=(",", ":"))),
                ],
            )


def test_an_older_schema_is_refused_until_migrated_and_its_data_survives(
    postgres: PostgresServer, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(postgres_url, target=1) == (0, 1)
    assert _tables(postgres_url) == _STORE_TABLES
    _write_version_1_rows(postgres_url)

    store = PostgresStore(postgres_url)
    try:
        with pytest.raises(RuntimeError, match=r"schema version 1, .*run 'polyresponses store migrate ") as refused:
            store.get_response("resp_v1")
        _assert_secret_free(refused.value, postgres.password)
        assert read_version(postgres_url) == 1  # refusing is all it did: upgrading is the operator's call

        assert main(["store", "version", postgres_url]) == 0
        assert f"schema version 1 (this polyresponses: {SCHEMA_VERSION})" in capsys.readouterr().out
        assert main(["store", "migrate", postgres_url]) == 0
        printed = capsys.readouterr()
        assert f"schema version {SCHEMA_VERSION} (migrated from version 1)" in printed.out
        assert postgres.password not in printed.out + printed.err
        assert read_version(postgres_url) == SCHEMA_VERSION
        assert _tables(postgres_url) == _STORE_TABLES | _GATEWAY_TABLES

        # The store that refused opens now (a refusal is not remembered), and reads version 1's rows.
        expected = StoredResponse(
            "resp_v1",
            "anthropic",
            False,
            json.dumps({"id": "resp_v1", "output": [{"type": "message", "content": "hi"}]}, separators=(",", ":")),
            created_at=1_700_000_001,
            previous_response_id="resp_v0",
            conversation_id="conv_v1",
            conversation_position=1,
        )
        assert store.get_response("resp_v1") == expected
        assert store.input_items("resp_v1") == [
            StoredItem("in_a", _item("in_a").item, None, 0),
            StoredItem("in_b", _item("in_b").item, None, 1),
        ]
        assert store.get_conversation("conv_v1") == StoredConversation("conv_v1", {"topic": "v1"}, 1_700_000_000)
        assert store.conversation_items("conv_v1", before=1) == [StoredItem("c0", _item("c0").item, None, 0)]
        assert store.get_item("conv_v1", "out") == StoredItem("out", _item("out").item, "anthropic", 2)
        page = store.page("conv_v1", after=None, limit=2, order="desc")
        assert page is not None and [item.id for item in page[0]] == ["out", "in_a"] and page[1]
        added = store.add_conversation_items("conv_v1", [_item("c3")])  # positions go on from version 1's count
        assert added is not None and [item.position for item in added] == [3]
    finally:
        store.close()


def test_a_newer_schema_is_refused_and_left_alone(
    postgres: PostgresServer, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with closing(PostgresStore(postgres_url)) as store:
        store.save_response(_record("resp_1"), [_item("a")])
    with psycopg.connect(postgres_url) as connection:
        connection.execute("UPDATE polyresponses.meta SET value = '99' WHERE key = 'schema_version'")

    newer = f"schema version 99 is newer than this polyresponses \\(which knows up to {SCHEMA_VERSION}\\); upgrade"
    with closing(PostgresStore(postgres_url)) as store, pytest.raises(RuntimeError, match=newer) as refused:
        store.get_response("resp_1")
    _assert_secret_free(refused.value, postgres.password)
    with pytest.raises(RuntimeError, match=newer):
        migrate(postgres_url)
    assert main(["store", "migrate", postgres_url]) == 1
    printed = capsys.readouterr()
    assert "newer than this polyresponses" in printed.err
    assert postgres.password not in printed.out + printed.err
    assert read_version(postgres_url) == 99  # nothing was "downgraded"
    assert _rows(postgres_url, "SELECT id FROM polyresponses.responses") == [("resp_1",)]


def test_migrating_again_changes_nothing(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "migrate", postgres_url]) == 0
    assert f"schema version {SCHEMA_VERSION} (migrated from version 0)" in capsys.readouterr().out
    with closing(PostgresStore(postgres_url)) as store:
        store.save_response(_record("resp_1"), [_item("a")])
    assert main(["store", "migrate", postgres_url]) == 0
    assert f"schema version {SCHEMA_VERSION} (up to date)" in capsys.readouterr().out
    assert migrate(postgres_url) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert migrate(postgres_url, target=1) == (SCHEMA_VERSION, SCHEMA_VERSION)  # a lower target never downgrades
    assert main(["store", "version", postgres_url]) == 0
    assert f"schema version {SCHEMA_VERSION} (this polyresponses: {SCHEMA_VERSION})" in capsys.readouterr().out
    assert _rows(postgres_url, "SELECT id FROM polyresponses.responses") == [("resp_1",)]


def test_every_migration_step_is_one_schema_version() -> None:
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert all("polyresponses." in step for step in MIGRATIONS)  # never the search_path's schema


def test_replicas_migrating_a_fresh_database_together_all_succeed(postgres_url: str) -> None:
    """Replicas started together each run ``migrate``; the advisory lock lets exactly one create the schema."""
    workers = 6
    start = threading.Barrier(workers)

    def run(_: int) -> tuple[int, int]:
        start.wait(timeout=30)
        return migrate(postgres_url)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, range(workers)))
    assert sorted(results) == [(0, SCHEMA_VERSION)] + [(SCHEMA_VERSION, SCHEMA_VERSION)] * (workers - 1)
    assert read_version(postgres_url) == SCHEMA_VERSION


def test_stores_first_used_together_on_a_fresh_database_all_work(postgres_url: str) -> None:
    """The same race through the stores themselves: each one's first call finds no schema and creates it."""
    workers = 6
    stores = [PostgresStore(postgres_url, max_size=2) for _ in range(workers)]
    start = threading.Barrier(workers)

    def first_call(worker: int) -> bool:
        start.wait(timeout=30)
        return stores[worker].save_response(_record(f"resp_{worker}"), [_item("a")])

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            assert list(pool.map(first_call, range(workers))) == [True] * workers
        assert all(stores[0].get_response(f"resp_{worker}") is not None for worker in range(workers))
    finally:
        for store in stores:
            store.close()


# --------------------------------------------------------------------------------------- secrets


def _with_port(url: str, port: int) -> str:
    head, _, tail = url.rpartition(":")
    return f"{head}:{port}/{tail.split('/', 1)[1]}"


def test_the_password_is_never_in_a_repr(postgres: PostgresServer, postgres_url: str) -> None:
    with closing(PostgresStore(postgres_url)) as store:
        store.get_response("resp_x")
        for shown in (repr(store), repr(async_store(store))):
            assert postgres.password not in shown
            assert ":***@127.0.0.1:" in shown


@pytest.mark.parametrize("failure", ["closed port", "wrong password"])
def test_an_unreachable_database_raises_store_unavailable_without_the_password(
    postgres: PostgresServer, postgres_url: str, capsys: pytest.CaptureFixture[str], failure: str
) -> None:
    wrong_password = "wrong-" + secrets.token_urlsafe(12)
    if failure == "closed port":
        url = _with_port(postgres_url, _closed_port())
        reason = "refused"
    else:
        url = postgres_url.replace(postgres.password, wrong_password)
        reason = "password authentication failed"
    redacted = url.replace(postgres.password, "***").replace(wrong_password, "***")

    with closing(PostgresStore(url, timeout=2)) as store:
        for call in (
            lambda: store.get_response("resp_x"),
            lambda: store.save_response(_record("resp_x"), [_item("a")]),
        ):
            with pytest.raises(StoreUnavailableError, match=reason) as caught:
                call()
            assert f"the response store at {redacted} is unavailable" in str(caught.value)
            _assert_secret_free(caught.value, postgres.password, wrong_password)
    for tool in (read_version, migrate):
        with pytest.raises(StoreUnavailableError, match=reason) as caught:
            tool(url)
        _assert_secret_free(caught.value, postgres.password, wrong_password)

    for action in ("migrate", "version"):
        assert main(["store", action, url]) == 1
        printed = capsys.readouterr()
        assert "unavailable" in printed.err
        assert redacted in printed.err
        for secret in (postgres.password, wrong_password):
            assert secret not in printed.out + printed.err


def test_a_connection_string_that_is_not_a_url_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match=r"not a PostgreSQL URL: 'host=db password=\*\*\*'") as refused:
        PostgresStore("host=db password=hunter2-secret")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("postgresql://app:s3cr/t?x#y@db:5432/prod", "postgresql://app:***@db:5432/prod"),
        (
            "postgresql://app:pw@db/prod?sslmode=require&password=s3cr",
            "postgresql://app:***@db/prod?sslmode=require&password=***",
        ),
        ("postgresql://db/prod?password=s3cr&sslmode=require", "postgresql://db/prod?password=***&sslmode=require"),
        ("postgresql://app:p%zz@db/prod", "postgresql://app:***@db/prod"),
        ("postgresql://app@db/prod", "postgresql://app@db/prod"),
        ("host=db password='s3cr with spaces' user=app", "host=db password=*** user=app"),
    ],
)
def test_a_password_is_redacted_however_it_is_written(location: str, shown: str) -> None:
    assert redact_url(location) == shown


def test_a_malformed_url_is_refused_without_repeating_it() -> None:
    password = secrets.token_urlsafe(12)  # not in this file's source, which a printed traceback shows
    with pytest.raises(ValueError, match=r"malformed PostgreSQL URL 'postgresql://app:\*\*\*@db/prod'") as refused:
        PostgresStore(f"postgresql://app:{password}%zz@db/prod")  # psycopg's own message quotes the bad token
    _assert_secret_free(refused.value, password)


def test_connections_get_a_connect_timeout_and_keepalives_unless_the_url_sets_them() -> None:
    assert connection_settings("postgresql://db/prod") == {
        "connect_timeout": "5",
        "keepalives": "1",
        "keepalives_idle": "30",
        "keepalives_interval": "10",
        "keepalives_count": "3",
    }
    chosen = connection_settings("postgresql://db/prod?connect_timeout=1&keepalives=0")
    assert "connect_timeout" not in chosen and "keepalives" not in chosen


def test_a_read_only_standby_is_store_unavailable_not_a_server_error(postgres_url: str) -> None:
    """After a failover the URL may reach a standby: writes fail with SQLSTATE 25006, which the gateway
    must answer 503 (retry) like any other store outage."""
    with closing(PostgresStore(postgres_url)) as store:
        store.save_response(_record("resp_before"), [_item("a")])
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            database = admin.execute("SELECT current_database()").fetchone()
            assert database is not None
            admin.execute(f'ALTER DATABASE "{database[0]}" SET default_transaction_read_only = on')
        store.close()  # new connections pick the setting up
        with pytest.raises(StoreUnavailableError, match="read-only"):
            store.save_response(_record("resp_after"), [_item("b")])
        assert store.get_response("resp_before") is not None  # reads still work


# ----------------------------------------------------------------------------- opening and driver


def test_open_store_gives_one_postgres_store_per_url(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_open, "_opened", {})  # this test's stores only, forgotten afterwards
    first = open_store(postgres_url)
    other_scheme = open_store(postgres_url.replace("postgresql://", "postgres://", 1))
    try:
        assert isinstance(first, PostgresStore)
        assert open_store(postgres_url) is first
        monkeypatch.setenv(STORE_ENV, postgres_url)
        assert open_store(None) is first  # the environment's URL is the same shared store
        assert isinstance(other_scheme, PostgresStore) and other_scheme is not first
        first.save_response(_record("resp_1"), [_item("a")])
        assert other_scheme.get_response("resp_1") == _record("resp_1")  # postgres:// names the same database
    finally:
        assert isinstance(first, PostgresStore) and isinstance(other_scheme, PostgresStore)
        first.close()
        other_scheme.close()


@pytest.mark.parametrize("missing", ["psycopg", "psycopg_pool"])
def test_a_missing_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    # None in sys.modules makes ``import`` raise ImportError, as when the package is not installed.
    monkeypatch.setitem(cast("dict[str, ModuleType | None]", sys.modules), missing, None)
    extra = r"pip install 'polyresponses\[postgres\]'"
    url = "postgresql://user:hunter2-secret@127.0.0.1:1/db"
    with pytest.raises(ImportError, match=extra):
        _driver()
    with pytest.raises(ImportError, match=extra):  # when the store is made, not at its first request
        PostgresStore(url)
    with pytest.raises(ImportError, match=extra):
        open_store(url)
    assert main(["store", "migrate", url]) == 1
    printed = capsys.readouterr()
    assert "polyresponses[postgres]" in printed.err
    assert "hunter2" not in printed.out + printed.err


# ------------------------------------------------------------------------------------------- pool


def _warm(store: PostgresStore, connections: int) -> None:
    """Make the pool open ``connections`` connections, by holding that many at once."""
    start = threading.Barrier(connections)

    def hold(_: int) -> None:
        with store.pool.connection() as connection:
            start.wait(timeout=30)
            connection.execute("SELECT 1")

    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(hold, range(connections)))


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_warm_pool_survives_a_database_restart(postgres: PostgresServer, postgres_url: str, how: str) -> None:
    """Every pooled connection dies with the server; the calls after the restart must not see that.

    A full pool (the default ten connections) is the hard case: drawing the dead ones one by one, with
    the pool's growing pause between draws, would outlast the request's timeout.
    """
    store = PostgresStore(postgres_url, timeout=5)
    with _running_afterwards(postgres):
        try:
            store.save_response(_record("resp_1"), [_item("a")])
            _warm(store, store.max_size)
            pool = store.pool
            postgres.stop() if how == "stop" else postgres.kill()
            postgres.start()
            started = time.monotonic()
            assert store.get_response("resp_1") == _record("resp_1")
            assert time.monotonic() - started < 3  # no pause per dead connection
            for n in range(store.max_size):
                assert store.save_response(_record(f"resp_after_{n}"), [_item("b")])
            _warm(store, store.max_size)
            assert store.pool is pool  # the store and its pool were never made again
        finally:
            store.close()


def test_a_call_while_the_database_is_down_fails_within_the_pool_timeout(
    postgres: PostgresServer, postgres_url: str
) -> None:
    timeout = 2.0
    store = PostgresStore(postgres_url, timeout=timeout)
    with _running_afterwards(postgres):
        try:
            store.save_response(_record("resp_1"), [_item("a")])
            pool = store.pool
            postgres.stop()
            for call in (
                lambda: store.get_response("resp_1"),
                lambda: store.save_response(_record("resp_2"), [_item("b")]),
            ):
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError, match="is unavailable") as caught:
                    call()
                assert time.monotonic() - started < timeout + 3  # the pool's timeout, not a hang
                _assert_secret_free(caught.value, postgres.password)
            postgres.start()
            assert store.get_response("resp_1") == _record("resp_1")  # the same store, working again
            assert store.get_response("resp_2") is None  # the failed write left nothing
            assert store.save_response(_record("resp_2"), [_item("b")])
            assert store.pool is pool
        finally:
            store.close()
