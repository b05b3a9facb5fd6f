"""A real PostgreSQL server for the tests, started by the tests themselves: no mocks, no shared cluster.

The store's behaviour that matters (transactions, locks, connection loss when the database restarts)
only shows against a real server, so :class:`PostgresServer` runs one of its own: ``initdb`` into a
fresh temporary directory, ``postgres`` on a free loopback port, removed again by :meth:`close`::

    with PostgresServer() as server:
        url = server.new_database("t_example")  # an empty database of its own for one test
        ...
        server.stop()  # or server.kill(): a crash, recovered from by the next start()
        server.start()  # same data directory, same port: clients reconnect to the same URL

The tests run as root here and in CI, and PostgreSQL refuses to run as root, so the server runs as
Debian's ``postgres`` system user (``nobody`` when that is missing) through ``setpriv`` (``runuser``
without it); a non-root test run keeps its own user. Password authentication (SCRAM) is on for TCP
as in production, so the URLs carry the superuser's random password.

The binaries come from ``/usr/lib/postgresql/15/bin``, else ``pg_config --bindir``, else the newest of
``/usr/lib/postgresql/*/bin``: PostgreSQL 15 is what CI installs (``.ci/run``), another version only a
fallback. :func:`find_bindir` returning ``None`` means PostgreSQL is not installed (the fixtures then
skip, or fail in CI).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = [
    "PREFERRED_MAJOR",
    "SUPERUSER",
    "PostgresServer",
    "PostgresStartError",
    "PostgresUnavailable",
    "ServiceUser",
    "find_bindir",
    "service_user",
]

PREFERRED_MAJOR = 15
"""The version CI installs (Debian 12's ``postgresql``) and the one the store is tested against."""

SUPERUSER = "polyresponses"
"""The superuser ``initdb`` creates, and the name of the database created for :attr:`PostgresServer.url`."""

STARTUP_TIMEOUT = 60.0
"""Seconds to wait for the server to accept connections (crash recovery after :meth:`~PostgresServer.kill`
included); generous because CI machines are slow and shared."""

_STOP_SIGNALS: dict[str, signal.Signals] = {
    # PostgreSQL's shutdown modes are chosen by the signal sent to the postmaster (pg_ctl does the same).
    "smart": signal.SIGTERM,  # wait for the clients to disconnect
    "fast": signal.SIGINT,  # end the sessions, roll back, checkpoint
    "immediate": signal.SIGQUIT,  # end everything now, recover at the next start
}

_PORT_TAKEN = ("could not bind", "Address already in use")
"""Log lines of a postmaster whose port was taken between choosing it and binding it."""

_MAX_IDENTIFIER = 63
"""PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated, so the URL would name another database."""


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be run on this machine (not installed, or no non-root user to run it as)."""


class PostgresStartError(RuntimeError):
    """``initdb`` or the server failed; the message carries the tail of the server's log."""


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """The non-root account the server runs as when the tests run as root."""

    name: str
    uid: int
    gid: int


def service_user() -> ServiceUser | None:
    """Who runs the server: ``None`` (the current user) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            if entry.pw_uid != 0:
                return ServiceUser(name, entry.pw_uid, entry.pw_gid)
    raise PostgresUnavailable("the tests run as root, and neither a 'postgres' nor a 'nobody' user exists")


def _major(bindir: Path) -> int | None:
    """The major version of ``bindir/postgres`` (``postgres --version`` works even as root), or ``None``."""
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.strip()) if out.strip() else None


def find_bindir() -> Path | None:
    """The directory of ``initdb`` and ``postgres``, PostgreSQL 15's when installed; ``None`` when none is."""
    candidates: list[Path] = [Path(f"/usr/lib/postgresql/{PREFERRED_MAJOR}/bin")]
    if (configured := _pg_config_bindir()) is not None:
        candidates.append(configured)

    def version_of(path: Path) -> int:
        return int(path.parent.name) if path.parent.name.isdigit() else -1

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_of, reverse=True)
    usable: list[tuple[Path, int]] = []
    for bindir in dict.fromkeys(candidates):  # in order, without repeats
        if not all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "postgres")):
            continue
        major = _major(bindir)
        if major == PREFERRED_MAJOR:
            return bindir
        if major is not None:
            usable.append((bindir, major))
    return max(usable, key=lambda found: found[1])[0] if usable else None


