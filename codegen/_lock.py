"""Verify that the vendored specs are the byte-for-byte upstream files recorded in ``spec/lock.toml``."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LockError", "LockedSpec", "load_lock"]


class LockError(Exception):
    """A vendored spec is missing or differs from the file recorded in the lock."""


@dataclass(frozen=True)
class LockedSpec:
    """One vendored upstream spec, as recorded in ``spec/lock.toml``."""

    name: str
    file: Path
    relative_file: str
    repository: str
    upstream_path: str
    commit: str
    sha256: str
    info_version: str
    raw: bytes

    @property
    def short_commit(self) -> str:
        return self.commit[:7]


def load_lock(spec_dir: Path) -> dict[str, LockedSpec]:
    """Read the lock and return each spec with its bytes, after checking its sha256."""
    lock_path = spec_dir / "lock.toml"
    entries = tomllib.loads(lock_path.read_text(encoding="utf-8"))["specs"]
    locked: dict[str, LockedSpec] = {}
    for name, entry in entries.items():
        file = spec_dir / entry["file"]
        if not file.is_file():
            raise LockError(f"{lock_path}: spec {name!r} names {file}, which does not exist")
        raw = file.read_bytes()
        actual = hashlib.sha256(raw).hexdigest()
        if actual != entry["sha256"]:
            raise LockError(
                f"{file}: sha256 is {actual}, but {lock_path} records {entry['sha256']} for spec {name!r}. "
                "Upstream files are never edited: put vendor additions in spec/overlays/, or update the "
                "lock (repository, commit, sha256) when vendoring a new upstream version."
            )
        locked[name] = LockedSpec(
            name=name,
            file=file,
            relative_file=entry["file"],
            repository=entry["repository"],
            upstream_path=entry["path"],
            commit=entry["commit"],
            sha256=entry["sha256"],
            info_version=entry["info_version"],
            raw=raw,
        )
    return locked
