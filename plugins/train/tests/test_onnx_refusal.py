"""The ONNX backend refuses to train with N workers as it does with one: the same error, now
naming the worker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from thinc.api import Config
from train_helpers import CALLBACKS, write_config
from trf_train import main
from trf_train.worker import Job, run_worker

pytest.importorskip("trf_onnx")
pytest.importorskip("onnx")

pytestmark = pytest.mark.slow


def onnx_config(workspace: Any, tmp_path: Path, frozen: bool) -> Path:
    from onnx_models import make_toy_export

    export = make_toy_export(tmp_path / "export", width=8, max_length=32)
    cfg = Config().from_disk(workspace.config("tagger"), interpolate=False)
    cfg["components"]["transformer"]["model"] = {
        "@architectures": "trf.ONNXTransformerModel.v1",
        "name": str(export),
        "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
    }
    cfg["components"]["transformer"]["frozen"] = frozen
    cfg["training"]["max_steps"] = 4
    return write_config(tmp_path / "onnx.cfg", cfg)


def test_training_the_onnx_backend_is_refused_by_every_worker(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trf_onnx import TrainingNotSupportedError

    cfg = onnx_config(workspace, tmp_path, frozen=False)
    with pytest.raises(TrainingNotSupportedError) as one_worker:
        run_worker(Job(cfg, tmp_path / "one", code_path=CALLBACKS))
    capsys.readouterr()
    assert main([str(cfg), "--output", str(tmp_path / "two"), "--code", str(CALLBACKS),
                 "-w", "2"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert re.search(r"rank [01] on host \S+ failed: TrainingNotSupportedError", err)
    assert str(one_worker.value).splitlines()[0] in err
