"""Span getter checks: one span list per doc, spans inside their doc, batch invariance, empty docs
(and, for coverage getters, every token covered)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy
from spacy.tokens import Doc, Span

from ...contract.types import SpanGetter
from ._common import ContractViolation, _describe_docs, empty_doc_beside, run_all, run_on_batches


def resolve_span_getter(getter: str | SpanGetter, config: Mapping[str, Any] | None = None) -> Any:
    """A span getter from a registered name (configured with ``config``) or the getter itself."""
    if isinstance(getter, str):
        from ...plugins import registry

        return registry.span_getters.get(getter)(**dict(config or {}))
    if not callable(getter):
        raise TypeError(
            f"expected a span getter (a callable docs -> list of span lists) or its registered "
            f"name, got {type(getter).__name__}"
        )
    return getter


def _spans_for(getter: SpanGetter, docs: list[Doc]) -> list[list[Span]]:
    where = _describe_docs(docs)
    try:
        result = getter(docs)
    except Exception as err:
        raise ContractViolation(
            "span getter",
            "a span getter handles any batch of docs, empty docs included",
            where,
            f"it raised {err.__class__.__name__}: {err}",
            "handle docs with no tokens, whitespace-only docs and docs without sentence "
            "boundaries (return [] for a doc you have nothing for)",
        ) from err
    return result  # type: ignore[no-any-return]


def span_getter_one_list_per_doc(getter: SpanGetter, docs: list[Doc]) -> None:
    """The getter returns a list with one list of Span objects per doc, in order."""
    result = _spans_for(getter, docs)
    where = _describe_docs(docs)
    invariant = "a span getter returns one list of Span objects per doc, in the docs' order"
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
        raise ContractViolation(
            "span getter",
            invariant,
            where,
            f"it returned a {type(result).__name__}",
            "return a list with one list of spans per doc (a generator is not enough: the "
            "backend indexes it)",
        )
    if len(result) != len(docs):
        raise ContractViolation(
            "span getter",
            invariant,
            where,
            f"it returned {len(result)} span lists for {len(docs)} docs",
            "return exactly one (possibly empty) list per doc, even for empty docs",
        )
    for i, spans in enumerate(result):
        if isinstance(spans, Span) or not isinstance(spans, Sequence):
            raise ContractViolation(
                "span getter",
                invariant,
                where,
                f"entry {i} is a {type(spans).__name__}, not a list of spans",
                "wrap each doc's spans in a list: [[doc[:]] for doc in docs], not [doc[:] ...]",
            )
        for span in spans:
            if not isinstance(span, Span):
                raise ContractViolation(
                    "span getter",
                    invariant,
                    where,
                    f"doc {i}'s list holds a {type(span).__name__} ({span!r})",
                    "return spaCy Span objects (doc[start:end]), not tuples or strings",
                )


def span_getter_spans_inside_doc(getter: SpanGetter, docs: list[Doc]) -> None:
    """Every span is a span of the doc it was returned for and lies inside it."""
    result = _spans_for(getter, docs)
    where = _describe_docs(docs)
    invariant = "every span lies inside the doc it was returned for (span.doc is that doc)"
    for i, (doc, spans) in enumerate(zip(docs, result)):
        for span in spans:
            if span.doc is doc and 0 <= span.start <= span.end <= len(doc):
                continue
            if span.end > len(doc):
                detail = (
                    f"doc {i} has {len(doc)} tokens, but span [{span.start}:{span.end}] "
                    f"({span.text[:40]!r}) ends after it: it belongs to another Doc object"
                )
            else:
                detail = (
                    f"span [{span.start}:{span.end}] ({span.text[:40]!r}) returned for doc {i} "
                    f"belongs to another Doc object (text {span.doc.text[:40]!r})"
                )
            raise ContractViolation(
                "span getter",
                invariant,
                where,
                detail,
                "build spans from the doc you were given (doc[start:end]); never cache spans "
                "across calls or return spans of a copy of the doc",
            )


def span_getter_covers_every_token(getter: SpanGetter, docs: list[Doc]) -> None:
    """(Coverage getters) every token of every doc lies in at least one span."""
    result = _spans_for(getter, docs)
    for i, (doc, spans) in enumerate(zip(docs, result)):
        covered = numpy.zeros((len(doc),), dtype=bool)
        for span in spans:
            covered[span.start : span.end] = True
        if len(doc) and not covered.all():
            missing = int(numpy.flatnonzero(~covered)[0])
            raise ContractViolation(
                "span getter",
                "a coverage getter's spans cover every token of the doc",
                _describe_docs(docs),
                f"token {missing} ({doc[missing].text!r}) of doc {i} lies in no span "
                f"({int((~covered).sum())} of {len(doc)} tokens uncovered)",
                "make the spans cover the whole doc, or (if yours is not meant to) declare it "
                "a non-coverage getter (covers_every_token=False)",
            )


def span_getter_batch_invariance(getter: SpanGetter, docs: list[Doc]) -> None:
    """A doc's spans do not depend on the other docs of its batch."""
    together = _spans_for(getter, docs)
    for i, doc in enumerate(docs):
        alone = _spans_for(getter, [doc])[0]
        got = [(s.start, s.end) for s in together[i]]
        want = [(s.start, s.end) for s in alone]
        if got != want:
            raise ContractViolation(
                "span getter",
                "a doc's spans do not depend on the other docs in its batch",
                _describe_docs(docs),
                f"doc {i} got spans {got[:6]} in the batch but {want[:6]} on its own",
                "compute each doc's spans from that doc alone",
            )


