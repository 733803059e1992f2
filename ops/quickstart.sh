#!/usr/bin/env bash
# Sets up a fresh machine (ops/setup.sh) and runs the main job: `questlog quickstart`
# on the bundled pack (a store in ./quickstart/, projections, a sample search).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
questlog quickstart "$@"
