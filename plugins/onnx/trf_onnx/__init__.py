"""trf-onnx: run trf-core pipelines on ONNX Runtime, without torch.

``trf.ONNXTransformerModel.v1`` is an inference-only backend for encoders exported from trf-hf
with ``trf-core export-onnx`` (:mod:`trf_onnx.export`, which needs torch, at export time only).
Importing this package imports neither onnxruntime nor torch.
"""

from __future__ import annotations

from .architectures import ARCHITECTURES, ONNXTransformerModel, onnx_transformer_model_v1
from .errors import TrainingNotSupportedError, UnsupportedSettingError

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURES",
    "ONNXTransformerModel",
    "TrainingNotSupportedError",
    "UnsupportedSettingError",
    "__version__",
    "onnx_transformer_model_v1",
]
