"""What users write, typed: the request TypedDicts generated from the OpenAI spec (openai-python's ``*Param``).

``input``, ``tools``, ``tool_choice``, ``reasoning``, ``text``, ``include``... of ``responses()``,
``Client.responses.create/stream/parse`` and the Conversations methods are typed with these, so a
misspelt key or literal is a type error under mypy or pyright, before anything runs. Generated from
the same specs and overlays as the models (``python -m codegen``, profile ``openai_params``), with
two writing rules (``codegen/_params.py``): open objects (a JSON Schema, tool arguments) are
``dict[str, Any]``, and required-but-nullable fields may be left out. A spec name that already
ends in ``Param`` gets a second one (``ToolChoiceParamParam``), as the generator adds the suffix to
every name. The generated models are accepted wherever these are.

Nothing is imported until a name is used (they exist for type checkers; at run time a TypedDict is
a plain ``dict``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyresponses.generated import OPENAI_PARAMS_NAMES
from polyresponses.types._lazy import lazy_exports

if TYPE_CHECKING:
    from polyresponses.generated.openai_params import *  # noqa: F403

__all__ = list(OPENAI_PARAMS_NAMES)

__getattr__, __dir__ = lazy_exports(globals(), "polyresponses.generated.openai_params", OPENAI_PARAMS_NAMES)
