"""The machinery every pooler shares: input checks, empty tokens, dims.

Each pooler only says how to pool tokens that *have* rows (a :data:`PoolFn`). This module hands
it exactly those tokens and scatters the result back, so every pooler keeps the invariant the
core promises: a token with no wordpiece gets a zero vector and passes no gradient. (thinc's own
``reduce_max`` / ``reduce_first`` / ``reduce_last`` raise on such tokens instead.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from thinc.api import Model
from thinc.types import Floats2d, Ints1d, Ragged

PoolBackprop = Callable[[Floats2d], Floats2d]
"""Gradient of the pooled vectors of the non-empty tokens -> gradient of all rows."""

PoolFn = Callable[[Model, Floats2d, Ints1d], tuple[Floats2d, PoolBackprop]]
"""``(model, rows, lengths) -> (pooled, backprop)``; every length is >= 1."""


def build_pooler(
    name: str,
    pool: PoolFn,
    width_factor: int = 1,
    params: dict[str, Any] | None = None,
    init_params: Callable[[Model], None] | None = None,
) -> Model[Ragged, Floats2d]:
    """A ``Model[Ragged, Floats2d]`` around ``pool``, with ``nO = width_factor * nI``.

    ``nI`` and ``nO`` are inferred from the first data seen (``initialize(X=...)`` or the first
    call), so configs need not state the transformer's width.
    """
    return Model(
        name,
        _forward,
        init=_init,
        dims={"nI": None, "nO": None},
        params=params or {},
        attrs={"pool": pool, "width_factor": width_factor, "init_params": init_params},
    )


def _set_dims(model: Model, width: int) -> None:
    """Record the row width (once); a later batch of another width is a clear error."""
    if model.has_dim("nI") is True:
        if model.get_dim("nI") != width:
            raise ValueError(
                f"{model.name} was set up for rows of width {model.get_dim('nI')}, but got rows "
                f"of width {width}; one pooler instance serves one transformer width"
            )
        return
    model.set_dim("nI", width)
    model.set_dim("nO", width * model.attrs["width_factor"])
    init_params = model.attrs["init_params"]
    if init_params is not None:
        init_params(model)


def _init(model: Model, X: Ragged | None = None, Y: Floats2d | None = None) -> Model:
    if X is not None:
        _set_dims(model, int(_rows(model, X).shape[1]))
    elif model.has_dim("nI") is True:
        _set_dims(model, model.get_dim("nI"))
    return model


def _rows(model: Model, X: Ragged) -> Floats2d:
    """The rows as a 2d float array, after checking they match the lengths."""
    if not isinstance(X, Ragged):
        raise TypeError(
            f"{model.name} pools a thinc Ragged (each token's wordpiece rows), got "
            f"{type(X).__name__}; use it as the `pooling` of a transformer listener"
        )
    data = X.dataXd
    if data.ndim != 2:
        raise ValueError(
            f"{model.name} needs the rows as a 2d array (rows, width), got shape {data.shape}"
        )
    n_rows = int(model.ops.asarray1i(X.lengths).sum()) if len(X.lengths) else 0
    if n_rows != data.shape[0]:
        raise ValueError(
            f"{model.name}: the lengths add up to {n_rows} rows, but the data has "
            f"{data.shape[0]}; each row must belong to exactly one token"
        )
    return cast(Floats2d, data)


def _forward(
    model: Model[Ragged, Floats2d], X: Ragged, is_train: bool
) -> tuple[Floats2d, Callable[[Floats2d], Ragged]]:
    data = _rows(model, X)
    _set_dims(model, int(data.shape[1]))
    n_out = model.get_dim("nO")
    lengths = model.ops.asarray1i(X.lengths)
    n_tokens = int(lengths.shape[0])
    keep = model.ops.xp.nonzero(lengths > 0)[0]
    n_kept = int(keep.shape[0])
    Y = model.ops.alloc2f(n_tokens, n_out, dtype=data.dtype)
    if n_kept == 0:

        def backprop_nothing(dY: Floats2d) -> Ragged:
            return Ragged(model.ops.alloc2f(*data.shape, dtype=data.dtype), X.lengths)

        return Y, backprop_nothing

    pooled, bp_pooled = model.attrs["pool"](model, data, lengths[keep])
    Y[keep] = pooled

    def backprop(dY: Floats2d) -> Ragged:
        if tuple(dY.shape) != tuple(Y.shape):
            raise ValueError(
                f"{model.name}: the gradient has shape {tuple(dY.shape)}, but the output had "
                f"shape {tuple(Y.shape)}"
            )
        return Ragged(bp_pooled(dY[keep]), X.lengths)

    return Y, backprop


def segment_starts(model: Model, lengths: Ints1d) -> Ints1d:
    """Index of each token's first row."""
    starts = model.ops.xp.zeros(lengths.shape, dtype="int32")
    if lengths.shape[0] > 1:
        starts[1:] = model.ops.xp.cumsum(lengths[:-1])
    return starts


def repeat_rows(model: Model, values: Floats2d, lengths: Ints1d) -> Floats2d:
    """Each token's value repeated once per row of that token (GPU-safe ``repeat``)."""
    return model.ops.backprop_reduce_sum(values, lengths)
