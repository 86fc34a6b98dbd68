"""Session fixtures: tiny random models saved to temporary folders, built once per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from hf_models import make_bert, make_roberta


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (WordPiece, 32 positions) with a pooler."""
    return make_bert(tmp_path_factory.mktemp("bert") / "model")


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny RoBERTa with a byte-level BPE trained on the spot (48 usable positions)."""
    return make_roberta(tmp_path_factory.mktemp("roberta") / "model")


@pytest.fixture(scope="session", params=["bert", "roberta"])
def model_dir(request: pytest.FixtureRequest, bert_dir: Path, roberta_dir: Path) -> Path:
    return bert_dir if request.param == "bert" else roberta_dir
