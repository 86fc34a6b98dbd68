"""spaCy's training loop, run by every worker, with the gradient sum between backward and step.

The loop follows ``spacy.training.loop.train`` / ``train_while_improving`` step for step (the
same seed, batch stream, dropout schedule, ``nlp.update(..., sgd=False)`` per sub-batch, each
trained component's ``finish_update(optimizer)``, ``optimizer.step_schedules()``, evaluation
every ``eval_frequency`` steps, patience and ``max_steps``, the logger's table, ``model-last`` /
``model-best``) and reuses spaCy's own helpers for evaluation, meta and the output folder.
What it adds:

- each worker updates on its share of the global batch (:func:`~trf_train.stream.split_by_words`)
  and :class:`~trf_train.gradsync.GradientSync` sums gradients and losses before the step;
- only rank 0 evaluates, logs and writes; the others receive its score (patience decides the
  same everywhere);
- checkpoints (:mod:`trf_train.checkpoint`) and resuming from one.

With one worker no collective runs and the loop computes exactly what ``spacy train`` does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.training.loop import (
    DIR_MODEL_BEST,
    DIR_MODEL_LAST,
    clean_output_dir,
    create_before_to_disk_callback,
    create_evaluation_callback,
    subdivide_batch,
    update_meta,
)
from spacy.util import registry, resolve_dot_names
from thinc.api import constant, fix_random_seed, set_gpu_allocator
from wasabi import Printer

from . import checkpoint as ckpt
from .dist import DistContext
from .gradsync import GradientSync, SyncStats
from .params import ParamTable
from .stream import GlobalBatches, StreamPosition, sort_by_length, split_by_words

__all__ = ["StepRecord", "TrainOptions", "train_nlp"]

STEP_LOG = "training-steps.jsonl"


@dataclass
class TrainOptions:
    """What the command line adds to the config."""

    output: Path | None
    checkpoint_every: int = 0
    resume: bool = False
    use_gpu: int = -1
    fingerprint: dict[str, Any] | None = None
    on_step: Callable[[StepRecord], None] | None = None


@dataclass
class StepRecord:
    """One step, as rank 0 logs it to ``training-steps.jsonl``."""

    step: int
    epoch: int
    words: int
    losses: dict[str, float]
    sync: SyncStats = field(default_factory=SyncStats)
    seconds: float = 0.0


@dataclass
class _LoopState:
    step: int = -1  # the last finished step
    words_seen: int = 0
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)
    results: list[tuple[float, int]] = field(default_factory=list)


def train_nlp(
    nlp: Language,
    options: TrainOptions,
    ctx: DistContext,
    *,
    stdout: IO[str] = sys.stdout,
    stderr: IO[str] = sys.stderr,
) -> Language:
    """Train ``nlp`` (initialized from its config) as one worker of ``ctx``."""
    msg = Printer(no_print=True)
    config = nlp.config.interpolate()
    if config["training"]["seed"] is not None:
        fix_random_seed(config["training"]["seed"])
    allocator = config["training"]["gpu_allocator"]
    if options.use_gpu >= 0 and allocator:
        set_gpu_allocator(allocator)
    T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    optimizer = T["optimizer"]
    batcher = T["batcher"]
    before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
    before_update = T["before_update"]
    frozen = T["frozen_components"]
    annotating = T["annotating_components"]
    output = options.output if ctx.is_main else None

    table = ParamTable(nlp, exclude=frozen)
    _check_same_start(table, ctx)
    sync = GradientSync(nlp, table, ctx)
    stream = GlobalBatches(
        examples_of=lambda: train_corpus(nlp),
        batcher=batcher,
        max_epochs=T["max_epochs"],
        share_order=ctx.broadcast_object,
    )
    dropouts: Iterator[float] = iter(
        constant(T["dropout"]) if isinstance(T["dropout"], float) else T["dropout"]
    )
    state = _LoopState()
    if options.resume:
        state = _resume(options, ctx, table, optimizer, stream)
        for _ in range(state.step + 1):
            next(dropouts)
    elif ctx.distributed and not ctx.is_main:
        _seed_worker(config["training"]["seed"], ctx.rank)

    evaluate = _evaluator(nlp, dev_corpus, T["score_weights"], ctx)

    def save_model(is_best: bool) -> None:
        assert output is not None
        _save_model(nlp, optimizer, before_to_disk, output, is_best)

    log_step: Callable[[dict[str, Any] | None], None] = _no_log
    finalize: Callable[[], None] = _nothing
    step_log = None
    if output is not None:
        if not options.resume:
            clean_output_dir(output)
        output.mkdir(parents=True, exist_ok=True)
        step_log = _open_step_log(output / STEP_LOG, state.step if options.resume else None)
        lines = [f"Pipeline: {nlp.pipe_names}"]
        lines += [f"Frozen components: {frozen}"] if frozen else []
        lines += [f"Set annotations on update for: {annotating}"] if annotating else []
        lines += [f"Workers: {ctx.world_size}"] if ctx.distributed else []
        lines += [f"Resuming after step {state.step}"] if options.resume else []
        lines += [f"Initial learn rate: {optimizer.learn_rate}"]
        stdout.write("".join(msg.info(line) + "\n" for line in lines))
        with nlp.select_pipes(disable=frozen):
            log_step, finalize = T["logger"](nlp, stdout, stderr)

    eval_frequency = T["eval_frequency"]
    start_time = time.perf_counter() - state.seconds
    failed = False
    try:
        for epoch, batch in stream:
            step = state.step + 1
            step_started = time.perf_counter()
            if before_update:
                before_update(nlp, {"step": step, "epoch": epoch})
            step_losses = _update(nlp, _my_share(batch, ctx), next(dropouts), T, sync, optimizer)
            for name, value in step_losses.items():
                state.losses[name] = state.losses.get(name, 0.0) + value
            is_best: bool | None = None
            score = other_scores = None
            if not step % eval_frequency:
                score, other_scores = evaluate(optimizer)
                state.results.append((score, step))
                is_best = score == max(state.results)[0]
            state.words_seen += sum(len(eg) for eg in batch)
            state.step = step
            state.seconds = time.perf_counter() - start_time
            info: dict[str, Any] = {
                "epoch": epoch,
                "step": step,
                "score": score,
                "other_scores": other_scores,
                "losses": state.losses,
                "checkpoints": state.results,
                "seconds": int(state.seconds),
                "words": state.words_seen,
            }
            record = StepRecord(
                step, epoch, state.words_seen, step_losses, sync.stats,
                time.perf_counter() - step_started,
            )  # fmt: skip
            if output is not None:
                if is_best is not None:
                    with nlp.select_pipes(disable=frozen):
                        update_meta(T, nlp, info)
                    save_model(is_best)
                    info["output_path"] = str(output / DIR_MODEL_LAST)
                log_step(info if is_best is not None else None)
                _log_record(step_log, record)
            if options.on_step is not None:
                options.on_step(record)
            if is_best is not None:
                state.losses = {}
            if options.checkpoint_every and (step + 1) % options.checkpoint_every == 0:
                _checkpoint(options, ctx, table, optimizer, stream.position, state)
            _, neg_best_step = max((r[0], -r[1]) for r in state.results)
            if T["patience"] and (step + neg_best_step) >= T["patience"]:
                break
            if T["max_steps"] and step >= T["max_steps"]:
                break
    except BaseException as err:
        failed = True
        if output is not None and not isinstance(err, KeyboardInterrupt):
            stdout.write(
                msg.warn(
                    f"Aborting and saving the final best model. Encountered exception: {err!r}"
                )
                + "\n"
            )
        raise
    finally:
        if output is not None:
            finalize()
            if step_log is not None:
                step_log.close()
            if not (failed and ctx.distributed):
                save_model(False)
    if optimizer.averages:
        nlp.use_params(optimizer.averages)
    if output is not None:
        stdout.write(msg.good("Saved pipeline to output directory", output / DIR_MODEL_LAST) + "\n")
    return nlp


# --- pieces -----------------------------------------------------------------------------------


def _update(
    nlp: Language,
    share: list[Any],
    dropout: float,
    T: dict[str, Any],
    sync: GradientSync,
    optimizer: Any,
) -> dict[str, float]:
    """One step: spaCy's updates on this worker's share, the gradient sum, the optimizer step
    of each trained component, the schedules. Returns the step's losses (summed over workers)."""
    losses: dict[str, float] = {}
    for subbatch in subdivide_batch(share, T["accumulate_gradient"]):
        nlp.update(
            subbatch,
            drop=dropout,
            losses=losses,
            sgd=False,  # type: ignore[arg-type]
            exclude=T["frozen_components"],
            annotates=T["annotating_components"],
        )
    losses = sync(losses)
    for _, proc in sync.table.components:
        proc.finish_update(optimizer)
    optimizer.step_schedules()
    return losses


