"""Codex CLI completes a task through the gateway over a stateless provider, over HTTP and the WebSocket mode.

``codex exec`` (``@openai/codex`` from the npm registry, installed by ``scripts/install.sh`` beside the
npm SDK) runs with a custom model provider whose ``base_url`` is the gateway and ``wire_api =
"responses"``. The provider behind the gateway is a Chat Completions upstream scripted to call
Codex's ``exec_command`` tool (a tiny model cannot be made to), then to answer in text: Codex runs
the command in its working directory and sends the output back, so the file it writes proves the
whole loop ran. Codex's requests carry a ``namespace`` tool (``multi_agent_v1``, flattened for the
chat provider and mapped back), a ``web_search`` tool (left out with notice: the operator switched
``drop_unsupported_hosted_tools`` on), ``client_metadata``, ``include``, ``store: false``,
``reasoning.summary`` and its whole history every turn. With ``supports_websockets = true`` Codex opens
``GET /v1/responses`` as a WebSocket first and keeps using it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from polyresponses.server import GatewayConfig
from polyresponses.server._config import Alias, GatewayKey, ProviderSettings, key_digest
from tests._loopback import LoopbackServer
from tests.server._running import RunningGateway, free_port
from tests.server._scripted import ScriptedChat
from tests.server.conftest import gateway_config

KEY = "sk-gw-codex-5e1f0a"
COMMAND = "echo hello > out.txt"


def _unavailable(message: str) -> NoReturn:
    message += " (run 'bash scripts/install.sh')"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _codex() -> Path:
    cache = os.environ.get("POLYRESPONSES_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polyresponses"
    )
    binary = Path(cache) / "node-client" / "node_modules" / ".bin" / "codex"
    if not binary.exists() or shutil.which("node") is None:
        _unavailable(f"Codex CLI is not installed at {binary}")
    return binary


def _config(base_url: str, websockets: bool) -> str:
    """Codex's config: the gateway as a custom provider; nothing that would reach outside hosts."""
    return f"""
model_provider = "gateway"
model = "codex-local"
check_for_update_on_startup = false
approval_policy = "never"
sandbox_mode = "danger-full-access"

[analytics]
enabled = false
[feedback]
enabled = false
[otel]
exporter = "none"
log_user_prompt = false
[features]
plugins = false
remote_plugin = false
apps = false

[model_providers.gateway]
name = "gateway"
base_url = "{base_url}"
wire_api = "responses"
env_key = "GATEWAY_KEY"
supports_websockets = {str(websockets).lower()}
request_max_retries = 0
stream_max_retries = 0
"""


def _run_codex(
    tmp_path: Path, base_url: str, websockets: bool, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], Path]:
    home = tmp_path / "home"
    codex_home = home / ".codex"
    work = tmp_path / "work"
    codex_home.mkdir(parents=True)
    work.mkdir()
    (codex_home / "config.toml").write_text(_config(base_url, websockets))
    done = subprocess.run(
        [
            str(_codex()),
            "exec",
            "--strict-config",
            "--ephemeral",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "--json",
            "Write hello into out.txt.",
        ],
        cwd=work,
        env={"PATH": os.environ["PATH"], "HOME": str(home), "CODEX_HOME": str(codex_home), "GATEWAY_KEY": KEY},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done, work


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("websockets", [False, True], ids=["http", "websocket"])
def test_codex_exec_runs_a_tool_through_the_gateway(tmp_path: Path, websockets: bool) -> None:
    scripted = ScriptedChat(tool="exec_command", arguments=json.dumps({"cmd": COMMAND}))
    with LoopbackServer(default=scripted) as upstream:
        config = gateway_config(
            upstream.url,
            keys=(GatewayKey("codex", key_digest(KEY)),),
            aliases={"codex-local": Alias("mistral:mistral-small-latest")},
            drop_unsupported_hosted_tools=True,
        )
        with RunningGateway(config, {"MISTRAL_API_KEY": "sk-up"}) as gateway:
            done, work = _run_codex(tmp_path, gateway.url, websockets)
            sockets = gateway.gateway.metrics.websocket_connections
        requests = [request.json() for request in upstream.requests]
    assert done.returncode == 0, (
        f"codex exited {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    assert (work / "out.txt").read_text() == "hello\n"  # Codex ran the call the model made through the gateway
    assert len(requests) == 2  # the WebSocket warm-up (generate: false) asks no provider
    first, second = requests
    offered = [tool["function"]["name"] for tool in first["tools"]]
    assert "exec_command" in offered and any(name.startswith("multi_agent_v1__") for name in offered)
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["tool_call_id"] == "call_1"
    assert "Process exited with code 0" in second["messages"][-1]["content"]
    items = [event.get("item", {}) for event in _events(done.stdout) if event.get("type") == "item.completed"]
    assert any(item.get("type") == "command_execution" and COMMAND in item.get("command", "") for item in items), items
    assert any(item.get("type") == "agent_message" for item in items), items
    assert (sockets > 0) == websockets  # with WebSockets on, Codex used them (no fallback to HTTP)


@pytest.fixture(scope="module")
def long_context_llama() -> Iterator[str]:
    """A second llama-server (the cached build, SmolLM2) with a 16,384-token context: Codex's prompt and
    tools are about 6,000 tokens, more than the shared lane's 4,096. Started and stopped here."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "local-model"
    port = str(free_port())
    env = {**os.environ, "LOCAL_MODEL_CONTEXT": "16384"}
    started = subprocess.run(
        ["bash", str(script), "start", "--port", port], env=env, capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        _unavailable(f"llama-server did not start: {started.stderr[-2000:]}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "stop", "--port", port], env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize("websockets", [False, True], ids=["http", "websocket"])
def test_codex_exec_completes_over_llama_server(tmp_path: Path, websockets: bool, long_context_llama: str) -> None:
    """A real model behind the gateway: SmolLM2 over llama-server's chat endpoint. A 135M model follows no
    instruction, so the assertion is that the turn completes with the model's answer, not what it says."""
    config = GatewayConfig(
        store=":memory:",
        keys=(GatewayKey("codex", key_digest(KEY)),),
        providers={"vllm": ProviderSettings(base_url=long_context_llama, dialect="chat_completions")},
        # The operator's alias defaults: SmolLM2 never stops on its own at this prompt length, and Codex
        # fails a turn that ends incomplete; a stop sequence (a chat extra, passed through) ends it.
        aliases={"codex-local": Alias("vllm:smollm2", {"max_output_tokens": 256, "temperature": 0, "stop": ["\n"]})},
        drop_unsupported_hosted_tools=True,
        upstream_timeout_seconds=300,
    )
    with RunningGateway(config, {}) as gateway:
        done, _ = _run_codex(tmp_path, gateway.url, websockets, timeout=600)
        sockets = gateway.gateway.metrics.websocket_connections
    assert done.returncode == 0, (
        f"codex exited {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    events = _events(done.stdout)
    assert events[-1]["type"] == "turn.completed" and events[-1]["usage"]["input_tokens"] > 4096
    assert (sockets > 0) == websockets
