"""The canonical type family: what every provider's reply and stream is parsed into.

These are the models generated from the OpenAI spec (the superset: ``Response``, ``CreateResponse``,
``ResponseStreamEvent``, ``InputItem``, ``OutputItem``, ``Tool``, ``ToolChoiceParam``, the
Conversations types...), with the vendor overlays in ``spec/overlays/`` applied and the
OpenResponses-only stream events (``response.reasoning.delta``/``.done``) in ``ResponseStreamEvent``,
so one union parses both dialects. Unknown fields are kept (``extra="allow"``).

The strict OpenResponses models are in :mod:`polyresponses.types.openresponses`.

Nothing is imported until a name is used: ``import polyresponses.types`` is free, and the first
``polyresponses.types.Response`` imports the OpenAI models only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyresponses.generated import OPENAI_NAMES
from polyresponses.types._lazy import lazy_exports

if TYPE_CHECKING:
    from polyresponses.generated.openai import *  # noqa: F403

__all__ = list(OPENAI_NAMES)

__getattr__, __dir__ = lazy_exports(globals(), "polyresponses.generated.openai", OPENAI_NAMES)
