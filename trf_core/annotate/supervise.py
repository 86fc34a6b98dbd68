"""Handing pieces to workers and replacing the workers that die: one loop for both engines.

An engine supplies a :class:`WorkerPool`: it starts a worker (a spawned process, a Ray actor),
gives it a piece, and reports what happened as :class:`Event` values: the worker is ready (its
pipeline loaded), finished a piece, died, or failed with an error that is not a record's (a
write that failed, a pipeline that does not load). :func:`supervise` keeps every worker busy
with one piece at a time, so a death is always charged to the piece that was running, starts a
fresh worker for each one that dies, and lets :class:`.isolation.ShardIsolation` decide what a
shard that killed its worker runs next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TextIO, TypeVar

from .isolation import Piece, ShardIsolation, WorkerDeathLimit
from .manifest import AnnotateError
from .records import ShardTask
from .shard import ShardResult

W = TypeVar("W")

# A worker that dies before its pipeline is loaded, this many times in a row, means the
# pipeline cannot be loaded at all (a crash in an import, not enough memory for one copy).
MAX_LOAD_DEATHS = 3


@dataclass(frozen=True)
class Event(Generic[W]):
    """``kind``: ``ready``, ``done`` (``result``: the shard's, None for a probe), ``died``
    (``reason``: how it ended) or ``failed`` (``reason``: the error, a traceback or a message).

    ``usable``: after ``died``, the worker is still there to take more work (a Ray actor whose
    pipeline process died starts a fresh one itself), so no new worker is started for it.
    """

    worker: W
    kind: str
    result: ShardResult | None = None
    reason: str = ""
    usable: bool = False


class WorkerPool(Protocol[W]):
    def start(self) -> W:
        """Start a worker that loads the pipeline and then reports ``ready``."""

    def submit(self, worker: W, piece: Piece) -> None:
        """Give a ready, idle worker a piece."""

    def wait(self) -> list[Event[W]]:
        """Block until something happened; at least one event."""

    def retire(self, worker: W) -> None:
        """Let an idle worker end (no work is left for it)."""


def supervise(
    pool: WorkerPool[W],
    tasks: Sequence[ShardTask],
    n_workers: int,
    max_deaths: int,
    log: TextIO | None = None,
) -> Iterator[ShardResult]:
    """Run every task on ``pool`` and yield each shard's result as it is written.

    Each worker death is reported on ``log`` in one line, as is each record set aside for it.
    """
    queue: deque[Piece] = deque(Piece(task) for task in tasks)
    isolations: dict[int, ShardIsolation] = {}
    loading: set[W] = set()
    idle: list[W] = []
    busy: dict[W, Piece] = {}
    load_deaths = 0
    for _ in range(min(n_workers, len(queue))):
        loading.add(pool.start())
    while queue or busy:
        while queue and idle:
            worker = idle.pop()
            busy[worker] = piece = queue.popleft()
            pool.submit(worker, piece)
        if not (loading or busy):
            loading.add(pool.start())
        for event in pool.wait():
            worker = event.worker
            if event.kind == "failed":
                raise AnnotateError(event.reason)
            if event.kind == "ready":
                loading.discard(worker)
                load_deaths = 0
                idle.append(worker)
            elif event.kind == "done":
                piece = busy.pop(worker)
                idle.append(worker)
                if piece.probe:
                    queue.extendleft(isolations[piece.task.index].survived(piece))
                else:
                    isolations.pop(piece.task.index, None)
                    assert event.result is not None
                    yield event.result
            elif event.kind == "died":
                lost = busy.get(worker)
                load_deaths = _charge_death(event, loading, idle, busy, queue, isolations,
                                            load_deaths, max_deaths)  # fmt: skip
                if log is not None and lost is not None:
                    _report(log, lost, event.reason, isolations[lost.task.index])
                if queue and len(loading) + len(idle) + len(busy) < n_workers:
                    loading.add(pool.start())
        while idle and len(idle) > len(queue):
            pool.retire(idle.pop())


def _report(log: TextIO, piece: Piece, reason: str, isolation: ShardIsolation) -> None:
    how = reason.removeprefix("killed the worker process ")
    what = f"{len(piece.positions)} of its records" if piece.positions is not None else "it"
    lines = [f"shard {piece.task.index}: a worker died running {what} {how}"]
    if piece.probe and piece.positions is not None and len(piece.positions) == 1:
        line = piece.task.first + 1 + piece.positions[0]
        lines.append(f"shard {piece.task.index}: input line {line} kills the worker: set aside")
    elif isolation.deaths == 1:
        lines[0] += ": running it again in a fresh worker"
    else:
        lines[0] += ": splitting it to find the record that kills"
    log.write("".join(line + "\n" for line in lines))
    log.flush()


def _charge_death(
    event: Event[W],
    loading: set[W],
    idle: list[W],
    busy: dict[W, Piece],
    queue: deque[Piece],
    isolations: dict[int, ShardIsolation],
    load_deaths: int,
    max_deaths: int,
) -> int:
    """Account for a dead worker; returns the count of deaths while loading, in a row."""
    worker = event.worker
    if worker in loading:
        loading.discard(worker)
        load_deaths += 1
        if load_deaths >= MAX_LOAD_DEATHS:
            how = event.reason.removeprefix("killed the worker process ")
            raise AnnotateError(
                f"the worker processes died while loading the pipeline, {load_deaths} times in "
                f"a row {how}: load it in Python to see why (out of memory? a crash in a native "
                "library?); a script that calls annotate() must call it under "
                "`if __name__ == '__main__':`, as any script that starts processes must"
            )
        return load_deaths
    if worker in idle:
        idle.remove(worker)  # killed from outside while waiting: nothing to charge
        return load_deaths
    piece = busy.pop(worker)
    if event.usable:
        idle.append(worker)
    isolation = isolations.setdefault(piece.task.index, ShardIsolation(piece.task, max_deaths))
    try:
        queue.extendleft(reversed(isolation.died(piece, event.reason)))
    except WorkerDeathLimit as err:
        raise AnnotateError(str(err)) from None
    return load_deaths


__all__ = ["Event", "WorkerPool", "supervise"]
