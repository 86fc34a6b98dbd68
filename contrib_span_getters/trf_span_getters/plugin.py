"""The trf-core plugin entry point: registers this distribution's span getters.

Kept cheap to import: the getter modules load only when the core asks for the names.
"""

from collections.abc import Callable
from typing import Any

from trf_core.plugins.hookspecs import hookimpl


@hookimpl
def trf_span_getters() -> dict[str, Callable[..., Any]]:
    """Registry name -> configure function, resolved from configs as ``@span_getters``."""
    from .paragraphs import configure_paragraph_spans
    from .sentences import (
        configure_get_sent_spans,
        configure_packed_sent_spans,
        configure_sent_context_spans,
    )
    from .strided import configure_strided_spans
    from .whole import configure_get_doc_spans

    return {
        "doc_spans.v1": configure_get_doc_spans,
        "spacy-transformers.doc_spans.v1": configure_get_doc_spans,
        "sent_spans.v1": configure_get_sent_spans,
        "spacy-transformers.sent_spans.v1": configure_get_sent_spans,
        "strided_spans.v1": configure_strided_spans,
        "spacy-transformers.strided_spans.v1": configure_strided_spans,
        "trf.sent_context_spans.v1": configure_sent_context_spans,
        "trf.packed_sent_spans.v1": configure_packed_sent_spans,
        "trf.paragraph_spans.v1": configure_paragraph_spans,
    }
