"""A real gateway for the tests: uvicorn serving :func:`polyresponses.server.create_app` on a free loopback port.

``RunningGateway`` runs the server in a background thread (its own event loop), waits until it
answers ``/healthz``, and stops it on exit; the tests then talk to it over real sockets with real
clients (openai-python, httpx, websockets).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn

from polyresponses.server import Gateway, GatewayConfig, create_app

__all__ = ["RunningGateway", "free_port", "healthy", "serve_process"]


def healthy(base: str, timeout: float) -> bool:
    """Whether a gateway at ``base`` answers ``/healthz`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.02)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningGateway:
    """``with RunningGateway(config, environ) as gateway:`` then ``gateway.url`` (``http://127.0.0.1:N/v1``)."""

    def __init__(
        self, config: GatewayConfig, environ: Mapping[str, str] | None = None, port: int | None = None
    ) -> None:
        self.config = replace(config, host="127.0.0.1", port=port or free_port())
        self.gateway = Gateway(self.config, dict(environ or {}))
        self.app = create_app(gateway=self.gateway)
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.config.port,
                log_level="warning",
                ws_max_size=self.config.max_ws_frame_bytes,
                lifespan="on",
            )
        )
        self.base = f"http://127.0.0.1:{self.config.port}"
        self.url = f"{self.base}/v1"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> RunningGateway:
        self._thread.start()
        if not healthy(self.base, 10):
            raise RuntimeError("the gateway did not start")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


def serve_process(config: Path, port: int, environ: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``polyresponses serve --config <config> --port <port>`` as a process of its own (a test may kill it
    with SIGKILL), once it answers ``/healthz``. The config file's store is used, not the tests' default."""
    process = subprocess.Popen(
        [sys.executable, "-m", "polyresponses", "serve", "--config", str(config), "--port", str(port)]
        + ["--log-level", "warning"],
        env={**{k: v for k, v in os.environ.items() if k != "POLYRESPONSES_STORE"}, **environ},
    )
    if healthy(f"http://127.0.0.1:{port}", 30):
        return process
    process.kill()
    process.wait()
    raise AssertionError("polyresponses serve did not start")
