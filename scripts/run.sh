#!/usr/bin/env bash
# Install jllm-kg into .venv, build the graph from the shipped catalog into the on-disk store,
# and serve it on http://127.0.0.1:8000/ (extra arguments go to `jllm-kg serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
if command -v npm >/dev/null 2>&1 && [ -f package-lock.json ]; then
  npm ci --silent --no-audit --no-fund || echo "note: npm assets (SPARQL editor) not installed; the editor falls back to a plain form" >&2
fi
.venv/bin/jllm-kg build
exec .venv/bin/jllm-kg serve "$@"
