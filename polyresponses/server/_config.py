"""The gateway's configuration: a TOML file, every value overridable by an environment variable.

Every key (see README, "Gateway"; defaults in brackets)::

    [server]
    host = "127.0.0.1"                 # POLYRESPONSES_HOST; anything but loopback needs [keys]
    port = 8000                        # POLYRESPONSES_PORT
    keepalive_seconds = 15             # POLYRESPONSES_KEEPALIVE_SECONDS: SSE comment while the upstream is silent
    max_body_bytes = 33554432          # POLYRESPONSES_MAX_BODY_BYTES: larger request bodies get 413
    max_ws_frame_bytes = 16777216      # POLYRESPONSES_MAX_WS_FRAME_BYTES
    ws_max_seconds = 3600              # POLYRESPONSES_WS_MAX_SECONDS: the WebSocket connection cap
    requests_per_minute = 0            # POLYRESPONSES_REQUESTS_PER_MINUTE: per gateway key, 0 = unlimited
    allowed_base_url_hosts = []        # POLYRESPONSES_ALLOWED_BASE_URL_HOSTS (comma list): hosts a client may
                                       # name in api_base/base_url; empty = clients never choose the upstream
    drop_unsupported_hosted_tools = false  # POLYRESPONSES_DROP_UNSUPPORTED_HOSTED_TOOLS
    upstream_max_retries = 2           # POLYRESPONSES_UPSTREAM_MAX_RETRIES: the gateway's retries of a provider
                                       # call (connection errors, 408/409/429/5xx, honouring Retry-After, as the
                                       # library does); 0 hands every 429/5xx straight back to the client
    upstream_timeout_seconds = 600     # POLYRESPONSES_UPSTREAM_TIMEOUT_SECONDS
    mcp_allow_private_addresses = false  # POLYRESPONSES_MCP_ALLOW_PRIVATE_ADDRESSES: may the mcp tools the gateway
                                       # runs for a provider dial loopback, private or link-local (metadata) hosts
    mcp_max_turns = 10                 # POLYRESPONSES_MCP_MAX_TURNS: model turns per response without max_tool_calls
    mcp_call_timeout_seconds = 60      # POLYRESPONSES_MCP_CALL_TIMEOUT_SECONDS: one MCP listing or call

    [store]
    url = "<user data dir>/polyresponses/store.sqlite3"   # POLYRESPONSES_STORE: a path or ":memory:"

    [keys.<name>]                      # gateway keys; clients send `Authorization: Bearer <key>`
    sha256 = "<hex digest of the key>" # or: env = "VARIABLE_HOLDING_THE_KEY" (hashed at start, never kept)
    models = ["fast", "openai:*"]      # optional: aliases or provider:model patterns this key may use

    [providers.<name>]                 # per provider row: where its key and base URL come from
    api_key_env = "MY_OPENAI_KEY"      # default: the row's own variable (OPENAI_API_KEY, ...)
    base_url = "http://..."            # default: the row's base URL (or its base URL variable)
    dialect = "chat_completions"       # optional: speak another dialect to it

    [aliases.<name>]                   # `model = "<name>"` in a request
    model = "groq:openai/gpt-oss-120b"
    defaults = { temperature = 0.2 }   # body fields used when the request does not set them

Environment overrides use ``POLYRESPONSES_<KEY>`` for ``[server]`` and ``[store]`` keys; provider
keys always come from environment variables (named in the file, never written in it).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Alias", "ConfigError", "GatewayConfig", "GatewayKey", "ProviderSettings", "is_loopback", "load_config"]

ENV_PREFIX = "POLYRESPONSES_"


class ConfigError(ValueError):
    """The configuration is wrong; the message names the file, the key and what is expected."""


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """One gateway key: its name (shown in logs and metrics), the SHA-256 of the secret, what it may use."""

    name: str
    digest: bytes
    models: tuple[str, ...] = ()
    """Aliases or ``provider:model`` patterns (``*`` at the end matches any rest); empty: everything."""

    def allows(self, alias: str | None, provider: str, model: str) -> bool:
        if not self.models:
            return True
        target = f"{provider}:{model}"
        for pattern in self.models:
            if alias is not None and pattern == alias:
                return True
            if pattern.endswith("*") and target.startswith(pattern[:-1]) or pattern == target:
                return True
        return False


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    api_key_env: str | None = None
    base_url: str | None = None
    dialect: str | None = None
    region: str | None = None
    """The cloud rows' placeholders (AWS region, Vertex AI location), as ``Client(region=...)``."""
    project: str | None = None
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Alias:
    model: str
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    keepalive_seconds: float = 15.0
    max_body_bytes: int = 32 * 1024 * 1024
    max_ws_frame_bytes: int = 16 * 1024 * 1024
    ws_max_seconds: float = 3600.0
    requests_per_minute: int = 0
    allowed_base_url_hosts: tuple[str, ...] = ()
    drop_unsupported_hosted_tools: bool = False
    upstream_max_retries: int = 2
    upstream_timeout_seconds: float = 600.0
    mcp_allow_private_addresses: bool = False
    mcp_max_turns: int = 10
    mcp_call_timeout_seconds: float = 60.0
    store: str = ""
    """A SQLite path or ``:memory:``; empty: the library's default store file."""
    keys: tuple[GatewayKey, ...] = ()
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    aliases: Mapping[str, Alias] = field(default_factory=dict)
    source: str = "<defaults>"

    def check_bind(self) -> None:
        """With no gateway keys the server answers anyone who can reach it: loopback only."""
        if not self.keys and not is_loopback(self.host):
            raise ConfigError(
                f"{self.source}: refusing to listen on {self.host!r} with no gateway keys; "
                "configure [keys] or listen on 127.0.0.1"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SERVER_KEYS: dict[str, type] = {
    "host": str,
    "port": int,
    "keepalive_seconds": float,
    "max_body_bytes": int,
    "max_ws_frame_bytes": int,
    "ws_max_seconds": float,
    "requests_per_minute": int,
    "allowed_base_url_hosts": tuple,
    "drop_unsupported_hosted_tools": bool,
    "upstream_max_retries": int,
    "upstream_timeout_seconds": float,
    "mcp_allow_private_addresses": bool,
    "mcp_max_turns": int,
    "mcp_call_timeout_seconds": float,
}


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] = os.environ) -> GatewayConfig:
    """Read ``path`` (or only the defaults and the environment when ``None``) into a checked config."""
    source = str(path) if path is not None else "<defaults>"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{source}: cannot read the config file: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{source}: not valid TOML: {error}") from None
    unknown = set(data) - {"server", "store", "keys", "providers", "aliases"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {sorted(unknown)}; known: server, store, keys, providers, aliases"
        )
    server = _table(data, "server", source)
    values: dict[str, Any] = {}
    for key, kind in _SERVER_KEYS.items():
        raw = environ.get(ENV_PREFIX + key.upper())
        if raw is not None:
            values[key] = _from_env(raw, kind, ENV_PREFIX + key.upper())
        elif key in server:
            values[key] = _typed(server[key], kind, f"{source}: [server].{key}")
    unknown = set(server) - set(_SERVER_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [server]: {sorted(unknown)}; known: {sorted(_SERVER_KEYS)}")
    store = _table(data, "store", source)
    if set(store) - {"url"}:
        raise ConfigError(f"{source}: [store] takes only 'url'")
    values["store"] = environ.get(ENV_PREFIX + "STORE") or _typed(store.get("url", ""), str, f"{source}: [store].url")
    values["keys"] = tuple(_keys(_table(data, "keys", source), source, environ))
    values["providers"] = _providers(_table(data, "providers", source), source)
    values["aliases"] = _aliases(_table(data, "aliases", source), source)
    config = GatewayConfig(source=source, **values)
    if config.port < 0 or config.port > 65535:
        raise ConfigError(f"{source}: [server].port must be 0..65535, got {config.port}")
    return config


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{key}] must be a table")
    return value


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _from_env(raw: str, kind: type, name: str) -> Any:
    try:
        if kind is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        if kind is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return kind(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}: expected {kind.__name__}") from None


