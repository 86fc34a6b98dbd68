"""Backend checks: the returned batch, token alignment, batch invariance, backprop, gradients,
empty docs, listener attrs and serialization, over overlapping spans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NoReturn

import numpy
from spacy.tokens import Doc, Span
from thinc.api import Model, get_current_ops

from ...contract import backend as contract
from ...contract.arrays import offsets_from_lengths, to_numpy
from ...contract.data import FullTransformerBatch
from ...contract.types import SpanGetter
from ._common import (
    BATCH_TOLERANCE,
    ContractViolation,
    _describe_docs,
    empty_doc_beside,
    overlapping_spans,
    run_all,
    run_on_batches,
)

BackendFactory = Callable[[SpanGetter], Model]
"""Builds a backend over a given span getter (the kit supplies overlapping spans)."""


def resolve_backend(
    backend: str | Model | BackendFactory, config: Mapping[str, Any] | None = None
) -> Model:
    """An initialized backend: a Model as is, a name or factory built over overlapping spans."""
    if isinstance(backend, Model):
        model = backend
    elif isinstance(backend, str):
        from spacy.util import registry as spacy_registry

        configure = spacy_registry.architectures.get(backend)
        model = configure(get_spans=overlapping_spans, **dict(config or {}))
    elif callable(backend):
        model = backend(overlapping_spans)
    else:
        raise TypeError(
            "expected a backend (a thinc Model[list[Doc], FullTransformerBatch]), a factory "
            f"get_spans -> Model, or a registered architecture name; got {type(backend).__name__}"
        )
    if not model.attrs.get("_trf_check_initialized"):
        model.initialize()
        model.attrs["_trf_check_initialized"] = True
    return model


def _run_backend(model: Model, docs: list[Doc], is_train: bool = False) -> tuple[Any, Any]:
    try:
        batch, backprop = model(docs, is_train=is_train)
    except Exception as err:
        raise ContractViolation(
            "backend",
            "a backend handles any batch of docs, empty docs and docs without spans included",
            _describe_docs(docs),
            f"it raised {err.__class__.__name__}: {err}",
            "give a doc without spans no rows (every token aligned to nothing) instead of failing",
        ) from err
    return batch, backprop


def backend_returns_batch(model: Model, docs: list[Doc]) -> None:
    """The output is a FullTransformerBatch over these docs with consistent shapes."""
    batch, _ = _run_backend(model, docs)
    where = _describe_docs(docs)

    def fail(invariant: str, detail: str, fix: str) -> None:
        raise ContractViolation("backend", invariant, where, detail, fix)

    if not isinstance(batch, FullTransformerBatch):
        fail(
            "a backend returns a FullTransformerBatch",
            f"it returned a {type(batch).__name__}",
            "wrap your outputs in trf_core.FullTransformerBatch",
        )
    if batch.doc_lengths != [len(doc) for doc in docs]:
        fail(
            "batch.doc_lengths holds each doc's token count",
            f"doc_lengths is {batch.doc_lengths}",
            "set doc_lengths=[len(doc) for doc in docs]",
        )
    if len(batch.spans) != len(docs):
        fail(
            "batch.spans has one list per doc",
            f"{len(batch.spans)} lists for {len(docs)} docs",
            "keep one (possibly empty) span list per doc",
        )
    n_spans = sum(len(s) for s in batch.spans)
    if n_spans == 0:
        return
    keys = list(batch.model_output)
    if not keys or keys[0] != "last_hidden_state":
        fail(
            "model_output starts with last_hidden_state",
            f"its keys are {keys}",
            "insert last_hidden_state first, then pooler_output, hidden_states, attentions",
        )
    last = batch.model_output["last_hidden_state"]
    if last.ndim != 3 or last.shape[0] != n_spans or last.shape[1] != batch.wordpieces.max_length:
        fail(
            "last_hidden_state has shape (n_spans, max_length, width)",
            f"shape {tuple(last.shape)} for {n_spans} spans and wordpieces padded to "
            f"{batch.wordpieces.max_length}",
            "return one row of pieces per span, padded to the batch's longest span",
        )
    if len(batch.wordpieces.lengths) != n_spans:
        fail(
            "wordpieces.lengths holds each span's real piece count",
            f"{len(batch.wordpieces.lengths)} lengths for {n_spans} spans",
            "give one length per span (windows count as spans)",
        )
    if contract.wants_hidden_states(model):
        hidden = batch.model_output.get("hidden_states")
        if not isinstance(hidden, tuple) or any(h.shape != last.shape for h in hidden):
            fail(
                "with output_hidden_states, model_output.hidden_states is a tuple of "
                "(n_spans, max_length, width) arrays",
                f"hidden_states is {type(hidden).__name__}",
                "read model.attrs['output_hidden_states'] at call time and output every layer",
            )


def _token_rows(batch: FullTransformerBatch) -> list[Any]:
    data = to_numpy(batch.align.dataXd).reshape(-1)
    starts = offsets_from_lengths(batch.align.lengths)
    return [data[start:end] for start, end in pairwise(starts)]


def backend_aligns_every_token(model: Model, docs: list[Doc]) -> None:
    """``align`` has an entry for every token of every doc; each doc's split matches its doc."""
    batch, _ = _run_backend(model, docs)
    where = _describe_docs(docs)
    n_tokens = sum(len(doc) for doc in docs)
    if int(batch.align.lengths.shape[0]) != n_tokens:
        raise ContractViolation(
            "backend",
            "align has one entry per token of every doc (whitespace and uncovered tokens too)",
            where,
            f"align.lengths has {int(batch.align.lengths.shape[0])} entries for {n_tokens} tokens",
            "build align with trf_core.contract.align.align_batch, passing doc_lengths",
        )
    for i, (doc, data) in enumerate(zip(docs, batch.doc_data)):
        if int(data.align.lengths.shape[0]) != len(doc):
            raise ContractViolation(
                "backend",
                "each doc's TransformerData aligns every token of that doc",
                where,
                f"doc {i} has {len(doc)} tokens but its align has "
                f"{int(data.align.lengths.shape[0])} entries",
                "set batch.doc_lengths and keep align in doc order",
            )


