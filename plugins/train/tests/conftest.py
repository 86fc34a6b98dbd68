"""Fixtures shared by trf-train's tests: one tiny model, corpus and set of configs per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

LAUNCHERS = "TRF_TRAIN_LAUNCHER_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """torchrun and Ray Train runs belong to ``nox -s train_ray`` (which sets
    TRF_TRAIN_LAUNCHER_TESTS=1): they would add a minute to every default run."""
    if os.environ.get(LAUNCHERS) == "1":
        return
    skip = pytest.mark.skip(reason=f"launcher test: run by `nox -s train_ray` ({LAUNCHERS}=1)")
    here = Path(__file__).parent
    for item in items:
        if here not in item.path.parents:  # a conftest hook sees every collected test
            continue
        if "needs_torchrun" in item.keywords or "needs_ray" in item.keywords:
            item.add_marker(skip)


@dataclass
class Workspace:
    root: Path
    model: Path
    train: Path
    dev: Path

    def config(self, name: str, **kwargs: object) -> Path:
        from train_helpers import tagger_config, write_config

        path = self.root / "configs" / f"{name}.cfg"
        if not path.exists():
            kwargs.setdefault("code_callback", "trf_test.faults.v1")
            write_config(path, tagger_config(self.model, self.train, self.dev, **kwargs))
        return path


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from train_helpers import make_model, write_corpus

    root = tmp_path_factory.mktemp("trf-train")
    model = make_model(root / "bert")
    train, dev = write_corpus(root / "data")
    return Workspace(root, model, train, dev)


VARIANTS: dict[str, dict[str, Any]] = {
    "tagger": {},
    "frozen": {"frozen": True},
    "grad_factor_0": {"grad_factor": 0.0},
    "scalar_mix": {"listener": "trf.ScalarMixListener.v1"},
}


@pytest.fixture(scope="session")
def runs(workspace: Workspace) -> dict[str, tuple[Path, Path, Path]]:
    """variant -> (config, 1-worker output, 2-worker output): each variant trained 20 steps by
    one worker in this process and by two spawned workers (1 thread each)."""
    from train_helpers import CALLBACKS, train_in_one_group
    from trf_train.worker import Job, run_worker

    out: dict[str, tuple[Path, Path, Path]] = {}
    jobs = []
    for name, kwargs in VARIANTS.items():
        cfg = workspace.config(name, **kwargs)
        one, two = workspace.root / f"eq-{name}-1", workspace.root / f"eq-{name}-2"
        run_worker(Job(cfg, one, code_path=CALLBACKS))
        jobs.append(Job(cfg, two, code_path=CALLBACKS, threads=1))
        out[name] = (cfg, one, two)
    train_in_one_group(jobs, workers=2)
    return out
