"""Each pooler against values worked out by hand or by a plain per-token loop."""

from __future__ import annotations

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from pool_helpers import POOLERS, WIDTH_FACTOR, build, lengths_lists, make_ragged
from thinc.types import Ragged
from trf_poolers import attention_pooling, first_last, reduce_first, reduce_last, reduce_max

# Rows 0..5 = [0,1] [2,3] | (no rows) | [4,5] [6,7] [8,9] | [10,11]
ROWS = numpy.arange(12, dtype="float64").reshape(6, 2)
LENGTHS = numpy.asarray([2, 0, 3, 1], dtype="int32")

HAND = {
    "trf.reduce_mean.v1": [[1, 2], [0, 0], [6, 7], [10, 11]],
    "trf.reduce_sum.v1": [[2, 4], [0, 0], [18, 21], [10, 11]],
    "trf.reduce_max.v1": [[2, 3], [0, 0], [8, 9], [10, 11]],
    "trf.reduce_first.v1": [[0, 1], [0, 0], [4, 5], [10, 11]],
    "trf.reduce_last.v1": [[2, 3], [0, 0], [8, 9], [10, 11]],
    "trf.first_last.v1": [[0, 1, 2, 3], [0, 0, 0, 0], [4, 5, 8, 9], [10, 11, 10, 11]],
    # w starts at zero: uniform attention, i.e. the mean.
    "trf.attention_pooling.v1": [[1, 2], [0, 0], [6, 7], [10, 11]],
}


@pytest.mark.parametrize("name", list(HAND))
def test_hand_derived_values(name: str) -> None:
    model = POOLERS[name]()
    Y, _ = model(Ragged(ROWS, LENGTHS), is_train=False)
    assert_allclose(Y, numpy.asarray(HAND[name], dtype="float64"))
    assert model.get_dim("nI") == 2
    assert model.get_dim("nO") == 2 * WIDTH_FACTOR[name]


def test_first_last_gradient_of_a_one_piece_token_adds_both_halves() -> None:
    model = first_last()
    X = Ragged(numpy.asarray([[1.0, 2.0]]), numpy.asarray([1], dtype="int32"))
    _, backprop = model(X, is_train=True)
    dX = backprop(numpy.asarray([[1.0, 10.0, 100.0, 1000.0]]))
    assert_allclose(dX.dataXd, [[101.0, 1010.0]])


def test_attention_concentrates_on_the_highest_scoring_row() -> None:
    model = build("trf.attention_pooling.v1", 2)
    model.set_param("w", numpy.asarray([50.0, 0.0]))  # scores follow the first column
    rows = numpy.asarray([[0.1, 7.0], [0.9, -3.0], [0.5, 1.0]])
    Y, _ = model(Ragged(rows, numpy.asarray([3], dtype="int32")), is_train=False)
    assert_allclose(Y[0], rows[1], atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(lengths=lengths_lists, width=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_against_a_per_token_loop(lengths: list[int], width: int, seed: int) -> None:
    X = make_ragged(lengths, width, seed)
    starts = numpy.concatenate([[0], numpy.cumsum(lengths)])[:-1]
    segments = [X.dataXd[s : s + n] for s, n in zip(starts, lengths)]
    zeros = numpy.zeros((width,))
    expected = {
        reduce_max: [seg.max(axis=0) if len(seg) else zeros for seg in segments],
        reduce_first: [seg[0] if len(seg) else zeros for seg in segments],
        reduce_last: [seg[-1] if len(seg) else zeros for seg in segments],
        first_last: [
            numpy.concatenate([seg[0], seg[-1]]) if len(seg) else numpy.zeros((2 * width,))
            for seg in segments
        ],
    }
    for factory, rows in expected.items():
        Y, _ = factory()(X, is_train=False)
        assert_allclose(Y, numpy.asarray(rows).reshape(Y.shape))
    model = attention_pooling()
    model.initialize(X=X)
    w = numpy.random.default_rng(seed).normal(size=(width,))
    model.set_param("w", w)
    Y, _ = model(X, is_train=False)
    for y, seg in zip(Y, segments):
        if not len(seg):
            assert not y.any()
            continue
        weights = numpy.exp(seg @ w - (seg @ w).max())
        assert_allclose(y, (weights / weights.sum()) @ seg, rtol=1e-9, atol=1e-12)
