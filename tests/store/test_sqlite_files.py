"""The SQLite store's files are private to their user: they hold people's conversations.

A new database and its ``-wal``/``-shm`` files are 0600 and a directory the store creates is 0700,
whatever the process umask; an existing database left readable by others is tightened when opened; a
directory the user chose is left as it is, except polyresponses' own default data directory. Each test
runs under a usual umask (0o022) and a permissive one (0o000): the modes must not come from the umask.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from polyresponses.server.ledger import open_ledger
from polyresponses.store import SQLiteStore, StoredItem, StoredResponse, default_store_path


@pytest.fixture(autouse=True, params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under this umask, and give the process its own back afterwards."""
    chosen: int = request.param
    previous = os.umask(chosen)
    try:
        yield chosen
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(store: SQLiteStore, response_id: str = "resp_1") -> None:
    store.save_response(
        StoredResponse(response_id, "anthropic", False, '{"output":[]}'),
        [StoredItem("msg_1", {"type": "message", "role": "user", "content": "private"})],
    )


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def test_a_new_store_file_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with closing(SQLiteStore(path)) as store:
        _write(store)
        wal, shm = _companions(path)
        assert wal.exists() and shm.exists()  # still open: SQLite keeps them until the last connection closes
        assert {name: _mode(each) for name, each in (("db", path), ("wal", wal), ("shm", shm))} == {
            "db": 0o600,
            "wal": 0o600,
            "shm": 0o600,
        }


def test_every_directory_the_store_creates_is_0700(tmp_path: Path) -> None:
    path = tmp_path / "made" / "by" / "the-store" / "store.sqlite3"
    with closing(SQLiteStore(path)) as store:
        _write(store)
    for directory in (tmp_path / "made", tmp_path / "made" / "by", tmp_path / "made" / "by" / "the-store"):
        assert _mode(directory) == 0o700, directory
    assert _mode(path) == 0o600


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o666])
def test_an_existing_readable_store_is_tightened_when_opened(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "store.sqlite3"
    with closing(SQLiteStore(path)) as store:
        _write(store)
    # An older polyresponses (or a copy) left the files readable by everyone, with a live WAL beside them.
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("INSERT INTO meta VALUES ('note', 'written by another process')")
        wal, shm = _companions(path)
        for each in (path, wal, shm):
            os.chmod(each, loose)
        with closing(SQLiteStore(path)) as store:
            assert store.get_response("resp_1") is not None
            assert (_mode(path), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)


@pytest.mark.parametrize("mode", [0o755, 0o775, 0o777])
def test_a_directory_the_user_chose_is_left_as_it_is(tmp_path: Path, mode: int) -> None:
    """A store in a project or shared folder must not change who can enter that folder."""
    folder = tmp_path / "project"
    folder.mkdir()
    os.chmod(folder, mode)
    path = folder / "store.sqlite3"
    with closing(SQLiteStore(path)) as store:
        _write(store)
    assert _mode(folder) == mode
    assert _mode(path) == 0o600


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_DATA_HOME is the Linux and BSD convention")
@pytest.mark.parametrize("existing", [True, False], ids=["existing-0755", "created"])
def test_the_default_data_directory_is_made_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = default_store_path(os.environ)
    assert path == tmp_path / "data" / "polyresponses" / "store.sqlite3"
    if existing:  # made by hand, or by an older polyresponses, with the usual 0755
        path.parent.mkdir(parents=True)
        os.chmod(path.parent, 0o755)
    with closing(SQLiteStore(path)) as store:
        _write(store)
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600
    if not existing:  # XDG_DATA_HOME itself was missing: made by the store, so private too
        assert _mode(tmp_path / "data") == 0o700


def test_an_sqlite_too_old_for_the_store_is_refused_naming_both_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``RETURNING`` (the owner claim) needs SQLite 3.35; an older library would fail at the first
    gateway turn with a syntax error instead."""
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    for make in (lambda: SQLiteStore(tmp_path / "a.sqlite3"), lambda: open_ledger(str(tmp_path / "b.sqlite3"))):
        needs = r"needs SQLite 3\.35\.0 or later; this Python is linked against 3\.31\.1"
        with pytest.raises(RuntimeError, match=needs):
            make()
    assert not list(tmp_path.iterdir())  # nothing created
