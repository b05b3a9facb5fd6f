"""Fixtures of the gateway tests: a scripted upstream and a running gateway with two gateway keys."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from polyresponses.server import GatewayConfig
from polyresponses.server._config import GatewayKey, ProviderSettings, key_digest
from tests._loopback import LoopbackServer
from tests.server._running import RunningGateway
from tests.server._scripted import ScriptedChat

ALICE, BOB = "sk-gw-alice-0123456789", "sk-gw-bob-9876543210"
UPSTREAM_KEY = "sk-upstream-secret-5f2b9c"


@pytest.fixture
def scripted() -> ScriptedChat:
    return ScriptedChat()


@pytest.fixture
def upstream(scripted: ScriptedChat) -> Iterator[LoopbackServer]:
    with LoopbackServer(default=scripted) as server:
        yield server


def gateway_config(upstream_url: str, **overrides: object) -> GatewayConfig:
    """Two gateway keys; ``mistral`` (its Chat Completions endpoint) and ``openrouter`` (Responses) at the upstream."""
    settings: dict[str, object] = {
        "store": ":memory:",
        "upstream_max_retries": 0,  # every scripted failure reaches the client as it was sent
        "keys": (GatewayKey("alice", key_digest(ALICE)), GatewayKey("bob", key_digest(BOB))),
        "providers": {
            "mistral": ProviderSettings(base_url=upstream_url, dialect="chat_completions"),
            "openrouter": ProviderSettings(base_url=upstream_url),
        },
        **overrides,
    }
    return GatewayConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def gateway(upstream: LoopbackServer) -> Iterator[RunningGateway]:
    environ = {"MISTRAL_API_KEY": UPSTREAM_KEY, "OPENROUTER_API_KEY": UPSTREAM_KEY}
    with RunningGateway(gateway_config(upstream.url), environ) as running:
        yield running


@pytest.fixture
def alice(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0) as client:
        yield client


@pytest.fixture
def bob(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url, api_key=BOB, max_retries=0) as client:
        yield client
