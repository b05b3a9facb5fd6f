#!/usr/bin/env bash
# The whole check: formatting, lint, strict typing, generated code up to date, tests.
# CI runs exactly this (via .ci/run); run it before every push.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || { echo "no .venv: run 'bash scripts/install.sh' first" >&2; exit 2; }

echo "== ruff format --check"; "$py" -m ruff format --check .
echo "== ruff check"; "$py" -m ruff check .
echo "== mypy --strict"; "$py" -m mypy
echo "== codegen --check"; "$py" -m codegen --check
echo "== pytest"; "$py" -m pytest "$@"
