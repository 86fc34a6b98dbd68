"""The errors that say what the ONNX backend cannot do, and what to do instead."""

from __future__ import annotations


class TrainingNotSupportedError(NotImplementedError):
    """The ONNX backend runs inference only: there are no gradients through ONNX Runtime."""


TRAINING_MESSAGE = (
    "the ONNX Runtime backend (trf-onnx, trf.ONNXTransformerModel.v1) runs inference only: it "
    "cannot compute gradients or update the transformer's weights. Train (or fine-tune) the "
    "pipeline with trf-hf (spacy-transformers.TransformerModel.v3), then convert it again with "
    "`trf-core export-onnx PIPELINE OUTPUT`. To train only the downstream components on the "
    "exported transformer's fixed outputs, set `frozen = true` on the transformer component."
)


class UnsupportedSettingError(ValueError):
    """A setting trf-hf honours that an exported ONNX encoder cannot."""
