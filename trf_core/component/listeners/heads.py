"""Heads: what a listener reads from each doc's outputs, pooled into one vector per token.

A head is a ``Model[list[TransformerData], list[Floats2d]]`` with one layer, the pooler. It selects
an array from each doc's outputs (:mod:`trf_core.component.listeners.selection`: the last hidden
state, chosen layers, a scalar mix), gathers each token's rows of it by the doc's alignment and
pools them. Tokens with no rows get zeros and pass no gradient, whatever the pooler
(:func:`trf_core.component.pooling.pool_nonempty`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, cast

import numpy
from thinc.api import Model
from thinc.types import Floats2d, Ragged

from ...contract.arrays import offsets_from_lengths
from ...contract.backend import NEEDS_HIDDEN_STATES
from ...contract.data import TransformerData
from ...contract.types import ListenerHead, Pooler, TensorGradients
from ..pooling import pool_nonempty
from .selection import SELECTORS, SelectorBackprop

__all__ = ["last_layer_head", "layers_head", "scalar_mix_head"]


def _make_head(
    select: str,
    pooling: Pooler,
    *,
    attrs: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    dims: dict[str, int | None] | None = None,
) -> ListenerHead:
    all_attrs: dict[str, Any] = {"select": select, NEEDS_HIDDEN_STATES: select != "last"}
    all_attrs.update(attrs or {})
    return Model(
        f"trf-head-{select}",
        _head_forward,
        init=_head_init,
        layers=[pooling],
        attrs=all_attrs,
        params=params or {},
        # nI: the width of the rows read (the transformer's, times the layers concatenated);
        # nO: the pooled vectors' width (a pooler may change it).
        dims={"nI": None, "nO": None, **(dims or {})},
    )


def last_layer_head(
    pooling: Pooler,
) -> ListenerHead:
    """Pool each token's rows of the last hidden state."""
    return _make_head("last", pooling)


def layers_head(pooling: Pooler, layers: Sequence[int], combine: str = "mean") -> ListenerHead:
    """Pool each token's rows of the chosen hidden layers, combined by mean or concatenation."""
    layers = [int(layer) for layer in layers]
    if not layers:
        raise ValueError("layers is empty: name at least one hidden layer, e.g. layers = [-1]")
    if combine not in ("mean", "concat"):
        raise ValueError(
            f"combine={combine!r}: use 'mean' (keeps the width) or 'concat' (width x layers)"
        )
    return _make_head("layers", pooling, attrs={"layers": layers, "combine": combine})


def scalar_mix_head(
    pooling: Pooler,
) -> ListenerHead:
    """Pool a learned softmax-weighted mix (times a learned scale) of every hidden state."""
    return _make_head(
        "mix", pooling, params={"mix_weights": None, "mix_scale": None}, dims={"nL": None}
    )


def _head_init(model: Model, X: Any = None, Y: Any = None) -> Model:
    model.layers[0].initialize()
    return model


def _head_forward(
    model: ListenerHead, data: list[TransformerData], is_train: bool
) -> tuple[list[Floats2d], Callable[[list[Floats2d]], TensorGradients]]:
    ops = model.ops
    xp = ops.xp
    selected = [_select(model, doc_data) for doc_data in data]
    width = _check_width(model, {int(feat.shape[-1]) for feat, _ in selected if feat is not None})
    indices = [_row_indices(doc_data, xp) for doc_data in data]
    row_splits = offsets_from_lengths([int(i.shape[0]) for i in indices])
    all_rows = _gather_token_rows(model, selected, indices, row_splits, width)
    lengths = [xp.asarray(d.align.lengths, dtype="int32").reshape((-1,)) for d in data]
    all_lengths = xp.concatenate(lengths) if lengths else xp.zeros((0,), dtype="int32")
    pooled, bp_pooled = pool_nonempty(model.layers[0], Ragged(all_rows, all_lengths), is_train)
    if not model.has_dim("nO"):
        model.set_dim("nO", int(pooled.shape[1]))
    token_splits = offsets_from_lengths([int(d.align.lengths.shape[0]) for d in data])
    outputs = [pooled[start:end] for start, end in pairwise(token_splits)]

    def backprop(d_outputs: list[Floats2d]) -> TensorGradients:
        if len(d_outputs) != len(data):
            raise ValueError(
                f"got gradients for {len(d_outputs)} docs, but the listener returned {len(data)}"
            )
        d_pooled = (
            xp.concatenate(d_outputs, axis=0) if d_outputs else ops.alloc2f(0, pooled.shape[1])
        )
        d_rows = bp_pooled(d_pooled).dataXd
        return [
            _doc_gradients(model, doc_data, feat, bp, index, d_rows[start:end], width)
            for doc_data, (feat, bp), index, (start, end) in zip(
                data, selected, indices, pairwise(row_splits)
            )
        ]

    return outputs, backprop