def backend_alignment_invariants(model: Model, docs: list[Doc]) -> None:
    """Rows are real pieces of spans holding the token, ascending, in every span holding it;
    whitespace tokens align to nothing."""
    batch, _ = _run_backend(model, docs)
    where = _describe_docs(docs)
    view = _AlignmentView(
        width=max(batch.wordpieces.max_length, 1),
        piece_lengths=list(batch.wordpieces.lengths),
        flat_spans=[(d, span) for d, spans in enumerate(batch.spans) for span in spans],
    )
    token_rows = _token_rows(batch)
    doc_offsets = offsets_from_lengths([len(doc) for doc in docs])

    def fail(invariant: str, detail: str, fix: str) -> NoReturn:
        raise ContractViolation("backend", invariant, where, detail, fix)

    for d, doc in enumerate(docs):
        rows = token_rows[doc_offsets[d] : doc_offsets[d + 1]]
        _check_token_rows(view, d, doc, rows, fail)
        _check_rows_in_every_span(view, d, doc, rows, fail)
        _check_pieces_in_order(view, d, doc, rows, fail)


@dataclass
class _AlignmentView:
    """What the alignment checks read of a batch: rows are ``span * width + position``."""

    width: int
    piece_lengths: list[int]
    flat_spans: list[tuple[int, Span]]
    """Every span of the batch, with the index of its doc."""


_Fail = Callable[[str, str, str], NoReturn]


