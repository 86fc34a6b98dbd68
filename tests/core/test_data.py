"""The data contract: split_by_doc / unsplit_by_doc, per-doc padding, alignment, DocBin, batching.

Batches come from the toy backend over adversarial docs; expectations are rebuilt here from the
batch's spans and lengths, not from data.py's own helpers.
"""

from __future__ import annotations

from typing import Any

import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

from trf_core.contract.data import (
    FullTransformerBatch,
    ModelOutput,
    TransformerData,
    WordpieceBatch,
)
from trf_core.contract.extensions import install_extensions
from trf_core.testing import strategies as trf_st
from trf_core.testing.toy_backend import CLS, SEP, toy_tokenize, toy_transformer_v1

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def span_ranges(batch: FullTransformerBatch) -> list[range]:
    """Each doc's rows (flattened span indices) in the batch."""
    out, k = [], 0
    for spans in batch.spans:
        out.append(range(k, k + len(spans)))
        k += len(spans)
    return out


def token_rows(align: Any) -> list[list[int]]:
    data = numpy.asarray(align.dataXd).ravel().tolist()
    out, i = [], 0
    for n in numpy.asarray(align.lengths).tolist():
        out.append(data[i : i + n])
        i += n
    return out


@SETTINGS
@given(trf_st.full_transformer_batches(), st.integers(0, 2**16))
def test_unsplit_places_each_docs_gradients_exactly_and_zeroes_padding(
    toy: trf_st.ToyBatch, seed: int
) -> None:
    batch = toy.batch
    rng = numpy.random.default_rng(seed)
    grads = [
        [
            None if rng.random() < 0.25 else rng.normal(size=t.shape).astype(t.dtype)
            for t in data.tensors
        ]
        for data in batch.doc_data
    ]
    out = batch.unsplit_by_doc(grads)
    assert len(out) == len(batch.tensors)
    for j, full in enumerate(batch.tensors):
        expected = numpy.zeros(full.shape)
        sent = False
        for rows, doc_grads in zip(span_ranges(batch), grads):
            if j < len(doc_grads) and doc_grads[j] is not None:
                sent = True
                for local, k in enumerate(rows):
                    g = doc_grads[j][local]
                    expected[(k, *tuple(slice(0, n) for n in g.shape))] = g
        if not sent:
            assert out[j] is None, "a tensor nobody sent a gradient for stays None"
        else:
            assert out[j].shape == full.shape
            numpy.testing.assert_array_equal(out[j], expected)


@SETTINGS
@given(trf_st.full_transformer_batches(hidden_states=True))
def test_unsplit_of_the_split_tensors_rebuilds_the_batch(toy: trf_st.ToyBatch) -> None:
    """The toy zeroes padding, so putting each doc's own tensors back gives the batch's."""
    batch = toy.batch
    out = batch.unsplit_by_doc([list(data.tensors) for data in batch.doc_data])
    for rebuilt, full in zip(out, batch.tensors):
        if rebuilt is None:
            assert sum(len(s) for s in batch.spans) == 0 or full.size == 0
            continue
        numpy.testing.assert_array_equal(rebuilt, full)


@SETTINGS
@given(trf_st.full_transformer_batches())
def test_each_doc_is_padded_only_to_its_own_longest_span(toy: trf_st.ToyBatch) -> None:
    batch = toy.batch
    max_length = toy.model.attrs["max_length"]
    width = toy.model.get_dim("nO")
    for doc, spans, data, rows in zip(toy.docs, toy.spans, batch.doc_data, span_ranges(batch)):
        windows = [w for span in spans for w in toy_tokenize(span, max_length)]
        assert len(rows) == len(windows)
        if not windows:
            assert data.tensors == []
            assert data.align.lengths.tolist() == [0] * len(doc)
            continue
        own_longest = max(len(w.strings) for w in windows)
        assert data.wordpieces.lengths == [len(w.strings) for w in windows]
        assert data.wordpieces.strings == [w.strings for w in windows]
        assert data.tensors[0].shape == (len(windows), own_longest, width)
        assert data.wordpieces.input_ids.shape == (len(windows), own_longest)
        assert data.tensors[1].shape == (len(windows), width)
        for hidden in data.tensors[2:]:
            assert hidden.shape == (len(windows), own_longest, width)


