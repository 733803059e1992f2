#!/usr/bin/env bash
# Sets up a fresh machine (ops/setup.sh) and runs the whole test suite:
# ruff, mypy --strict on src/ and projections/, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
echo "== ruff"
ruff check src projections tests benchmarks migrations
echo "== mypy --strict"
mypy src projections
echo "== pytest"
pytest -q -p no:cacheprovider "$@"
