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

__all__ = ["nonempty_pooling"]


def nonempty_pooling(pooler: Model[Ragged, Floats2d]) -> Model[Ragged, Floats2d]:
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
    pooler = model.layers[0]
    if X is not None:
        pooler.initialize(X=_nonempty(model, X)[0], Y=Y)
    else:
        pooler.initialize()
    return model


def _nonempty(model: Model, X: Ragged) -> tuple[Ragged, object]:
    """The Ragged of only the tokens that have rows, and the indices of those tokens."""
    lengths = model.ops.asarray1i(X.lengths)
    keep = model.ops.xp.nonzero(lengths > 0)[0]
    return Ragged(X.dataXd, lengths[keep]), keep


def _forward(
    model: Model[Ragged, Floats2d], X: Ragged, is_train: bool
) -> tuple[Floats2d, Callable[[Floats2d], Ragged]]:
    pooler = model.layers[0]
    data = X.dataXd
    if data.ndim != 2:
        raise ValueError(
            f"pooling expects each token's rows as a 2d array (rows, width), got {data.ndim}d data"
        )
    n_tokens = int(X.lengths.shape[0])
    width = int(data.shape[1])
    inner, keep = _nonempty(model, X)
    n_kept = int(keep.shape[0])
    if n_kept == 0:
        # Nothing to pool: the pooler never sees empty input, which some poolers reject.
        out = model.ops.alloc2f(n_tokens, width)

        def backprop_nothing(dY: Floats2d) -> Ragged:
            return Ragged(model.ops.alloc2f(0, width), X.lengths)

        return out, backprop_nothing

    pooled, bp_pooled = pooler(inner, is_train)
    if pooled.shape[0] != n_kept:
        raise ValueError(
            f"the pooler returned {pooled.shape[0]} rows for {n_kept} tokens; a pooler must "
            "return exactly one vector per token (a Model[Ragged, Floats2d])"
        )
    if n_kept == n_tokens:
        out = pooled
    else:
        out = model.ops.alloc2f(n_tokens, int(pooled.shape[1]), dtype=pooled.dtype)
        out[keep] = pooled

    def backprop(dY: Floats2d) -> Ragged:
        d_inner = bp_pooled(dY if n_kept == n_tokens else dY[keep])
        return Ragged(d_inner.dataXd, X.lengths)

    return out, backprop
