"""Fixtures: a toy ONNX export built without torch, and (where torch is installed) tiny trf-hf
pipelines trained here and exported with ``trf-core export-onnx``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from onnx_models import make_toy_export


@pytest.fixture(scope="session")
def toy_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy exported encoder (width 8, 16 pieces per window) with every hidden state."""
    return make_toy_export(tmp_path_factory.mktemp("toy") / "model")
