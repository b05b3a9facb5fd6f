"""polyresponses: one typed Responses API for every LLM provider.

The canonical types live in :mod:`polyresponses.types`. Importing this package stays cheap: the
generated models (10k+ lines) load on first use of a type, not at import.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
