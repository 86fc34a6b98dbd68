"""The toy backend honours the backend contract: windows, outputs, gradients, serialization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, Span
from thinc.api import Config

from trf_core.contract.data import FullTransformerBatch
from trf_core.testing import strategies as trf_st
from trf_core.testing.toy_backend import (
    CLS,
    SEP,
    count_toy_pieces,
    toy_tokenize,
    toy_transformer_v1,
)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def nlp() -> Any:
    return spacy.blank("en")


def whole_docs(docs: list[Doc]) -> list[list[Span]]:
    return [[doc[:]] if len(doc) else [] for doc in docs]


def build(get_spans: Any = whole_docs, **kwargs: Any) -> Any:
    model = toy_transformer_v1(get_spans, **kwargs)
    model.initialize()
    return model


def expected_pieces(text: str) -> list[str]:
    """The toy's pieces, written out plainly: 3-character cuts of each whitespace chunk."""
    return [chunk[i : i + 3].lower() for chunk in text.split() for i in range(0, len(chunk), 3)]


# -- tokenizer ---------------------------------------------------------------------------------


@SETTINGS
@given(trf_st.docs_with_spans(), st.integers(3, 10))
def test_windows_keep_every_piece_in_order_and_respect_max_length(
    doc_and_spans: tuple, max_length: int
) -> None:
    doc, spans = doc_and_spans
    for span in spans:
        windows = toy_tokenize(span, max_length)
        pieces = []
        for window in windows:
            assert len(window.strings) <= max_length
            assert len(window.strings) >= 3 or windows == [window], "only a blank span is bare"
            assert window.strings[0] == CLS and window.strings[-1] == SEP
            assert window.offsets[0].tolist() == [-1, -1] == window.offsets[-1].tolist()
            assert window.span.doc is doc
            assert span.start <= window.span.start <= window.span.end <= span.end
            for (a, b), piece in zip(window.offsets[1:-1].tolist(), window.strings[1:-1]):
                # Offsets point into the original text, inside the window's tokens.
                assert doc.text[a:b].lower() == piece
                assert window.span.start_char <= a < b <= window.span.end_char
            pieces.extend(window.strings[1:-1])
        assert pieces == expected_pieces(span.text), "windowing truncates or reorders nothing"
        assert len(windows) == max(1, -(-len(pieces) // (max_length - 2)))


def test_long_token_split_across_windows_keeps_its_span(nlp: Any) -> None:
    doc = nlp.make_doc("ab supercalifragilistic cd")
    windows = toy_tokenize(doc[:], 4)  # two pieces per window
    assert [w.strings[1:-1] for w in windows] == [
        ["ab", "sup"],
        ["erc", "ali"],
        ["fra", "gil"],
        ["ist", "ic"],
        ["cd"],
    ]
    assert [(w.span.start, w.span.end) for w in windows] == [(0, 2), (1, 2), (1, 2), (1, 2), (2, 3)]


def test_tokenizer_lowercases_but_offsets_stay_on_the_original(nlp: Any) -> None:
    doc = nlp.make_doc("İSTANBUL")
    (window,) = toy_tokenize(doc[:], 16)
    assert window.strings[1:-1] == ["i̇st", "anb", "ul"]
    assert window.offsets[1:-1].tolist() == [[0, 3], [3, 6], [6, 8]]


def test_max_length_too_small_is_refused(nlp: Any) -> None:
    with pytest.raises(ValueError, match="max_length >= 3"):
        toy_tokenize(nlp.make_doc("a")[:], 2)
    with pytest.raises(ValueError, match="max_length must be >= 3"):
        toy_transformer_v1(whole_docs, max_length=2)


@SETTINGS
@given(st.lists(trf_st.docs(), max_size=3))
def test_count_pieces_is_exact_for_whole_doc_spans(docs: list[Doc]) -> None:
    model = build(max_length=10_000)
    batch, _ = model(docs, is_train=False)
    assert count_toy_pieces(model, docs) == [len(expected_pieces(doc.text)) + 2 for doc in docs]
    assert model.attrs["count_pieces"] is count_toy_pieces
    spans_seen = [n for n, doc in zip(count_toy_pieces(model, docs), docs) if len(doc)]
    assert batch.wordpieces.lengths == spans_seen


# -- outputs -----------------------------------------------------------------------------------


def test_outputs_in_contract_order_with_the_right_shapes(nlp: Any) -> None:
    model = build(width=6, depth=3)
    docs = [nlp.make_doc("Hello there world"), nlp.make_doc("Hi")]
    batch, _ = model(docs, is_train=False)
    assert isinstance(batch, FullTransformerBatch)
    assert list(batch.model_output) == ["last_hidden_state", "pooler_output"]
    assert batch.doc_lengths == [3, 1]
    # [CLS] hel lo the re wor ld [SEP] = 8 ; [CLS] hi [SEP] = 3
    assert batch.wordpieces.lengths == [8, 3]
    assert batch.model_output.last_hidden_state.shape == (2, 8, 6)
    assert batch.model_output.pooler_output.shape == (2, 6)

    model.attrs["output_hidden_states"] = True
    model.attrs["output_attentions"] = True
    batch, _ = model(docs, is_train=False)
    assert list(batch.model_output) == [
        "last_hidden_state",
        "pooler_output",
        "hidden_states",
        "attentions",
    ]
    hidden = batch.model_output.hidden_states
    assert len(hidden) == 4 and all(h.shape == (2, 8, 6) for h in hidden)
    numpy.testing.assert_array_equal(hidden[-1], batch.model_output.last_hidden_state)
    attentions = batch.model_output.attentions
    assert len(attentions) == 3 and attentions[0].shape == (2, 1, 8, 8)
    # The uniform mixing, reported as attention: each real query row sums to one.
    numpy.testing.assert_allclose(attentions[0][1, 0, :3].sum(axis=-1), 1.0, rtol=1e-6)
    assert float(numpy.abs(attentions[0][1, 0, 3:]).sum()) == 0.0


def test_padding_rows_are_zero_and_pooler_is_the_mean_of_real_pieces(nlp: Any) -> None:
    model = build()
    batch, _ = model([nlp.make_doc("a longer document here"), nlp.make_doc("x")], is_train=False)
    last = batch.model_output.last_hidden_state
    n_short = batch.wordpieces.lengths[1]
    assert float(numpy.abs(last[1, n_short:]).sum()) == 0.0
    numpy.testing.assert_allclose(
        batch.model_output.pooler_output[1], last[1, :n_short].mean(axis=0), rtol=1e-5
    )


def test_outputs_depend_on_context(nlp: Any) -> None:
    model = build()
    batch, _ = model([nlp.make_doc("cat sat"), nlp.make_doc("cat ran")], is_train=False)
    cat_here = batch.model_output.last_hidden_state[0, 1]
    cat_there = batch.model_output.last_hidden_state[1, 1]
    assert batch.wordpieces.strings[0][1] == batch.wordpieces.strings[1][1] == "cat"
    assert not numpy.allclose(cat_here, cat_there)


def test_same_seed_same_function_other_seed_other_function(nlp: Any) -> None:
    docs = [nlp.make_doc("the same text")]
    one = build(seed=3)(docs, is_train=False)[0].model_output.last_hidden_state
    two = build(seed=3)(docs, is_train=False)[0].model_output.last_hidden_state
    other = build(seed=4)(docs, is_train=False)[0].model_output.last_hidden_state
    numpy.testing.assert_array_equal(one, two)
    assert not numpy.allclose(one, other)


def test_batch_of_empty_docs_and_docs_without_spans(nlp: Any) -> None:
    model = build(width=5)
    docs = [nlp.make_doc(""), nlp.make_doc("   "), nlp.make_doc("")]
    batch, backprop = model(docs, is_train=True)
    assert [len(s) for s in batch.spans] == [0, 1, 0]
    data = batch.doc_data
    assert [d.align.lengths.tolist() for d in data] == [[], [0], []]
    assert data[1].tensors[0].shape == (1, 2, 5)  # only [CLS] [SEP]
    assert backprop([[None] * len(d.tensors) for d in data]) == []

    no_spans = build(lambda ds: [[] for _ in ds], width=5)
    batch, backprop = no_spans([nlp.make_doc("some words"), nlp.make_doc("")], is_train=True)
    assert batch.model_output.last_hidden_state.shape == (0, 0, 5)
    assert [d.align.lengths.tolist() for d in batch.doc_data] == [[0, 0], []]
    assert all(d.tensors == [] for d in batch.doc_data)
    assert backprop([[], []]) == []


def test_span_getter_mistakes_are_explained(nlp: Any) -> None:
    doc, other = nlp.make_doc("a b"), nlp.make_doc("c")
    with pytest.raises(ValueError, match="spans for 0 docs, but got 1"):
        build(lambda docs: [])([doc], is_train=False)
    with pytest.raises(ValueError, match="span of another doc"):
        build(lambda docs: [[other[:]]])([doc], is_train=False)


# -- gradients ---------------------------------------------------------------------------------


def _float64(model: Any) -> None:
    for name in model.param_names:
        model.set_param(name, model.get_param(name).astype("float64"))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trf_st.full_transformer_batches(width=4, depth=2), st.integers(0, 2**16))
def test_gradients_agree_with_finite_differences(toy: trf_st.ToyBatch, seed: int) -> None:
    model = toy.model
    _float64(model)
    batch, backprop = model(toy.docs, is_train=True)
    rng = numpy.random.default_rng(seed)
    # Random gradients for every tensor of every doc; now and then a None.
    d_tensors = [
        [None if rng.random() < 0.2 else rng.normal(size=t.shape) for t in data.tensors]
        for data in batch.doc_data
    ]

    def loss() -> float:
        out, _ = model(toy.docs, is_train=False)
        return sum(
            float((t * g).sum())
            for data, grads in zip(out.doc_data, d_tensors)
            for t, g in zip(data.tensors, grads)
            if g is not None
        )

    for name in model.param_names:
        model.set_grad(name, numpy.zeros_like(model.get_param(name)))
    assert backprop(d_tensors) == []
    eps = 1e-6
    for name in model.param_names:
        param, grad = model.get_param(name), model.get_grad(name)
        for flat in rng.choice(param.size, size=min(3, param.size), replace=False):
            idx = numpy.unravel_index(flat, param.shape)
            old = param[idx]
            param[idx] = old + eps
            plus = loss()
            param[idx] = old - eps
            minus = loss()
            param[idx] = old
            numeric = (plus - minus) / (2 * eps)
            assert abs(numeric - grad[idx]) <= 1e-5 * max(1.0, abs(numeric)), (name, idx)


def test_hidden_state_gradients_reach_the_embeddings(nlp: Any) -> None:
    model = build(width=4, depth=1)
    model.attrs["output_hidden_states"] = True
    batch, backprop = model([nlp.make_doc("abc")], is_train=True)
    (data,) = batch.doc_data
    # Only the embedding layer's output (hidden_states[0], tensors[2]) gets a gradient.
    grads: list[Any] = [None] * len(data.tensors)
    grads[2] = numpy.ones_like(data.tensors[2])
    backprop([grads])
    d_embed = model.get_grad("E")
    rows = batch.wordpieces.input_ids[0]
    # d(sum of embeddings)/dE is 1 for each occurrence of each real piece, and nothing else.
    expected = numpy.zeros_like(d_embed)
    for i in rows:
        expected[i] += 1.0
    numpy.testing.assert_allclose(d_embed, expected)
    assert float(numpy.abs(model.get_grad("W0")).sum()) == 0.0


# -- registry and serialization ----------------------------------------------------------------


def test_registered_architecture_builds_from_a_config(nlp: Any) -> None:
    @spacy.registry.misc("test_toy.whole_docs.v1")
    def make_whole_docs() -> Any:
        return whole_docs

    cfg = Config().from_str(
        """
        [model]
        @architectures = "trf.ToyTransformer.v1"
        width = 8
        depth = 1
        max_length = 20

        [model.get_spans]
        @misc = "test_toy.whole_docs.v1"
        """
    )
    model = spacy.registry.resolve(cfg)["model"]
    model.initialize()
    assert model.get_dim("nO") == 8
    batch, _ = model([nlp.make_doc("a b c")], is_train=False)
    assert batch.model_output.last_hidden_state.shape[-1] == 8


def test_to_bytes_and_to_disk_give_identical_outputs(nlp: Any, tmp_path: Path) -> None:
    docs = [nlp.make_doc("serialise me please"), nlp.make_doc("and me")]
    source = build(seed=1)
    expected = source(docs, is_train=False)[0].model_output.last_hidden_state

    from_bytes = build(seed=2).from_bytes(source.to_bytes())
    numpy.testing.assert_array_equal(
        from_bytes(docs, is_train=False)[0].model_output.last_hidden_state, expected
    )
    source.to_disk(tmp_path / "toy")
    from_disk = toy_transformer_v1(whole_docs, seed=5).from_disk(tmp_path / "toy")
    numpy.testing.assert_array_equal(
        from_disk(docs, is_train=False)[0].model_output.last_hidden_state, expected
    )


def test_listener_attrs_are_the_listener_callbacks() -> None:
    from trf_core.component import listeners

    model = toy_transformer_v1(whole_docs)
    assert model.attrs["replace_listener"] is listeners.replace_listener
    assert model.attrs["replace_listener_cfg"] is listeners.replace_listener_cfg


def test_piece_strings_match_the_text(nlp: Any) -> None:
    text = "Straße  naïve\n\nfin"
    batch, _ = build()([nlp.make_doc(text)], is_train=False)
    assert batch.wordpieces.strings[0][1:-1] == expected_pieces(text)
    assert batch.wordpieces.strings[0][0] == CLS and batch.wordpieces.strings[0][-1] == SEP


def test_testing_kit_and_toy_backend_work_without_torch_pytest_or_hypothesis() -> None:
    """The conformance kit is for torch-free environments; run it with those imports blocked."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        for name in ("torch", "transformers", "pytest", "hypothesis"):
            sys.modules[name] = None  # any import of them now raises ImportError
        import trf_core.testing
        from spacy.tokens import Doc
        from spacy.vocab import Vocab
        from trf_core.testing.toy_backend import toy_transformer_v1
        model = toy_transformer_v1(lambda docs: [[d[:]] for d in docs], width=4)
        model.initialize()
        batch, _ = model([Doc(Vocab(), words=["no", "torch"])], is_train=False)
        print(batch.doc_data[0].align.lengths.tolist())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1, 2]"


def test_span_getter_may_return_generators(nlp: Any) -> None:
    doc = nlp.make_doc("one two three four")
    model = build(lambda docs: (iter([d[0:2], d[2:4]]) for d in docs))
    batch, _ = model([doc], is_train=False)
    assert [[(s.start, s.end) for s in spans] for spans in batch.spans] == [[(0, 2), (2, 4)]]
    assert batch.doc_data[0].align.lengths.tolist() == [1, 1, 2, 2]
