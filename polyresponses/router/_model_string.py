"""Parse the ``model`` argument into ``(provider, model)``.

Accepted forms (any-llm's, see shared/seeds/001):
- ``"provider:model"``, recommended; the first ``:`` wins, so ``"openrouter:openai/gpt-4o"`` and
  Hugging Face's routing suffix ``"huggingface:openai/gpt-oss-120b:groq"`` keep the rest intact;
- a bare model with ``provider=...``;
- the legacy ``"provider/model"`` (first ``/`` wins), with a DeprecationWarning.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection

__all__ = ["parse_model_string"]


def parse_model_string(model: str, provider: str | None, known_providers: Collection[str]) -> tuple[str, str]:
    """Return ``(provider, model)``; raise ``ValueError`` naming what is wrong and the accepted forms."""
    if not model or not model.strip():
        raise ValueError("model must be a non-empty string such as 'openai:gpt-4o'")
    if provider is not None:
        if provider not in known_providers:
            raise ValueError(f"unknown provider {provider!r}; known: {', '.join(sorted(known_providers))}")
        return provider, model
    head, colon, rest = model.partition(":")
    if colon and head in known_providers:
        if not rest:
            raise ValueError(f"model string {model!r} names provider {head!r} but no model")
        return head, rest
    head, slash, rest = model.partition("/")
    if slash and head in known_providers and rest:
        warnings.warn(
            f"'{model}': the 'provider/model' form is deprecated; write '{head}:{rest}'",
            DeprecationWarning,
            stacklevel=3,
        )
        return head, rest
    raise ValueError(
        f"cannot tell the provider of model {model!r}: write 'provider:model' (e.g. 'openai:gpt-4o') "
        f"or pass provider=...; known providers: {', '.join(sorted(known_providers))}"
    )
