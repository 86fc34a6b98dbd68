"""The local engine: worker processes on this machine, one piece of work at a time each.

Every run, ``--n-process 1`` included, annotates in *spawned* worker processes, not in the
command's own process: a record that crashes the pipeline (a segfault, the OOM killer,
``os._exit``) then kills a worker, which :mod:`.supervise` replaces while it isolates the record,
instead of killing the command. The cost is one interpreter start and pipeline load per worker
(measured in bench/README.md). ``--n-process 0`` annotates in the command's own process
(:class:`InlinePool`): no start cost and a debugger sees the pipeline, but nothing survives a
record that kills the process. Spawned, not forked: a fresh interpreter is how macOS and Windows
start workers anyway, and it never inherits a half-initialized torch or a lock another thread
held.

Each worker talks to the main process over its own pipe; the main process waits on the pipes
and on the processes' sentinels together, so a dead worker is seen at once, with its exit code.
Workers ignore SIGINT (the main process alone decides to stop, then terminates them) and end by
themselves when the main process disappears, even if it was killed with SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TextIO

from .isolation import Piece, death_reason
from .records import ShardTask
from .settings import AnnotateSettings
from .shard import ShardResult, run_piece
from .supervise import Event, supervise
from .worker import limit_threads, load_pipeline, thread_environment, threads_for
from .writers import WriteFailed, annotation_columns

# How long a stopping worker gets to end on SIGTERM before it is killed.
_STOP_GRACE = 3.0


def failure_text(err: BaseException, piece: Piece | None) -> str:
    """What the command prints for an error a worker hit that is not a record's."""
    if isinstance(err, WriteFailed):
        return err.advice()
    where = f" on shard {piece.task.index}" if piece is not None else " loading the pipeline"
    text = "".join(traceback.format_exception(err)).rstrip()
    return f"a worker failed{where}:\n{text}"


def _watch_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (it was killed)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _worker_main(conn: Connection, settings: AnnotateSettings, threads: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        limit_threads(threads)
        nlp = load_pipeline(settings.pipeline, settings.code, settings.gpu)
        columns = annotation_columns(nlp, settings.vectors)
    except Exception as err:
        conn.send(("failed", failure_text(err, None)))
        return
    conn.send(("ready", None))
    while True:
        try:
            piece = conn.recv()
        except EOFError:
            return
        if piece is None:
            return
        try:
            result = run_piece(nlp, columns, settings, piece)
        except Exception as err:
            conn.send(("failed", failure_text(err, piece)))
            return
        conn.send(("done", result))


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    @property
    def pid(self) -> int | None:
        return self.process.pid


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the processes started inside; the old values after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LocalPool:
    """Spawned worker processes (see the module docstring); implements ``WorkerPool``."""

    def __init__(self, settings: AnnotateSettings, threads: int) -> None:
        self.settings = settings
        self.threads = threads
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []

    def start(self) -> _Worker:
        here, there = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main,
            args=(there, self.settings, self.threads, os.getpid()),
            name="trf-core-annotate-worker",
            daemon=True,
        )
        # The children inherit the thread bounds; this process keeps its own.
        with _environment(thread_environment(self.threads)):
            process.start()
        there.close()
        worker = _Worker(process, here)
        self.workers.append(worker)
        return worker

    def submit(self, worker: _Worker, piece: Piece) -> None:
        worker.conn.send(piece)

    def wait(self) -> list[Event[_Worker]]:
        by_handle: dict[Any, _Worker] = {}
        for worker in self.workers:
            by_handle[worker.conn] = worker
            by_handle[worker.process.sentinel] = worker
        ready = wait(list(by_handle))
        events: list[Event[_Worker]] = []
        seen: set[int] = set()
        for handle in ready:
            worker = by_handle[handle]
            if id(worker) in seen:
                continue
            seen.add(id(worker))
            events.append(self._event(worker))
        return events

    def _event(self, worker: _Worker) -> Event[_Worker]:
        try:
            if worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "done":
                    return Event(worker, "done", result=payload)
                return Event(worker, kind, reason=payload or "")
        except (EOFError, OSError):
            pass
        worker.process.join()
        self._forget(worker)
        return Event(worker, "died", reason=death_reason(worker.process.exitcode))

    def retire(self, worker: _Worker) -> None:
        try:
            worker.conn.send(None)
        except OSError:
            pass
        worker.process.join(_STOP_GRACE)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
            worker.conn.close()

    def stop(self) -> None:
        """End every worker now (a shard being written stays a temporary file, never counted)."""
        workers, self.workers = self.workers, []
        for worker in workers:
            if worker.process.is_alive():
                worker.process.terminate()
        deadline = time.monotonic() + _STOP_GRACE
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]


class InlinePool:
    """The one "worker" is this process (``--n-process 0``); implements ``WorkerPool``."""

    def __init__(self, settings: AnnotateSettings) -> None:
        self.settings = settings
        self.events: list[Event[int]] = []
        self.nlp: Any = None
        self.columns: tuple[str, ...] = ()

    def start(self) -> int:
        if self.settings.threads_per_worker > 0:
            limit_threads(self.settings.threads_per_worker)
        self.nlp = load_pipeline(self.settings.pipeline, self.settings.code, self.settings.gpu)
        self.columns = annotation_columns(self.nlp, self.settings.vectors)
        self.events.append(Event(0, "ready"))
        return 0

    def submit(self, worker: int, piece: Piece) -> None:
        try:
            result = run_piece(self.nlp, self.columns, self.settings, piece)
        except WriteFailed as err:
            self.events.append(Event(worker, "failed", reason=err.advice()))
            return
        self.events.append(Event(worker, "done", result=result))

    def wait(self) -> list[Event[int]]:
        events, self.events = self.events, []
        return events

    def retire(self, worker: int) -> None:
        self.nlp = None


def run_local(
    settings: AnnotateSettings, tasks: Sequence[ShardTask], log: TextIO | None = None
) -> Iterator[ShardResult]:
    """Each finished shard's result, as soon as it is written (in any order)."""
    if not tasks:
        return
    if settings.n_process == 0:
        yield from supervise(InlinePool(settings), tasks, 1, settings.max_worker_deaths, log)
        return
    pool = LocalPool(settings, threads_for(settings.n_process, settings.threads_per_worker))
    try:
        yield from supervise(pool, tasks, settings.n_process, settings.max_worker_deaths, log)
    finally:
        pool.stop()


__all__ = ["InlinePool", "LocalPool", "failure_text", "run_local"]
