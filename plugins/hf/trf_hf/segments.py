"""Attention window by window inside one unpadded row: packing without a mask.

A packed row with a block-diagonal mask (:mod:`trf_hf.packing`) computes attention between all
its pieces and discards the cross-window part, and a masked attention runs slower than an
unmasked one. Here the short windows of a batch are laid end to end in a single row of exactly
their pieces, ordered by length, and the attention is computed per run of equally long windows:
the run's queries, keys and values are reshaped to ``(windows, heads, length, head_size)`` and
go through one unmasked ``scaled_dot_product_attention``. The linear layers see every real piece
once and nothing else (no padding, no row tail), and attention costs what each window alone
costs. On the EWT test sentences the model calls took 0.98 of the masked rows' time, each batch
run both ways back to back (bench/README.md).

The model's layers find the attention function through transformers' attention registry by the
name in ``config._attn_implementation``, so :func:`attending_by_segment` switches that name for
the packed calls and puts it back when the last one running on the model ends. Which windows a
row holds travels in a :class:`~contextvars.ContextVar` (one per thread), not through the
model's arguments, which not every architecture passes down. A call that finds the name switched
but no layout (another thread using the same model at that moment) gets the model's own
attention and mask, so it is never wrong, only unpacked.

Whether a model takes this path at all is probed like the masked modes
(:func:`trf_hf.packing.packing_mode`): an architecture whose layers do not read the registry
(BERT and RoBERTa on transformers 4, among others), or a transformers without it (older than
4.53), fails the probe and keeps the masked rows.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["NAME", "SegmentRun", "attending_by_segment", "register", "segment_runs"]

NAME = "trf_segments"
"""The attention implementation's name in transformers' registries."""


@dataclass(frozen=True)
class SegmentRun:
    """``count`` windows of ``length`` pieces each, laid end to end from flat column ``start``."""

    start: int
    count: int
    length: int


_LAYOUT: ContextVar[tuple[SegmentRun, ...] | None] = ContextVar("trf_segment_layout", default=None)

_switched: dict[int, tuple[str, int]] = {}
"""Per switched config (by ``id``): the attention name it had, and how many packed calls are
running on it. Kept here, not on the config, which would write it into a saved config.json."""
_switch_lock = threading.Lock()


def segment_runs(lengths: Sequence[int]) -> tuple[list[int], tuple[SegmentRun, ...]]:
    """The windows' order in the row (shortest first, ties in batch order) and its runs of equal
    lengths. Every length must be positive."""
    order = sorted(range(len(lengths)), key=lambda i: (int(lengths[i]), i))
    runs: list[SegmentRun] = []
    start = 0
    for i in order:
        n = int(lengths[i])
        if n <= 0:
            raise ValueError(f"window {i} holds {n} pieces; only non-empty windows are packed")
        if runs and runs[-1].length == n:
            last = runs[-1]
            runs[-1] = SegmentRun(last.start, last.count + 1, n)
        else:
            runs.append(SegmentRun(start, 1, n))
        start += n
    return order, tuple(runs)


def _segment_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Registered attention: ``query`` etc. are ``(1, heads, pieces, head_size)``; the output is
    ``(1, pieces, heads, head_size)``, what transformers' own implementations return."""
    runs = _LAYOUT.get()
    if runs is None:
        return _original_attention(module)(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    heads, head_size = int(query.shape[1]), int(query.shape[3])
    gqa = int(key.shape[1]) != heads
    outputs = []
    for run in runs:
        stop = run.start + run.count * run.length

        def windows(t: torch.Tensor, run: SegmentRun = run, stop: int = stop) -> torch.Tensor:
            return t[0, :, run.start : stop].unflatten(1, (run.count, run.length)).transpose(0, 1)

        out = torch.nn.functional.scaled_dot_product_attention(
            windows(query),
            windows(key),
            windows(value),
            dropout_p=dropout,
            scale=scaling,
            enable_gqa=gqa,
        )  # (count, heads, length, head_size)
        outputs.append(out.transpose(1, 2).reshape(run.count * run.length, heads, head_size))
    joined = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)
    return joined[None], None


def _segment_mask(*args: Any, **kwargs: Any) -> Any:
    """Registered mask builder: no mask while a layout is active; otherwise the original's."""
    if _LAYOUT.get() is not None:
        return None
    name = _name_before(kwargs.get("config"))
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    return ALL_MASK_ATTENTION_FUNCTIONS[name](*args, **kwargs)


def _original_attention(module: Any) -> Any:
    """The attention function the model had before the switch; for eager, the model's own
    ``eager_attention_forward`` (transformers keeps it beside each architecture's layers)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    name = _name_before(module.config)
    if name != "eager" and name in ALL_ATTENTION_FUNCTIONS:
        return ALL_ATTENTION_FUNCTIONS[name]
    eager = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    if eager is None:
        raise RuntimeError(
            f"{type(module).__name__} ran with trf-hf's segment attention outside a packed call "
            f"and its own attention ({name!r}) could not be found; load the model again"
        )
    return eager


_registered: bool | None = None


def register() -> bool:
    """Add the segment attention to transformers' registries, once; False where they are missing
    (transformers older than 4.53), and the segment mode is then unavailable."""
    global _registered
    if _registered is None:
        try:
            from transformers import AttentionInterface
            from transformers.masking_utils import AttentionMaskInterface
        except ImportError:
            _registered = False
        else:
            AttentionInterface.register(NAME, _segment_attention)
            AttentionMaskInterface.register(NAME, _segment_mask)
            _registered = True
    return _registered


def _name_before(config: Any) -> str:
    """The attention name ``config`` had before packed calls switched it."""
    before = _switched.get(id(config))
    return before[0] if before is not None else "sdpa"


@contextmanager
def attending_by_segment(transformer: Any, runs: tuple[SegmentRun, ...]) -> Iterator[None]:
    """For one call: the model's layers attend within each window of ``runs``, and the model
    builds no mask. The model's attention setting is restored when the last packed call running
    on it ends, errors included."""
    if not register():
        raise RuntimeError("transformers has no attention registry: segment packing is off")
    config = transformer.config
    with _switch_lock:
        name, running = _switched.get(id(config), (config._attn_implementation, 0))
        _switched[id(config)] = (name, running + 1)
        config._attn_implementation = NAME
    token = _LAYOUT.set(runs)
    try:
        yield
    finally:
        _LAYOUT.reset(token)
        with _switch_lock:
            name, running = _switched[id(config)]
            if running == 1:
                del _switched[id(config)]
                config._attn_implementation = name
            else:
                _switched[id(config)] = (name, running - 1)