def _save_model(
    nlp: Language, optimizer: Any, before_to_disk: Any, output: Path, is_best: bool
) -> None:
    """``model-last`` (with the optimizer's averages, if any), copied to ``model-best``."""
    import shutil

    with nlp.use_params(optimizer.averages):
        before_to_disk(nlp).to_disk(output / DIR_MODEL_LAST)
    if is_best:
        if (output / DIR_MODEL_BEST).exists():
            shutil.rmtree(output / DIR_MODEL_BEST)
        shutil.copytree(output / DIR_MODEL_LAST, output / DIR_MODEL_BEST)


def _no_log(info: dict[str, Any] | None) -> None:
    """Workers other than rank 0 log nothing."""


def _nothing() -> None:
    """Nothing to finalize where nothing was logged."""


def _my_share(batch: list[Any], ctx: DistContext) -> list[Any]:
    """This worker's share of the global batch (the whole batch with one worker, untouched)."""
    if not ctx.distributed:
        return batch
    ordered = sort_by_length(batch)
    start, end = split_by_words([len(eg) for eg in ordered], ctx.world_size)[ctx.rank]
    return ordered[start:end]


def _seed_worker(seed: int | None, rank: int) -> None:
    """Give ranks above 0 their own dropout streams (numpy, torch); Python's ``random``, which
    drives the batch stream, is shared, and rank 0 keeps the one-process stream."""
    import numpy
    import torch

    base = 0 if seed is None else int(seed)
    numpy.random.seed((base * 1_000_003 + rank) % (2**32))
    torch.manual_seed(base * 1_000_003 + rank)