def _free_port() -> int:
    """A loopback port nobody listens on right now (the postmaster binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scratch_parent(user: ServiceUser | None) -> str:
    """Where the temporary directory goes: the usual one, unless the service user could not reach it.

    A root test run may have ``TMPDIR`` under ``/root`` (mode 0700); the server's user then could not
    even enter its own data directory, so ``/tmp`` is used instead.
    """
    base = tempfile.gettempdir()
    if user is None:
        return base
    path = Path(base).resolve()
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            return "/tmp"
    return base


_REAPER = """
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
child = os.fork()
if child == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    except BaseException as error:
        sys.stderr.write(f"cannot run {sys.argv[1]}: {error}\\n")
        sys.stderr.flush()
    os._exit(127)
status = 0
while True:
    try:
        pid, code = os.wait()
    except ChildProcessError:
        break
    if pid == child:
        status = os.waitstatus_to_exitcode(code)
sys.exit(status if status >= 0 else 128 - status)
"""
"""The postmaster's parent: runs the command, then reaps every process left under it, and exits last.

A subreaper (``PR_SET_CHILD_SUBREAPER``), so backends orphaned by :meth:`PostgresServer.kill` are its
children, not pid 1's: a container's pid 1 may never reap them, leaving ``<defunct>`` postgres
processes behind. Its exit therefore means every server process is gone, which ``stop`` and ``kill``
wait for; and ``kill`` finds all of them among its descendants.
"""


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (from ``/proc``), parents before their children."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # "pid (comm) state ppid ...": the command name may contain spaces and parentheses.
        parents[int(entry.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    found: list[int] = []
    level = [root]
    while level:
        level = [pid for pid, parent in parents.items() if parent in level]
        found += level
    return found


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _kill_all(reaper: subprocess.Popen[bytes]) -> None:
    """SIGKILL everything under the reaper until it exits (a process forked meanwhile goes next round)."""
    while reaper.poll() is None:
        for pid in _descendants(reaper.pid):
            _signal(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            reaper.wait(timeout=0.05)


@dataclass(slots=True)
class _Runtime:
    """What must be cleaned up even when the :class:`PostgresServer` is never closed (see ``_reap``)."""

    root: Path | None = None
    reaper: subprocess.Popen[bytes] | None = None
    """The handle of the postmaster's parent (:data:`_REAPER`)."""
    pid: int | None = None
    """The postmaster's pid, from its ``postmaster.pid`` once it accepts connections."""


def _reap(runtime: _Runtime) -> None:
    """Immediate shutdown if still running, then remove the files: by :meth:`PostgresServer.close`, or at
    interpreter exit for a server a test forgot to close (so no postmaster outlives the test run)."""
    reaper = runtime.reaper
    if reaper is not None and reaper.poll() is None:
        if runtime.pid is not None:
            _signal(runtime.pid, signal.SIGQUIT)
        try:
            reaper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_all(reaper)
    if runtime.root is not None:
        shutil.rmtree(runtime.root, ignore_errors=True)


