"""Model calls' outputs -> whole spans, in one gather per output.

A batch's windows run in several calls (length groups, a packed call), each giving its outputs in
its own layout: a group call ``(windows, group width, hidden)``, a packed call rows of several
windows laid end to end. Every call's output is kept flat, ``(rows, hidden)``, with the flat row
where each of its windows starts (:class:`WindowPart`), so each span position's row is found by
arithmetic and the spans come out of one ``index_select`` over the calls' rows joined end to end
(no join when there was one call). Padding each call back to the batch's window width, putting
the windows in order and then gathering the span rows would copy every output three times; on a
2-core CPU each of those copies touched fresh memory (bench/README.md, "Results (7 Dec 2026)").

Every step is differentiable indexing, so autograd routes each span position's gradient back to
the one window it was read from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "WindowPart",
    "gather_spans",
    "mean_per_span",
    "part_of_group",
    "span_index",
    "window_order",
]


@dataclass
class WindowPart:
    """One model call's outputs, flat, and where its windows start in them."""

    windows: list[int]
    """The batch's windows this call ran, by their index in the batch."""
    starts: torch.Tensor
    """``starts[k]``: the flat row of ``windows[k]``'s first piece (long, the outputs' device)."""
    last: torch.Tensor
    """The last hidden state, ``(rows, hidden)``."""
    states: tuple[torch.Tensor, ...] | None
    """Every hidden state, each ``(rows, hidden)``, when asked for."""
    pooled: torch.Tensor | None
    """The pooler's output per window, ``(len(windows), hidden)``, where the model has one."""
    attentions: tuple[torch.Tensor, ...] | None = None
    """Per layer ``(windows, heads, width, width)``: group calls only, when asked for."""


def part_of_group(windows: list[int], out: object, width: int) -> WindowPart:
    """A group call's outputs (``(windows, width, hidden)`` each) as a :class:`WindowPart`."""
    last = out.last_hidden_state  # type: ignore[attr-defined]
    hidden = int(last.shape[-1])
    states = getattr(out, "hidden_states", None)
    return WindowPart(
        windows=windows,
        starts=torch.arange(len(windows), device=last.device) * width,
        last=last.reshape(-1, hidden),
        states=None if states is None else tuple(h.reshape(-1, hidden) for h in states),
        pooled=getattr(out, "pooler_output", None),
        attentions=getattr(out, "attentions", None),
    )


def span_index(
    parts: Sequence[WindowPart], gather: torch.Tensor, window_width: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """For every span position, its row in the parts' rows laid end to end; and which positions
    are padding (``gather < 0``; None when none is), whose index is 0 and whose output is zeroed
    afterwards.

    ``gather[p] = window * window_width + column`` (the plan's layout); the window's part gives
    where that window starts, and the column is added to it.
    """
    n_windows = sum(len(p.windows) for p in parts)
    device = gather.device
    starts = torch.empty(n_windows, dtype=torch.long, device=device)
    offset = 0
    for part in parts:
        windows = torch.as_tensor(part.windows, dtype=torch.long, device=device)
        starts[windows] = part.starts.to(device) + offset
        offset += int(part.last.shape[0])
    padding = gather < 0
    safe = gather.clamp(min=0)
    index = starts.index_select(0, safe // max(window_width, 1)) + safe % max(window_width, 1)
    if not bool(padding.any()):
        return index, None
    return index.masked_fill_(padding, 0), padding


def gather_spans(
    flats: Sequence[torch.Tensor],
    index: torch.Tensor,
    padding: torch.Tensor | None,
    n_spans: int,
    span_width: int,
) -> torch.Tensor:
    """``(spans, span_width, hidden)`` from the parts' flat rows; zeros at padding positions.

    The zeros are written in place: ``index_select`` keeps only its index for the backward pass,
    so autograd allows it, and it spares another copy of the output.
    """
    rows = flats[0] if len(flats) == 1 else torch.cat(list(flats), dim=0)
    out = rows.index_select(0, index)
    if padding is not None:
        out.masked_fill_(padding[:, None], 0.0)
    return out.reshape(n_spans, span_width, rows.shape[-1])


def mean_per_span(
    parts: Sequence[WindowPart], window_span: torch.Tensor, n_spans: int
) -> torch.Tensor | None:
    """A span's pooled output: the mean of its windows' (the window's own when it fits one)."""
    per_part = [p.pooled for p in parts if p.pooled is not None]
    if len(per_part) != len(parts):
        return None
    pooled = per_part[0] if len(per_part) == 1 else torch.cat(per_part)
    inverse = window_order(parts, pooled.device)
    if inverse is not None:
        pooled = pooled.index_select(0, inverse)
    if int(window_span.shape[0]) == n_spans:  # one window a span, in span order: nothing to mix
        return pooled
    total = pooled.new_zeros((n_spans, pooled.shape[-1])).index_add(0, window_span, pooled)
    counts = torch.bincount(window_span, minlength=n_spans).to(pooled.dtype).clamp(min=1)
    return total / counts[:, None]


def window_order(parts: Sequence[WindowPart], device: torch.device) -> torch.Tensor | None:
    """Where each window's row sits in the parts' per-window outputs laid end to end (select with
    it to put them in window order); None when they already are."""
    order = [w for p in parts for w in p.windows]
    if order == list(range(len(order))):
        return None
    inverse = torch.empty(len(order), dtype=torch.long, device=device)
    inverse[torch.as_tensor(order, dtype=torch.long, device=device)] = torch.arange(
        len(order), device=device
    )
    return inverse
