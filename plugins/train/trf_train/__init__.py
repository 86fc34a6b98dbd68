"""trf-train: train a trf-core pipeline on several processes, GPUs or machines.

Synchronous data parallel training on ``torch.distributed``: every worker takes its share of
each global batch (the batches one ``spacy train`` process would train on), the gradients are
summed over the workers, and every worker applies the same optimizer step, so N workers train
what one would. Launched by ``trf-core train`` (local processes or Ray Train) or joined from a
launcher such as ``torchrun``. See docs/distributed-training.md.
"""

from __future__ import annotations

from .cli import main
from .loop import StepRecord, TrainOptions, train_nlp
from .stream import split_by_words
from .worker import Job, WorkerFailed, run_worker

__all__ = [
    "Job",
    "StepRecord",
    "TrainOptions",
    "WorkerFailed",
    "main",
    "run_worker",
    "split_by_words",
    "train_nlp",
]