@SETTINGS
@given(trf_st.full_transformer_batches())
def test_doc_alignment_indexes_its_own_rows_and_the_same_vectors(toy: trf_st.ToyBatch) -> None:
    batch = toy.batch
    width = toy.model.get_dim("nO")
    batch_rows = batch.model_output.last_hidden_state.reshape((-1, width))
    all_token_rows = token_rows(batch.align)
    t0 = 0
    for doc, data in zip(toy.docs, batch.doc_data):
        assert data.align.lengths.tolist() == [len(r) for r in all_token_rows[t0 : t0 + len(doc)]]
        if data.tensors:
            doc_rows = data.tensors[0].reshape((-1, width))
            n_cols = data.tensors[0].shape[1]
            for t, rows in enumerate(token_rows(data.align)):
                for row in rows:
                    k, j = divmod(row, n_cols)
                    assert row < len(doc_rows)
                    assert j < data.wordpieces.lengths[k], "no token aligns to padding"
                    assert data.wordpieces.strings[k][j] not in (CLS, SEP)
                batch_vectors = batch_rows[numpy.asarray(all_token_rows[t0 + t], dtype="int64")]
                doc_vectors = doc_rows[numpy.asarray(rows, dtype="int64")]
                numpy.testing.assert_array_equal(doc_vectors, batch_vectors)
            state = data.last_hidden_layer_state
            numpy.testing.assert_array_equal(state.dataXd, doc_rows[data.align.dataXd])
        t0 += len(doc)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trf_st.full_transformer_batches(hidden_states=True), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_batch_or_order(toy: trf_st.ToyBatch, random: Any) -> None:
    model = toy.model
    order = list(range(len(toy.docs)))
    random.shuffle(order)
    shuffled, _ = model([toy.docs[i] for i in order], is_train=False)
    for position, i in enumerate(order):
        alone, _ = model([toy.docs[i]], is_train=False)
        for other in (shuffled.doc_data[position], alone.doc_data[0]):
            reference = toy.batch.doc_data[i]
            assert other.wordpieces.strings == reference.wordpieces.strings
            assert token_rows(other.align) == token_rows(reference.align)
            assert len(other.tensors) == len(reference.tensors)
            for a, b in zip(other.tensors, reference.tensors):
                assert a.shape == b.shape
                numpy.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def _doc_arrays(data: TransformerData) -> list[Any]:
    wordpieces = data.wordpieces
    arrays = [wordpieces.input_ids, wordpieces.attention_mask, *data.tensors]
    if wordpieces.token_type_ids is not None:
        arrays.append(wordpieces.token_type_ids)
    return [*arrays, data.align.dataXd, data.align.lengths]


@SETTINGS
@given(trf_st.full_transformer_batches(hidden_states=None))
def test_a_copied_split_equals_the_split_and_holds_nothing_of_the_batch(
    toy: trf_st.ToyBatch,
) -> None:
    batch = toy.batch
    views = batch.split_by_doc()
    copies = batch.split_by_doc(copy=True)
    batch_arrays = [
        batch.wordpieces.input_ids,
        batch.wordpieces.attention_mask,
        *batch.tensors,
        batch.align.dataXd,
        batch.align.lengths,
    ]
    assert len(copies) == len(views) == len(toy.docs)
    for view, copy in zip(views, copies):
        assert list(copy.model_output) == list(view.model_output)
        assert copy.wordpieces.strings == view.wordpieces.strings
        assert copy.wordpieces.lengths == view.wordpieces.lengths
        assert token_rows(copy.align) == token_rows(view.align)
        for a, b in zip(_doc_arrays(copy), _doc_arrays(view), strict=True):
            assert a.dtype == b.dtype
            numpy.testing.assert_array_equal(a, b)
        for array in _doc_arrays(copy):
            assert not any(numpy.shares_memory(array, whole) for whole in batch_arrays)


@pytest.fixture(scope="module")
def nlp() -> Any:
    install_extensions()
    return spacy.blank("en")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trf_st.full_transformer_batches(hidden_states=True))
