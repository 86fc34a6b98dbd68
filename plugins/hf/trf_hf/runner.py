"""The torch side: run the windows through the transformer and reassemble whole spans.

Windows run in groups of similar length, each cut to its own longest window
(:func:`trf_core.component.windowing.length_groups`), and short windows run packed
(:mod:`trf_hf.packing`): a batch of texts in file order would
otherwise spend most of its compute on padding (bench/bench_throughput.py measures
how much).

Reassembly (:mod:`trf_hf.reassembly`) is plain differentiable indexing, so autograd routes each
span position's gradient back to the one window it was taken from, for the last hidden state and
every hidden layer alike.
This module imports torch at module level; only the backend's build functions import it.
"""

from __future__ import annotations

from typing import Any

import torch
from thinc.shims import PyTorchShim
from thinc.types import ArgsKwargs

from trf_core.component.windowing import length_groups

from .packing import ROW_PIECES, SEGMENTS, masked_packing_mode, packing_mode, run_packed
from .reassembly import (
    WindowPart,
    gather_spans,
    mean_per_span,
    part_of_group,
    span_index,
    window_order,
)

__all__ = ["CPU_CALL_PIECES", "LONG_SLACK", "HFShim", "SpanRunner"]

LONG_SLACK = (1 / 16, 0)
"""At inference, how much longer than its shortest a group of windows longer than
:data:`~trf_hf.packing.ROW_PIECES` may hold (``length_groups``' ``slack`` and ``min_slack``).

A call of one window of more than :data:`~trf_hf.packing.ROW_PIECES` pieces costs little beyond
its compute, so these groups stay within a sixteenth of their length: documents of 300 words
(one window of about 400 pieces each) computed 18% padding in the default groups (up to half
the shortest, at least 16 pieces), which training and unpacked models keep (in training, a
backward pass per call; unpacked, many calls of short windows).
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
        parts = _run_parts(
            self.transformer,
            input_ids,
            attention_mask,
            token_type_ids,
            output_hidden_states,
            output_attentions,
        )
        window_width = int(input_ids.shape[1])
        index, padding = span_index(parts, gather, window_width)

        def spans(flats: list[torch.Tensor]) -> torch.Tensor:
            return gather_spans(flats, index, padding, n_spans, span_width)

        result: dict[str, Any] = {"last_hidden_state": spans([p.last for p in parts])}
        pooled = mean_per_span(parts, window_span, n_spans)
        if pooled is not None:
            result["pooler_output"] = pooled
        if output_hidden_states:
            layers = [p.states or () for p in parts]
            result["hidden_states"] = tuple(
                spans([states[k] for states in layers]) for k in range(len(layers[0]))
            )
        if output_attentions:
            result["attentions"] = tuple(
                _reassemble_attention(a, gather, window_columns, n_spans, span_width)
                for a in _attentions_in_order(parts, window_width, input_ids.device)
            )
        return result


def _run_parts(
    transformer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    output_hidden_states: bool,
    output_attentions: bool,
) -> list[WindowPart]:
    """Run the windows in length groups, each cut to its longest window (and the short ones
    packed), one :class:`~trf_hf.reassembly.WindowPart` a call.

    The model's outputs at real positions do not depend on how much padding follows them, so
    running similar lengths together gives the same result as one call over the whole padded
    batch while computing far less on mixed lengths.
    """
    window_width = int(input_ids.shape[1])
    lengths = [int(n) for n in attention_mask.sum(dim=1).tolist()]
    kwargs: dict[str, Any] = {"output_hidden_states": output_hidden_states, "return_dict": True}
    if output_attentions:
        kwargs["output_attentions"] = True
    packed = _packed_part(transformer, input_ids, token_type_ids, lengths, kwargs)
    cap = CPU_CALL_PIECES if input_ids.device.type == "cpu" else None
    short = set(packed.windows) if packed is not None else set()
    groups = _groups(lengths, short, cap, inference=not torch.is_grad_enabled())
    if packed is None and len(groups) == 1 and max(lengths, default=0) == window_width:
        # One group, nothing to cut: call the model once on the batch as it is.
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        out = transformer(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return [part_of_group(list(range(len(lengths))), out, window_width)]
    parts = [] if packed is None else [packed]
    parts.extend(
        _call_group(transformer, input_ids, attention_mask, token_type_ids, lengths, g, kwargs)
        for g in groups
    )
    return parts


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
) -> WindowPart:
    """The model on the windows ``group``, cut to the group's longest window."""
    index = torch.as_tensor(group, dtype=torch.long, device=input_ids.device)
    width = max(lengths[i] for i in group)
    call = dict(kwargs)
    if token_type_ids is not None:
        call["token_type_ids"] = token_type_ids.index_select(0, index)[:, :width]
    out = transformer(
        input_ids=input_ids.index_select(0, index)[:, :width],
        attention_mask=attention_mask.index_select(0, index)[:, :width],
        **call,
    )
    return part_of_group(group, out, width)


def _packed_part(
    transformer: Any,
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: list[int],
    kwargs: dict[str, Any],
) -> WindowPart | None:
    """The short windows run packed (:mod:`trf_hf.packing`).

    None when packing does not apply: attentions asked for (a packed row's attention matrix is
    not a window's), fewer than two short windows, or a model the probe found unable to take
    packed inputs. Under gradient checkpointing the masked rows stand in for the segment row.
    """
    if kwargs.get("output_attentions"):
        return None
    short = [i for i, n in enumerate(lengths) if 0 < n <= ROW_PIECES]
    if len(short) < 2:
        return None
    mode = packing_mode(transformer)
    if mode == SEGMENTS and _recomputes_forward(transformer):
        mode = masked_packing_mode(transformer)
    if not mode:
        return None
    index = torch.as_tensor(short, dtype=torch.long, device=input_ids.device)
    width = max(lengths[i] for i in short)
    types = None if token_type_ids is None else token_type_ids.index_select(0, index)[:, :width]
    part = run_packed(
        transformer,
        input_ids.index_select(0, index)[:, :width],
        types,
        [lengths[i] for i in short],
        bool(kwargs.get("output_hidden_states")),
        mode,
    )
    part.windows = short
    return part


def _recomputes_forward(transformer: Any) -> bool:
    """Whether backward will run the layers' forward again (gradient checkpointing in training):
    by then the packed call has ended and the model attends over the whole row again."""
    if not (transformer.training and torch.is_grad_enabled()):
        return False
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):  # new, old name
        if hasattr(type(transformer), name):
            return bool(getattr(transformer, name))
    return False


def _attentions_in_order(
    parts: list[WindowPart], window_width: int, device: Any
) -> tuple[torch.Tensor, ...]:
    """Per layer, the group calls' attentions padded to ``window_width`` in the windows' order:
    ``(windows, heads, window_width, window_width)``. Only group calls run with attentions."""
    inverse = window_order(parts, device)

    def pad_square(t: torch.Tensor) -> torch.Tensor:  # (g, heads, w, w) -> (g, heads, W, W)
        extra = window_width - t.shape[-1]
        return torch.nn.functional.pad(t, (0, extra, 0, extra))

    def in_order(t: torch.Tensor) -> torch.Tensor:
        return t if inverse is None else t.index_select(0, inverse)

    layers = [part.attentions or () for part in parts]
    return tuple(
        in_order(torch.cat([pad_square(attentions[k]) for attentions in layers], dim=0))
        for k in range(len(layers[0]))
    )


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
