"""The local engine: N spawned processes on this machine, one process group (gloo or NCCL).

``torch.multiprocessing`` starts the workers (spawn: each imports everything afresh, no forked
torch state); this module watches them. When one fails, the others usually fail a moment later
with a broken connection, so the engine waits briefly for them and reports the root cause: a
worker killed by a signal, else the earliest failure a worker recorded (each writes one line to
a folder of the run: when, which rank on which host, what error). Then every worker still
running is stopped. One worker runs in this process, without any process group: that is
``spacy train``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from ..worker import FAILURE_DIR_ENV, Job, WorkerFailed, run_worker

__all__ = ["free_port", "run_local"]

SETTLE_S = 3.0  # how long to let the other workers fail after the first, to find the cause


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawned(index: int, job: Job, world_size: int, port: int, failures: str) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(index),
            "WORLD_SIZE": str(world_size),
            "LOCAL_RANK": str(index),
            FAILURE_DIR_ENV: failures,
        }
    )
    run_worker(job, index, world_size, index)


def run_local(job: Job, workers: int) -> None:
    """Train with ``workers`` processes here; raise :class:`WorkerFailed` naming the worker
    whose failure stopped the run."""
    if workers == 1:
        run_worker(job)
        return
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="trf-train-failures-") as failures:
        context = mp.start_processes(
            _spawned,
            args=(job, workers, free_port(), failures),
            nprocs=workers,
            join=False,
            start_method="spawn",
        )
        try:
            _watch(context.processes, Path(failures))
        finally:
            _terminate(context.processes)


def _watch(processes: list[Any], failures: Path) -> None:
    """Return when every worker exited cleanly; raise at the first failure, with its cause."""
    while True:
        codes = [p.exitcode for p in processes]
        if any(code not in (None, 0) for code in codes):
            break
        if all(code == 0 for code in codes):
            return
        time.sleep(0.2)
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and any(p.exitcode is None for p in processes):
        time.sleep(0.1)
    raise WorkerFailed(_root_cause([p.exitcode for p in processes], failures))


def _root_cause(codes: list[int | None], failures: Path) -> str:
    host = socket.gethostname()
    for rank, code in enumerate(codes):
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return (
                f"rank {rank} on host {host} was killed by {name}; the other workers were "
                "stopped (out of memory? look for the kernel's OOM killer in dmesg)"
            )
    recorded = []
    for path in failures.glob("rank-*.json"):
        try:
            recorded.append(json.loads(path.read_text(encoding="utf8")))
        except (OSError, ValueError):
            continue
    if recorded:
        return str(min(recorded, key=lambda r: r["time"])["message"])
    rank = next(r for r, code in enumerate(codes) if code not in (None, 0))
    return f"rank {rank} on host {host} exited with code {codes[rank]}"


def _terminate(processes: list[Any]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
