"""The registered architecture: ``trf.ONNXTransformerModel.v1``.

Kept free of onnxruntime, tokenizers and trf_core imports so that resolving a config (and
importing ``trf_onnx``) stays cheap; :mod:`trf_onnx.backend` loads the model when first needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from thinc.api import Model

if TYPE_CHECKING:  # importing trf_core here would be circular: trf_core loads this plugin
    from trf_core.contract.types import SpanGetter


def onnx_transformer_model_v1(
    name: str,
    get_spans: SpanGetter,
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
    intra_op_num_threads: int = 0,
    mixed_precision: bool = False,
) -> Model[Any, Any]:
    """An encoder exported by ``trf-core export-onnx``, run by ONNX Runtime (inference only).

    name: the folder the export wrote (model.onnx, tokenizer.json, trf_onnx.json); a pipeline
        loaded from disk reads its own copy from the component's folder instead.
    get_spans: splits each doc into the spans the model reads (the one it was trained with).
    window: the most wordpieces one model input holds (0: the model's maximum).
    stride: how far consecutive windows of a long span move, in wordpieces (0: 3/4 of a window).
    truncate: cut spans longer than a window (warning with counts) instead of windowing them.
    intra_op_num_threads: ONNX Runtime's threads per operator (0: its default, every core).
    mixed_precision: not supported (an error says so); int8 comes from ``--quantize int8``.
    """
    if mixed_precision:
        from .errors import UnsupportedSettingError

        raise UnsupportedSettingError(
            "mixed_precision is not supported by the ONNX backend, which runs on the CPU in the "
            "precision it was exported in; for a faster, smaller model export with "
            "`trf-core export-onnx PIPELINE OUTPUT --quantize int8`"
        )
    from .backend import build_onnx_backend

    return build_onnx_backend(
        name,
        get_spans,
        window=window,
        stride=stride,
        truncate=truncate,
        intra_op_num_threads=intra_op_num_threads,
    )


ONNXTransformerModel = onnx_transformer_model_v1
"""The Python spelling: ``ONNXTransformerModel(folder, get_spans=...)``."""

ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "trf.ONNXTransformerModel.v1": onnx_transformer_model_v1,
}
"""Every name trf-onnx registers, as the plugin hook and the catalogue entry point declare."""