def _check_same_start(table: ParamTable, ctx: DistContext) -> None:
    """Every worker must start from the same weights: compare per-component checksums."""
    if not ctx.distributed:
        return
    digests = ctx.gather_objects((ctx.host, table.digests()))
    host0, first = digests[0]
    for rank, (host, mine) in enumerate(digests[1:], start=1):
        differ = sorted(name for name in first if mine.get(name) != first[name])
        if differ:
            raise RuntimeError(
                f"the workers do not start from the same weights: rank {rank} on {host} differs "
                f"from rank 0 on {host0} in {differ} at step 0. Every worker must build the "
                "pipeline from the same config, seed, code and model files (check that every "
                "machine has the same model files and versions of spaCy, thinc and torch)"
            )


def _evaluator(
    nlp: Language, dev_corpus: Any, weights: dict[str, float], ctx: DistContext
) -> Callable[[Any], tuple[float, dict[str, Any] | None]]:
    """Rank 0 scores on dev (with the averages when the optimizer keeps them); every worker gets
    the score, so patience stops them together."""
    spacy_evaluate = create_evaluation_callback(nlp, dev_corpus, weights)

    def evaluate(optimizer: Any) -> tuple[float, dict[str, Any] | None]:
        result: tuple[float, dict[str, Any] | None] | None = None
        if ctx.is_main:
            if optimizer.averages:
                with nlp.use_params(optimizer.averages):
                    result = spacy_evaluate()
            else:
                result = spacy_evaluate()
        score = ctx.broadcast_object(None if result is None else result[0])
        return (score, result[1]) if result is not None else (score, None)

    return evaluate


