"""The hand-written router: maps the canonical types onto each provider's wire dialect.

Layers, bottom up: ``dialects/`` (pure wire translation), ``_core`` (pure request planning:
provider resolution, validation, capability checks), ``_http`` (the one httpx module: sending,
retries, error mapping), ``_stream`` and ``_client`` (thin sync/async shells), ``_api`` (the
module-level ``responses()``/``aresponses()`` over pooled clients). The public names are
re-exported by :mod:`polyresponses`.
"""

from __future__ import annotations

__all__: list[str] = []
