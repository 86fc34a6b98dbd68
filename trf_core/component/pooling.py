"""Pooling that tolerates tokens without wordpieces.

A spaCy token can align to no wordpiece at all (whitespace tokens, or characters the
tokenizer dropped). thinc's ``reduce_mean`` copes with that, but ``reduce_max``,
``reduce_first`` and ``reduce_last`` raise on empty rows, and a custom pooler may do anything.
The invariant we promise is simpler than any pooler: a token with no wordpiece gets a zero vector
and passes no gradient. So we pool only the non-empty rows and scatter the results back.
"""

from __future__ import annotations

from collections.abc import Callable

from thinc.api import Model
from thinc.types import Floats2d, Ragged

from ..contract.types import Pooler

__all__ = ["nonempty_pooling", "pool_nonempty"]


def nonempty_pooling(pooler: Pooler) -> Pooler:
    """Wrap ``pooler`` so tokens with no rows get zeros and no gradient, whatever it does.

    The width of the output is the width of the rows (``X.dataXd.shape[1]``), which stays known
    even when no token has a row, as long as the caller keeps the data 2d.
    """
    return Model(
        "trf-nonempty-pooling",
        _forward,
        layers=[pooler],
        init=_init,
        dims={"nO": pooler.get_dim("nO") if pooler.has_dim("nO") else None},
    )


def _init(model: Model, X: Ragged | None = None, Y: Floats2d | None = None) -> Model:
    model.layers[0].initialize()
    return model


def _forward(
    model: Pooler, X: Ragged, is_train: bool
) -> tuple[Floats2d, Callable[[Floats2d], Ragged]]:
    return pool_nonempty(model.layers[0], X, is_train)


def pool_nonempty(
    pooler: Pooler, X: Ragged, is_train: bool
) -> tuple[Floats2d, Callable[[Floats2d], Ragged]]:
    """Run ``pooler`` on the tokens that have rows; the others get zeros and no gradient.

    The function form, for layers that hold the pooler as their own child (the listener heads
    do, to keep spacy-transformers' model layout).
    """
    ops = pooler.ops
    data = X.dataXd
    if data.ndim != 2:
        raise ValueError(
            f"pooling expects each token's rows as a 2d array (rows, width), got {data.ndim}d data"
        )
    n_tokens = int(X.lengths.shape[0])
    width = int(data.shape[1])
    lengths = ops.asarray1i(X.lengths)
    keep = ops.xp.nonzero(lengths > 0)[0]
    n_kept = int(keep.shape[0])
    if n_kept == 0:
        # Nothing to pool: the pooler never sees empty input, which some poolers reject.
        def backprop_nothing(dY: Floats2d) -> Ragged:
            return Ragged(ops.alloc2f(0, width), X.lengths)

        return ops.alloc2f(n_tokens, _output_width(pooler, width)), backprop_nothing

    pooled, bp_pooled = pooler(Ragged(data, lengths[keep]), is_train)
    if pooled.shape[0] != n_kept:
        raise ValueError(
            f"the pooler returned {pooled.shape[0]} rows for {n_kept} tokens; a pooler must "
            "return exactly one vector per token (a Model[Ragged, Floats2d])"
        )
    if n_kept == n_tokens:
        out = pooled
    else:
        out = ops.alloc2f(n_tokens, int(pooled.shape[1]), dtype=pooled.dtype)
        out[keep] = pooled

    def backprop(dY: Floats2d) -> Ragged:
        d_inner = bp_pooled(dY if n_kept == n_tokens else dY[keep])
        return Ragged(d_inner.dataXd, X.lengths)

    return out, backprop


def _output_width(pooler: Pooler, width: int) -> int:
    """The pooler's output width for rows of ``width``: poolers may change it (first+last rows
    concatenated doubles it), so ask the pooler (its ``nO``, else one one-row token)."""
    if pooler.has_dim("nO") is True:
        return int(pooler.get_dim("nO"))
    probe, _ = pooler(Ragged(pooler.ops.alloc2f(1, width), pooler.ops.asarray1i([1])), False)
    return int(probe.shape[1])
