"""trf.doc_embedding.v1: one vector per doc behind doc.vector and doc.similarity."""

from __future__ import annotations

import pickle

import numpy
import pytest
from hypothesis import given, settings
from numpy.testing import assert_allclose
from setter_helpers import VOCAB, assert_unchanged, hand_batch, snapshot
from spacy.tokens import Doc
from trf_setters import configure_doc_embedding

from trf_core.testing import strategies as trf_st

# From setter_helpers.hand_batch: doc1 has one span of 6 pieces (rows j = 0..5); doc2 has spans
# of 3 and 4 pieces (rows 10..12 and 20..23; row 13 is padding). Row v is [v, v**2 / 10].
HAND = {
    "cls": ([0.0, 0.0], [15.0, 25.0]),
    "mean": ([2.5, 55 / 60], [17.0, 2219 / 70]),
    "pooler": ([1.0, 2.0], [4.0, 5.0]),
}


@pytest.mark.parametrize("pooling", list(HAND))
def test_hand_derived_embeddings(pooling: str) -> None:
    docs, batch = hand_batch()
    configure_doc_embedding(pooling=pooling)(docs, batch)
    for doc, expected in zip(docs, HAND[pooling]):
        assert doc._.trf_doc_embedding.dtype == numpy.float32
        assert_allclose(doc._.trf_doc_embedding, expected, rtol=1e-6)
        assert_allclose(doc.vector, expected, rtol=1e-6)


def test_normalize_and_similarity_hooks() -> None:
    docs, batch = hand_batch()
    configure_doc_embedding(pooling="pooler", normalize=True, extension="unit_vec")(docs, batch)
    doc1, doc2 = docs
    assert_allclose(doc1._.unit_vec, numpy.asarray([1, 2]) / numpy.sqrt(5), rtol=1e-6)
    assert doc1.vector_norm == pytest.approx(1.0)
    expected = (1 * 4 + 2 * 5) / numpy.sqrt(5) / numpy.sqrt(41)
    assert doc1.similarity(doc2) == pytest.approx(expected, rel=1e-6)
    assert doc2.similarity(doc1) == pytest.approx(expected, rel=1e-6)


def test_hidden_layer_and_without_hooks() -> None:
    docs, batch = hand_batch(with_hidden=True)
    configure_doc_embedding(pooling="cls", layer=1, set_hooks=False, extension="e2")(docs, batch)
    assert_allclose(docs[1]._.e2, [30.0, 50.0], rtol=1e-6)  # hidden_states[1] = 2 * last
    assert "vector" not in docs[1].user_hooks


def test_doc_the_transformer_did_not_see_gets_zeros() -> None:
    docs, batch = hand_batch()
    empty = Doc(VOCAB, words=[])
    batch.spans.append([])
    batch.doc_lengths = [*(batch.doc_lengths or []), 0]
    configure_doc_embedding()([*docs, empty], batch)
    assert empty._.trf_doc_embedding.shape == (2,)
    assert not empty._.trf_doc_embedding.any()
    assert empty.similarity(docs[0]) == 0.0


def test_docs_with_hooks_still_pickle() -> None:
    docs, batch = hand_batch()
    configure_doc_embedding()(docs, batch)
    restored = pickle.loads(pickle.dumps(docs[0]))
    assert_allclose(restored.vector, docs[0].vector)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="pooling must be one of"):
        configure_doc_embedding(pooling="max")
    with pytest.raises(ValueError, match="layer = null"):
        configure_doc_embedding(pooling="pooler", layer=1)
    with pytest.raises(ValueError, match="identifier"):
        configure_doc_embedding(extension="not a name")
    Doc.set_extension("trf_test_readonly", getter=lambda doc: 1, force=True)
    with pytest.raises(ValueError, match="read-only"):
        configure_doc_embedding(extension="trf_test_readonly")


def test_pooler_pooling_without_a_pooled_output_says_so() -> None:
    docs, batch = hand_batch()
    del batch.model_output["pooler_output"]
    batch.cached_doc_data = None
    with pytest.raises(ValueError, match="'cls' or 'mean'"):
        configure_doc_embedding(pooling="pooler")(docs, batch)


@settings(max_examples=25, deadline=None)
@given(toy=trf_st.full_transformer_batches(width=4))
def test_properties_on_toy_batches(toy: trf_st.ToyBatch) -> None:
    """Shape, agreement with a loop over real pieces, idempotence, trf_data intact."""
    batch = toy.batch
    before = snapshot(batch)
    setter = configure_doc_embedding(pooling="mean")
    setter(toy.docs, batch)
    first = [doc._.trf_doc_embedding.copy() for doc in toy.docs]
    setter(toy.docs, batch)
    assert_unchanged(before, batch)
    for doc, vector in zip(toy.docs, first):
        numpy.testing.assert_array_equal(doc._.trf_doc_embedding, vector)
        assert doc.vector.shape == (4,)
    last = {id(doc): data for doc, data in zip(toy.docs, batch.doc_data)}
    for doc in toy.docs:
        data = last[id(doc)]
        if not len(data.model_output):
            assert not doc.vector.any()
            continue
        state = data.model_output["last_hidden_state"]
        real = [state[i, :n] for i, n in enumerate(data.wordpieces.lengths)]
        expected = numpy.concatenate(real).astype("float64").mean(axis=0)
        assert_allclose(doc.vector, expected, rtol=1e-5, atol=1e-6)