def _check_token_rows(
    view: _AlignmentView, d: int, doc: Doc, token_rows: list[Any], fail: _Fail
) -> None:
    """Each token's rows: ascending, none for whitespace, real pieces of spans holding it."""
    for t, (token, rows) in enumerate(zip(doc, token_rows)):
        if len(rows) and (numpy.diff(rows) <= 0).any():
            fail(
                "each token's rows are ascending and distinct",
                f"token {t} ({token.text!r}) of doc {d} has rows {rows.tolist()}",
                "sort each token's row indices (align_batch does)",
            )
        if token.is_space and len(rows):
            fail(
                "whitespace tokens align to no wordpiece",
                f"whitespace token {t} ({token.text!r}) of doc {d} aligns to rows {rows.tolist()}",
                "align by character offsets, ignoring pieces that cover only whitespace",
            )
        for row in rows.tolist():
            k, pos = divmod(int(row), view.width)
            if k >= len(view.flat_spans) or pos >= view.piece_lengths[k]:
                n_pieces = view.piece_lengths[k] if k < len(view.piece_lengths) else 0
                fail(
                    "tokens align only to real (unpadded) pieces",
                    f"token {t} ({token.text!r}) of doc {d} aligns to row {row}: span {k}, "
                    f"position {pos}, past that span's {n_pieces} pieces",
                    "index rows as span * max_length + position, with real positions only",
                )
            span_doc, span = view.flat_spans[k]
            if span_doc != d or not (span.start <= t < span.end):
                fail(
                    "a token aligns only to pieces of spans that contain it",
                    f"token {t} ({token.text!r}) of doc {d} aligns to span {k} "
                    f"(doc {span_doc}, tokens [{span.start}:{span.end}])",
                    "compute alignments per span from character offsets (align_batch)",
                )


