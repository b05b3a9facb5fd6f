"""codegen/_retype.py: the listed fields are rewritten, and a generator change that moves them is loud."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen._retype import RetypeError, retype

_GENERATED = '''class Response(BaseModel):
    id: str
    output_text: str | None = ""
    """The text."""
'''


def test_the_listed_field_is_retyped(tmp_path: Path) -> None:
    path = tmp_path / "openai.py"
    path.write_text(_GENERATED, encoding="utf-8")
    assert retype(path) == 1
    assert '    output_text: str = ""\n' in path.read_text(encoding="utf-8")


def test_an_unexpected_annotation_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "openai.py"
    path.write_text(_GENERATED.replace('str | None = ""', "str | None = None"), encoding="utf-8")
    with pytest.raises(RetypeError, match="Response.output_text"):
        retype(path)


def test_a_missing_field_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "openai.py"
    path.write_text(_GENERATED.replace("output_text", "text_output"), encoding="utf-8")
    with pytest.raises(RetypeError, match="no field 'output_text'"):
        retype(path)


def test_other_files_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "openresponses.py"
    path.write_text(_GENERATED, encoding="utf-8")
    assert retype(path) == 0 and path.read_text(encoding="utf-8") == _GENERATED


def test_the_committed_response_type_has_it() -> None:
    from polyresponses.types import Response

    field = Response.model_fields["output_text"]
    assert field.annotation is str and field.default == ""
