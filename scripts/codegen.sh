#!/usr/bin/env bash
# Regenerate polyresponses/generated/ from spec/ (`--check` to verify instead); same as `python -m codegen`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m codegen "$@"
