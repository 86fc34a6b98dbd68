"""ONNX Runtime's transformer fusions on an exported encoder, kept only when they verify.

ONNX Runtime runs a traced BERT as hundreds of small operators; its transformer optimizer
(``onnxruntime.transformers.optimizer``) rewrites the known patterns into a handful of fused
kernels: the embeddings and their layer norm (``EmbedLayerNormalization``), each self-attention
block (``Attention``, which dynamic quantization turns into ``QAttention``), bias + GELU
(``BiasGelu``) and residual + layer norm (``SkipLayerNormalization``). It only recognises the
attention pattern that transformers' eager attention traces to, so :func:`eager_attention` is
switched on while tracing (the SDPA pattern leaves every attention unfused).

A fusion that would change the outputs must not ship, so :func:`fuse` runs the fused and the
traced graph on the same inputs and keeps the fused one only when every output agrees to within
1e-4 at real (unpadded) positions; otherwise the traced graph stays as it was. Exporting needs
``onnx`` (``trf-onnx[export]``); the optimizer ships with ``onnxruntime``. ``export-onnx``
applies it only with ``--fuse``: on the project's 2-core machine the fused graph did
not run faster than the plain one (bench/README.md, "ONNX").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy

__all__ = ["FUSION_TOLERANCE", "eager_attention", "fuse"]

FUSION_TOLERANCE = 1e-4
_OPTIMIZER_MODEL_TYPES = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert"}


@contextmanager
def eager_attention(transformer: Any) -> Iterator[None]:
    """Trace with transformers' eager attention (the pattern the fuser knows), then restore."""
    config = transformer.config
    before = getattr(config, "_attn_implementation", None)
    setter = getattr(transformer, "set_attn_implementation", None)
    try:
        if callable(setter):
            setter("eager")
        else:  # transformers 4 before set_attn_implementation: the config is the switch
            config._attn_implementation = "eager"
        yield
    finally:
        if before is not None:
            if callable(setter):
                setter(before)
            else:
                config._attn_implementation = before


def fuse(path: Path, config: Any, feed: dict[str, numpy.ndarray]) -> dict[str, int]:
    """Rewrite the graph at ``path`` with the fused operators if they give the same outputs.

    Returns the fused operators' counts (empty when nothing was fused or the check failed, in
    which case the file is unchanged).
    """
    model_type = _OPTIMIZER_MODEL_TYPES.get(str(getattr(config, "model_type", "")))
    if model_type is None:
        return {}
    from onnxruntime.transformers import optimizer

    logger = logging.getLogger("onnxruntime.transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)  # it logs every fusion it tries; we report the counts
    try:
        fused = optimizer.optimize_model(
            str(path),
            model_type=model_type,
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
        )
    except Exception:  # an unknown graph shape: keep the traced graph
        return {}
    finally:
        logger.setLevel(level)
    counts = {k: int(v) for k, v in fused.get_fused_operator_statistics().items() if v}
    if not counts:
        return {}
    candidate = path.with_name(path.stem + ".fused.onnx")
    fused.save_model_to_file(str(candidate))
    if _agrees(path, candidate, feed):
        candidate.replace(path)
        return counts
    candidate.unlink()
    return {}


def _agrees(reference: Path, candidate: Path, feed: dict[str, numpy.ndarray]) -> bool:
    """Every output of the two graphs on ``feed`` within tolerance, at real positions."""
    from .runtime import make_session

    ref_session, new_session = make_session(str(reference), 1), make_session(str(candidate), 1)
    names = [o.name for o in ref_session.get_outputs()]
    if names != [o.name for o in new_session.get_outputs()]:
        return False
    inputs = [i.name for i in ref_session.get_inputs()]
    if sorted(inputs) != sorted(i.name for i in new_session.get_inputs()):
        return False  # the backend feeds what the export's meta names: the same inputs
    expected = ref_session.run(names, feed)
    got = new_session.run(names, feed)
    real = feed["attention_mask"].astype(bool)
    for a, b in zip(expected, got):
        if a.shape != b.shape:
            return False
        diff = numpy.abs(a[real] - b[real]) if a.ndim == 3 else numpy.abs(a - b)
        if not float(diff.max(initial=0.0)) <= FUSION_TOLERANCE:
            return False
    return True
