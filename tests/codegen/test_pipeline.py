"""The codegen pipeline: lock, overlays, normalisation, and ``--check`` against a deliberately changed spec."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.__main__ import GENERATED_DIR, ROOT, SPEC_DIR
from codegen._lock import LockError, load_lock
from codegen._normalise import add_discriminator_mappings, flatten_allof_wrappers
from codegen._overlay import Overlay, OverlayError, apply_overlay


def _codegen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, copy)
    return copy


def test_check_passes_on_the_committed_tree() -> None:
    result = _codegen("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches the specs" in result.stdout
    assert "known upstream error(s) still present" in result.stdout


def test_check_fails_after_a_change_to_a_copy_of_the_spec(spec_copy: Path) -> None:
    spec_file = spec_copy / "openai" / "openapi.json"
    spec = json.loads(spec_file.read_bytes())
    spec["components"]["schemas"]["Response"]["description"] = "A deliberately changed description."
    spec["components"]["schemas"]["ResponseErrorEvent"]["properties"]["retry_after"] = {"type": "integer"}
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    # Re-lock the copy, as one would when vendoring a new upstream version.
    lock = spec_copy / "lock.toml"
    old = load_lock(SPEC_DIR)["openai"].sha256
    lock.write_text(lock.read_text().replace(old, hashlib.sha256(spec_file.read_bytes()).hexdigest()))

    result = _codegen("--check", "--no-validate", "--spec-dir", str(spec_copy))
    assert result.returncode == 1
    assert "differs:" in result.stderr and "openai.py" in result.stderr
    assert "+    retry_after: int | None = None" in result.stderr
    assert "does not match the specs" in result.stderr


def test_regenerating_into_a_fresh_directory_reproduces_the_committed_files(tmp_path: Path) -> None:
    result = _codegen("--no-validate", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for committed in GENERATED_DIR.glob("*.py"):
        assert (tmp_path / committed.name).read_text() == committed.read_text(), committed.name


def test_every_generated_file_names_its_spec_and_says_it_is_generated() -> None:
    locked = load_lock(SPEC_DIR)
    for name, spec in locked.items():
        head = (GENERATED_DIR / f"{name}.py").read_text().splitlines()[:12]
        assert "DO NOT EDIT" in head[0]
        assert f"# sha256: {spec.sha256}" in head


def test_lock_rejects_an_edited_spec(spec_copy: Path) -> None:
    spec_file = spec_copy / "openresponses" / "openapi.json"
    spec_file.write_bytes(spec_file.read_bytes().replace(b'"Create response"', b'"Create a response"'))
    with pytest.raises(LockError, match=r"openresponses/openapi.json: sha256 is .* records 693f2609"):
        load_lock(spec_copy)


def _overlay(actions: list[dict[str, Any]]) -> Overlay:
    return Overlay(path=Path("test.overlay.json"), extends="x", actions=actions, raw=b"")


def test_overlay_update_remove_and_wildcard() -> None:
    spec: dict[str, Any] = {
        "components": {
            "schemas": {
                "A": {"required": ["type", "seq"], "properties": {"type": {"type": "string"}}},
                "B": {"required": ["seq"], "oneOf": [{"$ref": "#/x"}]},
            }
        }
    }
    apply_overlay(
        spec,
        _overlay(
            [
                {"target": "$.components.schemas.*.required[?(@ == 'seq')]", "remove": True},
                {"target": "$.components.schemas.A.properties", "update": {"n": {"type": "integer"}}},
                {"target": "$.components.schemas['B'].oneOf", "update": [{"$ref": "#/y"}]},
            ]
        ),
    )
    assert spec["components"]["schemas"]["A"]["required"] == ["type"]
    assert spec["components"]["schemas"]["B"]["required"] == []
    assert spec["components"]["schemas"]["A"]["properties"]["n"] == {"type": "integer"}
    assert spec["components"]["schemas"]["B"]["oneOf"] == [{"$ref": "#/x"}, {"$ref": "#/y"}]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"target": "$.components.schemas.Missing", "update": {}}, "selects nothing"),
        ({"target": "$.components.schemas.A.required[?(@ == 'nope')]", "remove": True}, "selects nothing"),
        ({"target": "$..A", "update": {}}, "bad target"),
        ({"target": "$.components.schemas.A"}, "needs 'update' or 'remove: true'"),
    ],
)
def test_overlay_errors_name_the_file_and_action(action: dict[str, Any], message: str) -> None:
    spec = {"components": {"schemas": {"A": {"required": ["type"]}}}}
    with pytest.raises(OverlayError, match=rf"test.overlay.json: action 0 .*{message}"):
        apply_overlay(spec, _overlay([action]))


def _tagged(*values: str, required: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": list(values)}},
        "required": ["type"] if required else [],
    }


def test_discriminator_mappings_are_explicit_and_dropped_on_collision() -> None:
    spec: dict[str, Any] = {
        "components": {
            "schemas": {
                "Search": _tagged("web_search", "web_search_2025_08_26"),
                "File": _tagged("file_search"),
                "Message": _tagged("message"),
                "Easy": _tagged("message", required=False),
                "Tool": {
                    "oneOf": [{"$ref": "#/components/schemas/Search"}, {"$ref": "#/components/schemas/File"}],
                    "discriminator": {"propertyName": "type"},
                },
                "Input": {
                    "oneOf": [{"$ref": "#/components/schemas/Message"}, {"$ref": "#/components/schemas/Easy"}],
                    "discriminator": {"propertyName": "type"},
                },
                "Undeclared": {
                    "anyOf": [{"$ref": "#/components/schemas/File"}, {"$ref": "#/components/schemas/Message"}]
                },
            }
        }
    }
    stats = add_discriminator_mappings(spec)
    schemas = spec["components"]["schemas"]
    assert schemas["Tool"]["discriminator"]["mapping"] == {
        "web_search": "#/components/schemas/Search",
        "web_search_2025_08_26": "#/components/schemas/Search",
        "file_search": "#/components/schemas/File",
    }
    assert "discriminator" not in schemas["Input"]
    assert schemas["Undeclared"]["discriminator"]["propertyName"] == "type"
    assert (stats.mapped, stats.added, len(stats.dropped)) == (1, 1, 1)


def test_allof_description_wrappers_are_flattened() -> None:
    spec: dict[str, Any] = {
        "components": {
            "schemas": {
                "E": {"properties": {"error": {"allOf": [{"$ref": "#/components/schemas/P"}, {"description": "d"}]}}},
                "Keep": {"allOf": [{"$ref": "#/components/schemas/P"}, {"properties": {"x": {}}}]},
            }
        }
    }
    assert flatten_allof_wrappers(spec) == 1
    assert spec["components"]["schemas"]["E"]["properties"]["error"] == {
        "$ref": "#/components/schemas/P",
        "description": "d",
    }
    assert "allOf" in spec["components"]["schemas"]["Keep"]


def test_validation_report_fails_on_new_errors_and_reports_fixed_ones() -> None:
    from collections import Counter

    from codegen._validate import compare_with_known

    known = Counter({"type: True is not of type 'number'": 5, "uniqueItems: dup": 1})
    found = Counter({"type: True is not of type 'number'": 5, "enum: brand new": 1})
    report = compare_with_known("openai", found, known)
    assert not report.ok
    assert report.new == Counter({"enum: brand new": 1})
    assert report.fixed == Counter({"uniqueItems: dup": 1})
    assert "NEW  x1  enum: brand new" in report.describe()
    assert "FIXED upstream" in report.describe()
    assert compare_with_known("openai", known, known).ok
