from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

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
    from polyresponses.router import _store

    _store._opened.pop(":memory:", None)  # pyright: ignore[reportPrivateUsage]