def _select(model: ListenerHead, doc_data: TransformerData) -> tuple[Any, SelectorBackprop | None]:
    """The array the head pools from one doc, with its backprop; ``(None, None)`` without rows."""
    if not doc_data.model_output:
        return None, None
    return SELECTORS[model.attrs["select"]](model, doc_data.model_output)


def _gather_token_rows(
    model: ListenerHead,
    selected: list[tuple[Any, SelectorBackprop | None]],
    indices: list[Any],
    row_splits: Any,
    width: int,
) -> Floats2d:
    """Every doc's token rows (the selected array's rows each token aligns to, in token order),
    written straight into one float32 ``(rows, width)`` array.

    Gathering each doc's rows, concatenating them and casting to float32 would write every row
    three times; the rows of a batch of long documents are tens of megabytes, and on a 2-core CPU
    that fresh memory cost more than the pooling itself (bench/README.md, "Results (7 Dec 2026)").
    """
    ops = model.ops
    xp = ops.xp
    out = ops.alloc2f(int(row_splits[-1]), width, zeros=False)
    for (feat, _), index, (start, end) in zip(selected, indices, pairwise(row_splits.tolist())):
        if end == start:
            continue
        if feat is None or feat.size == 0:
            raise ValueError(
                f"a doc aligns {end - start} wordpiece rows to its tokens but has no "
                "transformer output to read them from; its doc._.trf_data is inconsistent"
            )
        rows = feat.reshape((-1, width))
        _check_rows_exist(index, int(rows.shape[0]))
        if xp is numpy and rows.dtype == out.dtype:
            # "clip" writes straight into ``out`` ("raise" buffers it: 3x slower); the bounds
            # were checked just above.
            numpy.take(rows, index, axis=0, out=cast(Any, out[start:end]), mode="clip")
        else:
            out[start:end] = rows[index]
    return out


def _check_rows_exist(index: Any, n_rows: int) -> None:
    if index.size and (int(index.min()) < 0 or int(index.max()) >= n_rows):
        raise ValueError(
            f"a doc's alignment points at wordpiece rows {int(index.min())}..{int(index.max())}, "
            f"but its transformer output has {n_rows} rows; its doc._.trf_data is inconsistent"
        )


def _doc_gradients(
    model: ListenerHead,
    doc_data: TransformerData,
    feat: Any,
    bp: SelectorBackprop | None,
    index: Any,
    d_rows: Any,
    width: int,
) -> list[Any]:
    """One doc's gradients for its ``tensors``, from the gradient of its token rows (``index``:
    the rows of ``feat`` they were read from)."""
    doc_grads: list[Any] = [None] * len(doc_data.tensors)
    if feat is None or bp is None or not feat.size:
        return doc_grads
    ops = model.ops
    d_flat = ops.alloc2f(int(feat.size // width), width, dtype=feat.dtype)
    ops.scatter_add(d_flat, index, cast(Any, d_rows).astype(feat.dtype))
    for j, grad in bp(d_flat.reshape(feat.shape)).items():
        doc_grads[j] = grad
    return doc_grads


def _check_width(model: Model, widths: set[int]) -> int:
    """The width of the rows the head reads: from the batch's outputs, else as learned before."""
    if len(widths) > 1:
        raise ValueError(f"the docs of one batch have outputs of different widths: {widths}")
    if widths:
        width = widths.pop()
        if not model.has_dim("nI"):
            model.set_dim("nI", width)
        elif model.get_dim("nI") != width:
            raise ValueError(
                f"the listener expects vectors of width {model.get_dim('nI')} but the "
                f"transformer gives {width}; was the listener trained with another transformer?"
            )
    elif not model.has_dim("nI"):
        raise ValueError(
            "the listener does not know the transformer's width yet, and no doc in this batch "
            "has transformer output to learn it from. Initialize the pipeline (nlp.initialize()) "
            "so the transformer component can tell its listeners."
        )
    return int(model.get_dim("nI"))


def _row_indices(doc_data: TransformerData, xp: Any) -> Any:
    """A doc's aligned row indices as a flat int array (a Ragged may hold them as a column)."""
    return xp.asarray(doc_data.align.dataXd, dtype="int64").reshape((-1,))
