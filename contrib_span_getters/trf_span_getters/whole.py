"""Each doc as one span: right when docs are short enough for the model's maximum length.

A longer doc is still read whole: the backend windows what exceeds the model's length.
An empty doc gets no span (spacy-transformers gave it one empty span); the component gives such
a doc empty transformer data, so nothing downstream changes.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span

from ._checks import as_doc_list

if TYPE_CHECKING:  # the core is not imported at run time: it loads this plugin
    from trf_core.contract.types import SpanGetter


def get_doc_spans(docs: Iterable[Doc]) -> list[list[Span]]:
    """One span per non-empty doc, covering all of it; no span for an empty doc."""
    return [[doc[:]] if len(doc) else [] for doc in as_doc_list(docs, "doc_spans.v1")]


def configure_get_doc_spans() -> "SpanGetter":
    """``doc_spans.v1`` / ``spacy-transformers.doc_spans.v1``: takes no settings."""
    return get_doc_spans
