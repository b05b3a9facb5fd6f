#!/usr/bin/env bash
# The whole check: formatting, lint, strict typing, generated code up to date, tests.
# CI runs exactly this (via .ci/run); run it before every push.
#
# The contract lane (Stoplight Prism on the vendored OpenAI spec, scripts/prism) and the real-model
# lane (llama.cpp's llama-server with SmolLM2, scripts/local-model; built once, ~11 min, then cached)
# are started in the background while the static checks run, and stopped at exit.
# POLYRESPONSES_SERVICES=0 skips them (their tests then skip; with CI=true they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || { echo "no .venv: run 'bash scripts/install.sh' first" >&2; exit 2; }

state=$(mktemp -d)
started=()
cleanup() {
    local service
    for service in "${started[@]}"; do bash "scripts/$service" stop >/dev/null 2>&1 || true; done
    rm -rf "$state"
}
trap cleanup EXIT

# start <script>: run `scripts/<script> start` in the background; its last stdout line is the URL.
start() {
    started+=("$1")
    (bash "scripts/$1" start >"$state/$1.out" 2>"$state/$1.log"; echo $? >"$state/$1.rc") &
}
# ready <script> <env var>: wait for it, export the URL or show why it failed.
ready() {
    wait_for "$state/$1.rc"
    if [ "$(cat "$state/$1.rc")" = 0 ]; then
        export "$2=$(tail -n 1 "$state/$1.out")"
        echo "== $1: ${!2}"
    else
        echo "== $1 failed to start:" >&2
        tail -n 30 "$state/$1.log" >&2
        exit 1
    fi
}
wait_for() { while [ ! -f "$1" ]; do sleep 1; done; }

if [ "${POLYRESPONSES_SERVICES:-1}" != 0 ]; then
    export PRISM_FIX_NULLABLE=1  # Prism then validates /chat/completions bodies too (scripts/PRISM.md)
    start prism
    start local-model
fi

echo "== ruff format --check"; "$py" -m ruff format --check .
echo "== ruff check"; "$py" -m ruff check .
echo "== mypy --strict"; "$py" -m mypy
echo "== codegen --check"; "$py" -m codegen --check

if [ "${POLYRESPONSES_SERVICES:-1}" != 0 ]; then
    ready prism POLYRESPONSES_PRISM_URL
    ready local-model POLYRESPONSES_LLAMACPP_URL
fi
echo "== pytest"; "$py" -m pytest "$@"
