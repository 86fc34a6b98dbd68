"""Shared helpers for the pooler tests: random Ragged inputs and the poolers under test."""

from __future__ import annotations

from collections.abc import Callable

import numpy
from hypothesis import strategies as st
from thinc.api import Model
from thinc.types import Ragged
from trf_poolers import (
    attention_pooling,
    first_last,
    reduce_first,
    reduce_last,
    reduce_max,
    reduce_mean,
    reduce_sum,
)

POOLERS: dict[str, Callable[[], Model]] = {
    "trf.reduce_mean.v1": reduce_mean,
    "trf.reduce_sum.v1": reduce_sum,
    "trf.reduce_max.v1": reduce_max,
    "trf.reduce_first.v1": reduce_first,
    "trf.reduce_last.v1": reduce_last,
    "trf.first_last.v1": first_last,
    "trf.attention_pooling.v1": attention_pooling,
}
WIDTH_FACTOR = {name: 2 if name == "trf.first_last.v1" else 1 for name in POOLERS}

lengths_lists = st.lists(st.integers(0, 4), min_size=0, max_size=6)


def make_ragged(lengths: list[int], width: int, seed: int) -> Ragged:
    """Random float64 rows (no ties, so max pooling is differentiable) for the given lengths."""
    rng = numpy.random.default_rng(seed)
    data = rng.normal(size=(sum(lengths), width))
    return Ragged(data, numpy.asarray(lengths, dtype="int32"))


def build(name: str, width: int, seed: int = 0) -> Model:
    """A pooler set up for ``width``; attention gets random float64 weights so it is non-trivial."""
    model = POOLERS[name]()
    model.initialize(X=Ragged(numpy.zeros((1, width)), numpy.asarray([1], dtype="int32")))
    if model.has_param("w"):
        model.set_param("w", numpy.random.default_rng(seed + 1).normal(size=(width,)))
    return model
