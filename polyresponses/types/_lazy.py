"""Lazy re-export of a generated module's public names (PEP 562 module ``__getattr__``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], module_name: str, names: tuple[str, ...]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` that import ``module_name`` on the first lookup of one of ``names``.

    The generated module is imported once, on first use, and every name is then cached in
    ``namespace`` so later lookups are plain attribute reads.
    """
    exported = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name not in exported:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        namespace.update({n: getattr(module, n) for n in names})
        return namespace[name]

    def __dir__() -> list[str]:
        return sorted(set(namespace) | exported)

    return __getattr__, __dir__
