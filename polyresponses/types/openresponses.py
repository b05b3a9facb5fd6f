"""The strict OpenResponses models (openresponses.org spec), for servers and clients that speak it exactly.

Its stream union is ``ResponseStreamEvent`` (24 events; named by codegen, the spec declares it inline
on ``POST /responses``), its request body ``CreateResponseBody``, its reply ``ResponseResource``.
Loaded on first use, like :mod:`polyresponses.types`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyresponses.generated import OPENRESPONSES_NAMES
from polyresponses.types._lazy import lazy_exports

if TYPE_CHECKING:
    from polyresponses.generated.openresponses import *  # noqa: F403

__all__ = list(OPENRESPONSES_NAMES)

__getattr__, __dir__ = lazy_exports(globals(), "polyresponses.generated.openresponses", OPENRESPONSES_NAMES)
