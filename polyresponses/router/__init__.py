"""The hand-written router: maps the canonical types onto each provider's wire dialect.

Empty until the router lands; the layout is fixed now so generated and hand-written code never mix.
"""

from __future__ import annotations

__all__: list[str] = []
