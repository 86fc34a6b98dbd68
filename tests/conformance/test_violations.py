"""Plugins that break an invariant fail the matching check, with a message saying what broke.

Each broken plugin here is a correct one with a single, deliberate defect; the test asserts the
check names that invariant (and not some other one), which proves the checks can fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from thinc.api import Model, reduce_mean
from thinc.types import Floats2d, Ragged

from trf_core.testing import checks
from trf_core.testing.checks import ContractViolation
from trf_core.testing.toy_backend import toy_transformer_v1

_nlp = spacy.blank("en")


def whole_docs(docs: list[Doc]) -> list[list[Span]]:
    return [[doc[:]] if len(doc) else [] for doc in docs]


def _violation(run: Callable[[], None]) -> str:
    with pytest.raises(ContractViolation) as info:
        run()
    return str(info.value)


# -- span getters --------------------------------------------------------------------------


def test_span_from_another_doc_fails_spans_inside_doc() -> None:
    def getter(docs: list[Doc]) -> list[list[Span]]:
        # The classic bug: spans of a re-tokenized copy, longer than the doc itself.
        return [[_nlp.make_doc(doc.text + " and more")[:]] if len(doc) else [] for doc in docs]

    message = _violation(lambda: checks.check_span_getter(getter, max_examples=0))
    assert "every span lies inside the doc it was returned for" in message
    assert "ends after it" in message
    assert "build spans from the doc you were given" in message


def test_span_of_a_copy_fails_even_when_inside_bounds() -> None:
    def getter(docs: list[Doc]) -> list[list[Span]]:
        return [[_nlp.make_doc(doc.text)[:]] if len(doc) else [] for doc in docs]

    message = _violation(lambda: checks.check_span_getter(getter, max_examples=0))
    assert "belongs to another Doc object" in message


def test_flat_list_of_spans_fails_one_list_per_doc() -> None:
    def getter(docs: list[Doc]) -> list[Any]:
        return [doc[:] for doc in docs if len(doc)]

    message = _violation(lambda: checks.check_span_getter(getter, max_examples=0))
    assert "one list of Span objects per doc" in message


def test_tuples_instead_of_spans_fail() -> None:
    def getter(docs: list[Doc]) -> list[list[Any]]:
        return [[(0, len(doc))] for doc in docs]

    message = _violation(lambda: checks.check_span_getter(getter, max_examples=0))
    assert "holds a tuple" in message


def test_uncovered_tokens_fail_coverage_only_when_promised() -> None:
    def first_token(docs: list[Doc]) -> list[list[Span]]:
        return [[doc[:1]] if len(doc) else [] for doc in docs]

    checks.check_span_getter(first_token, max_examples=5)  # not a coverage getter: fine
    message = _violation(
        lambda: checks.check_span_getter(first_token, covers_every_token=True, max_examples=0)
    )
    assert "cover every token" in message
    assert "lies in no span" in message


def test_batch_dependent_getter_fails_batch_invariance() -> None:
    def getter(docs: list[Doc]) -> list[list[Span]]:
        n = len(docs)  # window size depends on the batch: a bug
        return [[doc[i : i + n] for i in range(0, len(doc), n)] for doc in docs]

    message = _violation(lambda: checks.check_span_getter(getter, max_examples=0))
    assert "do not depend on the other docs" in message


def test_crash_on_empty_doc_is_reported_as_such() -> None:
    def getter(docs: list[Doc]) -> list[list[Span]]:
        return [[doc[doc[0].i :]] for doc in docs]  # doc[0] raises on an empty doc

    message = _violation(lambda: checks.check_span_getter(getter, max_examples=0))
    assert "handles any batch of docs, empty docs included" in message
    assert "it raised IndexError" in message


def test_generated_examples_find_what_fixed_ones_miss() -> None:
    # Breaks only on docs of exactly 2 tokens, which no fixed example has.
    def getter(docs: list[Doc]) -> list[list[Span]]:
        return [[_nlp.make_doc("x y z w")[:]] if len(doc) == 2 else [doc[:]] for doc in docs]

    checks.check_span_getter(getter, max_examples=0)
    message = _violation(lambda: checks.check_span_getter(getter, max_examples=50))
    assert "every span lies inside the doc" in message


# -- poolers -------------------------------------------------------------------------------


def _pooler(forward: Callable[[Model, Ragged, bool], tuple[Floats2d, Any]]) -> Model:
    return Model("broken_pooler", forward)


def _mean_forward(
    model: Model, X: Ragged, is_train: bool, grad_scale: float = 1.0, empty_value: float = 0.0
) -> tuple[Floats2d, Callable[[Floats2d], Ragged]]:
    data = numpy.asarray(X.dataXd)
    lengths = numpy.asarray(X.lengths)
    starts = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(int)
    Y = numpy.full((len(lengths), data.shape[1]), empty_value, dtype="float32")
    for i, n in enumerate(lengths):
        if n:
            Y[i] = data[starts[i] : starts[i + 1]].mean(axis=0)

    def backprop(dY: Floats2d) -> Ragged:
        dX = numpy.zeros_like(data)
        for i, n in enumerate(lengths):
            if n:
                dX[starts[i] : starts[i + 1]] = grad_scale * numpy.asarray(dY)[i] / n
        return Ragged(dX, X.lengths)

    return Y, backprop


def test_correct_mean_pooler_passes() -> None:
    checks.check_pooler(_pooler(_mean_forward), max_examples=10)


def test_wrong_gradient_fails_finite_differences() -> None:
    broken = _pooler(lambda m, X, is_train: _mean_forward(m, X, is_train, grad_scale=2.0))
    message = _violation(lambda: checks.check_pooler(broken, max_examples=5))
    assert "the gradient agrees with finite differences" in message
    assert "backprop gives a directional derivative" in message


def test_nonzero_vector_for_empty_token_fails() -> None:
    broken = _pooler(lambda m, X, is_train: _mean_forward(m, X, is_train, empty_value=1.0))
    message = _violation(lambda: checks.check_pooler(broken, max_examples=5))
    assert "a token with no wordpiece rows gets a zero vector" in message


def test_thinc_reduce_mean_fails_on_a_doc_with_no_rows_at_all() -> None:
    # A real finding: thinc's reduce_mean reads Ragged.data, which is (0, 0) when no token has
    # rows, and returns (n_tokens, 0). The empty-row-safe poolers of trf-poolers exist for this.
    message = _violation(lambda: checks.check_pooler(reduce_mean(), max_examples=0))
    assert "shape (n_tokens, nO)" in message
    assert "lengths=[0, 0]" in message


def test_nan_for_empty_tokens_fails() -> None:
    def nan_forward(model: Model, X: Ragged, is_train: bool) -> tuple[Floats2d, Any]:
        Y, backprop = _mean_forward(model, X, is_train)
        lengths = numpy.asarray(X.lengths)
        Y[lengths == 0] = numpy.nan  # 0/0, as a naive mean computes it
        return Y, backprop

    message = _violation(lambda: checks.check_pooler(_pooler(nan_forward), max_examples=5))
    assert "zero vector" in message or "finite" in message


def test_wrong_output_shape_fails() -> None:
    def per_row(model: Model, X: Ragged, is_train: bool) -> tuple[Floats2d, Any]:
        return numpy.asarray(X.dataXd), lambda dY: Ragged(dY, X.lengths)

    message = _violation(lambda: checks.check_pooler(_pooler(per_row), max_examples=0))
    assert "shape (n_tokens, nO)" in message


def test_batch_normalizing_pooler_fails_batch_invariance() -> None:
    def normalized(model: Model, X: Ragged, is_train: bool) -> tuple[Floats2d, Any]:
        Y, backprop = _mean_forward(model, X, is_train)
        return Y / (numpy.abs(Y).sum() + 1.0), backprop

    message = _violation(lambda: checks.check_pooler(_pooler(normalized), max_examples=5))
    assert "does not depend on the other tokens" in message or "finite differences" in message


# -- annotation setters --------------------------------------------------------------------


def test_setter_mutating_the_output_fails() -> None:
    def setter(docs: list[Doc], batch: Any) -> None:
        if batch.tensors:
            batch.tensors[0] *= 0.5

    message = _violation(lambda: checks.check_annotation_setter(setter, max_examples=0))
    assert "does not change the transformer output" in message


def test_setter_replacing_trf_data_fails() -> None:
    def setter(docs: list[Doc], batch: Any) -> None:
        for doc in docs:
            doc._.trf_data = None

    message = _violation(lambda: checks.check_annotation_setter(setter, max_examples=0))
    assert "does not replace doc._.trf_data" in message


def test_accumulating_setter_fails_idempotence() -> None:
    def setter(docs: list[Doc], batch: Any) -> None:
        for doc in docs:
            doc.user_data.setdefault("seen", []).append(len(doc))

    message = _violation(lambda: checks.check_annotation_setter(setter, max_examples=0))
    assert "idempotent" in message
    assert "user_data" in message


def test_setter_crashing_on_docs_without_rows_fails() -> None:
    def setter(docs: list[Doc], batch: Any) -> None:
        for doc in docs:
            doc.user_data["first"] = float(doc._.trf_data.tensors[0][0, 0, 0])

    message = _violation(lambda: checks.check_annotation_setter(setter, max_examples=0))
    assert "empty docs and docs without spans included" in message


# -- backends ------------------------------------------------------------------------------


def _toy(get_spans: Callable[[list[Doc]], list[list[Span]]]) -> Model:
    return toy_transformer_v1(get_spans, width=6, depth=1, n_vocab=97, max_length=8)


def _wrapped(
    get_spans: Callable[[list[Doc]], list[list[Span]]],
    change_output: Callable[[Any, list[Doc]], None] | None = None,
    grad_scale: float = 1.0,
) -> Model:
    """The toy backend with one defect injected around it."""
    inner = _toy(get_spans)

    def forward(model: Model, docs: list[Doc], is_train: bool) -> tuple[Any, Any]:
        batch, backprop = inner(docs, is_train)
        if change_output is not None:
            change_output(batch, docs)

        def scaled(d_tensors: list[list[Any]]) -> Any:
            return backprop(
                [[None if g is None else g * grad_scale for g in doc] for doc in d_tensors]
            )

        return batch, scaled

    return Model(
        "broken_backend",
        forward,
        layers=[inner],
        init=lambda model, X=None, Y=None: inner.initialize(),
        attrs=dict(inner.attrs),
    )


def test_toy_backend_passes_from_a_factory() -> None:
    checks.check_backend(_toy, max_examples=3, hidden_states=False)


def test_batch_dependent_backend_fails_batch_invariance() -> None:
    def leak(batch: Any, docs: list[Doc]) -> None:
        if "last_hidden_state" in batch.model_output:
            batch.model_output["last_hidden_state"] += 0.01 * len(docs)

    message = _violation(
        lambda: checks.check_backend(lambda gs: _wrapped(gs, leak), max_examples=0)
    )
    assert "does not depend on the batch it came in" in message


def test_wrong_backprop_fails_finite_differences() -> None:
    message = _violation(
        lambda: checks.check_backend(lambda gs: _wrapped(gs, grad_scale=3.0), max_examples=0)
    )
    assert "parameter gradients agree with finite differences" in message


def test_backend_dropping_tokens_from_align_fails() -> None:
    def drop_last(batch: Any, docs: list[Doc]) -> None:
        lengths = numpy.asarray(batch.align.lengths)
        if len(lengths):
            keep = int(lengths[:-1].sum())
            batch.align = Ragged(batch.align.dataXd[:keep], batch.align.lengths[:-1])

    message = _violation(
        lambda: checks.check_backend(lambda gs: _wrapped(gs, drop_last), max_examples=0)
    )
    assert "one entry per token" in message or "aligns every token" in message


def test_backend_without_listener_attrs_fails() -> None:
    def build(get_spans: Any) -> Model:
        model = _wrapped(get_spans)
        model.attrs.pop("replace_listener", None)
        model.attrs.pop("replace_listener_cfg", None)
        return model

    message = _violation(lambda: checks.check_backend(build, max_examples=0))
    assert "replace_listener" in message


def test_backend_aligning_overlaps_only_once_fails() -> None:
    def first_span_only(batch: Any, docs: list[Doc]) -> None:
        # Keep each token's rows in the first span it appears in: the overlap bug.
        width = max(batch.wordpieces.max_length, 1)
        lengths = numpy.asarray(batch.align.lengths)
        data = numpy.asarray(batch.align.dataXd).reshape(-1)
        starts = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(int)
        rows, new_lengths = [], []
        for i in range(len(lengths)):
            token_rows = data[starts[i] : starts[i + 1]]
            if len(token_rows):
                token_rows = token_rows[token_rows // width == token_rows[0] // width]
            rows.extend(token_rows.tolist())
            new_lengths.append(len(token_rows))
        batch.align = Ragged(
            numpy.asarray(rows, dtype="int32"), numpy.asarray(new_lengths, dtype="int32")
        )

    message = _violation(
        lambda: checks.check_backend(lambda gs: _wrapped(gs, first_span_only), max_examples=0)
    )
    assert "aligns to rows in each of them" in message
