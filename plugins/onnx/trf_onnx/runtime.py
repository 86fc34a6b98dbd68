"""Run a window plan through an ONNX Runtime session and put whole spans back together.

The numpy counterpart of trf-hf's torch runner: windows run in groups of exactly one length
(:func:`trf_core.component.windowing.length_groups` with no slack), so no padding is computed,
and every span position is then taken from the window the plan chose for it. A session call
costs little beyond its operators (no Python per operator, unlike eager torch), so many small
exact groups beat fewer padded ones. Only the outputs asked for are fetched from the session, so
a pipeline without hidden-state listeners never copies the inner layers out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy
from thinc.types import Floats2d, Floats3d

from trf_core.component.windowing import WindowPlan, length_groups

LAST = "last_hidden_state"
POOLED = "pooler_output"


def hidden_state_name(layer: int) -> str:
    """The ONNX output name of hidden state ``layer`` (0 is the embedding output)."""
    return f"hidden_state_{layer}"


def make_session(model: str | bytes, intra_op_num_threads: int = 0) -> Any:
    """A CPU inference session; ``intra_op_num_threads = 0`` lets ONNX Runtime decide."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(intra_op_num_threads)
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )


@dataclass
class WindowOutputs:
    """The session's outputs for a batch's windows, as its calls gave them (no copy yet)."""

    groups: list[list[int]]
    """The windows each call ran, by their index in the plan."""
    values: dict[str, list[numpy.ndarray]]
    """Per output name, one array per call: ``(windows, call width, ...)`` (pooled: no width)."""
    window_width: int

    def span_rows(self, plan: WindowPlan) -> tuple[numpy.ndarray, numpy.ndarray | None]:
        """For every span position, its row in the calls' outputs laid end to end (flat); and
        which positions are padding (None when none is)."""
        starts = numpy.empty(sum(len(g) for g in self.groups), dtype="int64")
        offset = 0
        for group, value in zip(self.groups, self.values[LAST]):
            width = int(value.shape[1])
            starts[group] = offset + numpy.arange(len(group), dtype="int64") * width
            offset += len(group) * width
        gather = plan.gather
        padding = gather < 0
        safe = numpy.where(padding, 0, gather)
        rows = starts[safe // self.window_width] + safe % self.window_width
        return rows, (padding if padding.any() else None)


def run_windows(
    session: Any, plan: WindowPlan, outputs: list[str], with_type_ids: bool
) -> WindowOutputs:
    """Each requested output for every window, one array per call of exactly one length."""
    ids, mask, types = plan.window_ids, plan.window_mask, plan.window_type_ids
    lengths = [int(n) for n in mask.sum(axis=1)]
    groups = length_groups(lengths, slack=0.0, min_slack=0)
    values: dict[str, list[numpy.ndarray]] = {name: [] for name in outputs}
    for group in groups:
        index = numpy.asarray(group, dtype="int64")
        width = max(lengths[i] for i in group)
        feed = {"input_ids": ids[index, :width], "attention_mask": mask[index, :width]}
        if with_type_ids:
            feed["token_type_ids"] = (
                numpy.zeros_like(feed["input_ids"]) if types is None else types[index, :width]
            )
        for name, value in zip(outputs, session.run(outputs, feed)):
            values[name].append(value)
    return WindowOutputs(groups=groups, values=values, window_width=int(ids.shape[1]))


def reassemble(
    out: WindowOutputs,
    name: str,
    rows: numpy.ndarray,
    padding: numpy.ndarray | None,
    plan: WindowPlan,
) -> Floats3d:
    """Output ``name`` as ``(spans, span_width, width)``: the calls' outputs joined end to end
    (no copy when there was one call), then one gather (``rows`` and ``padding`` from
    :meth:`WindowOutputs.span_rows`); zeros at padding.

    Scattering the calls' outputs into a padded window array and gathering the spans from that
    wrote every output into two fresh arrays each batch, one of them padded.
    """
    parts = out.values[name]
    width = int(parts[0].shape[-1])
    flat = [p.reshape(-1, width) for p in parts]
    source = flat[0] if len(flat) == 1 else numpy.concatenate(flat)
    spans = numpy.take(source, rows, axis=0).astype("float32", copy=False)
    if padding is not None:
        spans[padding] = 0.0
    return cast(Floats3d, spans.reshape(plan.n_spans, plan.span_width, width))


def mean_per_span(out: WindowOutputs, plan: WindowPlan) -> Floats2d:
    """A span's pooled output: the mean over its windows (the window itself when it fits)."""
    n_windows = sum(len(g) for g in out.groups)
    pooled = numpy.empty((n_windows, out.values[POOLED][0].shape[-1]), dtype="float32")
    for group, value in zip(out.groups, out.values[POOLED]):
        pooled[group] = value
    total = numpy.zeros((plan.n_spans, pooled.shape[-1]), dtype="float32")
    numpy.add.at(total, plan.window_span, pooled)
    counts = numpy.bincount(plan.window_span, minlength=plan.n_spans).clip(min=1)
    return cast(Floats2d, total / counts[:, None].astype("float32"))