def _check_rows_in_every_span(
    view: _AlignmentView, d: int, doc: Doc, token_rows: list[Any], fail: _Fail
) -> None:
    """A token the model read aligns to rows in every span holding it (overlaps included)."""
    doc_span_ids = [k for k, (span_doc, _) in enumerate(view.flat_spans) if span_doc == d]
    for t, (token, rows) in enumerate(zip(doc, token_rows)):
        if not len(rows):
            continue
        seen = {int(row) // view.width for row in rows.tolist()}
        for k in doc_span_ids:
            span = view.flat_spans[k][1]
            if span.start <= t < span.end and k not in seen:
                fail(
                    "a token inside several spans aligns to rows in each of them",
                    f"token {t} ({token.text!r}) of doc {d} lies in span {k} (tokens "
                    f"[{span.start}:{span.end}]) but aligns only to spans {sorted(seen)}",
                    "align every span's pieces, not only the first span a token appears in",
                )


def _check_pieces_in_order(
    view: _AlignmentView, d: int, doc: Doc, token_rows: list[Any], fail: _Fail
) -> None:
    """Tokens' pieces are in order within each span."""
    last_row: dict[int, int] = {}
    for t, rows in enumerate(token_rows):
        for row in rows.tolist():
            k = int(row) // view.width
            if row < last_row.get(k, -1):
                fail(
                    "tokens' wordpieces are in order",
                    f"token {t} ({doc[t].text!r}) of doc {d} aligns to row {row}, before "
                    f"row {last_row[k]} of an earlier token in the same span",
                    "keep pieces in text order",
                )
        for row in rows.tolist():
            k = int(row) // view.width
            last_row[k] = max(last_row.get(k, -1), int(row))


def _doc_outputs(model: Model, docs: list[Doc]) -> list[tuple[Any, Any, Any]]:
    batch, _ = _run_backend(model, docs)
    out = []
    for data in batch.doc_data:
        tensors = data.tensors
        last = numpy.asarray(tensors[0]) if tensors else numpy.zeros((0, 0, 0))
        out.append(
            (last, list(data.wordpieces.lengths), numpy.asarray(data.align.dataXd).reshape(-1))
        )
    return out


def backend_batch_invariance(model: Model, docs: list[Doc]) -> None:
    """A doc's output does not depend on its batch or its place in it (within 1e-4)."""
    where = _describe_docs(docs)
    together = _doc_outputs(model, docs)
    reversed_ = _doc_outputs(model, docs[::-1])[::-1]
    for i, doc in enumerate(docs):
        alone = _doc_outputs(model, [doc])[0]
        for label, other in (("on its own", alone), ("in the reversed batch", reversed_[i])):
            a_last, a_lens, a_align = together[i]
            b_last, b_lens, b_align = other
            same_shape = a_last.shape == b_last.shape and a_lens == b_lens
            if not same_shape or not numpy.array_equal(a_align, b_align):
                raise ContractViolation(
                    "backend",
                    "a doc's tensors are padded only to its own longest span, whatever the batch",
                    where,
                    f"doc {i}'s tensors[0] has shape {a_last.shape} in the batch but "
                    f"{b_last.shape} {label} (piece counts {a_lens} vs {b_lens})",
                    "split the batch with FullTransformerBatch.split_by_doc (doc_data)",
                )
            for k, n in enumerate(a_lens):
                diff = numpy.abs(a_last[k, :n] - b_last[k, :n])
                if diff.size and float(diff.max()) > BATCH_TOLERANCE:
                    raise ContractViolation(
                        "backend",
                        "a doc's output does not depend on the batch it came in (1e-4)",
                        where,
                        f"doc {i}, span {k}: last_hidden_state differs by {float(diff.max()):.3g} "
                        f"between the batch and {label}",
                        "mask padding in attention and pooling; never normalize across a batch",
                    )


def _random_doc_grads(batch: FullTransformerBatch, seed: int) -> list[list[Any]]:
    rng = numpy.random.default_rng(seed)
    grads: list[list[Any]] = []
    for data in batch.doc_data:
        tensors = data.tensors
        doc_grads: list[Any] = [None] * len(tensors)
        if tensors:
            g = rng.normal(0.0, 1.0, numpy.asarray(tensors[0]).shape).astype("float32")
            # Padding positions carry no gradient, as listeners send none there.
            for k, n in enumerate(data.wordpieces.lengths):
                g[k, n:] = 0.0
            ops: Any = get_current_ops()
            doc_grads[0] = ops.asarray(g)
        grads.append(doc_grads)
    return grads


def backend_backprop(model: Model, docs: list[Doc]) -> None:
    """backprop takes per-doc gradients (None for unused tensors) and accepts empty docs."""
    batch, backprop = _run_backend(model, docs, is_train=True)
    grads = _random_doc_grads(batch, 0)
    try:
        backprop(grads)
    except Exception as err:
        raise ContractViolation(
            "backend",
            "backprop accepts one list per doc of gradients (or None) for that doc's tensors",
            _describe_docs(docs),
            f"backprop raised {err.__class__.__name__}: {err}",
            "call batch.unsplit_by_doc(d_tensors) and skip tensors whose gradient is None",
        ) from err


def _params(model: Model) -> list[tuple[Model, str]]:
    return [
        (node, name)
        for node in model.walk()
        for name in node.param_names
        if node.has_param(name) and node.get_param(name) is not None
    ]


def _loss(model: Model, docs: list[Doc], grads: list[list[Any]]) -> float:
    batch, _ = _run_backend(model, docs)
    total = 0.0
    for data, doc_grads in zip(batch.doc_data, grads):
        if doc_grads and doc_grads[0] is not None:
            total += float((numpy.asarray(data.tensors[0], "float64") * doc_grads[0]).sum())
    return total


def backend_finite_differences(model: Model, docs: list[Doc]) -> None:
    """Parameter gradients from backprop agree with finite differences (thinc params only)."""
    params = _params(model)
    if not params or not any(len(doc) for doc in docs):
        return  # a wrapped framework (PyTorch) keeps its parameters out of thinc's sight
    batch, backprop = _run_backend(model, docs, is_train=True)
    grads = _random_doc_grads(batch, 1)
    for node, name in params:
        node.set_grad(name, node.ops.alloc(node.get_param(name).shape, dtype="float32"))
    backprop(grads)
    rng = numpy.random.default_rng(3)
    eps = 1e-3
    for node, name in params[:3]:
        param: Any = node.get_param(name)
        analytic_all = numpy.asarray(node.get_grad(name), dtype="float64")
        flat_index = rng.choice(param.size, size=min(3, param.size), replace=False)
        for idx in flat_index:
            index = numpy.unravel_index(int(idx), param.shape)
            original = float(param[index])
            param[index] = original + eps
            f_plus = _loss(model, docs, grads)
            param[index] = original - eps
            f_minus = _loss(model, docs, grads)
            param[index] = original
            numeric = (f_plus - f_minus) / (2 * eps)
            analytic = float(analytic_all[index])
            if abs(numeric - analytic) > 5e-2 * max(1.0, abs(numeric), abs(analytic)):
                raise ContractViolation(
                    "backend",
                    "parameter gradients agree with finite differences",
                    _describe_docs(docs),
                    f"{node.name}.{name}{tuple(int(i) for i in index)}: backprop gives "
                    f"{analytic:.5g}, finite differences {numeric:.5g}",
                    "check backprop's chain rule, and that it adds (inc_grad) rather than sets",
                )


def backend_empty_docs(model: Model, docs: list[Doc]) -> None:
    """Empty docs get data with no rows, in a batch of their own or mixed with others."""
    _check_empty_docs(model, docs, is_train=True)


def backend_empty_docs_inference(model: Model, docs: list[Doc]) -> None:
    """:func:`backend_empty_docs` for an inference-only backend: no training pass, no backprop."""
    _check_empty_docs(model, docs, is_train=False)


def _check_empty_docs(model: Model, docs: list[Doc], is_train: bool) -> None:
    empty = empty_doc_beside(docs)
    if empty is None:
        return
    for batch_docs in ([empty], [empty, empty], [empty, *docs[:2]]):
        batch, backprop = _run_backend(model, batch_docs, is_train=is_train)
        for i, (doc, data) in enumerate(zip(batch_docs, batch.doc_data)):
            if len(doc) == 0 and (
                int(data.align.lengths.shape[0]) != 0 or int(data.align.dataXd.shape[0]) != 0
            ):
                raise ContractViolation(
                    "backend",
                    "an empty doc gets TransformerData with no rows and no alignment",
                    _describe_docs(batch_docs),
                    f"empty doc {i} has align lengths {data.align.lengths.tolist()}",
                    "give docs without spans TransformerData.empty(len(doc))",
                )
        if is_train:
            backprop(_random_doc_grads(batch, 2))


def backend_refuses_training(model: Model, docs: list[Doc]) -> None:
    """An inference-only backend refuses a training pass with ``NotImplementedError``.

    A backend that cannot compute gradients (ONNX Runtime, a frozen export) must say so when
    ``begin_update`` runs, rather than return a batch whose backprop silently does nothing:
    otherwise the downstream components would train against a transformer that never learns.
    """
    try:
        model(docs, is_train=True)
    except NotImplementedError as err:
        if not str(err).strip():
            raise ContractViolation(
                "backend",
                "an inference-only backend's refusal to train says what to do instead",
                _describe_docs(docs),
                "it raised NotImplementedError without a message",
                "name the backend and how to train (e.g. with the backend it was exported from)",
            ) from err
        return
    except Exception as err:
        raise ContractViolation(
            "backend",
            "an inference-only backend refuses is_train=True with NotImplementedError",
            _describe_docs(docs),
            f"it raised {err.__class__.__name__}: {err}",
            "raise NotImplementedError (or a subclass) from the forward pass when is_train",
        ) from err
    raise ContractViolation(
        "backend",
        "an inference-only backend refuses is_train=True with NotImplementedError",
        _describe_docs(docs),
        "the training pass ran without an error",
        "raise NotImplementedError (or a subclass) from the forward pass when is_train",
    )


def backend_listener_attrs(model: Model, docs: list[Doc]) -> None:
    """The backend carries what spaCy's ``replace_listeners`` needs."""
    required = (contract.REPLACE_LISTENER, contract.REPLACE_LISTENER_CFG)
    missing = [n for n in required if n not in model.attrs]
    if missing:
        raise ContractViolation(
            "backend",
            "a backend sets model.attrs['replace_listener'] and ['replace_listener_cfg']",
            f"the model {model.name!r}",
            f"missing: {', '.join(missing)}",
            "set them to trf_core.component.listeners.replace_listener and replace_listener_cfg",
        )


def backend_serialization(model: Model, docs: list[Doc]) -> None:
    """to_bytes / from_bytes into the same model gives identical outputs.

    Through the contract's accessors, as the component saves a backend: ``trf_to_bytes`` /
    ``trf_from_bytes`` (called with the model) where the backend has them, else thinc's.
    """
    before = _doc_outputs(model, docs)
    contract.model_from_bytes(model, contract.model_to_bytes(model))
    after = _doc_outputs(model, docs)
    for i, (a, b) in enumerate(zip(before, after)):
        if a[0].shape != b[0].shape or not numpy.allclose(a[0], b[0], atol=BATCH_TOLERANCE):
            raise ContractViolation(
                "backend",
                "to_bytes / from_bytes round-trips give identical outputs",
                _describe_docs(docs),
                f"doc {i}'s last hidden state changed after a bytes round trip",
                "serialize every weight and setting (or provide attrs['trf_to_bytes'] and "
                "['trf_from_bytes'])",
            )


BACKEND_CHECKS: dict[str, Callable[[Model, list[Doc]], None]] = {
    "returns_batch": backend_returns_batch,
    "aligns_every_token": backend_aligns_every_token,
    "alignment_invariants": backend_alignment_invariants,
    "batch_invariance": backend_batch_invariance,
    "backprop": backend_backprop,
    "finite_differences": backend_finite_differences,
    "empty_docs": backend_empty_docs,
    "listener_attrs": backend_listener_attrs,
    "serialization": backend_serialization,
}
"""Check name -> invariant check every backend must pass."""

INFERENCE_ONLY_CHECKS: dict[str, Callable[[Model, list[Doc]], None]] = {
    **{
        name: check
        for name, check in BACKEND_CHECKS.items()
        if name not in ("backprop", "finite_differences", "empty_docs")
    },
    "refuses_training": backend_refuses_training,
    "empty_docs": backend_empty_docs_inference,
}
"""The checks for a backend that cannot train: the gradient checks give way to
:func:`backend_refuses_training`, and empty docs are checked without a training pass."""


def check_backend(
    backend: str | Model | BackendFactory,
    *,
    config: Mapping[str, Any] | None = None,
    max_examples: int = 10,
    hidden_states: bool = True,
    inference_only: bool = False,
) -> None:
    """Check a backend against the contract.

    backend: a built Model (used with its own span getter), a factory ``get_spans -> Model``, or
        an architecture name whose configure function takes ``get_spans`` plus ``config``; the
        last two are built over overlapping spans, so the overlap invariants are exercised.
    hidden_states: also check with ``attrs["output_hidden_states"] = True``.
    inference_only: the backend cannot train (:data:`INFERENCE_ONLY_CHECKS`).
    """
    model = resolve_backend(backend, config)
    settings_ = [False, True] if hidden_states else [False]
    for with_hidden in settings_:
        contract.request_hidden_states(model, with_hidden)
        skip = ("finite_differences", "serialization", "listener_attrs") if with_hidden else ()
        table = INFERENCE_ONLY_CHECKS if inference_only else BACKEND_CHECKS
        checks = [c for name, c in table.items() if name not in skip]

        def run_checks(docs: list[Doc], checks: list[Any] = checks) -> None:
            run_all(checks, model, docs)

        run_on_batches(run_checks, max_examples=max_examples)
    contract.request_hidden_states(model, False)
