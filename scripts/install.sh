#!/usr/bin/env bash
# Create .venv and install polyresponses (editable) with every tool the checks use.
# Needs only python3 >= 3.11, Node.js (>= 20) with npm, and the package registries (PyPI, npm, and
# Debian's for PostgreSQL 15 and Chromium when they are missing: apt-get, with sudo when not root); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL 15 (Debian 12's postgresql package) for the store's and the replicas' tests:
# tests/_postgres.py starts a server of its own from these binaries (a cluster the package may start
# itself is not used).
# Debian's Chromium for the console's browser tests (tests/server/console): Playwright is given its
# path (/usr/bin/chromium) and downloads no browser of its own.
missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

python3 -m venv .venv
# Dependency groups (PEP 735, `--group`) need pip >= 25.1; a fresh machine may have 23.x.
.venv/bin/python -m pip install --quiet --upgrade "pip>=25.1"
.venv/bin/python -m pip install --quiet -e . --group dev

# The official openai npm SDK for tests/server/test_node_client.py, pinned by
# tests/server/node/package-lock.json, into
# ${POLYRESPONSES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyresponses}/node-client/ (skipped when current).
node_client="${POLYRESPONSES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyresponses}/node-client"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install.sh: Node.js and npm are needed (for the openai npm SDK test); install them (Node >= 20)" >&2
    exit 1
fi
if ! cmp -s tests/server/node/package-lock.json "$node_client/package-lock.json" \
    || ! cmp -s tests/server/node/package.json "$node_client/package.json" \
    || [ ! -f "$node_client/node_modules/openai/package.json" ]; then
    mkdir -p "$node_client"
    cp tests/server/node/package.json tests/server/node/package-lock.json "$node_client/"
    npm ci --prefix "$node_client" --no-audit --no-fund --loglevel=error >/dev/null
fi
