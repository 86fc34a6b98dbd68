"""Annotation setter checks, run on the toy backend's outputs: the setter keeps ``doc._.trf_data``
and the transformer output unchanged, is idempotent and handles empty docs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy
from spacy.tokens import Doc

from ...contract.data import FullTransformerBatch, TransformerData
from ...contract.extensions import install_extensions
from ...contract.types import AnnotationSetter
from ._common import (
    ContractViolation,
    _describe_docs,
    empty_doc_beside,
    overlapping_spans,
    run_all,
    run_on_batches,
)


def resolve_annotation_setter(
    setter: str | AnnotationSetter, config: Mapping[str, Any] | None = None
) -> Any:
    """An annotation setter from a registered name (configured with ``config``) or itself."""
    if isinstance(setter, str):
        from ...plugins import registry

        return registry.annotation_setters.get(setter)(**dict(config or {}))
    if not callable(setter):
        raise TypeError(
            "expected an annotation setter (a callable (docs, FullTransformerBatch) -> None) or "
            f"its registered name, got {type(setter).__name__}"
        )
    return setter


def _toy_batch(docs: list[Doc]) -> FullTransformerBatch:
    """Run the toy backend over docs (overlapping spans) and set ``doc._.trf_data``."""
    from ..toy_backend import toy_transformer_v1

    model = toy_transformer_v1(overlapping_spans, width=8, depth=1, n_vocab=97, max_length=8)
    model.initialize()
    batch = model.predict(docs)
    install_extensions()
    for doc, data in zip(docs, batch.doc_data):
        doc._.trf_data = data
    return batch


def _snapshot_arrays(batch: FullTransformerBatch) -> list[Any]:
    arrays = [numpy.array(a, copy=True) for a in batch.tensors]
    arrays += [numpy.array(batch.align.dataXd, copy=True), numpy.array(batch.align.lengths)]
    arrays.append(numpy.array(batch.wordpieces.input_ids, copy=True))
    return arrays


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, numpy.ndarray) or isinstance(b, numpy.ndarray):
        a_arr, b_arr = numpy.asarray(a), numpy.asarray(b)
        return a_arr.shape == b_arr.shape and bool(numpy.array_equal(a_arr, b_arr))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


_DOC_ATTRS = ("TAG", "POS", "MORPH", "LEMMA", "DEP", "HEAD", "ENT_IOB", "ENT_TYPE", "SENT_START")


def _doc_state(doc: Doc) -> dict[str, Any]:
    """What an annotation setter may change on a doc, in comparable form."""
    user_data = {
        k: v
        for k, v in doc.user_data.items()
        if not (isinstance(k, tuple) and len(k) > 1 and k[1] == "trf_data")
    }
    return {
        "attrs": doc.to_array(list(_DOC_ATTRS)),
        "tensor": numpy.array(doc.tensor, copy=True),
        "ents": [(e.start, e.end, e.label_) for e in doc.ents],
        "spans": {k: [(s.start, s.end, s.label_) for s in g] for k, g in doc.spans.items()},
        "cats": dict(doc.cats),
        "user_data": copy.deepcopy(user_data),
    }


def _call_setter(setter: AnnotationSetter, docs: list[Doc], batch: FullTransformerBatch) -> None:
    try:
        setter(docs, batch)
    except Exception as err:
        raise ContractViolation(
            "annotation setter",
            "an annotation setter handles any batch, empty docs and docs without spans included",
            _describe_docs(docs),
            f"it raised {err.__class__.__name__}: {err}",
            "skip docs whose doc._.trf_data has no rows (TransformerData.empty) instead of "
            "indexing into them",
        ) from err


def setter_keeps_trf_data(setter: AnnotationSetter, docs: list[Doc]) -> None:
    """The setter reads the transformer output but changes neither it nor ``doc._.trf_data``."""
    batch = _toy_batch(docs)
    before = _snapshot_arrays(batch)
    data_before = [doc._.trf_data for doc in docs]
    _call_setter(setter, docs, batch)
    after = _snapshot_arrays(batch)
    where = _describe_docs(docs)
    fix = "treat the batch as read-only: copy an array before changing it"
    for i, (doc, data) in enumerate(zip(docs, data_before)):
        if doc._.trf_data is not data:
            raise ContractViolation(
                "annotation setter",
                "an annotation setter does not replace doc._.trf_data",
                where,
                f"doc {i}'s trf_data was replaced by {type(doc._.trf_data).__name__}",
                "store your annotations elsewhere (doc.tensor, your own doc._ extension)",
            )
    for j, (a, b) in enumerate(zip(before, after)):
        if not _equal(a, b):
            raise ContractViolation(
                "annotation setter",
                "an annotation setter does not change the transformer output",
                where,
                f"array {j} of the batch (tensors, then align data/lengths, input ids) changed",
                fix,
            )


def setter_idempotent(setter: AnnotationSetter, docs: list[Doc]) -> None:
    """Running the setter twice on the same batch leaves the docs as running it once does."""
    batch = _toy_batch(docs)
    _call_setter(setter, docs, batch)
    once = [_doc_state(doc) for doc in docs]
    _call_setter(setter, docs, batch)
    twice = [_doc_state(doc) for doc in docs]
    for i, (a, b) in enumerate(zip(once, twice)):
        for key in a:
            if not _equal(a[key], b[key]):
                raise ContractViolation(
                    "annotation setter",
                    "an annotation setter is idempotent (pipelines may run it again)",
                    _describe_docs(docs),
                    f"doc {i}'s {key} differs after a second run",
                    "set values rather than accumulate them (assign, don't append or +=)",
                )


def setter_handles_empty_docs(setter: AnnotationSetter, docs: list[Doc]) -> None:
    """Empty docs and docs without spans do not crash the setter."""
    empty = empty_doc_beside(docs)
    if empty is None:
        return
    for batch_docs in ([empty], [empty, *docs[:2]]):
        _call_setter(setter, batch_docs, _toy_batch(batch_docs))
    # A doc with tokens but no spans: its TransformerData has no rows.
    install_extensions()
    no_spans = FullTransformerBatch.empty(len(docs))
    no_spans.doc_lengths = [len(doc) for doc in docs]
    no_spans.cached_doc_data = [TransformerData.empty(len(doc)) for doc in docs]
    for doc, data in zip(docs, no_spans.doc_data):
        doc._.trf_data = data
    _call_setter(setter, docs, no_spans)


SETTER_CHECKS: dict[str, Callable[[AnnotationSetter, list[Doc]], None]] = {
    "keeps_trf_data": setter_keeps_trf_data,
    "idempotent": setter_idempotent,
    "handles_empty_docs": setter_handles_empty_docs,
}
"""Check name -> invariant check every annotation setter must pass."""


def check_annotation_setter(
    setter: str | AnnotationSetter,
    *,
    config: Mapping[str, Any] | None = None,
    max_examples: int = 15,
) -> None:
    """Check an annotation setter (or registered name) against the contract, on toy outputs."""
    fn = resolve_annotation_setter(setter, config)
    run_on_batches(
        lambda docs: run_all(SETTER_CHECKS.values(), fn, docs), max_examples=max_examples
    )
