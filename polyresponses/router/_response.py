"""Conveniences on the canonical ``Response``, and ``ParsedResponse`` for structured output.

``output_text`` is a field of the spec's ``Response`` ("SDK-only convenience property that contains
the aggregated text output from all ``output_text`` items"); every response the router returns has
it filled, as openai-python's property computes it. Reasoning text has no spec field, so it is a
function: :func:`reasoning_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from polyresponses.types import OutputMessage, ReasoningItem, Response

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ParsedResponse", "finalise", "output_text_of", "reasoning_text"]

T = TypeVar("T")


class ParsedResponse(Response, Generic[T]):
    """A ``Response`` whose text was parsed into the caller's ``response_format`` type.

    ``output_parsed`` is ``None`` when the model produced no text (a refusal, or only tool calls).
    """

    output_parsed: T | None = None


def output_text_of(output: Iterable[Any]) -> str:
    """All ``output_text`` parts of all assistant messages, joined (openai-python's ``output_text``)."""
    return "".join(
        part.text
        for item in output
        if isinstance(item, OutputMessage)
        for part in item.content
        if part.type == "output_text"
    )


def reasoning_text(response: Response) -> str:
    """The model's reasoning as text: raw ``reasoning_text`` content where given, else the summaries.

    Items are separated by a blank line; encrypted reasoning is not text and is skipped.
    """
    chunks: list[str] = []
    for item in response.output:
        if isinstance(item, ReasoningItem):
            parts = item.content or item.summary
            chunks.extend(part.text for part in parts if part.text)
    return "\n\n".join(chunks)


def finalise(response: Response) -> Response:
    """Fill the ``output_text`` convenience (in place) and return the response."""
    response.output_text = output_text_of(response.output)
    return response
