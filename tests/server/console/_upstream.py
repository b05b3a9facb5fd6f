"""A scripted upstream for the console tests that answers both Chat Completions (``ScriptedChat``: ``echo: <last
user text>``) and the Responses API (the same echo), and refuses any key but ``good-key`` with a 401, as a
provider does, so a provider check can show a wrong key."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from polyresponses.server import GatewayConfig
from polyresponses.server._config import ProviderSettings
from tests._loopback import Exchange, json_reply
from tests.mcp._upstreams import _responses
from tests.server._scripted import ScriptedChat
from tests.server.conftest import gateway_config

GOOD_KEY = "good-key"


class EchoBoth:
    def __init__(self) -> None:
        self.chat = ScriptedChat()
        self.turns = 0

    def __call__(self, exchange: Exchange) -> None:
        headers = {name.lower(): value for name, value in exchange.request.headers.items()}
        if headers.get("authorization") != f"Bearer {GOOD_KEY}":
            json_reply(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, status=401
            )(exchange)
            return
        if exchange.request.path.endswith("/chat/completions"):
            self.chat(exchange)
            return
        body: dict[str, Any] = exchange.request.json()
        self.turns += 1
        items = body.get("input")
        last = items if isinstance(items, str) else _last_user_text(items or [])
        _responses(exchange, [], f"echo: {last}", bool(body.get("stream")), self.turns, body)


def _last_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(str(part.get("text", "")) for part in content or [])
    return ""


def console_config(upstream_url: str) -> GatewayConfig:
    """The gateway tests' config (mistral over chat, openrouter over Responses) plus groq, given a wrong key."""
    config = gateway_config(upstream_url)
    return replace(config, providers={**config.providers, "groq": ProviderSettings(base_url=upstream_url)})
