"""Run a window plan through an ONNX Runtime session and put whole spans back together.

The numpy counterpart of trf-hf's torch runner: windows run in groups of exactly one length
(:func:`trf_core.component.windowing.length_groups` with no slack), so no padding is computed,
and every span position is then taken from the window the plan chose for it. A session call
costs little beyond its operators (no Python per operator, unlike eager torch), so many small
exact groups beat fewer padded ones. Only the outputs asked for are fetched from the session, so
a pipeline without hidden-state listeners never copies the inner layers out.
"""

from __future__ import annotations

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


def run_windows(
    session: Any, plan: WindowPlan, outputs: list[str], with_type_ids: bool
) -> dict[str, numpy.ndarray]:
    """Each requested output for every window, shaped ``(n_windows, window_width, ...)``.

    Positions past a window's real length hold whatever its group's call gave there (or zeros
    past the group's width): padding, which the gather never reads.
    """
    ids, mask, types = plan.window_ids, plan.window_mask, plan.window_type_ids
    n_windows, window_width = ids.shape
    lengths = [int(n) for n in mask.sum(axis=1)]
    results: dict[str, numpy.ndarray] = {}
    for group in length_groups(lengths, slack=0.0, min_slack=0):
        index = numpy.asarray(group, dtype="int64")
        width = max(lengths[i] for i in group)
        feed = {"input_ids": ids[index, :width], "attention_mask": mask[index, :width]}
        if with_type_ids:
            feed["token_type_ids"] = (
                numpy.zeros_like(feed["input_ids"]) if types is None else types[index, :width]
            )
        values = session.run(outputs, feed)
        for name, value in zip(outputs, values):
            if name not in results:
                lead = (n_windows,) if name == POOLED else (n_windows, window_width)
                tail = value.shape[len(lead) :]
                results[name] = numpy.zeros((*lead, *tail), dtype="float32")
            if name == POOLED:
                results[name][index] = value
            else:
                results[name][index, :width] = value
    return results


def reassemble(windows: numpy.ndarray, plan: WindowPlan) -> Floats3d:
    """(windows, window_width, width) -> (spans, span_width, width); padding rows are zeros."""
    width = windows.shape[-1]
    rows = windows.reshape(-1, width)
    gather = plan.gather
    out = numpy.zeros((gather.shape[0], width), dtype="float32")
    real = gather >= 0
    out[real] = rows[gather[real]]
    return cast(Floats3d, out.reshape(plan.n_spans, plan.span_width, width))


def mean_per_span(pooled: numpy.ndarray, plan: WindowPlan) -> Floats2d:
    """A span's pooled output: the mean over its windows (the window itself when it fits)."""
    total = numpy.zeros((plan.n_spans, pooled.shape[-1]), dtype="float32")
    numpy.add.at(total, plan.window_span, pooled)
    counts = numpy.bincount(plan.window_span, minlength=plan.n_spans).clip(min=1)
    return cast(Floats2d, total / counts[:, None].astype("float32"))
