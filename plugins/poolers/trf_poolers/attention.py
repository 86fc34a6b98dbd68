"""Learned attention over a token's wordpiece rows.

Each row gets a score ``row @ w``; a softmax within each token turns the scores into weights;
the token's vector is the weighted sum of its rows. ``w`` starts at zero, so an untrained pooler
is exactly the mean, and training learns which pieces of a word matter. The width is kept
(``nO = nI``), inferred from the data at initialize.
"""

from __future__ import annotations

from typing import Any

from thinc.api import Model
from thinc.types import Floats2d, Ints1d, Ragged

from ._segments import PoolBackprop, build_pooler, repeat_rows


def _init_weights(model: Model) -> None:
    model.set_param("w", model.ops.alloc1f(model.get_dim("nI")))


def _pool_attention(model: Model, X: Any, lengths: Ints1d) -> tuple[Floats2d, PoolBackprop]:
    # Arrays are typed Any here: thinc's array stubs cannot express the broadcasting below.
    ops = model.ops
    w: Any = model.get_param("w").astype(X.dtype, copy=False)
    scores: Any = (X @ w)[:, None]
    # Softmax within each token, shifted by the token's max score so exp never overflows.
    shift = repeat_rows(model, ops.reduce_max(scores, lengths)[0], lengths)
    exps = ops.xp.exp(scores - shift)
    alpha = exps / repeat_rows(model, ops.reduce_sum(exps, lengths), lengths)
    Y = ops.reduce_sum(alpha * X, lengths)

    def backprop(dY: Floats2d) -> Floats2d:
        dY_rows: Any = repeat_rows(model, dY, lengths)
        d_alpha = (X * dY_rows).sum(axis=1, keepdims=True)
        weighted = ops.reduce_sum(alpha * d_alpha, lengths)
        d_scores = alpha * (d_alpha - repeat_rows(model, weighted, lengths))
        model.inc_grad("w", (d_scores[:, 0] @ X).astype(model.get_param("w").dtype))
        return alpha * dY_rows + d_scores * w[None, :]

    return Y, backprop


def attention_pooling() -> Model[Ragged, Floats2d]:
    """``trf.attention_pooling.v1``: softmax(rows @ w)-weighted sum per token; ``w`` learned."""
    return build_pooler(
        "trf-attention-pooling",
        _pool_attention,
        params={"w": None},
        init_params=_init_weights,
    )
