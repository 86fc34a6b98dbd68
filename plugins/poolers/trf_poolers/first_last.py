"""First and last wordpiece of each token, side by side.

A word split into pieces ("un", "##believ", "##able") carries its start in the first piece and
its end in the last; concatenating both keeps both, where a mean blurs them. The output is
**twice as wide** as the rows (``nO = 2 * nI``): a downstream layer that is told the
transformer's width must be told twice that. A one-piece token gets its row twice.
"""

from __future__ import annotations

from thinc.api import Model
from thinc.types import Floats2d, Ints1d, Ragged

from ._segments import PoolBackprop, build_pooler, segment_starts


def _pool_first_last(model: Model, X: Floats2d, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    first = segment_starts(model, lengths)
    last = first + lengths - 1
    width = X.shape[1]
    Y = model.ops.xp.concatenate([X[first], X[last]], axis=1)

    def backprop(dY: Floats2d) -> Floats2d:
        dX = model.ops.alloc2f(*X.shape, dtype=dY.dtype)
        # Separate statements: for a one-piece token first == last and both halves must add up.
        dX[first] += dY[:, :width]
        dX[last] += dY[:, width:]
        return dX

    return Y, backprop


def first_last() -> Model[Ragged, Floats2d]:
    """``trf.first_last.v1``: ``[first row ; last row]`` per token, width ``2 * nI``."""
    return build_pooler("trf-first-last", _pool_first_last, width_factor=2)
