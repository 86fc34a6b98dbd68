"""The search for killing records (:class:`ShardIsolation`), driven by a simulated worker: a
piece kills its worker when it holds a killing record it does not set aside."""

from __future__ import annotations

import math
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trf_core.annotate.isolation import (
    Piece,
    ShardIsolation,
    WorkerDeathLimit,
    death_reason,
)
from trf_core.annotate.records import ShardTask


def records_run(piece: Piece, count: int) -> set[int]:
    chosen = range(count) if piece.positions is None else piece.positions
    return set(chosen) - {position for position, _ in piece.killers}


def search(count: int, killers: set[int], max_deaths: int = 10_000) -> tuple[Piece, int]:
    """Run the isolation to the end, pieces in any order; the final whole piece and deaths."""
    isolation = ShardIsolation(ShardTask(0, 0, count), max_deaths)
    queue = deque([isolation.whole()])
    while queue:
        piece = queue.popleft()
        if records_run(piece, count) & killers:
            queue.extend(isolation.died(piece, f"killed the worker process (exit code {count})"))
        elif piece.probe:
            queue.extend(isolation.survived(piece))
        else:
            return piece, isolation.deaths
    raise AssertionError("the search ended without a piece that writes the shard")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_exactly_the_killing_records_are_set_aside(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 64))
    killers = data.draw(st.sets(st.integers(0, count - 1), max_size=count))
    final, deaths = search(count, killers)
    assert {position for position, _ in final.killers} == killers
    assert not final.probe and final.positions is None
    assert all(reason == f"killed the worker process (exit code {count})"
               for _, reason in final.killers)  # fmt: skip
    # The whole shard twice, then at most one death per level of the bisection per killer.
    depth = math.ceil(math.log2(count)) + 1 if count > 1 else 1
    assert deaths <= 2 + len(killers) * depth if killers else deaths == 0


def test_a_death_that_does_not_come_back_costs_one_retry_and_no_record() -> None:
    isolation = ShardIsolation(ShardTask(3, 30, 10))
    (again,) = isolation.died(isolation.whole(), "killed the worker process (signal 9, SIGKILL)")
    assert again == Piece(ShardTask(3, 30, 10)) and isolation.killers == {}


def test_too_many_deaths_raise_one_clear_error() -> None:
    with pytest.raises(WorkerDeathLimit, match=r"shard 0 \(input records 1 to 8\) killed its "
                       r"worker process 4 times, the last \(exit code 8\); more than "
                       r"--max-worker-deaths 3"):  # fmt: skip
        search(8, set(range(8)), max_deaths=3)


@pytest.mark.parametrize(
    ("exitcode", "reason"),
    [
        (-11, "killed the worker process (signal 11, SIGSEGV)"),
        (-9, "killed the worker process (signal 9, SIGKILL)"),
        (3, "killed the worker process (exit code 3)"),
        (None, "killed the worker process (no exit status reported)"),
    ],
)
def test_death_reasons(exitcode: int | None, reason: str) -> None:
    assert death_reason(exitcode) == reason
