"""Checkpoints and exact resume: a run SIGKILLed after a checkpoint and resumed ends where an
uninterrupted run ends (1 and 2 workers, and 2 -> 1 workers); a changed config or data file is
refused, naming what changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from spacy.tokens import DocBin
from train_helpers import CALLBACKS, max_relative_difference, model_weights, tagged_docs
from trf_train import main

pytestmark = pytest.mark.slow


def killed_run(cfg: Path, output: Path, workers: int, kill_at: int) -> None:
    """Train with checkpoints every 5 steps until rank 0 SIGKILLs its whole process group
    (launcher and workers) at step ``kill_at``."""
    env = {**os.environ, "TRF_TEST_KILL_AT": str(kill_at)}
    command = [sys.executable, "-m", "trf_train", str(cfg), "--output", str(output), "--code",
               str(CALLBACKS), "--workers", str(workers), "--checkpoint-every", "5"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, start_new_session=True)
    assert done.returncode == -9, done.stderr[-3000:]
    assert (output / "checkpoints" / "latest").read_text() == "step-00000009"


def resume(cfg: Path, output: Path, workers: int, *extra: str) -> int:
    args = ["--workers", str(workers), "--checkpoint-every", "5", "--resume", *extra]
    return main([str(cfg), "--output", str(output), "--code", str(CALLBACKS), *args])


@pytest.fixture(scope="module")
def references(runs: Any) -> dict[int, Path]:
    """Uninterrupted runs of the same config (conftest's ``runs``): 1 worker and 2 workers."""
    _, one, two = runs["tagger"]
    return {1: one, 2: two}


def test_one_worker_killed_and_resumed_ends_like_an_uninterrupted_run(
    workspace: Any, references: dict[int, Path]
) -> None:
    cfg, output = workspace.config("tagger"), workspace.root / "killed-1"
    killed_run(cfg, output, workers=1, kill_at=13)
    assert resume(cfg, output, 1) == 0
    ended = model_weights(output / "model-last")
    assert max_relative_difference(ended, model_weights(references[1] / "model-last")) <= 1e-5
    steps = [line for line in (output / "training-steps.jsonl").read_text().splitlines()]
    assert len(steps) == 20  # the killed run's steps after the checkpoint were dropped


def test_two_workers_killed_and_resumed_with_two_or_one(
    workspace: Any, references: dict[int, Path]
) -> None:
    cfg, output = workspace.config("tagger"), workspace.root / "killed-2"
    killed_run(cfg, output, workers=2, kill_at=12)
    to_one = shutil.copytree(output, workspace.root / "killed-2-to-1")
    assert resume(cfg, output, 2) == 0
    reference = model_weights(references[2] / "model-last")
    assert max_relative_difference(model_weights(output / "model-last"), reference) <= 1e-5
    # a different number of workers on resume: the same guarantee (N workers equal one)
    assert resume(cfg, to_one, 1) == 0
    assert max_relative_difference(model_weights(to_one / "model-last"), reference) <= 1e-5


def test_changed_config_or_data_refuses_to_resume(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shutil.copytree(workspace.train.parent, tmp_path / "data")
    cfg = workspace.config("tagger")
    output = tmp_path / "out"
    overrides = ["--paths.train", str(data / "train.spacy"), "--training.max_steps", "9"]
    assert main([str(cfg), "--output", str(output), "--code", str(CALLBACKS),
                 "--checkpoint-every", "5", *overrides]) == 0  # fmt: skip
    capsys.readouterr()
    assert resume(cfg, output, 1, "--paths.train", str(data / "train.spacy")) == 1
    err = capsys.readouterr().err
    assert "[training] max_steps: 9 -> 19" in err
    DocBin(docs=tagged_docs(48, seed=99)).to_disk(data / "train.spacy")
    assert resume(cfg, output, 1, *overrides) == 1
    err = capsys.readouterr().err
    assert "data file paths.train" in err and "changed since the checkpoint" in err
    assert "max_steps" not in err
