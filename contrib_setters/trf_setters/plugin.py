"""The trf-core plugin entry point: registers this distribution's annotation setters.

Kept cheap to import: the setter modules load only when the core asks for the names.
"""

from collections.abc import Callable
from typing import Any

from trf_core.plugins.hookspecs import hookimpl


@hookimpl
def trf_annotation_setters() -> dict[str, Callable[..., Any]]:
    """Registry name -> configure function, resolved from configs as ``@annotation_setters``."""
    from .doc_embedding import configure_doc_embedding
    from .null import configure_null_annotation_setter
    from .token_vectors import configure_token_vectors

    return {
        "spacy-transformer.null_annotation_setter.v1": configure_null_annotation_setter,
        "spacy-transformers.null_annotation_setter.v1": configure_null_annotation_setter,
        "trf.token_vectors.v1": configure_token_vectors,
        "trf.doc_embedding.v1": configure_doc_embedding,
    }
