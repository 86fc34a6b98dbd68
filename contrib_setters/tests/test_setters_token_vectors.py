"""trf.token_vectors.v1: doc.tensor from the transformer, and spaCy's vectors on top of it."""

from __future__ import annotations

import numpy
import pytest
from hypothesis import given, settings
from numpy.testing import assert_allclose
from setter_helpers import assert_unchanged, hand_batch, per_token_means, snapshot
from trf_setters import configure_token_vectors

from trf_core.testing import strategies as trf_st


def test_hand_derived_token_vectors() -> None:
    docs, batch = hand_batch()
    configure_token_vectors()(docs, batch)
    assert docs[0].tensor.dtype == numpy.float32
    assert_allclose(docs[0].tensor, [[1, 0.1], [2.5, 0.65], [0, 0], [4, 1.6]], rtol=1e-6)
    assert_allclose(docs[1].tensor, [[11, 12.1], [21, 44.1], [22, 48.4]], rtol=1e-6)


def test_spacy_vectors_and_similarity_follow_the_tensor() -> None:
    docs, batch = hand_batch()
    doc1, doc2 = docs
    doc1.vector  # noqa: B018  (a stale cached vector must not survive the setter)
    configure_token_vectors()(docs, batch)
    assert_allclose(doc1[1].vector, [2.5, 0.65], rtol=1e-6)
    assert not doc1[2].vector.any()
    expected1 = numpy.asarray([1 + 2.5 + 0 + 4, 0.1 + 0.65 + 0 + 1.6]) / 4
    assert_allclose(doc1.vector, expected1, rtol=1e-6)
    assert_allclose(doc1[0:2].vector, [1.75, 0.375], rtol=1e-6)
    expected2 = numpy.asarray([11 + 21 + 22, 12.1 + 44.1 + 48.4]) / 3
    cosine = expected1 @ expected2 / numpy.linalg.norm(expected1) / numpy.linalg.norm(expected2)
    with pytest.warns(UserWarning, match="W007"):  # spaCy: "no word vectors loaded"
        assert doc1.similarity(doc2) == pytest.approx(cosine, rel=1e-5)


def test_hidden_layer_selection() -> None:
    docs, batch = hand_batch(with_hidden=True)
    configure_token_vectors(layer=1)(docs, batch)  # hidden_states[1] is twice the last state
    assert_allclose(docs[0].tensor[1], [5.0, 1.3], rtol=1e-6)
    configure_token_vectors(layer=0)(docs, batch)  # all ones, except tokens with no rows
    assert_allclose(docs[0].tensor, [[1, 1], [1, 1], [0, 0], [1, 1]])
    assert configure_token_vectors(layer=0).needs_hidden_states
    assert not configure_token_vectors().needs_hidden_states


def test_missing_or_out_of_range_hidden_layer_says_what_to_do() -> None:
    docs, batch = hand_batch()
    with pytest.raises(ValueError, match="output_hidden_states"):
        configure_token_vectors(layer=2)(docs, batch)
    docs, batch = hand_batch(with_hidden=True)
    with pytest.raises(ValueError, match="has 3"):
        configure_token_vectors(layer=3)(docs, batch)
    with pytest.raises(ValueError, match="layer must be"):
        configure_token_vectors(layer="last")  # type: ignore[arg-type]


def test_docs_must_match_the_batch() -> None:
    docs, batch = hand_batch()
    with pytest.raises(ValueError, match="2"):
        configure_token_vectors()(docs[:1], batch)


@settings(max_examples=25, deadline=None)
@given(toy=trf_st.full_transformer_batches(width=4))
def test_properties_on_toy_batches(toy: trf_st.ToyBatch) -> None:
    """Shape, zeros for unaligned tokens, agreement with a loop, idempotence, trf_data intact."""
    batch = toy.batch
    before = snapshot(batch)
    setter = configure_token_vectors()
    setter(toy.docs, batch)
    first = [doc.tensor.copy() for doc in toy.docs]
    setter(toy.docs, batch)
    assert_unchanged(before, batch)
    seen: set[int] = set()
    for doc, data, tensor in zip(toy.docs, batch.doc_data, first):
        numpy.testing.assert_array_equal(doc.tensor, tensor)  # idempotent
        assert doc.tensor.shape == (len(doc), 4)
        if id(doc) in seen:  # the same Doc drawn twice: last write wins, checked once
            continue
        seen.add(id(doc))
        layer = data.model_output.get("last_hidden_state")
        assert_allclose(doc.tensor, per_token_means(layer, data.align, 4), rtol=1e-5, atol=1e-6)
        no_rows = numpy.asarray(data.align.lengths) == 0
        assert not doc.tensor[no_rows].any()


@settings(max_examples=15, deadline=None)
@given(toy=trf_st.full_transformer_batches(width=4, depth=2, hidden_states=True))
def test_hidden_layers_on_toy_batches(toy: trf_st.ToyBatch) -> None:
    batch = toy.batch
    configure_token_vectors(layer=0)(toy.docs, batch)
    for doc, data in zip(toy.docs, batch.doc_data):
        if not len(data.model_output):
            assert not doc.tensor.any()
            continue
        layer = data.model_output["hidden_states"][0]
        assert_allclose(doc.tensor, per_token_means(layer, data.align, 4), rtol=1e-5, atol=1e-6)
