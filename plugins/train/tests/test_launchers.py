"""The other two ways to launch: torchrun starts the processes, or Ray Train does (a local
2-CPU Ray instance started here). Both train what one worker does. Run by ``nox -s train_ray``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from train_helpers import CALLBACKS, max_relative_difference, model_weights, step_losses
from trf_train.engines.local import free_port
from trf_train.worker import Job, run_worker

pytestmark = pytest.mark.slow

ENTRY = ["-m", "trf_core", "train"]  # trf-core train, added by the plugin hook


@pytest.fixture(scope="module")
def one_worker(workspace: Any) -> Path:
    """The same config trained by one worker in this process."""
    output = workspace.root / "launchers-1"
    if not (output / "model-last").exists():
        run_worker(Job(workspace.config("tagger"), output, code_path=CALLBACKS))
    return output


def same_as_one_worker(output: Path, one: Path) -> None:
    weights = model_weights(output / "model-last")
    assert max_relative_difference(weights, model_weights(one / "model-last")) <= 1e-5
    losses, reference = step_losses(output), step_losses(one)
    assert len(losses) == len(reference) == 20
    for a, b in zip(losses, reference):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-4)


@pytest.mark.needs_torchrun
def test_torchrun_starts_the_workers(workspace: Any, one_worker: Path, tmp_path: Path) -> None:
    cfg = workspace.config("tagger")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-port", str(free_port()),
        *ENTRY, str(cfg), "--output", str(tmp_path / "out"),
        "--code", str(CALLBACKS),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Workers: 2" in done.stdout  # rank 0 printed the table, once
    assert done.stdout.count("Saved pipeline to output directory") == 1
    same_as_one_worker(tmp_path / "out", one_worker)


@pytest.mark.needs_ray
def test_ray_train_runs_the_workers(workspace: Any, one_worker: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.train.torch")
    context = ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        address = context.address_info["gcs_address"]
        command = [
            sys.executable, *ENTRY, str(workspace.config("tagger")),
            "--output", str(tmp_path / "out"), "--code", str(CALLBACKS),
            "--engine", "ray", "--ray-address", address, "--workers", "2",
        ]  # fmt: skip
        env = {**os.environ, "RAY_ADDRESS": address}
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-4000:])
    finally:
        ray.shutdown()
    same_as_one_worker(tmp_path / "out", one_worker)