class PostgresServer:
    """One PostgreSQL server in a temporary directory, on a free port of 127.0.0.1, as a non-root user.

    Nothing happens until :meth:`start` (or ``with``): the first start runs ``initdb`` and creates the
    ``polyresponses`` database; later starts reuse the data directory and the port, so URLs handed out
    before a :meth:`stop` or :meth:`kill` work again afterwards. Lifecycle calls are serialized, so a
    test may restart the server from one thread while others keep querying it.
    """

    def __init__(
        self,
        bindir: Path | None = None,
        *,
        startup_timeout: float = STARTUP_TIMEOUT,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """``settings``: server parameters (``-c name=value``) that override the harness's own (see
        ``_launch``), e.g. ``{"fsync": "on"}`` for a benchmark that must pay for durability as production
        does; the tests leave it out and run with ``fsync=off``, since they need no durability."""
        found = bindir if bindir is not None else find_bindir()
        if found is None:
            raise PostgresUnavailable(
                f"PostgreSQL is not installed: no initdb and postgres in /usr/lib/postgresql/{PREFERRED_MAJOR}/bin, "
                "`pg_config --bindir` or /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
            )
        self.bindir = found
        self.user = service_user()
        self.password = secrets.token_urlsafe(24)  # URL-safe: goes into the URLs unescaped
        self.startup_timeout = startup_timeout
        self.settings = dict(settings or {})
        self._port: int | None = None
        self._lock = threading.RLock()
        self._runtime = _Runtime()
        self._finalizer = weakref.finalize(self, _reap, self._runtime)

    # --- where it is --------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The temporary directory: ``data/``, ``postgres.log`` and the Unix socket."""
        if self._runtime.root is None:
            raise RuntimeError("the server has not been started yet")
        return self._runtime.root

    @property
    def data_directory(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server has not been started yet")
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        """``postgresql://polyresponses:<password>@127.0.0.1:<port>/polyresponses``."""
        return self.database_url(SUPERUSER)

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server, as the superuser."""
        return f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self.port}/{quote(name, safe='')}"

    @property
    def running(self) -> bool:
        reaper = self._runtime.reaper
        return reaper is not None and reaper.poll() is None

    @property
    def pid(self) -> int:
        """The postmaster's pid."""
        if not self.running or self._runtime.pid is None:
            raise RuntimeError("the server is not running")
        return self._runtime.pid

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and wait until it accepts connections (``initdb`` first, the first time)."""
        with self._lock:
            if not self._finalizer.alive:
                raise RuntimeError("the server was closed")
            if self.running:
                raise RuntimeError("the server is already running")
            if self._runtime.root is None:
                self._initdb()
                for attempt in range(5):
                    self._port = _free_port()
                    try:
                        self._launch()
                        break
                    except PostgresStartError as error:
                        # Another process took the port between _free_port() and the bind: pick another.
                        if attempt == 4 or not any(line in str(error) for line in _PORT_TAKEN):
                            raise
                with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
                    connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SUPERUSER)))
            else:
                self._launch()

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast", *, timeout: float = 60.0) -> None:
        """Shut the server down (``fast``: sessions are ended, as by ``pg_ctl stop``); no-op when stopped.

        ``smart`` waits for every client to disconnect, ``immediate`` skips the checkpoint (the next
        start recovers). Returns once every server process has exited. :class:`TimeoutError` when that
        takes longer than ``timeout`` seconds; the server is then still running (:meth:`kill` ends it).
        """
        with self._lock:
            reaper = self._runtime.reaper
            if reaper is None or reaper.poll() is not None:
                return
            _signal(self.pid, _STOP_SIGNALS[mode])
            try:
                reaper.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"PostgreSQL did not stop ({mode}) within {timeout} s") from None

    def kill(self) -> None:
        """Crash the server: SIGKILL to the postmaster and to every process it had started.

        The postmaster alone would leave its backends running (they only notice its death when they
        next wait), still attached to the shared memory, and a new postmaster refuses to start while
        they are; so the whole server dies at once, as in an OOM kill (no data is lost: ``fsync=off``
        only matters when the operating system crashes). Clients see their connections drop; the next
        :meth:`start` runs crash recovery. Returns once every server process is gone; no-op when stopped.
        """
        with self._lock:
            reaper = self._runtime.reaper
            if reaper is not None:
                _kill_all(reaper)

    def close(self) -> None:
        """Stop the server (killing it if a fast shutdown hangs) and remove its directory. Idempotent."""
        with self._lock:
            try:
                self.stop("fast", timeout=30)
            except TimeoutError:
                self.kill()
            self._finalizer()  # removes the directory, once

    def __enter__(self) -> PostgresServer:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # --- databases ----------------------------------------------------------------------------------

    def new_database(self, name: str) -> str:
        """``CREATE DATABASE name`` (empty, owned by the superuser) and its URL: one test's own database."""
        if not name or len(name.encode()) > _MAX_IDENTIFIER:
            raise ValueError(f"database names are 1 to {_MAX_IDENTIFIER} bytes long: {name!r}")
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name WITH (FORCE)``: its sessions are ended first, so leaked
        connections do not keep a test's database (several MB each) on disk until the session ends."""
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, RuntimeError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # --- internals ----------------------------------------------------------------------------------

    def _conninfo(self, database: str) -> str:
        return make_conninfo(
            host=self.host,
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname=database,
            connect_timeout=10,
        )

    def _environment(self) -> dict[str, str]:
        """A clean environment: no PG* variables of the caller, a C locale and UTC for reproducible output."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
        }

    def _command(self, *argv: str) -> list[str]:
        """``argv`` as the service user (setpriv execs into it; runuser stays as its parent)."""
        if self.user is None:
            return list(argv)
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            return [setpriv, f"--reuid={self.user.uid}", f"--regid={self.user.gid}", "--init-groups", "--", *argv]
        runuser = shutil.which("runuser")
        if runuser is not None:
            return [runuser, "-u", self.user.name, "--", *argv]
        raise PostgresUnavailable("the tests run as root and neither setpriv nor runuser (util-linux) is installed")

    def _initdb(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="polyresponses-pg-", dir=_scratch_parent(self.user)))
        self._runtime.root = root
        os.chmod(root, 0o700)
        if self.user is not None:
            os.chown(root, self.user.uid, self.user.gid)
        pwfile = root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        os.chmod(pwfile, 0o600)
        if self.user is not None:
            os.chown(pwfile, self.user.uid, self.user.gid)
        try:
            result = subprocess.run(
                self._command(
                    str(self.bindir / "initdb"),
                    f"--pgdata={self.data_directory}",
                    f"--username={SUPERUSER}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ),
                cwd=root,
                env=self._environment(),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)  # the next start() begins afresh, not on half a cluster
            self._runtime.root = None
            raise PostgresStartError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _launch(self) -> None:
        """Run the postmaster in the foreground of a handle we keep, then wait until it takes connections."""
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "fsync": "off",
            "max_connections": "300",
            "logging_collector": "off",  # stderr goes to postgres.log, opened below
            **self.settings,
        }
        argv = [str(self.bindir / "postgres"), "-D", str(self.data_directory)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            # Its own session: a Ctrl-C in the terminal must not reach the server, the fixtures stop it.
            reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REAPER, *self._command(*argv)],
                cwd=self.root,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._runtime.reaper = reaper
        self._runtime.pid = None
        try:
            self._wait_ready(reaper)
        except BaseException:
            _kill_all(reaper)
            raise

    def _wait_ready(self, reaper: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        error: Exception | None = None
        while time.monotonic() < deadline:
            if reaper.poll() is not None:
                raise PostgresStartError(
                    f"postgres exited with status {reaper.returncode}; {self.log_path}:\n{self.log_tail()}"
                )
            try:
                with psycopg.connect(self._conninfo("postgres")) as connection:
                    connection.execute("SELECT 1")
            except psycopg.OperationalError as failure:  # refused, starting up, in recovery
                error = failure
                time.sleep(0.05)
                continue
            # Rewritten by this postmaster before it accepted the connection above.
            pidfile = self.data_directory / "postmaster.pid"
            self._runtime.pid = int(pidfile.read_text(encoding="utf-8").split("\n", 1)[0])
            return
        raise PostgresStartError(
            f"postgres did not accept connections within {self.startup_timeout} s (last error: {error}); "
            f"{self.log_path}:\n{self.log_tail()}"
        )
