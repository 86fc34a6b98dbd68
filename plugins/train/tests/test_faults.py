"""Faults stop every worker quickly and say who failed; bad input fails before any training."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from spacy.tokens import DocBin
from thinc.api import Config
from train_helpers import CALLBACKS, tagged_docs, write_config

from trf_core.cli.main import main


def train(cfg: Path, output: Path, *args: str) -> int:
    """``trf-core train`` (through trf-core's command line and the plugin hook)."""
    return main(["train", str(cfg), "--output", str(output), "--code", str(CALLBACKS), *args])


def no_worker_left() -> bool:
    """No spawned worker outlived the run (``active_children`` also reaps finished ones)."""
    import multiprocessing

    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    return not multiprocessing.active_children()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("TRF_TEST_RAISE_AT", "failed: ValueError: injected failure at step 3"),
        ("TRF_TEST_DIE_AT", "was killed by SIGKILL"),
    ],
)
def test_a_failing_worker_stops_all_and_is_named(
    workspace: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    expected: str,
) -> None:
    import socket

    monkeypatch.setenv(variable, "1:3")
    started = time.monotonic()
    assert train(workspace.config("tagger"), tmp_path / "out", "-w", "2") == 1
    assert time.monotonic() - started < 120  # start-up included; the stop itself is immediate
    err = capsys.readouterr().err
    assert f"rank 1 on host {socket.gethostname()}" in err and expected in err
    assert no_worker_left()


@pytest.mark.slow
def test_a_stuck_worker_stops_the_others_at_the_collective_timeout(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("TRF_TEST_HANG_AT", "1:2")
    args = ["-w", "2", "--collective-timeout", "5"]
    assert train(workspace.config("tagger"), tmp_path / "out", *args) == 1
    err = capsys.readouterr().err
    assert "rank 0 on host" in err and "failed" in err
    assert no_worker_left()


@pytest.mark.slow
def test_workers_that_start_from_different_weights_stop_at_step_0(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = Config().from_disk(workspace.config("tagger"), interpolate=False)
    cfg["initialize"]["after_init"] = {"@callbacks": "trf_test.perturb.v1"}
    path = write_config(tmp_path / "perturbed.cfg", cfg)
    import os

    os.environ["TRF_TEST_PERTURB_RANK"] = "1"
    try:
        assert train(path, tmp_path / "out", "-w", "2") == 1
    finally:
        del os.environ["TRF_TEST_PERTURB_RANK"]
    err = capsys.readouterr().err
    assert "do not start from the same weights" in err and "['tagger']" in err
    assert not (tmp_path / "out" / "model-last").exists()


# --- bad input, before any worker starts -----------------------------------------------------


def refused(cfg: Path, output: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    started = time.monotonic()
    assert train(cfg, output, *args) == 1
    assert time.monotonic() - started < 30  # no pipeline was built
    assert not (output / "model-last").exists()
    return capsys.readouterr().err


def test_fewer_docs_than_workers(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    DocBin(docs=tagged_docs(2, seed=3)).to_disk(tmp_path / "two.spacy")
    err = refused(workspace.config("tagger"), tmp_path / "out", capsys,
                  "-w", "3", "--paths.train", str(tmp_path / "two.spacy"))  # fmt: skip
    assert "2 example(s), fewer than the 3 workers" in err


def test_more_gpu_ids_than_gpus(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    ids = ",".join(str(i) for i in range(n + 1))
    err = refused(workspace.config("tagger"), tmp_path / "out", capsys, "--gpu-ids", ids)
    assert f"names {n + 1} GPU(s) but this machine has {n}" in err


def test_unreachable_ray_address(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trf_train.engines.local import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    err = refused(workspace.config("tagger"), tmp_path / "out", capsys,
                  "--engine", "ray", "--ray-address", address)  # fmt: skip
    assert f"--ray-address {address}: nothing answers" in err


def test_config_without_a_transformer(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = Config().from_str(
        """
[paths]
train = null
dev = null
[nlp]
lang = "en"
pipeline = ["tagger"]
[components]
[components.tagger]
factory = "tagger"
[corpora]
[training]
[training.optimizer]
@optimizers = "Adam.v1"
"""
    )
    err = refused(write_config(tmp_path / "c.cfg", cfg), tmp_path / "out", capsys)
    assert "has no `transformer` component" in err


def test_frozen_only_pipeline(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(workspace.config("tagger"), tmp_path / "out", capsys,
                  "--training.frozen_components", '["transformer","tagger"]')  # fmt: skip
    assert "is frozen" in err and "nothing to train" in err


def test_resume_without_checkpoint_and_checkpoints_without_resume(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(workspace.config("tagger"), tmp_path / "out", capsys, "--resume")
    assert "--resume: no checkpoint under" in err
    (tmp_path / "out" / "checkpoints").mkdir(parents=True)
    err = refused(workspace.config("tagger"), tmp_path / "out", capsys)
    assert "pass --resume" in err
