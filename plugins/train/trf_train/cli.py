"""``trf-core train`` (also ``python -m trf_train`` and ``trf-train``): parse, check, launch.

Which engine runs the workers:
- ``RANK`` and ``WORLD_SIZE`` set (torchrun, SLURM, Kubernetes launchers): this process is one
  worker and joins that group (``MASTER_ADDR`` / ``MASTER_PORT`` from the launcher);
- ``--engine local`` (default): ``--workers`` processes spawned here;
- ``--engine ray``: a Ray Train ``TorchTrainer`` on ``--ray-address`` (or a local Ray instance).

Every argument the parser does not know is a config override, as in ``spacy train``
(``--paths.train X``, ``--training.max_steps 100``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["add_arguments", "build_parser", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="the training config (as for spacy train)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    parser.add_argument("--workers", "-w", type=int, default=None, help="workers (default 1)")
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--ray-address", default=None, help="a Ray cluster (ray://host:10001)")
    parser.add_argument(
        "--gpu-ids", default=None, help="comma-separated GPU ids, one per worker (NCCL)"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=0, metavar="STEPS", help="0: no checkpoints"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--code", "-c", type=Path, default=None, help="Python file to import")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads per worker (cores // workers)"
    )
    parser.add_argument(
        "--collective-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a worker waiting longer than this for the others stops the run",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trf-core train",
        description="Train a pipeline on one or several workers, as spacy train does on one.",
        epilog="Unknown --section.key VALUE arguments override the config, as in spacy train.",
    )
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Run the parsed command; return the exit status (messages go to stderr)."""
    from spacy.cli._util import parse_config_overrides

    from .dist import env_rank_info
    from .validate import BadTrainInput, check_job, usable_cores
    from .worker import Job, WorkerFailed, load_job_config

    try:
        overrides = parse_config_overrides(list(extra))
    except SystemExit:
        return 2
    if not args.config.exists():
        sys.stderr.write(f"trf-core train: config file not found: {args.config}\n")
        return 2
    gpu_ids = None
    if args.gpu_ids:
        try:
            gpu_ids = [int(x) for x in args.gpu_ids.split(",") if x.strip()]
        except ValueError:
            sys.stderr.write(f"trf-core train: --gpu-ids wants integers, got {args.gpu_ids!r}\n")
            return 2
    launched = env_rank_info()
    workers = args.workers or (len(gpu_ids) if gpu_ids else 1)
    if launched is not None:
        if args.workers is not None and args.workers != launched[1]:
            sys.stderr.write(
                f"trf-core train: --workers {args.workers} but the launcher started "
                f"WORLD_SIZE={launched[1]} processes: leave --workers out under torchrun\n"
            )
            return 2
        workers = launched[1]
    job = Job(
        config_path=args.config,
        output=args.output,
        overrides=overrides,
        code_path=args.code,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        gpu_ids=gpu_ids,
        collective_timeout=args.collective_timeout,
    )
    local_workers = workers if launched is None else _local_world_size()
    if args.threads or local_workers > 1:  # one worker: torch's own default, as spacy train
        job.threads = args.threads or max(1, usable_cores() // local_workers)
    try:
        from .checkpoint import fingerprint

        config = load_job_config(job)
        job.fingerprint = fingerprint(config)
        if launched is None or launched[0] == 0:
            check_job(job, config, workers, local_workers=local_workers)
        if launched is not None:
            from .worker import run_worker

            run_worker(job, launched[0], launched[1], launched[2])
        elif args.engine == "ray":
            from .engines.ray import run_ray

            run_ray(job, workers, args.ray_address)
        else:
            if args.ray_address:
                raise BadTrainInput("--ray-address needs --engine ray")
            from .engines.local import run_local

            run_local(job, workers)
    except (BadTrainInput, WorkerFailed) as err:
        sys.stderr.write(f"trf-core train: {err}\n")
        return 1
    return 0


def _local_world_size() -> int:
    import os

    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    return run(args, extra)


if __name__ == "__main__":
    raise SystemExit(main())
