"""trf-onnx's plugin module: the entry point trf-core loads (group ``trf_core``, name ``onnx``).

Importing it stays cheap: onnxruntime and tokenizers are imported when a model is loaded.
"""

from __future__ import annotations

from trf_core.plugins.hookspecs import ConfigureFunction, hookimpl

from .architectures import ARCHITECTURES


@hookimpl
def trf_cli_commands() -> dict[str, str]:
    """``trf-core export-onnx``."""
    return {"export-onnx": "trf_onnx.cli_export"}


@hookimpl
def trf_model_backends() -> dict[str, ConfigureFunction]:
    """``trf.ONNXTransformerModel.v1``."""
    return dict(ARCHITECTURES)
