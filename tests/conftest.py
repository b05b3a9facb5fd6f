from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from tests._postgres import PostgresServer

# The property tests build instances of large schemas (a Response inside response.created): slow
# to generate, so no deadline, and fewer examples per schema than hypothesis' default.
settings.register_profile(
    "default",
    max_examples=int(os.environ.get("POLYRESPONSES_HYPOTHESIS_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",
)
settings.load_profile("default")

# Tests never write to the user's data directory: the default response store is this process's memory
# unless a test passes its own store.
os.environ["POLYRESPONSES_STORE"] = ":memory:"


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (anyio's pytest plugin ships with httpx's anyio dependency)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_default_store() -> None:
    """Each test starts with an empty default store (responses from other tests could answer its ids)."""
    from polyresponses.store import _open

    _open._opened.pop(":memory:", None)  # pyright: ignore[reportPrivateUsage]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (tests/_postgres.py), removed at the end.

    Without PostgreSQL installed the tests that need it skip, saying so; in CI (``CI=true``) they fail
    instead, like the other service lanes (tests/_services.py), so the store's tests can never silently
    stop running. A test may stop, kill and restart it; :func:`postgres_url` starts it again if a test
    left it stopped.
    """
    from tests._postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as error:
        message = f"{error} (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty database of this test's own on the session's server, dropped afterwards.

    Named after the test (readable in the server's log) plus a random suffix, so tests never see each
    other's tables, even when one leaves connections open (the drop ends them).
    """
    if not postgres.running:
        postgres.start()
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{stem}_{uuid.uuid4().hex[:12]}"
    url = postgres.new_database(name)
    yield url
    if postgres.running:
        postgres.drop_database(name)
