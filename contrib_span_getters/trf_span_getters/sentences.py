"""Span getters built from sentence boundaries: sentences, sentences with context, packed runs.

All of them need sentence boundaries *before* the transformer runs, which in a fresh pipeline
nothing has set; instead of spaCy's generic E030 they say which component to add.
"""

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span

from ._checks import as_doc_list, non_negative_int, positive_int

if TYPE_CHECKING:  # the core is not imported at run time: it loads this plugin
    from trf_core.contract.types import SpanGetter

SENT_CONTEXT = "trf.sent_context_spans.v1"
PACKED = "trf.packed_sent_spans.v1"


def doc_sentences(doc: Doc, getter: str) -> list[Span]:
    """The doc's sentences, or a clear error when no sentence boundaries are set."""
    if not doc.has_annotation("SENT_START"):
        preview = doc.text[:40] + ("..." if len(doc.text) > 40 else "")
        raise ValueError(
            f"{getter} needs sentence boundaries, but the doc {preview!r} has none. "
            "Add a component that sets them before the transformer, e.g. "
            "nlp.add_pipe('sentencizer', before='transformer') (or a 'senter' or 'parser' that "
            "does not listen to this transformer), set doc[i].is_sent_start yourself, or use a "
            "getter that needs no sentences (doc_spans.v1, spacy-transformers.strided_spans.v1). "
            "Note that nlp.initialize and nlp.update (spacy train) hand the transformer docs "
            "that skipped earlier components: in training, list the component under "
            "[training] annotating_components, e.g. annotating_components = ['sentencizer']."
        )
    return list(doc.sents)


def get_sent_spans(docs: Iterable[Doc]) -> list[list[Span]]:
    """Each sentence of each doc as its own span (an empty doc has none)."""
    return [doc_sentences(doc, "sent_spans.v1") for doc in as_doc_list(docs, "sent_spans.v1")]


def configure_get_sent_spans() -> "SpanGetter":
    """``sent_spans.v1`` / ``spacy-transformers.sent_spans.v1``: takes no settings."""
    return get_sent_spans


def sent_context_bounds(sent_bounds: list[tuple[int, int]], context: int) -> list[tuple[int, int]]:
    """One ``(start, end)`` per sentence: it and ``context`` sentences on each side."""
    last = len(sent_bounds) - 1
    return [
        (sent_bounds[max(0, i - context)][0], sent_bounds[min(last, i + context)][1])
        for i in range(len(sent_bounds))
    ]


def configure_sent_context_spans(context: int = 1) -> "SpanGetter":
    """``trf.sent_context_spans.v1``: each sentence with ``context`` neighbours on each side.

    Every sentence is read once as the centre of its own span, so each token gets vectors computed
    with context from both sides; a token appears in up to ``2 * context + 1`` spans and its rows
    from all of them are pooled. ``context = 0`` is ``sent_spans.v1``.
    """
    non_negative_int(context, "context", SENT_CONTEXT)
    # Partials of module-level functions (not closures) pickle with the pipeline.
    return partial(get_sent_context_spans, context=context)


def get_sent_context_spans(docs: Iterable[Doc], context: int) -> list[list[Span]]:
    """Each doc's sentences, each with ``context`` neighbouring sentences on each side."""
    return _regrouped_sentences(docs, SENT_CONTEXT, lambda b: sent_context_bounds(b, context))


def _regrouped_sentences(
    docs: Iterable[Doc],
    getter: str,
    regroup: Callable[[list[tuple[int, int]]], list[tuple[int, int]]],
) -> list[list[Span]]:
    """Each doc's spans from its sentence bounds, regrouped into span bounds by ``regroup``."""
    out: list[list[Span]] = []
    for doc in as_doc_list(docs, getter):
        bounds = [(s.start, s.end) for s in doc_sentences(doc, getter)]
        out.append([doc[a:b] for a, b in regroup(bounds)])
    return out


def packed_bounds(sent_bounds: list[tuple[int, int]], max_tokens: int) -> list[tuple[int, int]]:
    """Consecutive sentences packed greedily into spans of at most ``max_tokens`` tokens.

    A sentence longer than ``max_tokens`` is cut into consecutive pieces of ``max_tokens`` tokens
    (the last shorter), each its own span; it never shares a span with its neighbours.
    """
    out: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for start, end in sent_bounds:
        if end - start > max_tokens:
            if current is not None:
                out.append(current)
                current = None
            out.extend((s, min(s + max_tokens, end)) for s in range(start, end, max_tokens))
        elif current is not None and end - current[0] <= max_tokens:
            current = (current[0], end)
        else:
            if current is not None:
                out.append(current)
            current = (start, end)
    if current is not None:
        out.append(current)
    return out


def configure_packed_sent_spans(max_tokens: int = 128) -> "SpanGetter":
    """``trf.packed_sent_spans.v1``: whole sentences packed into spans of <= ``max_tokens`` tokens.

    Fewer, fuller spans than ``sent_spans.v1`` (less padding, more context) while never cutting a
    sentence that fits. ``max_tokens`` counts spaCy tokens; leave headroom for wordpieces.
    """
    positive_int(max_tokens, "max_tokens", PACKED)
    return partial(get_packed_sent_spans, max_tokens=max_tokens)


def get_packed_sent_spans(docs: Iterable[Doc], max_tokens: int) -> list[list[Span]]:
    """Each doc's sentences packed greedily into spans of at most ``max_tokens`` tokens."""
    return _regrouped_sentences(docs, PACKED, lambda b: packed_bounds(b, max_tokens))
