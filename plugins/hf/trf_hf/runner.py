"""The torch side: run the windows through the transformer and reassemble whole spans.

Reassembly is plain differentiable indexing, so autograd routes each span position's gradient
back to the one window it was taken from, for the last hidden state and every hidden layer alike.
This module imports torch at module level; only the backend's build functions import it.
"""

from __future__ import annotations

from typing import Any

import torch
from thinc.shims import PyTorchShim
from thinc.types import ArgsKwargs


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
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "output_hidden_states": output_hidden_states,
            "return_dict": True,
        }
        if output_attentions:
            kwargs["output_attentions"] = True
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        out = self.transformer(**kwargs)
        result: dict[str, Any] = {
            "last_hidden_state": _reassemble(out.last_hidden_state, gather, n_spans, span_width)
        }
        pooled = getattr(out, "pooler_output", None)
        if pooled is not None:
            result["pooler_output"] = _mean_per_span(pooled, window_span, n_spans)
        if output_hidden_states:
            result["hidden_states"] = tuple(
                _reassemble(h, gather, n_spans, span_width) for h in out.hidden_states
            )
        if output_attentions:
            result["attentions"] = tuple(
                _reassemble_attention(a, gather, window_columns, n_spans, span_width)
                for a in out.attentions
            )
        return result


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
    """thinc's PyTorch shim, predicting under ``torch.inference_mode``: no autograd graph."""

    def predict(self, inputs: ArgsKwargs) -> Any:
        self._model.eval()
        with torch.inference_mode():
            with torch.autocast(device_type="cuda", enabled=self._mixed_precision):
                outputs = self._model(*inputs.args, **inputs.kwargs)
        self._model.train()
        return outputs
