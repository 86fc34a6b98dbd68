"""Empty-row-safe versions of thinc's reducers: mean, sum, max, first, last.

They pool exactly like thinc's ``reduce_*`` layers for tokens with rows; a token with none gets
zeros and passes no gradient, where thinc's max/first/last raise.
"""

from __future__ import annotations

from thinc.api import Model
from thinc.types import Floats2d, Ints1d, Ragged

from ._segments import PoolBackprop, build_pooler, segment_starts


def _pool_mean(model: Model, X: Floats2d, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    def backprop(dY: Floats2d) -> Floats2d:
        return model.ops.backprop_reduce_mean(dY, lengths)

    return model.ops.reduce_mean(X, lengths), backprop


def _pool_sum(model: Model, X: Floats2d, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    def backprop(dY: Floats2d) -> Floats2d:
        return model.ops.backprop_reduce_sum(dY, lengths)

    return model.ops.reduce_sum(X, lengths), backprop


def _pool_max(model: Model, X: Floats2d, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    Y, which = model.ops.reduce_max(X, lengths)

    def backprop(dY: Floats2d) -> Floats2d:
        return model.ops.backprop_reduce_max(dY, which, lengths)

    return Y, backprop


def _pick(model: Model, X: Floats2d, rows: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    """One row per token (distinct rows), gradient routed back to just that row."""

    def backprop(dY: Floats2d) -> Floats2d:
        dX = model.ops.alloc2f(*X.shape, dtype=dY.dtype)
        dX[rows] = dY
        return dX

    return X[rows], backprop


def _pool_first(model: Model, X: Floats2d, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    return _pick(model, X, segment_starts(model, lengths))


def _pool_last(model: Model, X: Floats2d, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    return _pick(model, X, segment_starts(model, lengths) + lengths - 1)


def reduce_mean() -> Model[Ragged, Floats2d]:
    """``trf.reduce_mean.v1``: the mean of a token's rows (zeros for none)."""
    return build_pooler("trf-reduce-mean", _pool_mean)


def reduce_sum() -> Model[Ragged, Floats2d]:
    """``trf.reduce_sum.v1``: the sum of a token's rows (zeros for none)."""
    return build_pooler("trf-reduce-sum", _pool_sum)


def reduce_max() -> Model[Ragged, Floats2d]:
    """``trf.reduce_max.v1``: the elementwise max of a token's rows (zeros for none)."""
    return build_pooler("trf-reduce-max", _pool_max)


def reduce_first() -> Model[Ragged, Floats2d]:
    """``trf.reduce_first.v1``: a token's first row (zeros for none)."""
    return build_pooler("trf-reduce-first", _pool_first)


def reduce_last() -> Model[Ragged, Floats2d]:
    """``trf.reduce_last.v1``: a token's last row (zeros for none)."""
    return build_pooler("trf-reduce-last", _pool_last)
