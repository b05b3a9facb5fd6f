"""Validate the upstream specs and compare the errors with the known list.

The upstream specs are not fully valid OpenAPI 3.1 (see ``codegen/known_spec_errors.toml``), and
none of the known errors stops generation. Listing them explicitly means a new upstream version
with a *new* error fails loudly, while one that fixes an error is reported so the list shrinks.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ValidationReport", "error_keys", "compare_with_known", "load_known_errors"]

_MESSAGE_LIMIT = 160


def error_keys(spec: dict[str, Any]) -> Counter[str]:
    """Return a stable key for each validation error: the failing keyword and the message.

    The path is left out: the validator walks sets of properties, so which property of a schema it
    reports an error under changes with the hash seed from run to run; the count does not.
    """
    from openapi_spec_validator import OpenAPIV31SpecValidator

    keys: Counter[str] = Counter()
    for error in OpenAPIV31SpecValidator(spec).iter_errors():
        message = str(error.message)
        if len(message) > _MESSAGE_LIMIT:
            message = message[:_MESSAGE_LIMIT] + "…"
        keys[f"{error.validator}: {message}"] += 1
    return keys


@dataclass
class ValidationReport:
    spec: str
    new: Counter[str] = field(default_factory=Counter[str])
    fixed: Counter[str] = field(default_factory=Counter[str])
    known_seen: int = 0

    @property
    def ok(self) -> bool:
        return not self.new

    def describe(self) -> str:
        lines = [f"{self.spec}: {self.known_seen} known upstream error(s) still present"]
        for key, count in sorted(self.new.items()):
            lines.append(f"  NEW  x{count}  {key}")
        for key, count in sorted(self.fixed.items()):
            lines.append(f"  FIXED upstream (remove from known_spec_errors.toml)  x{count}  {key}")
        return "\n".join(lines)


def load_known_errors(path: Path) -> dict[str, Counter[str]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    known: dict[str, Counter[str]] = {}
    for spec, entries in data.items():
        counter: Counter[str] = Counter()
        for entry in entries:
            counter[entry["key"]] += int(entry.get("count", 1))
        known[spec] = counter
    return known


def compare_with_known(spec: str, found: Counter[str], known: Counter[str]) -> ValidationReport:
    report = ValidationReport(spec=spec)
    report.new = found - known
    report.fixed = known - found
    report.known_seen = sum((found & known).values())
    return report
