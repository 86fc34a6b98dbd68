"""One worker's whole life: join the group, build the pipeline as ``spacy train`` would, train.

Every engine calls :func:`run_worker` in each worker process with the same :class:`Job`. A
failure leaves as :class:`WorkerFailed`, whose message names the rank, the host and the error,
so whichever engine collects it can report who failed and why.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dist import COLLECTIVE_TIMEOUT_S, DistContext, join_group, leave_group

__all__ = ["FAILURE_DIR_ENV", "Job", "WorkerFailed", "build_nlp", "load_job_config", "run_worker"]

FAILURE_DIR_ENV = "TRF_TRAIN_FAILURE_DIR"
"""Where a worker records its failure (one JSON file per rank), when its launcher asks."""


class WorkerFailed(RuntimeError):
    """A worker raised: the message names its rank, host and error."""


@dataclass
class Job:
    """Everything a worker needs, picklable (it travels to spawned and Ray workers)."""

    config_path: Path
    output: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    code_path: Path | None = None
    checkpoint_every: int = 0
    resume: bool = False
    gpu_ids: list[int] | None = None
    threads: int | None = None
    collective_timeout: float = COLLECTIVE_TIMEOUT_S
    fingerprint: dict[str, Any] | None = None


def load_job_config(job: Job) -> Any:
    """The config as ``spacy train`` loads it: overrides applied, not interpolated."""
    from spacy import util

    if job.code_path is not None:
        util.import_file("python_code", job.code_path)
    return util.load_config(job.config_path, overrides=job.overrides, interpolate=False)


def build_nlp(job: Job, use_gpu: int) -> Any:
    """``spacy train``'s setup: config with overrides, ``init_nlp`` (seeded, initialized)."""
    from spacy.cli._util import show_validation_error
    from spacy.training.initialize import init_nlp

    config = load_job_config(job)
    with show_validation_error(job.config_path, hint_fill=False):
        return init_nlp(config, use_gpu=use_gpu)


def run_worker(
    job: Job,
    rank: int = 0,
    world_size: int = 1,
    local_rank: int | None = None,
    *,
    group_ready: bool = False,
) -> None:
    """Train as worker ``rank`` of ``world_size`` (the group is joined here unless a launcher
    such as Ray Train already made it: ``group_ready``)."""
    import torch

    from .loop import TrainOptions, train_nlp

    local = rank if local_rank is None else local_rank
    host = socket.gethostname()
    ctx: DistContext | None = None
    try:
        if job.threads:
            torch.set_num_threads(job.threads)
        use_gpu = -1
        if job.gpu_ids:
            from thinc.api import require_gpu

            use_gpu = job.gpu_ids[local % len(job.gpu_ids)]
            torch.cuda.set_device(use_gpu)
            require_gpu(use_gpu)
        ctx = join_group(
            rank,
            world_size,
            local,
            use_gpu=use_gpu >= 0,
            collective_timeout=job.collective_timeout,
            already_initialized=group_ready,
        )
        os.environ.setdefault("RANK", str(rank))  # user code (callbacks) may ask
        nlp = build_nlp(job, use_gpu)
        options = TrainOptions(
            output=job.output,
            checkpoint_every=job.checkpoint_every,
            resume=job.resume,
            use_gpu=use_gpu,
            fingerprint=job.fingerprint,
        )
        train_nlp(nlp, options, ctx)
    except BaseException as err:
        if world_size == 1 and not group_ready:
            raise
        detail = f"{type(err).__name__}: {err}"
        _record_failure(rank, f"rank {rank} on host {host} failed: {detail}")
        sys.stderr.write(
            f"trf-train: rank {rank} on host {host} failed: {detail}\n{traceback.format_exc()}"
        )
        sys.stderr.flush()
        raise WorkerFailed(f"rank {rank} on host {host} failed: {detail}") from err
    finally:
        if ctx is not None and not group_ready:
            leave_group(ctx)


def _record_failure(rank: int, message: str) -> None:
    """Leave the failure where the local engine looks for the root cause (first one wins)."""
    folder = os.environ.get(FAILURE_DIR_ENV)
    if not folder:
        return
    import json
    import time

    try:
        record = {"time": time.time(), "rank": rank, "message": message}
        (Path(folder) / f"rank-{rank}.json").write_text(json.dumps(record), encoding="utf8")
    except OSError:
        pass  # reporting must never hide the error itself
