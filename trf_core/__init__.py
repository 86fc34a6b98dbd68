"""trf-core: pretrained transformers in spaCy pipelines, as a plugin platform.

The public surface lives here and nowhere else; submodules are implementation.
"""

from __future__ import annotations

from .data import FullTransformerBatch, ModelOutput, TransformerData, WordpieceBatch
from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

__all__ = [
    "FullTransformerBatch",
    "ModelOutput",
    "TransformerData",
    "WordpieceBatch",
    "__version__",
    "hookimpl",
    "hookspec",
]
