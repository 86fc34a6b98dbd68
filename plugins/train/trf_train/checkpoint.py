"""Checkpoints under ``OUTPUT/checkpoints/``: written atomically, read back exactly.

A checkpoint is a folder ``step-NNNNNNNN`` holding everything the next step depends on: the
weights and which of them hold a (zeroed) gradient, the optimizer's moments and counters (keyed
by the weights' stable names, since thinc's ids are process-local), the step count that fixes
the schedules' position, the batch stream's position, the loop's own state (losses since the
last evaluation, past scores, words seen) and every worker's random states. It is written into a
temporary folder and renamed into place, and ``latest`` (a one-line file, also renamed into
place) names it only afterwards, so a run killed at any moment leaves the previous checkpoint
intact. The two newest checkpoints are kept.

``fingerprint`` records the config and the data files' contents; resuming with either changed
is refused, naming what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy
from thinc.api import Config

__all__ = [
    "CHECKPOINT_DIR",
    "ResumeRefused",
    "compare_fingerprints",
    "fingerprint",
    "latest_checkpoint",
    "optimizer_state",
    "restore_optimizer",
    "rng_state",
    "set_rng_state",
    "write_checkpoint",
]

CHECKPOINT_DIR = "checkpoints"
KEEP = 2


class ResumeRefused(ValueError):
    """The checkpoint cannot continue this run (changed config or data, or none there)."""


# --- fingerprint ------------------------------------------------------------------------------


def _flatten(data: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(data, sort_keys=True, default=str)}


def _hash_path(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def fingerprint(config: Config) -> dict[str, Any]:
    """The interpolated config (flattened) and a hash of every file ``[paths]`` names."""
    interpolated = config.interpolate()
    data: dict[str, str] = {}
    for name, value in interpolated.get("paths", {}).items():
        if isinstance(value, str) and value and Path(value).exists():
            data[f"paths.{name} ({value})"] = _hash_path(Path(value))
    return {"config": _flatten(dict(interpolated)), "data": data}


def compare_fingerprints(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Human-readable differences, empty when the run may resume."""
    changes: list[str] = []
    old_cfg, new_cfg = saved["config"], now["config"]
    for key in sorted(set(old_cfg) | set(new_cfg)):
        if old_cfg.get(key) != new_cfg.get(key):
            changes.append(
                f"config [{key.rsplit('.', 1)[0]}] {key.rsplit('.', 1)[-1]}: "
                f"{old_cfg.get(key, '(absent)')} -> {new_cfg.get(key, '(absent)')}"
            )
    old_data, new_data = saved["data"], now["data"]
    for key in sorted(set(old_data) | set(new_data)):
        if old_data.get(key) != new_data.get(key):
            changes.append(f"data file {key} changed since the checkpoint")
    return changes


# --- optimizer --------------------------------------------------------------------------------


def _to_numpy(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "get"):
        return numpy.asarray(value.get())
    return numpy.array(value, copy=True)


def optimizer_state(optimizer: Any, names: dict[tuple[int, str], str], steps: int) -> dict:
    """The optimizer's per-weight state under stable names, and its schedule position."""

    def by_name(table: Any, convert: Any) -> dict[str, Any]:
        out = {}
        for key, value in (table or {}).items():
            if key not in names:
                raise ValueError(
                    f"the optimizer holds state for {key}, which is no trained weight of this "
                    "pipeline; cannot write a checkpoint"
                )
            out[names[key]] = convert(value)
        return out

    return {
        "mom1": by_name(optimizer.mom1, _to_numpy),
        "mom2": by_name(optimizer.mom2, _to_numpy),
        "nr_update": by_name(optimizer.nr_update, int),
        "last_seen": by_name(optimizer.last_seen, int),
        "averages": None if optimizer.averages is None else by_name(optimizer.averages, _to_numpy),
        "radam_buffer": [[_to_numpy(v) for v in row] for row in optimizer._radam_buffer],
        "schedule_steps": steps,
    }


def restore_optimizer(optimizer: Any, state: dict, names: dict[tuple[int, str], str]) -> None:
    """Put ``state`` into a freshly built ``optimizer`` of the same config."""
    from collections import defaultdict

    keys = {name: key for key, name in names.items()}
    ops_asarray = _asarray_like(optimizer)

    def by_key(table: dict[str, Any], convert: Any) -> dict[tuple[int, str], Any]:
        missing = sorted(set(table) - set(keys))
        if missing:
            raise ResumeRefused(
                f"the checkpoint's optimizer state names weights this pipeline lacks: {missing[:5]}"
            )
        return {keys[name]: convert(value) for name, value in table.items()}

    optimizer.mom1 = by_key(state["mom1"], ops_asarray)
    optimizer.mom2 = by_key(state["mom2"], ops_asarray)
    optimizer.nr_update = defaultdict(int, by_key(state["nr_update"], int))
    optimizer.last_seen = defaultdict(int, by_key(state["last_seen"], int))
    if state["averages"] is not None:
        optimizer.averages = by_key(state["averages"], ops_asarray)
    optimizer._radam_buffer = [
        [None if v is None else ops_asarray(v) for v in row] for row in state["radam_buffer"]
    ]
    for _ in range(state["schedule_steps"]):
        optimizer.step_schedules()


def _asarray_like(optimizer: Any) -> Any:
    from thinc.api import get_current_ops

    ops = get_current_ops()
    return lambda value: ops.asarray(value, dtype=value.dtype)


# --- random states ----------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": numpy.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    numpy.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- files ------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_checkpoint(output: Path, step: int, parts: dict[str, Any]) -> Path:
    """Write ``parts`` (name -> picklable object; ``meta`` also as JSON) for ``step``."""
    root = output / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, value in parts.items():
        _write_atomic(tmp / f"{name}.pkl", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    _write_atomic(tmp / "meta.json", json.dumps(parts["meta"], indent=2, default=str).encode())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _write_atomic(root / "latest", final.name.encode())
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(output: Path) -> Path | None:
    pointer = output / CHECKPOINT_DIR / "latest"
    if not pointer.exists():
        return None
    folder = output / CHECKPOINT_DIR / pointer.read_text().strip()
    return folder if folder.is_dir() else None


def read_part(folder: Path, name: str) -> Any:
    with (folder / f"{name}.pkl").open("rb") as handle:
        return pickle.load(handle)
