"""Annotation setters for trf-core: write what the transformer computed onto the docs.

An annotation setter is ``Callable[[list[Doc], FullTransformerBatch], None]``. Registered with the
core through the ``trf_core`` entry point (see :mod:`.plugin`); configs name them as
``@annotation_setters = "..."``. This package does not import trf_core at import time (the core
imports it while loading plugins).
"""

from .doc_embedding import DocEmbeddingSetter, configure_doc_embedding
from .null import configure_null_annotation_setter, null_annotation_setter
from .token_vectors import TokenVectorSetter, configure_token_vectors

__version__ = "0.1.0"

__all__ = [
    "DocEmbeddingSetter",
    "TokenVectorSetter",
    "__version__",
    "configure_doc_embedding",
    "configure_null_annotation_setter",
    "configure_token_vectors",
    "null_annotation_setter",
]
