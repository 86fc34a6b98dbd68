"""The torch side: run the windows through the transformer and reassemble whole spans.

Windows run in groups of similar length, each cut to its own longest window
(:func:`trf_core.component.windowing.length_groups`): a batch of texts in file order would
otherwise spend most of its compute on padding (bench/bench_throughput.py measures
how much).

Reassembly is plain differentiable indexing, so autograd routes each span position's gradient
back to the one window it was taken from, for the last hidden state and every hidden layer alike.
This module imports torch at module level; only the backend's build functions import it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import torch
from thinc.shims import PyTorchShim
from thinc.types import ArgsKwargs

from trf_core.component.windowing import length_groups

from .packing import ROW_PIECES, packing_mode, run_packed

__all__ = ["CPU_CALL_PIECES", "LONG_SLACK", "HFShim", "SpanRunner"]

LONG_SLACK = (1 / 16, 0)
"""At inference, how much longer than its shortest a group of windows longer than
:data:`~trf_hf.packing.ROW_PIECES` may hold (``length_groups``' ``slack`` and ``min_slack``).

A call of one window of more than :data:`~trf_hf.packing.ROW_PIECES` pieces costs little beyond
its compute, so these groups stay within a sixteenth of their length: documents of 300 words
(one window of about 400 pieces each) computed 18% padding in the default groups (up to half
the shortest, at least 16 pieces), which training and unpacked models keep (a backward pass per
call; many calls of short windows).
"""

CPU_CALL_PIECES = 4096
"""On a CPU, at most this many positions (windows x width) go into one length-group call.

Long documents came in calls of 9 to 12 windows of 512 (batches of 2 docs of about 1,300
pieces, whose windows overlap); this keeps them to the 8 a call of the zero-padding limit holds.
On the idle machine it measured neither faster nor slower (long docs 0.85x the limit with it,
0.86x before; bench/README.md). On a GPU larger calls pay, so there the batch runs as it comes.
Packed rows (short windows) are not cut: a batch's are at most ``batch_size`` short windows.
"""


class SpanRunner(torch.nn.Module):  # type: ignore[misc]
    """A Hugging Face base model plus the window -> span reassembly around it."""

    def __init__(self, transformer: Any) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None,
        gather: torch.Tensor,
        window_span: torch.Tensor,
        window_columns: torch.Tensor,
        n_spans: int,
        span_width: int,
        output_hidden_states: bool,
        output_attentions: bool,
    ) -> dict[str, Any]:
        out = _run_grouped(
            self.transformer,
            input_ids,
            attention_mask,
            token_type_ids,
            output_hidden_states,
            output_attentions,
        )
        result: dict[str, Any] = {
            "last_hidden_state": _reassemble(out["last_hidden_state"], gather, n_spans, span_width)
        }
        if out["pooler_output"] is not None:
            result["pooler_output"] = _mean_per_span(out["pooler_output"], window_span, n_spans)
        if output_hidden_states:
            result["hidden_states"] = tuple(
                _reassemble(h, gather, n_spans, span_width) for h in out["hidden_states"]
            )
        if output_attentions:
            result["attentions"] = tuple(
                _reassemble_attention(a, gather, window_columns, n_spans, span_width)
                for a in out["attentions"]
            )
        return result


def _run_grouped(
    transformer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    output_hidden_states: bool,
    output_attentions: bool,
) -> dict[str, Any]:
    """Run the windows in length groups, each cut to its longest window, and put them back.

    The model's outputs at real positions do not depend on how much padding follows them, so
    running similar lengths together gives the same result as one call over the whole padded
    batch while computing far less on mixed lengths. Outputs come back in the original window
    order, zero at padding positions (never read: the gather skips them), and autograd routes
    gradients through the padding and reordering to each group's call.
    """
    window_width = int(input_ids.shape[1])
    lengths = [int(n) for n in attention_mask.sum(dim=1).tolist()]
    kwargs: dict[str, Any] = {"output_hidden_states": output_hidden_states, "return_dict": True}
    if output_attentions:
        kwargs["output_attentions"] = True
    packed = _packed_part(transformer, input_ids, token_type_ids, lengths, kwargs)
    short = packed[1] if packed is not None else []
    cap = CPU_CALL_PIECES if input_ids.device.type == "cpu" else None
    groups = _groups(lengths, set(short), cap, inference=not torch.is_grad_enabled())
    if packed is not None:
        parts: list[Any] = [packed[0]]
        parts.extend(
            _call_group(transformer, input_ids, attention_mask, token_type_ids, lengths, g, kwargs)
            for g in groups
        )
        return _merged(parts, [short, *groups], window_width, input_ids.device, kwargs)
    if len(groups) == 1 and max(lengths, default=0) == window_width:
        # One group, nothing to cut: call the model once on the batch as it is.
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        out = transformer(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return {
            "last_hidden_state": out.last_hidden_state,
            "pooler_output": getattr(out, "pooler_output", None),
            "hidden_states": out.hidden_states if output_hidden_states else None,
            "attentions": out.attentions if output_attentions else None,
        }
    parts = [
        _call_group(transformer, input_ids, attention_mask, token_type_ids, lengths, group, kwargs)
        for group in groups
    ]
    return _merged(parts, groups, window_width, input_ids.device, kwargs)


def _groups(
    lengths: list[int], packed: set[int], cap: int | None, inference: bool
) -> list[list[int]]:
    """Length groups of the windows not ``packed``, none over ``cap`` positions; at inference
    the windows longer than :data:`~trf_hf.packing.ROW_PIECES` in :data:`LONG_SLACK` groups."""
    rest = [i for i in range(len(lengths)) if i not in packed]
    long_ = [i for i in rest if inference and lengths[i] > ROW_PIECES]
    loose = [i for i in rest if not (inference and lengths[i] > ROW_PIECES)]
    groups = [[loose[j] for j in g] for g in length_groups([lengths[i] for i in loose])]
    tight = length_groups([lengths[i] for i in long_], *LONG_SLACK)
    groups += [[long_[j] for j in g] for g in tight]
    return _capped(groups, lengths, cap)


def _capped(groups: list[list[int]], lengths: list[int], cap: int | None) -> list[list[int]]:
    """Groups cut so that no call computes more than ``cap`` positions (windows x width)."""
    if cap is None:
        return groups
    out: list[list[int]] = []
    for group in groups:
        step = max(1, cap // max(1, max(lengths[i] for i in group)))
        out.extend(group[k : k + step] for k in range(0, len(group), step))
    return out


def _call_group(
    transformer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: list[int],
    group: list[int],
    kwargs: dict[str, Any],
) -> Any:
    """The model on the windows ``group``, cut to the group's longest window."""
    index = torch.as_tensor(group, dtype=torch.long, device=input_ids.device)
    width = max(lengths[i] for i in group)
    call = dict(kwargs)
    if token_type_ids is not None:
        call["token_type_ids"] = token_type_ids.index_select(0, index)[:, :width]
    return transformer(
        input_ids=input_ids.index_select(0, index)[:, :width],
        attention_mask=attention_mask.index_select(0, index)[:, :width],
        **call,
    )


def _merged(
    parts: list[Any],
    groups: list[list[int]],
    window_width: int,
    device: Any,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    merged = _merge_groups(parts, groups, window_width, device)
    if not kwargs.get("output_hidden_states"):
        merged["hidden_states"] = None
    if not kwargs.get("output_attentions"):
        merged["attentions"] = None
    return merged


def _packed_part(
    transformer: Any,
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: list[int],
    kwargs: dict[str, Any],
) -> tuple[Any, list[int]] | None:
    """The short windows run packed (:mod:`trf_hf.packing`), and which windows they are.

    None when packing does not apply: training (autograd graph), attentions asked for (a packed
    row's attention matrix is not a window's), fewer than two short windows, or a model the
    probe found unable to take packed inputs.
    """
    if torch.is_grad_enabled() or kwargs.get("output_attentions"):
        return None
    short = [i for i, n in enumerate(lengths) if 0 < n <= ROW_PIECES]
    if len(short) < 2:
        return None
    mode = packing_mode(transformer)
    if not mode:
        return None
    index = torch.as_tensor(short, dtype=torch.long, device=input_ids.device)
    width = max(lengths[i] for i in short)
    types = None if token_type_ids is None else token_type_ids.index_select(0, index)[:, :width]
    out = run_packed(
        transformer,
        input_ids.index_select(0, index)[:, :width],
        types,
        [lengths[i] for i in short],
        bool(kwargs.get("output_hidden_states")),
        mode,
    )
    return SimpleNamespace(**out), short


def _merge_groups(
    parts: list[Any], groups: list[list[int]], window_width: int, device: Any
) -> dict[str, Any]:
    """The groups' outputs padded back to ``window_width`` and put in the windows' order."""
    order = [i for group in groups for i in group]
    inverse = torch.empty(len(order), dtype=torch.long, device=device)
    inverse[torch.as_tensor(order, dtype=torch.long, device=device)] = torch.arange(
        len(order), device=device
    )

    def merge(tensors: list[torch.Tensor], pad: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        return torch.cat([pad(t) for t in tensors], dim=0).index_select(0, inverse)

    def pad_rows(t: torch.Tensor) -> torch.Tensor:  # (g, w, width) -> (g, W, width)
        return torch.nn.functional.pad(t, (0, 0, 0, window_width - t.shape[1]))

    def pad_square(t: torch.Tensor) -> torch.Tensor:  # (g, heads, w, w) -> (g, heads, W, W)
        extra = window_width - t.shape[-1]
        return torch.nn.functional.pad(t, (0, extra, 0, extra))

    def merge_layers(name: str, pad: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        layers = getattr(parts[0], name, None)
        if layers is None:
            return None
        return tuple(merge([getattr(p, name)[k] for p in parts], pad) for k in range(len(layers)))

    pooled: list[Any] = [getattr(p, "pooler_output", None) for p in parts]
    return {
        "last_hidden_state": merge([p.last_hidden_state for p in parts], pad_rows),
        "pooler_output": None if pooled[0] is None else merge(pooled, lambda t: t),
        "hidden_states": merge_layers("hidden_states", pad_rows),
        "attentions": merge_layers("attentions", pad_square),
    }


def _reassemble(
    windows: torch.Tensor, gather: torch.Tensor, n_spans: int, span_width: int
) -> torch.Tensor:
    """(windows, window_width, width) -> (spans, span_width, width); padding rows are zeros."""
    width = windows.shape[-1]
    rows = windows.reshape(-1, width)
    rows = torch.cat([rows, rows.new_zeros((1, width))], dim=0)
    index = torch.where(gather < 0, rows.shape[0] - 1, gather)
    return rows.index_select(0, index).reshape(n_spans, span_width, width)


def _mean_per_span(pooled: torch.Tensor, window_span: torch.Tensor, n_spans: int) -> torch.Tensor:
    """A span's pooled output: the mean over its windows (the window itself when it fits)."""
    if int(window_span.shape[0]) == n_spans:  # one window a span, in span order: nothing to mix
        return pooled
    total = pooled.new_zeros((n_spans, pooled.shape[-1])).index_add(0, window_span, pooled)
    counts = torch.bincount(window_span, minlength=n_spans).to(pooled.dtype).clamp(min=1)
    return total / counts[:, None]


def _reassemble_attention(
    attention: torch.Tensor,
    gather: torch.Tensor,
    window_columns: torch.Tensor,
    n_spans: int,
    span_width: int,
) -> torch.Tensor:
    """(windows, heads, w, w) -> (spans, heads, L, L).

    Row ``p`` is the attention of the window ``p`` was taken from; columns that window does not
    hold (pieces only other windows saw) are zero.
    """
    n_windows, heads, window_width, _ = attention.shape
    rows = attention.permute(0, 2, 1, 3).reshape(n_windows * window_width, heads, window_width)
    rows = torch.cat([rows, rows.new_zeros((1, heads, window_width))], dim=0)
    rows = torch.cat([rows, rows.new_zeros((rows.shape[0], heads, 1))], dim=2)
    safe = torch.where(gather < 0, n_windows * window_width, gather)
    picked = rows.index_select(0, safe)  # (spans * L, heads, w + 1)
    source_window = torch.where(gather < 0, 0, gather // max(window_width, 1))
    columns = window_columns.index_select(0, source_window)  # (spans * L, L)
    columns = torch.where((gather < 0)[:, None], window_width, columns)
    index = columns[:, None, :].expand(-1, heads, -1)
    full = torch.gather(picked, 2, index)  # (spans * L, heads, L)
    return full.reshape(n_spans, span_width, heads, span_width).permute(0, 2, 1, 3)


class HFShim(PyTorchShim):  # type: ignore[misc]
    """thinc's PyTorch shim, predicting under ``torch.inference_mode``: no autograd graph.

    The model is put in eval mode only when it is not there already, and left there:
    ``begin_update`` puts it back in training mode itself. thinc's shim switches modes both ways
    on every call, which walks every submodule twice a batch (about 1% of ``nlp.pipe``).
    """

    def predict(self, inputs: ArgsKwargs) -> Any:
        if self._model.training:
            self._model.eval()
        with torch.inference_mode():
            with torch.autocast(device_type="cuda", enabled=self._mixed_precision):
                return self._model(*inputs.args, **inputs.kwargs)
