"""The official ``openai`` npm SDK (run by Node.js) against the running gateway: create, stream, retrieve, 404.

``scripts/install.sh`` installs the SDK pinned by ``tests/server/node/package-lock.json`` into
``${POLYRESPONSES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyresponses}/node-client/``. Outside CI the
test skips when Node.js or that install is missing; in CI (``CI=true``) it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

from polyresponses.server import GatewayConfig
from polyresponses.server._config import GatewayKey, ProviderSettings, key_digest
from tests._loopback import LoopbackServer
from tests.server._running import RunningGateway
from tests.server._scripted import ScriptedChat

HERE = Path(__file__).parent / "node"
KEY = "sk-gw-alice-node-4b1e7d"
PROMPT = "hello from node"
STREAM_PROMPT = "stream these words please"
UNKNOWN_ID = "resp_" + "0" * 32


def _unavailable(message: str) -> NoReturn:
    message += " (run 'bash scripts/install.sh')"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _node_client() -> tuple[str, Path]:
    """``node`` and the installed package's ``node_modules``; skip (locally) or fail (in CI) without them."""
    node = shutil.which("node")
    if node is None:
        _unavailable("Node.js is not installed: no 'node' on PATH")
    cache = os.environ.get("POLYRESPONSES_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polyresponses"
    )
    modules = Path(cache) / "node-client" / "node_modules"
    pinned = json.loads((HERE / "package.json").read_text(encoding="utf-8"))["dependencies"]["openai"]
    try:
        installed = json.loads((modules / "openai" / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        installed = None
    if installed != pinned:
        found = "is not installed" if installed is None else f"is {installed}"
        _unavailable(f"the openai npm package {pinned} is needed in {modules}, but it {found}")
    return node, modules


def _run_client(tmp_path: Path, node: str, modules: Path, env: dict[str, str]) -> dict[str, Any]:
    # ESM imports ignore NODE_PATH: they look for node_modules beside the script, so the script runs
    # from a copy next to a link to the installed packages (the repository and the cache stay untouched).
    script = tmp_path / "client.mjs"
    shutil.copyfile(HERE / "client.mjs", script)
    (tmp_path / "node_modules").symlink_to(modules, target_is_directory=True)
    base = {name: os.environ[name] for name in ("PATH", "HOME", "SYSTEMROOT") if name in os.environ}
    done = subprocess.run(
        [node, str(script)],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"node exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_openai_npm_sdk_create_stream_retrieve_not_found(tmp_path: Path) -> None:
    node, modules = _node_client()
    with LoopbackServer(default=ScriptedChat()) as upstream:
        config = GatewayConfig(
            port=0,  # RunningGateway then picks a free port (the default, 8000, may be taken)
            store=":memory:",
            keys=(GatewayKey("alice", key_digest(KEY)),),
            providers={"mistral": ProviderSettings(base_url=upstream.url, dialect="chat_completions")},
        )
        with RunningGateway(config, {"MISTRAL_API_KEY": "sk-up"}) as gateway:
            report = _run_client(
                tmp_path,
                node,
                modules,
                {
                    "GATEWAY_URL": gateway.url,
                    "GATEWAY_KEY": KEY,
                    "MODEL": "mistral:small",
                    "PROMPT": PROMPT,
                    "STREAM_PROMPT": STREAM_PROMPT,
                    "UNKNOWN_ID": UNKNOWN_ID,
                },
            )
        chat_requests = [request for request in upstream.requests if request.path.endswith("/chat/completions")]

    created = report["created"]
    assert created["status"] == "completed"
    assert created["output_text"] == f"echo: {PROMPT}"
    assert created["id"].startswith("resp_") and created["id"] != UNKNOWN_ID

    streamed = report["streamed"]
    types: list[str] = streamed["types"]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert "response.output_text.delta" in types
    assert streamed["sequence_numbers"] == list(range(len(types)))
    assert streamed["text"] == f"echo: {STREAM_PROMPT}"
    completed = streamed["completed"]
    assert completed["status"] == "completed" and completed["text"] == f"echo: {STREAM_PROMPT}"
    assert completed["id"].startswith("resp_") and completed["id"] != created["id"]

    assert report["retrieved"] == {"id": created["id"], "status": "completed", "output_text": f"echo: {PROMPT}"}

    missing = report["missing"]
    assert missing["raised"] == "NotFoundError" and missing["not_found"] is True
    assert missing["status"] == 404

    # One upstream call per created response (non-streamed, then streamed); retrievals stay in the gateway.
    assert [request.json().get("stream", False) for request in chat_requests] == [False, True]
