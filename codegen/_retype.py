"""Field types the generator cannot be told through a schema, set on its output.

datamodel-code-generator makes every optional field nullable (``X | None``) unless
``--strict-nullable``, which would do it for every field with a default and so reject the nulls
real servers send. The few fields that must read as non-nullable are listed here, each with why;
the rewrite is checked (the field must exist with the expected annotation) so a generator change
cannot silently undo it, and ``python -m codegen --check`` sees the result like any other output.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["RETYPED", "RetypeError", "retype"]


class RetypeError(Exception):
    """A listed field is not where, or not what, it was expected to be."""


RETYPED: dict[str, dict[tuple[str, str], tuple[str, str]]] = {
    "openai.py": {
        # The router fills output_text on every Response it returns (router/_response.finalise), as
        # openai-python types it; the overlay openai.router-output-text gives it the default "". The
        # default itself is never written (router/_wire.py leaves output_text out unless it was set), so
        # a response dumps as the server sent it (OpenRouter sends output_text; OpenAI does not).
        ("Response", "output_text"): ('str | None = ""', 'str = ""'),
    },
}
"""Generated file -> (class, field) -> (the generator's annotation and default, ours)."""


def retype(path: Path) -> int:
    """Rewrite the listed fields of ``path`` in place; how many were rewritten."""
    fields = RETYPED.get(path.name, {})
    if not fields:
        return 0
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    found: dict[tuple[str, str], int] = {}
    for node in ast.parse(text).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                key = (node.name, statement.target.id)
                if key in fields:
                    found[key] = statement.lineno - 1
    for key, (generated, ours) in fields.items():
        if key not in found:
            raise RetypeError(f"{path.name}: no field {key[1]!r} in class {key[0]!r} to retype")
        line = lines[found[key]]
        expected = f"    {key[1]}: {generated}"
        if line != expected:
            raise RetypeError(f"{path.name}: {key[0]}.{key[1]} is {line.strip()!r}, expected {expected.strip()!r}")
        lines[found[key]] = f"    {key[1]}: {ours}"
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(fields)
