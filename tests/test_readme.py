"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

_README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCKS = re.findall(r"```python\n(.*?)```", _README.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.mark.parametrize("source", _BLOCKS, ids=[f"block{i}" for i in range(len(_BLOCKS))])
def test_readme_python_block_runs(source: str) -> None:
    exec(compile(source, str(_README), "exec"), {"__name__": "readme"})


def test_readme_has_examples() -> None:
    assert _BLOCKS