def key_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _keys(table: Mapping[str, Any], source: str, environ: Mapping[str, str]) -> list[GatewayKey]:
    keys: list[GatewayKey] = []
    for name, spec in table.items():
        where = f"{source}: [keys.{name}]"
        if not isinstance(spec, dict) or set(spec) - {"sha256", "env", "models"}:
            raise ConfigError(f"{where} takes sha256 or env, and models")
        if ("sha256" in spec) == ("env" in spec):
            raise ConfigError(f"{where} needs exactly one of sha256 (hex digest) or env (variable holding the key)")
        if "sha256" in spec:
            try:
                digest = bytes.fromhex(_typed(spec["sha256"], str, f"{where}.sha256"))
            except ValueError:
                raise ConfigError(f"{where}.sha256 must be 64 hex digits") from None
            if len(digest) != 32:
                raise ConfigError(f"{where}.sha256 must be 64 hex digits")
        else:
            variable = _typed(spec["env"], str, f"{where}.env")
            secret = environ.get(variable)
            if not secret:
                raise ConfigError(f"{where}.env: the environment variable {variable} is not set")
            digest = key_digest(secret)
        models = _typed(spec.get("models", []), tuple, f"{where}.models")
        keys.append(GatewayKey(name, digest, models))
    return keys


def _providers(table: Mapping[str, Any], source: str) -> dict[str, ProviderSettings]:
    from polyresponses.router._providers import PROVIDERS

    out: dict[str, ProviderSettings] = {}
    for name, spec in table.items():
        where = f"{source}: [providers.{name}]"
        if name not in PROVIDERS:
            raise ConfigError(f"{where}: unknown provider; known: {', '.join(sorted(PROVIDERS))}")
        if not isinstance(spec, dict) or set(spec) - {"api_key_env", "base_url", "dialect", *_PLACES}:
            raise ConfigError(f"{where} takes api_key_env, base_url, dialect, region, project and resource")
        dialect = spec.get("dialect")
        if dialect is not None and dialect not in ("openai_responses", "chat_completions"):
            raise ConfigError(f"{where}.dialect must be 'openai_responses' or 'chat_completions'")
        out[name] = ProviderSettings(
            api_key_env=spec.get("api_key_env") and _typed(spec["api_key_env"], str, f"{where}.api_key_env"),
            base_url=spec.get("base_url") and _typed(spec["base_url"], str, f"{where}.base_url"),
            dialect=dialect,
            **{place: _place(spec, place, where) for place in _PLACES},
        )
    return out


def _place(spec: Mapping[str, Any], name: str, where: str) -> str | None:
    """A region, project or resource name: checked at start as the client checks it (a DNS label), so a
    typo is a config error now instead of a 400 on every request."""
    value = spec.get(name)
    if value is None:
        return None
    text = str(_typed(value, str, f"{where}.{name}"))
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", text):
        raise ConfigError(f"{where}.{name} must be a {name} name (lowercase letters, digits, hyphens): {text!r}")
    return text


_PLACES = ("region", "project", "resource")


def _aliases(table: Mapping[str, Any], source: str) -> dict[str, Alias]:
    out: dict[str, Alias] = {}
    for name, spec in table.items():
        where = f"{source}: [aliases.{name}]"
        if isinstance(spec, str):
            spec = {"model": spec}
        if not isinstance(spec, dict) or "model" not in spec or set(spec) - {"model", "defaults"}:
            raise ConfigError(f'{where} takes model ("provider:model") and defaults (a table)')
        defaults = spec.get("defaults", {})
        if not isinstance(defaults, dict):
            raise ConfigError(f"{where}.defaults must be a table")
        out[name] = Alias(_typed(spec["model"], str, f"{where}.model"), defaults)
    return out