def _open_step_log(path: Path, resumed_after: int | None) -> IO[str]:
    """The per-step log, fresh, or on resume cut back to the checkpoint's step (a killed run may
    have logged steps past it, which the resumed run does again)."""
    import json

    kept: list[str] = []
    if resumed_after is not None and path.exists():
        for line in path.read_text(encoding="utf8").splitlines():
            if line.strip() and json.loads(line)["step"] <= resumed_after:
                kept.append(line + "\n")
    handle = path.open("w", encoding="utf8")
    handle.writelines(kept)
    return handle


def _log_record(handle: Any, record: StepRecord) -> None:
    import json

    line = {
        "step": record.step,
        "epoch": record.epoch,
        "words": record.words,
        # spaCy's components add numpy scalars to the losses (the parser, the morphologizer)
        "losses": {name: float(value) for name, value in record.losses.items()},
        "allreduce_bytes": record.sync.bytes,
        "allreduce_seconds": record.sync.seconds,
        "allreduce_wait_seconds": record.sync.wait_seconds,
        "collectives": record.sync.collectives,
        "step_seconds": record.seconds,
    }
    handle.write(json.dumps(line) + "\n")
    handle.flush()


def _checkpoint(
    options: TrainOptions,
    ctx: DistContext,
    table: ParamTable,
    optimizer: Any,
    position: StreamPosition,
    state: _LoopState,
) -> None:
    """Rank 0 writes the checkpoint (with every worker's random states); all wait for it."""
    rngs = ctx.gather_objects(ckpt.rng_state())
    if ctx.is_main and options.output is not None:
        meta = {
            "step": state.step,
            "words_seen": state.words_seen,
            "seconds": state.seconds,
            "losses": state.losses,
            "results": state.results,
            "workers": ctx.world_size,
            "stream": position.to_dict(),
            "fingerprint": options.fingerprint,
        }
        ckpt.write_checkpoint(
            options.output,
            state.step,
            {
                "meta": meta,
                "weights": table.weights(),
                "grad_presence": table.grad_presence(),
                "optimizer": ckpt.optimizer_state(
                    optimizer, table.optimizer_keys(), state.step + 1
                ),
                "rng": rngs,
            },
        )
    ctx.barrier()


def _resume(
    options: TrainOptions,
    ctx: DistContext,
    table: ParamTable,
    optimizer: Any,
    stream: GlobalBatches,
) -> _LoopState:
    """Load the latest checkpoint into a freshly initialized pipeline and loop state."""
    assert options.output is not None
    folder = ckpt.latest_checkpoint(options.output)
    if folder is None:
        raise ckpt.ResumeRefused(
            f"--resume: no checkpoint under {options.output / ckpt.CHECKPOINT_DIR}; run without "
            "--resume to start, with --checkpoint-every STEPS to write checkpoints"
        )
    meta = ckpt.read_part(folder, "meta")
    if options.fingerprint is not None and meta.get("fingerprint") is not None:
        changes = ckpt.compare_fingerprints(meta["fingerprint"], options.fingerprint)
        if changes:
            raise ckpt.ResumeRefused(
                f"cannot resume from {folder}: the run changed since the checkpoint:\n  "
                + "\n  ".join(changes)
                + "\nRestore them, or start afresh without --resume"
            )
    table.load_weights(ckpt.read_part(folder, "weights"))
    table.restore_grad_presence(ckpt.read_part(folder, "grad_presence"))
    ckpt.restore_optimizer(optimizer, ckpt.read_part(folder, "optimizer"), table.optimizer_keys())
    stream.position = StreamPosition.from_dict(meta["stream"])
    rngs = ckpt.read_part(folder, "rng")
    if ctx.rank < len(rngs):
        ckpt.set_rng_state(rngs[ctx.rank])
    else:  # more workers than the checkpoint had: a new dropout stream, rank 0's batch stream
        _seed_worker(None, ctx.rank + 7919)
        import random

        random.setstate(rngs[0]["python"])
    return _LoopState(
        step=meta["step"],
        words_seen=meta["words_seen"],
        seconds=meta["seconds"],
        losses=dict(meta["losses"]),
        results=[tuple(r) for r in meta["results"]],  # type: ignore[misc]
    )