def span_getter_empty_docs(getter: SpanGetter, docs: list[Doc]) -> None:
    """Empty docs (no tokens) get an empty list, alone or inside a batch."""
    empty = empty_doc_beside(docs)
    if empty is None:
        return
    for batch in ([empty], [empty, *docs[:2]], [empty, empty]):
        result = _spans_for(getter, batch)
        span_getter_one_list_per_doc(getter, batch)
        for i, doc in enumerate(batch):
            if len(doc) == 0 and any(span.end > span.start for span in result[i]):
                raise ContractViolation(
                    "span getter",
                    "an empty doc gets no spans with tokens",
                    _describe_docs(batch),
                    f"empty doc {i} got spans {result[i]!r}",
                    "return [] for a doc with no tokens",
                )


SPAN_GETTER_CHECKS: dict[str, Callable[[SpanGetter, list[Doc]], None]] = {
    "one_list_per_doc": span_getter_one_list_per_doc,
    "spans_inside_doc": span_getter_spans_inside_doc,
    "batch_invariance": span_getter_batch_invariance,
    "empty_docs": span_getter_empty_docs,
}
"""Check name -> invariant check every span getter must pass."""


def check_span_getter(
    getter: str | SpanGetter,
    *,
    config: Mapping[str, Any] | None = None,
    covers_every_token: bool = False,
    max_examples: int = 25,
    prepare_doc: Callable[[Doc], Doc] | None = None,
) -> None:
    """Check a span getter (or registered name, configured with ``config``) against the contract.

    covers_every_token: also require every token to lie in a span (doc, sentence and strided
        getters promise this).
    prepare_doc: applied to every test doc first; by default docs get sentence boundaries from
        spaCy's sentencizer, so sentence-based getters work.
    Raises :class:`ContractViolation` on the first broken invariant.
    """
    fn = resolve_span_getter(getter, config)
    checks = dict(SPAN_GETTER_CHECKS)
    if covers_every_token:
        checks["covers_every_token"] = span_getter_covers_every_token
    run_on_batches(
        lambda docs: run_all(checks.values(), fn, docs),
        max_examples=max_examples,
        doc_factory=prepare_doc or sentencize,
    )


def sentencize(doc: Doc) -> Doc:
    """Give a doc sentence boundaries (spaCy's rule-based sentencizer), as pipelines would."""
    from spacy.pipeline import Sentencizer

    return Sentencizer()(doc)  # type: ignore[no-any-return]
