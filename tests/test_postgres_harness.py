"""The PostgreSQL harness itself (tests/_postgres.py), against the real server it starts.

The store's tests trust it to give them a real, isolated, restartable database as a non-root user,
reachable from this machine only; each of those promises is checked here, so a broken harness shows
up as one clear failure instead of as puzzling store failures.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests._postgres import SUPERUSER, PostgresServer


def _one(url: str, query: str) -> Any:
    """The first column of the first row of ``query``."""
    with psycopg.connect(url) as connection:
        row = connection.execute(query).fetchone()
    assert row is not None
    return row[0]


def _listening(port: int) -> list[str]:
    """The local addresses of every TCP socket listening on ``port`` (IPv4 and IPv6), from ``/proc/net``."""
    found: list[str] = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/net/{table}").read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            # The kernel prints each 32-bit word of the address in host byte order.
            words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
            found.append(socket.inet_ntop(family, struct.pack(f"={len(words)}I", *words)))
    return found


def test_server_runs_as_a_non_root_user(postgres: PostgresServer, postgres_url: str) -> None:
    data_directory = Path(_one(postgres_url, "SELECT current_setting('data_directory')"))
    assert data_directory == postgres.data_directory
    owner = data_directory.stat().st_uid
    status = Path(f"/proc/{postgres.pid}/status").read_text(encoding="ascii")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    if os.geteuid() == 0:
        assert postgres.user is not None
        assert owner == postgres.user.uid != 0
        assert uids == [str(postgres.user.uid)] * 4  # real, effective, saved and filesystem uid
    else:
        assert owner == os.geteuid()
        assert uids == [str(os.geteuid())] * 4
    assert data_directory.stat().st_mode & 0o777 == 0o700


def test_server_listens_on_loopback_only(postgres: PostgresServer, postgres_url: str) -> None:
    assert _one(postgres_url, "SHOW listen_addresses") == "127.0.0.1"
    assert str(_one(postgres_url, "SELECT inet_server_addr()")) == "127.0.0.1"
    assert _one(postgres_url, "SELECT inet_server_port()") == postgres.port
    assert _listening(postgres.port) == ["127.0.0.1"]


def test_a_wrong_or_missing_password_is_refused(postgres: PostgresServer, postgres_url: str) -> None:
    assert _one(postgres_url, "SELECT current_user") == SUPERUSER
    assert _one(postgres_url, "SHOW password_encryption") == "scram-sha-256"

    def attempt(password: str) -> None:
        psycopg.connect(
            host="127.0.0.1",
            port=postgres.port,
            user=SUPERUSER,
            dbname=SUPERUSER,
            password=password,
            connect_timeout=10,
        ).close()

    attempt(postgres.password)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        attempt(postgres.password + "x")
    with pytest.raises(psycopg.OperationalError, match="password"):
        attempt("")


def test_new_database_isolates(postgres: PostgresServer, postgres_url: str) -> None:
    other_url = postgres.new_database(f"{_one(postgres_url, 'SELECT current_database()')}_other")
    try:
        with psycopg.connect(postgres_url) as connection:
            connection.execute("CREATE TABLE only_here (id int)")
        assert _one(postgres_url, "SELECT to_regclass('only_here')") is not None
        assert _one(other_url, "SELECT to_regclass('only_here')") is None
        assert _one(other_url, "SELECT count(*) FROM pg_class WHERE relname = 'only_here'") == 0
    finally:
        postgres.drop_database(other_url.rsplit("/", 1)[1])


def test_stop_then_start_keeps_data_and_port(postgres: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE kept (value text)")
        connection.execute("INSERT INTO kept VALUES ('before the restart')")
    port = postgres.port
    postgres.stop()
    assert not postgres.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_url, connect_timeout=5)
    postgres.start()
    assert postgres.port == port
    assert _one(postgres_url, "SELECT value FROM kept") == "before the restart"


def test_kill_drops_connections_and_start_recovers(postgres: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as survivor:
        survivor.execute("CREATE TABLE committed (value int)")
        survivor.execute("INSERT INTO committed VALUES (42)")
        old_pid = postgres.pid
        postgres.kill()
        assert not postgres.running
        assert not Path(f"/proc/{old_pid}").exists()
        with pytest.raises(psycopg.OperationalError):
            survivor.execute("SELECT 1")
    postgres.start()
    assert postgres.pid != old_pid
    assert _one(postgres_url, "SELECT value FROM committed") == 42
    assert "not properly shut down" in postgres.log_path.read_text(encoding="utf-8")


def test_close_stops_the_server_and_removes_its_directory(postgres: PostgresServer) -> None:
    with PostgresServer(postgres.bindir) as server:
        assert server.port != postgres.port
        assert _one(server.url, "SELECT current_database()") == SUPERUSER
        root, pid = server.root, server.pid
    assert not server.running
    assert not root.exists()
    assert not Path(f"/proc/{pid}").exists()
