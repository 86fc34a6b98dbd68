"""Span getters for trf-core: which (possibly overlapping) spans of each doc the transformer reads.

Registered with the core through the ``trf_core`` entry point (see :mod:`.plugin`); configs name
them as ``@span_getters = "..."``. The functions are importable for use in Python, too.
"""

from .paragraphs import configure_paragraph_spans, paragraph_bounds
from .sentences import (
    configure_get_sent_spans,
    configure_packed_sent_spans,
    configure_sent_context_spans,
    get_sent_spans,
    packed_bounds,
    sent_context_bounds,
)
from .strided import configure_strided_spans, get_strided_spans, strided_bounds
from .whole import configure_get_doc_spans, get_doc_spans

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "configure_get_doc_spans",
    "configure_get_sent_spans",
    "configure_packed_sent_spans",
    "configure_paragraph_spans",
    "configure_sent_context_spans",
    "configure_strided_spans",
    "get_doc_spans",
    "get_sent_spans",
    "get_strided_spans",
    "packed_bounds",
    "paragraph_bounds",
    "sent_context_bounds",
    "strided_bounds",
]
