"""Checks that run before any worker starts: bad input fails here, in plain words.

Each check reads the config (not interpolated models: nothing is built) or counts what it must,
and raises :class:`BadTrainInput` saying what is wrong and what to do.
"""

from __future__ import annotations

import os
from typing import Any

from .checkpoint import CHECKPOINT_DIR, compare_fingerprints, latest_checkpoint, read_part
from .worker import Job

__all__ = ["BadTrainInput", "check_job", "count_train_docs", "usable_cores"]


class BadTrainInput(ValueError):
    """The command cannot train with these arguments; the message says why and what to do."""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _transformer_names(config: Any) -> list[str]:
    pipeline = config["nlp"]["pipeline"]
    components = config.get("components", {})
    return [n for n in pipeline if components.get(n, {}).get("factory") == "transformer"]


def check_pipeline(config: Any) -> None:
    """A transformer to train, and something in the pipeline that is not frozen."""
    pipeline = list(config["nlp"]["pipeline"])
    transformers = _transformer_names(config)
    if not transformers:
        raise BadTrainInput(
            f"the config's pipeline {pipeline} has no `transformer` component: trf-train "
            "trains pipelines built on trf-core's transformer (use `spacy train` for others, "
            "or add one: `python -m trf_core init-config`)"
        )
    frozen = set(config["training"].get("frozen_components", []))
    components = config.get("components", {})
    trainable = [
        name
        for name in pipeline
        if name not in frozen
        and not (name in transformers and components[name].get("frozen", False))
    ]
    if not trainable:
        raise BadTrainInput(
            f"every component of the pipeline {pipeline} is frozen ([training] "
            f"frozen_components = {sorted(frozen)}, or the transformer's frozen = true): there "
            "is nothing to train. Unfreeze a component"
        )


def count_train_docs(config: Any) -> int:
    """The number of training examples the config's train corpus yields."""
    import spacy
    from spacy.util import resolve_dot_names

    interpolated = config.interpolate()
    (corpus,) = resolve_dot_names(interpolated, [interpolated["training"]["train_corpus"]])
    nlp = spacy.blank(interpolated["nlp"]["lang"])
    return sum(1 for _ in corpus(nlp))


def check_gpus(gpu_ids: list[int], workers: int) -> None:
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    wrong = [i for i in gpu_ids if i < 0 or i >= available]
    if len(gpu_ids) > available or wrong:
        raise BadTrainInput(
            f"--gpu-ids {','.join(map(str, gpu_ids))} names {len(gpu_ids)} GPU(s) but this "
            f"machine has {available}"
            + (f" (ids 0..{available - 1})" if available else "")
            + ": name only GPUs that exist (nvidia-smi lists them), or leave --gpu-ids out "
            "to train on CPU"
        )
    if len(set(gpu_ids)) != len(gpu_ids):
        raise BadTrainInput(f"--gpu-ids names a GPU twice: {gpu_ids}; give each worker its own")
    if workers > len(gpu_ids):
        raise BadTrainInput(
            f"--workers {workers} with --gpu-ids naming {len(gpu_ids)} GPU(s): one worker per "
            "GPU; pass as many GPU ids as workers"
        )


def check_output(job: Job) -> None:
    """``--resume`` needs a checkpoint of the same run; a fresh start must not bury one."""
    folder = latest_checkpoint(job.output)
    if job.resume:
        if folder is None:
            raise BadTrainInput(
                f"--resume: no checkpoint under {job.output / CHECKPOINT_DIR}. Run without "
                "--resume to start (with --checkpoint-every STEPS to write checkpoints)"
            )
        saved = read_part(folder, "meta").get("fingerprint")
        if saved is not None and job.fingerprint is not None:
            changes = compare_fingerprints(saved, job.fingerprint)
            if changes:
                raise BadTrainInput(
                    f"cannot resume from {folder}: the run changed since the checkpoint:\n  "
                    + "\n  ".join(changes)
                    + "\nRestore them, or start afresh without --resume (after removing "
                    f"{job.output / CHECKPOINT_DIR})"
                )
    elif (job.output / CHECKPOINT_DIR).exists():
        raise BadTrainInput(
            f"{job.output / CHECKPOINT_DIR} holds checkpoints of an earlier run: pass --resume "
            "to continue it, or remove that folder to start afresh"
        )


def check_job(
    job: Job, config: Any, workers: int, count_docs: bool = True, local_workers: int | None = None
) -> None:
    """Every check that needs no worker, in the order a user would fix them (``local_workers``:
    the workers on this machine, which the GPUs are shared among)."""
    if workers < 1:
        raise BadTrainInput(f"--workers must be at least 1, got {workers}")
    if job.checkpoint_every < 0:
        raise BadTrainInput(
            f"--checkpoint-every must be 0 (off) or more, got {job.checkpoint_every}"
        )
    check_pipeline(config)
    if job.gpu_ids:
        check_gpus(job.gpu_ids, workers if local_workers is None else local_workers)
    check_output(job)
    if count_docs and workers > 1:
        n_docs = count_train_docs(config)
        if n_docs < workers:
            raise BadTrainInput(
                f"the training corpus has {n_docs} example(s), fewer than the {workers} workers: "
                "use fewer workers (--workers) or more training data"
            )
