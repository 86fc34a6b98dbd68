"""The local engine: N spawned processes on this machine, one process group (gloo or NCCL).

``torch.multiprocessing`` starts the workers (spawn: each imports everything afresh, no forked
torch state) and watches them: when one raises or dies, the others are terminated at once and
the failure is reported with its rank, host and cause. One worker runs in this process, without
any process group: that is ``spacy train``.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

from ..worker import Job, WorkerFailed, run_worker

__all__ = ["free_port", "run_local"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawned(index: int, job: Job, world_size: int, port: int) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(index),
            "WORLD_SIZE": str(world_size),
            "LOCAL_RANK": str(index),
        }
    )
    run_worker(job, index, world_size, index)


def run_local(job: Job, workers: int) -> None:
    """Train with ``workers`` processes here; raise :class:`WorkerFailed` naming the first
    worker that failed."""
    if workers == 1:
        run_worker(job)
        return
    import torch.multiprocessing as mp

    context = mp.start_processes(
        _spawned,
        args=(job, workers, free_port()),
        nprocs=workers,
        join=False,
        start_method="spawn",
    )
    try:
        while not context.join(timeout=1):
            pass
    except mp.ProcessRaisedException as err:
        raise WorkerFailed(_raised_message(err)) from None
    except mp.ProcessExitedException as err:
        raise WorkerFailed(_exited_message(err)) from None
    except BaseException:
        _terminate(context)
        raise


def _raised_message(err: Any) -> str:
    """The worker's own one-line summary (``rank R on host H failed: ...``) from its traceback."""
    text = str(err)
    for line in reversed(text.splitlines()):
        if "WorkerFailed:" in line:
            return line.split("WorkerFailed:", 1)[1].strip()
    last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    return f"rank {err.error_index} on host {socket.gethostname()} failed: {last}"


def _exited_message(err: Any) -> str:
    host = socket.gethostname()
    if err.exit_code is not None and err.exit_code < 0:
        try:
            name = signal.Signals(-err.exit_code).name
        except ValueError:
            name = f"signal {-err.exit_code}"
        how = f"was killed by {name}"
    else:
        how = f"exited with code {err.exit_code}"
    return (
        f"rank {err.error_index} on host {host} {how}; the other workers were stopped "
        "(out of memory? look for the kernel's OOM killer in dmesg)"
    )


def _terminate(context: Any) -> None:
    for process in context.processes:
        if process.is_alive():
            process.terminate()
    for process in context.processes:
        process.join(5)
        if process.is_alive():
            process.kill()
