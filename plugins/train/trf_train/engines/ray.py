"""The Ray engine: the workers run as a Ray Train ``TorchTrainer`` (``trf-train[ray]``).

Ray starts the workers on the cluster's nodes and builds their process group (gloo, or NCCL with
one GPU per worker); each worker then runs the same :func:`~trf_train.worker.run_worker` as the
other engines. Without ``--ray-address`` a local Ray instance is started for the run. Rank 0
writes ``OUTPUT``, so on a cluster ``OUTPUT`` must be a path the node running rank 0 can write,
normally a shared filesystem. A failed worker fails the run (no automatic restarts: resume with
``--resume`` from the last checkpoint).
"""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

from ..validate import BadTrainInput
from ..worker import Job, WorkerFailed, run_worker

__all__ = ["check_address", "run_ray"]


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast, in plain words, when ``address`` (``ray://host:port`` or ``host:port``) does
    not answer; Ray itself would wait long and fail deep inside."""
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.hostname is None or parsed.port is None:
        raise BadTrainInput(
            f"--ray-address {address!r} is no address: give ray://HOST:PORT (Ray Client, port "
            "10001 by default) or HOST:PORT of the head node"
        )
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            pass
    except OSError as err:
        raise BadTrainInput(
            f"--ray-address {address}: nothing answers at {parsed.hostname}:{parsed.port} "
            f"({err}). Start the cluster (`ray start --head`) or fix the address"
        ) from None


def _train_loop(config: dict[str, Any]) -> None:
    import ray.train

    job: Job = config["job"]
    context = ray.train.get_context()
    if job.gpu_ids:
        import ray.train.torch

        job = replace(job, gpu_ids=[ray.train.torch.get_device().index or 0])
    run_worker(
        job,
        context.get_world_rank(),
        context.get_world_size(),
        context.get_local_rank(),
        group_ready=True,
    )


def run_ray(job: Job, workers: int, address: str | None) -> None:
    if address:
        check_address(address)
    try:
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError:
        raise BadTrainInput(
            "--engine ray needs Ray Train: pip install 'trf-train[ray]' (from a clone: "
            "pip install -e 'plugins/train[ray]')"
        ) from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(num_cpus=max(workers * (job.threads or 1), workers), log_to_driver=True)
    use_gpu = bool(job.gpu_ids)
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config={"job": job},
        torch_config=TorchConfig(
            backend="nccl" if use_gpu else "gloo", timeout_s=int(job.collective_timeout)
        ),
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": float(job.threads or 1)},
        ),
        run_config=RunConfig(
            name="trf-train",
            storage_path=str((job.output / ".ray").resolve()),
            failure_config=FailureConfig(max_failures=0),
        ),
    )
    try:
        trainer.fit()
    except Exception as err:  # TrainingFailedError / WorkerGroupError: find the worker's words
        raise WorkerFailed(_ray_message(err)) from None


def _ray_message(err: BaseException) -> str:
    text = str(err)
    for line in text.splitlines():
        if "rank " in line and " on host " in line and "failed:" in line:
            return line[line.index("rank ") :].strip()
    return f"a Ray Train worker failed: {text.strip().splitlines()[-1] if text.strip() else err!r}"