def test_trf_data_survives_a_docbin(toy: trf_st.ToyBatch) -> None:
    install_extensions()
    doc_bin = DocBin(store_user_data=True)
    for doc, data in zip(toy.docs, toy.batch.doc_data):
        doc._.trf_data = data
        doc_bin.add(doc)
    loaded = list(DocBin().from_bytes(doc_bin.to_bytes()).get_docs(toy.docs[0].vocab))
    assert len(loaded) == len(toy.docs)
    for doc, original in zip(loaded, toy.batch.doc_data):
        data = doc._.trf_data
        assert isinstance(data, TransformerData)
        assert list(data.model_output) == list(original.model_output)
        assert len(data.tensors) == len(original.tensors)
        for a, b in zip(data.tensors, original.tensors):
            numpy.testing.assert_array_equal(a, b)
        assert token_rows(data.align) == token_rows(original.align)
        assert data.wordpieces.strings == original.wordpieces.strings
        assert data.wordpieces.lengths == original.wordpieces.lengths
        numpy.testing.assert_array_equal(data.wordpieces.input_ids, original.wordpieces.input_ids)
        numpy.testing.assert_array_equal(
            data.wordpieces.attention_mask, original.wordpieces.attention_mask
        )


def test_empty_values(nlp: Any) -> None:
    empty = TransformerData.empty(3)
    assert empty.tensors == [] and empty.width == 0
    assert empty.align.lengths.tolist() == [0, 0, 0]
    assert empty.last_hidden_layer_state.lengths.tolist() == [0, 0, 0]
    batch = FullTransformerBatch.empty(2)
    assert [d.align.lengths.tolist() for d in batch.doc_data] == [[], []]
    assert batch.unsplit_by_doc([[], []]) == []


def test_model_output_attribute_access_and_flat_order() -> None:
    out = ModelOutput()
    out["last_hidden_state"] = numpy.zeros((1, 2, 3))
    out["pooler_output"] = numpy.ones((1, 3))
    out["hidden_states"] = (numpy.full((1, 2, 3), 2.0), numpy.full((1, 2, 3), 3.0))
    assert out.pooler_output is out["pooler_output"]
    assert [float(t.flat[0]) for t in out.flat()] == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(AttributeError, match="it holds: last_hidden_state, pooler_output"):
        _ = out.attentions


def test_unsplit_refuses_wrong_doc_count_and_wrong_shapes(nlp: Any) -> None:
    model = toy_transformer_v1(lambda docs: [[doc[:]] for doc in docs], width=4)
    model.initialize()
    batch, _ = model([nlp.make_doc("one doc"), nlp.make_doc("two")], is_train=False)
    with pytest.raises(ValueError, match="gradients for 1 docs, but the batch holds 2"):
        batch.unsplit_by_doc([[None, None]])
    wrong = numpy.zeros((1, 99, 4))
    with pytest.raises(ValueError, match=r"shape \(1, 99, 4\).*must match the doc's own"):
        batch.unsplit_by_doc([[wrong, None], [None, None]])
    with pytest.raises(ValueError, match="tensor 5"):
        batch.unsplit_by_doc([[None] * 5 + [numpy.zeros((1, 4))], [None, None]])


def test_wordpiece_select_pads_to_the_selected_spans_only() -> None:
    ids = numpy.arange(12, dtype="int32").reshape((3, 4))
    mask = numpy.asarray([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype="int32")
    wp = WordpieceBatch(
        strings=[["a", "b"], ["c", "d", "e", "f"], ["g"]],
        input_ids=ids,
        attention_mask=mask,
        lengths=[2, 4, 1],
    )
    picked = wp.select(2, 3)
    assert picked.lengths == [1] and picked.input_ids.tolist() == [[8]]
    both = wp.select(0, 2)
    assert both.input_ids.shape == (2, 4) and both.strings == [["a", "b"], ["c", "d", "e", "f"]]
    restored = WordpieceBatch.from_dict(wp.to_dict())
    assert restored.strings == wp.strings and restored.input_ids.tolist() == ids.tolist()


def test_docs_with_no_tokens_between_others_keep_their_place(nlp: Any) -> None:
    model = toy_transformer_v1(lambda docs: [[doc[:]] if len(doc) else [] for doc in docs], width=4)
    model.initialize()
    docs = [nlp.make_doc("first doc"), nlp.make_doc(""), nlp.make_doc("third")]
    batch, _ = model(docs, is_train=False)
    data = batch.doc_data
    assert [d.align.lengths.tolist() for d in data] == [[2, 1], [], [2]]
    assert data[2].wordpieces.strings == [[CLS, "thi", "rd", SEP]]
    third_alone = model([docs[2]], is_train=False)[0].doc_data[0]
    numpy.testing.assert_allclose(data[2].tensors[0], third_alone.tensors[0], atol=1e-6)
