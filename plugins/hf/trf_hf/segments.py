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
attention and mask, so it is never wrong, only unpacked. Gradient checkpointing runs a layer's
forward again in backward, after the switch back, so the runner packs those calls in masked rows
(:func:`trf_hf.runner._recomputes_forward`).

Whether a model takes this path at all is probed like the masked modes
(:func:`trf_hf.packing.packing_mode`): an architecture whose layers do not read the registry
(BERT and RoBERTa on transformers 4, among others), or a transformers without it (older than
4.53), fails the probe and keeps the masked rows.
"""

from __future__ import annotations

import sys
import threading
import weakref
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

_originals: dict[int, str] = {}
"""Per config ever switched (by ``id``, dropped when the config is): its own attention name.
Kept here, not on the config, which would write it into a saved config.json; and kept for the
config's life, so a call that read the switched name just before the switch back still finds
the original."""
_running: dict[int, int] = {}
"""Per switched config: how many packed calls are running on it."""
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


_UNSUPPORTED_OPTIONS = ("sliding_window", "softcap", "s_aux", "position_bias")
"""Attention options this function does not implement. A layer passing one gets an error, so
the probe refuses the mode rather than letting a window see past its sliding window."""


def _segment_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, Any]:
    """Registered attention: ``query`` etc. are ``(1, heads, pieces, head_size)``; the output is
    ``(1, pieces, heads, head_size)``, what transformers' own implementations return."""
    runs = _LAYOUT.get()
    if runs is None:
        return _original_attention(module)(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    given = [name for name in _UNSUPPORTED_OPTIONS if kwargs.get(name) is not None]
    if given or getattr(module, "is_causal", False):
        raise NotImplementedError(
            f"{type(module).__name__} asks for {given or 'causal attention'}, which segment "
            "packing does not implement"
        )
    options: dict[str, Any] = {"dropout_p": dropout, "scale": scaling}
    if int(key.shape[1]) != int(query.shape[1]):
        options["enable_gqa"] = True  # torch >= 2.5; older ones fail the probe here
    outputs = [
        torch.nn.functional.scaled_dot_product_attention(
            _windows(query, run), _windows(key, run), _windows(value, run), **options
        )  # (count, heads, length, head_size)
        .transpose(1, 2)
        .flatten(0, 1)
        for run in runs
    ]
    joined = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)
    return joined[None], None


def _windows(t: torch.Tensor, run: SegmentRun) -> torch.Tensor:
    """``run``'s part of a ``(1, heads, pieces, size)`` tensor, as ``(count, heads, length,
    size)``."""
    stop = run.start + run.count * run.length
    return t[0, :, run.start : stop].unflatten(1, (run.count, run.length)).transpose(0, 1)


def _segment_mask(*args: Any, **kwargs: Any) -> Any:
    """Registered mask builder: no mask while a layout is active; otherwise the original's."""
    if _LAYOUT.get() is not None:
        return None
    name = _name_before(kwargs.get("config"))
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    return ALL_MASK_ATTENTION_FUNCTIONS[name](*args, **kwargs)


def _original_attention(module: Any) -> Any:
    """The attention function the model had before the switch; for eager, the model's own
    ``eager_attention_forward`` (transformers keeps it beside each architecture's layers), or
    transformers' SDPA attention, which takes the eager mask builder's additive masks too, where
    an architecture keeps none."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    name = _name_before(module.config)
    if name != "eager" and name in ALL_ATTENTION_FUNCTIONS:
        return ALL_ATTENTION_FUNCTIONS[name]
    eager = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    return eager if eager is not None else ALL_ATTENTION_FUNCTIONS["sdpa"]


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
    return _originals.get(id(config), "sdpa")


@contextmanager
def attending_by_segment(transformer: Any, runs: tuple[SegmentRun, ...]) -> Iterator[None]:
    """For one call: the model's layers attend within each window of ``runs``, and the model
    builds no mask. The model's attention setting is restored when the last packed call running
    on it ends, errors included.

    A model whose config has sub-configs is refused: switching the name writes it into every
    sub-config, and putting back one name would overwrite their own.
    """
    if not register():
        raise RuntimeError("transformers has no attention registry: segment packing is off")
    config = transformer.config
    if getattr(config, "sub_configs", None):
        raise NotImplementedError("segment packing switches one config; this model has several")
    key = id(config)
    with _switch_lock:
        if not _running.get(key):
            if key not in _originals:
                weakref.finalize(config, _originals.pop, key, None)
            _originals[key] = config._attn_implementation
            config._attn_implementation = NAME
        _running[key] = _running.get(key, 0) + 1
    try:
        token = _LAYOUT.set(runs)
        try:
            yield
        finally:
            _LAYOUT.reset(token)
    finally:
        with _switch_lock:
            _running[key] -= 1
            if not _running[key]:
                del _running[key]
                config._attn_implementation = _originals[key]
