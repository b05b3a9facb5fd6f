"""The public surface: real names only, explicit ``__all__``, everything the issue promises, loaded lazily."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import polyresponses.types as types
import polyresponses.types.openresponses as openresponses
import polyresponses.types.params as params
from polyresponses.generated import OPENAI_NAMES, OPENAI_PARAMS_NAMES, OPENRESPONSES_NAMES
from tests._specs import normalised_specs, upstream_schema_names

# A name of the junk kind: a generator's fallback numbering or a placeholder.
_JUNK = re.compile(r"^(?:.*\D\d+|Type|Model|Foo)$")


@pytest.mark.parametrize(
    "names", [OPENAI_NAMES, OPENRESPONSES_NAMES, OPENAI_PARAMS_NAMES], ids=["openai", "openresponses", "params"]
)
def test_no_junk_names(names: tuple[str, ...]) -> None:
    junk = sorted(name for name in names if _JUNK.match(name))
    assert junk == [], f"generated names of the junk kind: {junk}"


def test_junk_detector_detects_junk() -> None:
    assert all(_JUNK.match(n) for n in ("Type12", "Item7", "Model3", "Foo1", "TopLogprobs1", "Type"))
    assert not any(_JUNK.match(n) for n in ("Response", "ResponseStreamEvent", "Item", "WebSearchTool"))


def test_all_matches_what_the_modules_expose() -> None:
    assert types.__all__ == list(OPENAI_NAMES)
    assert openresponses.__all__ == list(OPENRESPONSES_NAMES)
    for name in types.__all__:
        assert getattr(types, name) is not None
    for name in openresponses.__all__:
        assert getattr(openresponses, name) is not None
    assert params.__all__ == list(OPENAI_PARAMS_NAMES)
    for name in ("InputItemParam", "ToolParam", "ReasoningParam", "EasyInputMessageParam", "FunctionToolParam"):
        assert name in params.__all__ and getattr(params, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = types.Nope


_PROMISED_OPENAI = (
    "Response",
    "CreateResponse",
    "ResponseStreamEvent",
    "InputItem",
    "OutputItem",
    "Tool",
    "ToolChoiceParam",
    "ResponseItemList",
    "ConversationResource",
    "ConversationItem",
    "ConversationItemList",
    "CompactResource",
    "TokenCountsResource",
    "ResponsesWebSocketStreamEvent",
    "ComputerAction",
    "PointAndTypeAction",
    "VllmCreateResponseExtras",
)
_PROMISED_OPENRESPONSES = ("ResponseStreamEvent", "ItemParam", "ResponseResource", "CreateResponseBody")


def test_promised_names_exist() -> None:
    assert set(_PROMISED_OPENAI) <= set(OPENAI_NAMES)
    assert set(_PROMISED_OPENRESPONSES) <= set(OPENRESPONSES_NAMES)


def test_every_openresponses_schema_is_a_public_model() -> None:
    upstream = upstream_schema_names("openresponses")
    assert len(upstream) == 108
    assert upstream - set(OPENRESPONSES_NAMES) == set()


def test_every_reached_openai_schema_is_a_public_name() -> None:
    reached = set(normalised_specs()["openai"]["components"]["schemas"])
    assert reached - set(OPENAI_NAMES) == set()


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_import_is_lazy() -> None:
    after_import = _modules_after("import polyresponses, polyresponses.types")
    assert "polyresponses.generated.openai" not in after_import
    assert "pydantic" not in after_import
    after_use = _modules_after("import polyresponses.types as t\nt.Response")
    assert "polyresponses.generated.openai" in after_use
    assert "polyresponses.generated.openresponses" not in after_use
