#!/usr/bin/env bash
# Sets up a fresh machine: a virtualenv in .venv with questlog and every extra.
# Idempotent; safe to run again. Torch is pinned to the CPU build that lies on
# this kind of machine (any other spelling downloads a multi-GB CUDA build),
# and is installed before sentence-transformers so pip never picks another.
set -euo pipefail
cd "$(dirname "$0")/.."
# The inspector's browser tests drive Debian's chromium through Playwright's Python
# package: Playwright must never download a browser build of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    >/dev/null 2>&1 || echo "ops/setup.sh: could not install chromium (the browser tests" \
    "skip without it, and fail under CI=true)" >&2
fi
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
if [ "${QUESTLOG_EDITABLE:-1}" = "1" ]; then
  # setuptools boxes an "Editable installation" notice (folders named like the package
  # may shadow it) for every layout with several package roots, as ours has
  # (src/, projections/, migrations/, data/): informational, so it is filtered here.
  PYTHONWARNINGS="ignore:Editable installation" python -m pip install --quiet -e ".[all]"
else
  python -m pip install --quiet ".[all]"
fi
echo "questlog installed in $(pwd)/.venv"
