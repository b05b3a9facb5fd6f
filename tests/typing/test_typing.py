"""What users write is checked statically: mypy --strict and pyright strict on user code.

``cases/writes_ok.py`` (the README's kinds of calls: typed input items, tools as TypedDicts, models
and functions, MCP tools, reasoning, structured output, streams) must have no error at all;
``cases/writes_bad.py`` must have an error on every line marked ``# error`` and nowhere else (a
misspelt role, a tool without a name, ``reasoning={"efort": ...}``, an unknown ``tool_choice`` or
``include`` value, a call item without ``call_id``, an unknown keyword). The case files are left out
of the project's own mypy run; pyright (pinned in tests/server/node/package.json) comes from the
Node.js tools ``scripts/install.sh`` installs: outside CI its test skips without them, in CI it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).resolve().parents[2]
OK, BAD = CASES / "writes_ok.py", CASES / "writes_bad.py"


def _marked(path: Path) -> set[int]:
    return {n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.endswith("# error")}


def test_the_bad_case_marks_mistakes() -> None:
    assert len(_marked(BAD)) >= 9 and _marked(OK) == set()


def test_mypy_strict() -> None:
    stdout, stderr, _ = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", os.devnull, "--config-file", "", str(OK), str(BAD)]
    )
    errors: dict[str, set[int]] = {}
    for match in re.finditer(r"^(.+?\.py):(\d+): error:", stdout, re.MULTILINE):
        errors.setdefault(Path(match.group(1)).name, set()).add(int(match.group(2)))
    assert errors.get(OK.name, set()) == set(), stdout
    assert errors.get(BAD.name, set()) == _marked(BAD), stdout + stderr


def _pyright() -> str:
    cache = os.environ.get("POLYRESPONSES_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polyresponses"
    )
    binary = Path(cache) / "node-client" / "node_modules" / ".bin" / "pyright"
    if shutil.which("node") is None or not binary.exists():
        message = f"pyright is not installed at {binary} (run 'bash scripts/install.sh')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(binary)


def test_pyright_strict(tmp_path: Path) -> None:
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11"}), encoding="utf-8")
    done = subprocess.run(
        [_pyright(), "-p", str(config), "--pythonpath", sys.executable, "--outputjson", str(OK), str(BAD)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    errors: dict[str, set[int]] = {}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            name = Path(diagnostic["file"]).name
            errors.setdefault(name, set()).add(diagnostic["range"]["start"]["line"] + 1)
    assert errors.get(OK.name, set()) == set(), done.stdout
    assert errors.get(BAD.name, set()) == _marked(BAD), done.stdout
