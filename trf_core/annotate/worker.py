"""Setting up a worker: its thread budget, its device, then its own copy of the pipeline.

Each worker (a spawned process or a Ray actor) loads the pipeline from its path or package
itself: nothing large is pickled, and a pipeline that holds objects without pickle support
still runs. The thread budget is set before the pipeline runs, so N workers on C cores use
about C threads in all, rather than N times C fighting for the cores.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cores() -> int:
    """The cores this process may use (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_for(n_workers: int, requested: int = 0) -> int:
    """Threads per worker: ``requested``, or the cores shared evenly (at least one each)."""
    return requested if requested > 0 else max(1, cores() // max(1, n_workers))


def thread_environment(threads: int) -> dict[str, str]:
    """The variables that bound OpenMP/BLAS pools, for a child started with them."""
    return dict.fromkeys(THREAD_VARIABLES, str(threads))


def limit_threads(threads: int) -> None:
    """Bound this process's compute threads; torch only if it is installed (imported here)."""
    os.environ.update(thread_environment(threads))
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


def load_pipeline(pipeline: str, code: Sequence[str] = (), gpu: int = -1) -> Any:
    """Import the ``--code`` files, pick the device, load the pipeline."""
    import spacy
    from spacy.util import import_file

    for number, path in enumerate(code):
        import_file(f"trf_annotate_code_{number}", path)
    if gpu >= 0:
        spacy.require_gpu(gpu)
    return spacy.load(pipeline)


__all__ = ["cores", "limit_threads", "load_pipeline", "thread_environment", "threads_for"]
