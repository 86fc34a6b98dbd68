"""Two GPUs, one worker each (NCCL): the same training as one GPU. Run by ``nox -s gpu``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from train_helpers import CALLBACKS, max_relative_difference, model_weights
from trf_train import main

pytestmark = pytest.mark.gpu


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.skipif(gpu_count() < 2, reason="needs two CUDA GPUs (NCCL, one worker per GPU)")
def test_two_gpus_train_what_one_does(workspace: Any, tmp_path: Path) -> None:
    cfg = workspace.config("tagger")
    common = [str(cfg), "--code", str(CALLBACKS)]
    assert main([*common, "--output", str(tmp_path / "one"), "--gpu-ids", "0"]) == 0
    assert main([*common, "--output", str(tmp_path / "two"), "--gpu-ids", "0,1"]) == 0
    one = model_weights(tmp_path / "one" / "model-last")
    two = model_weights(tmp_path / "two" / "model-last")
    # GPU kernels sum in an order of their choosing: a looser bound than on CPU
    assert max_relative_difference(two, one) <= 1e-4
