#!/usr/bin/env bash
# Install jllm-kg with its test extras into .venv (plus, as root, the Debian tools some tests use:
# raptor2-utils for `rapper`, chromium and a Japanese font for the browser tests, zstd for the build's scratch files) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v rapper >/dev/null 2>&1 || need+=(raptor2-utils)
  dpkg -s libseccomp2 >/dev/null 2>&1 || need+=(libseccomp2)  # the query processes' network filter
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v zstd >/dev/null 2>&1 || need+=(zstd)  # the build's compressed scratch text (plain without it)
  dpkg -s fonts-ipafont-gothic >/dev/null 2>&1 || need+=(fonts-ipafont-gothic)  # Japanese glyphs in screenshots
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "note: could not install ${need[*]}; the tests that need them will skip" >&2
  fi
fi
if command -v npm >/dev/null 2>&1 && [ -f package-lock.json ]; then
  npm ci --silent --no-audit --no-fund || echo "note: npm assets not installed; the SPARQL-editor test will skip" >&2
fi
exec .venv/bin/python -m pytest "$@"
