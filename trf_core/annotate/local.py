"""The local engine: shards in this process (one worker) or in a pool of spawned processes.

Workers are *spawned*, not forked: a fresh interpreter per worker is how macOS and Windows run
anyway, and it never inherits a half-initialized torch or a lock held by another thread. Each
worker loads the pipeline once (:func:`.worker.load_pipeline`) with its share of the cores, then
annotates whole shards; the main process only collects results and writes the manifest.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any
from unittest import mock

from .manifest import AnnotateError
from .records import ShardTask
from .settings import AnnotateSettings
from .shard import ShardResult, annotate_shard
from .worker import limit_threads, load_pipeline, thread_environment, threads_for
from .writers import annotation_columns

_WORKER: dict[str, Any] = {}


def _init_worker(settings: AnnotateSettings, threads: int) -> None:
    # Ctrl-C reaches the whole process group: the main process alone handles it (stopping the
    # workers), so the terminal gets one message instead of a traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    nlp = load_pipeline(settings.pipeline, settings.code, settings.gpu)
    _WORKER.update(nlp=nlp, columns=annotation_columns(nlp, settings.vectors), settings=settings)


def _run_task(task: ShardTask) -> ShardResult:
    return annotate_shard(_WORKER["nlp"], _WORKER["columns"], _WORKER["settings"], task)


def run_local(settings: AnnotateSettings, tasks: Sequence[ShardTask]) -> Iterator[ShardResult]:
    """Each finished shard's result, as soon as it is written (in any order)."""
    if not tasks:
        return
    if settings.n_process <= 1:
        if settings.threads_per_worker > 0:
            limit_threads(settings.threads_per_worker)
        nlp = load_pipeline(settings.pipeline, settings.code, settings.gpu)
        columns = annotation_columns(nlp, settings.vectors)
        for task in tasks:
            yield annotate_shard(nlp, columns, settings, task)
        return
    yield from _run_pool(settings, tasks)


def _run_pool(settings: AnnotateSettings, tasks: Sequence[ShardTask]) -> Iterator[ShardResult]:
    n_workers = min(settings.n_process, len(tasks))
    threads = threads_for(settings.n_process, settings.threads_per_worker)
    context = multiprocessing.get_context("spawn")
    # The children spawned inside inherit the thread bounds; this process gets its own back.
    with mock.patch.dict(os.environ, thread_environment(threads)):
        executor = ProcessPoolExecutor(
            n_workers, mp_context=context, initializer=_init_worker, initargs=(settings, threads)
        )
        try:
            # At most two shards per worker in flight: results stream back as they finish, and an
            # interrupted run has little queued work to throw away.
            queue = list(reversed(tasks))
            running: set[Future[ShardResult]] = set()
            while queue or running:
                while queue and len(running) < 2 * n_workers:
                    running.add(executor.submit(_run_task, queue.pop()))
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        except KeyboardInterrupt:
            _stop(executor)
            raise
        except BrokenProcessPool as err:
            raise AnnotateError(
                "a worker process died or could not load the pipeline (its error is printed "
                "above; out of memory or killed if none is); the finished shards are kept: rerun "
                "the same command to continue"
            ) from err
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def _stop(executor: ProcessPoolExecutor) -> None:
    """Stop the workers now: a shard they were writing stays a temporary file, never recorded."""
    processes = list(getattr(executor, "_processes", {}).values())  # no public handle on them
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


__all__ = ["run_local"]
