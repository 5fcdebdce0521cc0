#!/usr/bin/env bash
# Install jllm-kg into .venv, build the graph from the shipped catalog into the on-disk store,
# and serve it on http://127.0.0.1:8000/ (extra arguments go to `jllm-kg serve`).
# Installs are skipped when a stamp (the hash of pyproject.toml / package-lock.json) says nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

[ -x .venv/bin/python ] || { echo "creating .venv…"; python3 -m venv .venv; }
py_stamp="$(stamp_of pyproject.toml <(.venv/bin/python -VV))"
if [ "$(cat .venv/.jllm-kg-stamp 2>/dev/null)" != "$py_stamp" ]; then
  echo "installing Python packages… (into .venv; once per change of pyproject.toml)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
  echo "$py_stamp" > .venv/.jllm-kg-stamp
fi

if command -v npm >/dev/null 2>&1 && [ -f package-lock.json ]; then
  npm_stamp="$(stamp_of package-lock.json)"
  if [ "$(cat node_modules/.jllm-kg-stamp 2>/dev/null)" != "$npm_stamp" ]; then
    echo "installing editor assets… (YASGUI from npm; once per change of package-lock.json)"
    if npm ci --silent --no-audit --no-fund; then
      echo "$npm_stamp" > node_modules/.jllm-kg-stamp
    else
      echo "note: npm assets (SPARQL editor) not installed; the editor falls back to a plain form" >&2
    fi
  fi
fi

.venv/bin/jllm-kg build --if-changed
exec .venv/bin/jllm-kg serve "$@"
