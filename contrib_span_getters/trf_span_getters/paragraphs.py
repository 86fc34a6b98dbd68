"""Paragraphs as spans: text split at blank lines.

A paragraph break is a run of whitespace tokens holding at least ``min_newlines`` newlines
("\\n\\n" by default). The break stays with the paragraph before it, and whitespace before the
first paragraph stays with the first, so the spans partition the doc: every token is read once.
"""

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span

from ._checks import as_doc_list, positive_int

if TYPE_CHECKING:  # the core is not imported at run time: it loads this plugin
    from trf_core.contract.types import SpanGetter

NAME = "trf.paragraph_spans.v1"


def paragraph_bounds(doc: Doc, min_newlines: int = 2) -> list[tuple[int, int]]:
    """``(start, end)`` token bounds of the doc's paragraphs, in order, covering every token."""
    bounds: list[tuple[int, int]] = []
    start = 0
    has_content = False
    i = 0
    n = len(doc)
    while i < n:
        if not _is_blank(doc[i].text):
            has_content = True
            i += 1
            continue
        run_end = i
        newlines = 0
        while run_end < n and _is_blank(doc[run_end].text):
            newlines += doc[run_end].text.count("\n")
            run_end += 1
        if newlines >= min_newlines and has_content and run_end < n:
            bounds.append((start, run_end))
            start = run_end
            has_content = False
        i = run_end
    if start < n:
        bounds.append((start, n))
    return bounds


def configure_paragraph_spans(min_newlines: int = 2) -> "SpanGetter":
    """``trf.paragraph_spans.v1``: one span per paragraph (blank-line separated)."""
    positive_int(min_newlines, "min_newlines", NAME)
    # A partial of a module-level function (not a closure) pickles with the pipeline.
    return partial(get_paragraph_spans, min_newlines=min_newlines)


def get_paragraph_spans(docs: Iterable[Doc], min_newlines: int = 2) -> list[list[Span]]:
    """Each doc's paragraphs (runs of tokens between blank lines) as spans."""
    return [
        [doc[a:b] for a, b in paragraph_bounds(doc, min_newlines)]
        for doc in as_doc_list(docs, NAME)
    ]


def _is_blank(text: str) -> bool:
    """Whitespace-only, read from the text: ``Token.is_space`` is unset in a bare ``Vocab``."""
    return not text.strip()
