"""The normalised specs exactly as codegen feeds them to the generator (cached per test session)."""

from __future__ import annotations

import contextlib
import io
from functools import cache
from typing import Any

from codegen.__main__ import SPEC_DIR, _prepare  # pyright: ignore[reportPrivateUsage]
from codegen._lock import load_lock
from codegen._overlay import load_overlays

__all__ = ["normalised_specs", "upstream_schema_names"]


@cache
def normalised_specs() -> dict[str, dict[str, Any]]:
    with contextlib.redirect_stdout(io.StringIO()):
        return _prepare(load_lock(SPEC_DIR), load_overlays(SPEC_DIR / "overlays"))


@cache
def upstream_schema_names(spec: str) -> frozenset[str]:
    import json

    locked = load_lock(SPEC_DIR)[spec]
    return frozenset(json.loads(locked.raw)["components"]["schemas"])
