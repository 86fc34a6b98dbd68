"""plan_batches: every index once, the padded budget and the size cap kept, length-sorted."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trf_core.component.batching import plan_batches


def test_example_groups_short_items_and_isolates_an_oversized_one() -> None:
    lengths = [5, 100, 2, 3, 5, 1]
    # sorted: 1(5) 2(2) 3(3) 5(0) 5(4) 100(1); budget 12 -> [1,2,3] costs 9, adding a 5 costs 20.
    assert plan_batches(lengths, max_padded_items=12, max_batch_size=10) == [
        [5, 2, 3],
        [0, 4],
        [1],
    ]


def test_batch_size_cap_applies_even_under_budget() -> None:
    assert plan_batches([1] * 5, max_padded_items=1000, max_batch_size=2) == [[0, 1], [2, 3], [4]]


def test_no_items_no_batches() -> None:
    assert plan_batches([], max_padded_items=10, max_batch_size=3) == []


@pytest.mark.parametrize(
    ("lengths", "budget", "size", "message"),
    [
        ([1], 0, 1, "max_padded_items must be >= 1"),
        ([1], 4, 0, "max_batch_size must be >= 1"),
        ([1, -2], 4, 2, "item 1 has length -2"),
    ],
)
def test_bad_arguments_are_explained(lengths: list, budget: int, size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_batches(lengths, budget, size)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 60), max_size=40),
    st.integers(1, 200),
    st.integers(1, 8),
)
def test_plan_invariants(lengths: list[int], budget: int, size: int) -> None:
    batches = plan_batches(lengths, budget, size)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths))), "every index exactly once"
    for batch in batches:
        assert 1 <= len(batch) <= size
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= budget or len(batch) == 1, "only a lone item may exceed the budget"
    # Grouped by length: batch after batch, lengths never go down.
    ordered = [lengths[i] for i in flat]
    assert ordered == sorted(ordered)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=30), st.integers(30, 120))
def test_batches_are_filled_greedily(lengths: list[int], budget: int) -> None:
    """No batch could have taken the next batch's first item without breaking a limit."""
    size = 6
    batches = plan_batches(lengths, budget, size)
    for batch, following in itertools.pairwise(batches):
        grown = [*batch, following[0]]
        longest = max(lengths[i] for i in grown)
        assert len(grown) > size or len(grown) * longest > budget
