"""Real MCP servers for the tests: the reference ``@modelcontextprotocol/server-everything`` from npm.

``scripts/install.sh`` installs it (pinned by ``tests/server/node/package-lock.json``) into the same
cache as the Node.js clients. It binds every interface by itself; started with
``tests/mcp/node/loopback-only.cjs`` preloaded, it binds 127.0.0.1 only (checked). One process per
transport (Streamable HTTP at ``/mcp``, the older HTTP+SSE at ``/sse``) for the whole session.
Outside CI the tests that need it skip when Node.js or the install is missing; in CI they fail.
Test modules (and conftests) import the fixtures they use from here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

HERE = Path(__file__).parent / "mcp"
PACKAGE = "@modelcontextprotocol/server-everything"
SAFE_TOOLS = ["echo", "get-sum", "get-tiny-image", "get-structured-content", "get-annotated-message"]
"""Tools that neither read the server's environment (get-env) nor fetch URLs (gzip-file-as-resource)."""


def _unavailable(message: str) -> NoReturn:
    message += " (run 'bash scripts/install.sh')"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening_addresses(pid: int, port: int) -> list[str]:
    """Local addresses ``pid``'s sockets listen on at ``port`` (from /proc: no tool needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes and int(address.rsplit(":", 1)[1], 16) == port:
                found.append(address.rsplit(":", 1)[0])
    return found


class Unavailable(RuntimeError):
    """Node.js or the pinned server-everything is missing."""


def entry() -> tuple[str, Path]:
    """``node`` and server-everything's entry script; :class:`Unavailable` when either is missing."""
    node = shutil.which("node")
    if node is None:
        raise Unavailable("Node.js is not installed: no 'node' on PATH")
    cache = os.environ.get("POLYRESPONSES_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polyresponses"
    )
    package = Path(cache) / "node-client" / "node_modules" / PACKAGE
    pinned = json.loads((HERE.parent / "server" / "node" / "package.json").read_text())["dependencies"][PACKAGE]
    try:
        installed = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        installed = None
    if installed != pinned:
        raise Unavailable(f"{PACKAGE} {pinned} is needed in {package}, but it is {installed or 'not installed'}")
    return node, package / "dist" / "index.js"


def launch(mode: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start server-everything in ``mode`` (``streamableHttp`` or ``sse``) on a free loopback port; checks
    that it listens on loopback only. Returns the process and its URL; the caller stops the process."""
    node, script = entry()
    path = {"streamableHttp": "/mcp", "sse": "/sse"}[mode]
    port = _free_port()
    process = subprocess.Popen(
        [node, "--require", str(HERE / "node" / "loopback-only.cjs"), str(script), mode],
        env={"PATH": os.environ.get("PATH", ""), "PORT": str(port), "HOME": os.environ.get("HOME", "/")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not _listening(process, port):
        stop(process)
        raise RuntimeError(f"{PACKAGE} ({mode}) did not start on port {port}")
    addresses = _listening_addresses(process.pid, port)
    if not addresses or any(a not in ("0100007F", "00000000000000000000000001000000") for a in addresses):
        stop(process)
        raise RuntimeError(f"{PACKAGE} listens beyond loopback: {addresses}")
    return process, f"http://127.0.0.1:{port}{path}"


def _listening(process: subprocess.Popen[bytes], port: int, seconds: float = 30) -> bool:
    """Whether ``process`` accepts connections on ``port`` within ``seconds`` (``False`` if it exits first)."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def everything_process() -> Iterator[dict[str, str]]:
    """Both transports of server-everything: ``{"http": url of /mcp, "sse": url of /sse}``."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for mode, name in (("streamableHttp", "http"), ("sse", "sse")):
            try:
                process, urls[name] = launch(mode)
            except Unavailable as error:
                _unavailable(str(error))
            processes.append(process)
        yield urls
    finally:
        for process in processes:
            stop(process)


@pytest.fixture(scope="session")
def time_server() -> Iterator[str]:
    """``mcp-server-time`` (PyPI) over Streamable HTTP on loopback (:mod:`tests.mcp.time_server`)."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mcp.time_server", str(port)],
        cwd=HERE.parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not _listening(process, port):
            pytest.fail(f"mcp-server-time did not start on port {port}")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


@pytest.fixture
def everything(everything_process: dict[str, str]) -> str:
    """The Streamable HTTP URL of server-everything."""
    return everything_process["http"]


@pytest.fixture
def everything_sse(everything_process: dict[str, str]) -> str:
    """The HTTP+SSE URL of server-everything."""
    return everything_process["sse"]
