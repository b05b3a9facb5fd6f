#!/usr/bin/env bash
# Create .venv and install polyresponses (editable) with every tool the checks use.
# Needs only python3 >= 3.11 and the package registries; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# Dependency groups (PEP 735, `--group`) need pip >= 25.1; a fresh machine may have 23.x.
.venv/bin/python -m pip install --quiet --upgrade "pip>=25.1"
.venv/bin/python -m pip install --quiet -e . --group dev
