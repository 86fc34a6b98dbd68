"""Finding the records that kill a worker: retry, then bisect the shard across fresh workers.

A record can end its worker process outright (a segfault in a native tokenizer, the kernel's
OOM killer on a giant document, ``os._exit`` in a component): no exception is left to catch,
only a dead process. A shard whose worker dies is run once more in a fresh worker (the death
may have had another cause, like memory taken by something else); if it kills again, its
records are split in halves, each half run as a *probe* (annotated, nothing written) in a fresh
worker, and every half that kills is split again, down to single records. The records that
kill on their own are set aside as errors; the shard then runs once more without them, which
writes exactly what a run over the input without those records would write for the others.

:class:`ShardIsolation` is that procedure for one shard, as a state machine with no processes
in it: both engines feed it what happened (a piece finished, a piece killed its worker) and run
the pieces it hands back, so the search is the same on local processes and on Ray actors.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

from .records import ShardTask

DEFAULT_MAX_WORKER_DEATHS = 50


class WorkerDeathLimit(Exception):
    """A shard killed its workers more often than ``--max-worker-deaths`` allows."""


@dataclass(frozen=True)
class Piece:
    """Work for one worker: a whole shard, or (``probe``) some of its records to try.

    ``positions`` are record positions within the shard (0-based); ``None`` means all of them.
    ``killers`` are the positions found to kill a worker, with the reason: a shard piece writes
    them to the errors file instead of annotating them.
    """

    task: ShardTask
    probe: bool = False
    positions: tuple[int, ...] | None = None
    killers: tuple[tuple[int, str], ...] = ()


def death_reason(exitcode: int | None, detail: str = "") -> str:
    """The errors-file reason for a record whose worker ended with ``exitcode`` (-N: signal N)."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        how = f"signal {-exitcode}, {name}"
    elif exitcode is not None:
        how = f"exit code {exitcode}"
    else:
        how = detail or "no exit status reported"
    return f"killed the worker process ({how})"


@dataclass
class ShardIsolation:
    """Where the search for one shard's killing records stands."""

    task: ShardTask
    max_deaths: int = DEFAULT_MAX_WORKER_DEATHS
    deaths: int = 0
    killers: dict[int, str] = field(default_factory=dict)
    probes: int = 0  # probes handed out and not yet back
    whole_runs_died: int = 0

    def whole(self) -> Piece:
        """The shard with the killers found so far set aside."""
        return Piece(self.task, killers=tuple(sorted(self.killers.items())))

    def died(self, piece: Piece, reason: str) -> list[Piece]:
        """``piece`` killed its worker: the pieces to run next (in fresh workers)."""
        self.deaths += 1
        if self.deaths > self.max_deaths:
            raise WorkerDeathLimit(
                f"shard {self.task.index} (input records {self.task.first + 1} to "
                f"{self.task.first + self.task.count}) killed its worker process {self.deaths} "
                f"times, the last {reason.removeprefix('killed the worker process ')}; more "
                f"than --max-worker-deaths {self.max_deaths} allows. A pipeline that dies on "
                "this many records cannot run as it is: try it on a few of these records in "
                "Python to see why (memory? a native library?), or raise --max-worker-deaths"
            )
        if not piece.probe:
            self.whole_runs_died += 1
            if self.whole_runs_died == 1 and not self.killers:
                return [self.whole()]  # once more as it was: the death may not be the data's
            candidates = tuple(p for p in range(self.task.count) if p not in self.killers)
            return self._split(candidates, reason)
        self.probes -= 1
        assert piece.positions is not None
        return self._split(piece.positions, reason)

    def survived(self, piece: Piece) -> list[Piece]:
        """Probe ``piece`` ran to its end: when it was the last one out, the shard runs again."""
        self.probes -= 1
        return [self.whole()] if self.probes == 0 else []

    def _split(self, positions: tuple[int, ...], reason: str) -> list[Piece]:
        if len(positions) == 1:
            self.killers[positions[0]] = reason
        if len(positions) <= 1:
            return [self.whole()] if self.probes == 0 else []
        middle = len(positions) // 2
        halves = [positions[:middle], positions[middle:]]
        self.probes += len(halves)
        return [Piece(self.task, probe=True, positions=half) for half in halves]


__all__ = [
    "DEFAULT_MAX_WORKER_DEATHS",
    "Piece",
    "ShardIsolation",
    "WorkerDeathLimit",
    "death_reason",
]
