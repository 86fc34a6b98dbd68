"""The ONNX backend in spaCy pipelines, on the toy export: runs, saves, loads, copies, pickles, and
refuses what it cannot do with errors that say what to do instead."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx_models import WORDS, make_toy_export
from spacy.language import Language
from spacy.training import Example
from trf_onnx import TrainingNotSupportedError, UnsupportedSettingError
from trf_onnx.backend import build_onnx_backend

from trf_core.testing.pipelines import (
    DOC_SPANS,
    NULL_SETTER,
    TAGGED,
    listener_cfg,
    tagger_cfg,
    whole_docs,
)

TEXTS = ["I like green eggs", "", "the quick brown fox jumps over the lazy dog " * 3, "Eat ham now"]


def _model_cfg(path: Path, **settings: Any) -> dict[str, Any]:
    return {
        "@architectures": "trf.ONNXTransformerModel.v1",
        "name": str(path),
        "get_spans": {"@span_getters": DOC_SPANS},
        **settings,
    }


def _pipeline(path: Path, frozen: bool = False, **settings: Any) -> Language:
    nlp = spacy.blank("en")
    setter = {"@annotation_setters": NULL_SETTER}  # the core's testing one: no trf-setters needed
    config = {"model": _model_cfg(path, **settings), "frozen": frozen, "annotation_setter": setter}
    nlp.add_pipe("transformer", config=config)
    nlp.add_pipe("tagger", config=tagger_cfg(listener_cfg()))
    return nlp


def _examples(nlp: Language) -> list[Example]:
    return [Example.from_dict(nlp.make_doc(text), {"tags": tags}) for text, tags in TAGGED]


def _outputs(nlp: Language, texts: list[str]) -> list[tuple[list[str], numpy.ndarray]]:
    out = []
    for doc in nlp.pipe(texts):
        tensors = doc._.trf_data.tensors
        out.append(([t.tag_ for t in doc], numpy.asarray(tensors[0]) if tensors else None))
    return out


def _same(a: list[Any], b: list[Any]) -> bool:
    for (tags_a, t_a), (tags_b, t_b) in zip(a, b):
        if tags_a != tags_b or (t_a is None) != (t_b is None):
            return False
        if t_a is not None and not numpy.array_equal(t_a, t_b):
            return False
    return len(a) == len(b)


@pytest.fixture
def trained(toy_export: Path) -> Language:
    """A tagger trained on the frozen ONNX transformer's outputs."""
    nlp = _pipeline(toy_export, frozen=True)
    examples = _examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    return nlp


def test_update_says_to_train_with_trf_hf(toy_export: Path) -> None:
    nlp = _pipeline(toy_export)
    examples = _examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    with pytest.raises(TrainingNotSupportedError, match=r"trf-hf.*export-onnx") as info:
        nlp.update(examples, sgd=optimizer)
    assert "frozen = true" in str(info.value)


def test_frozen_transformer_lets_the_heads_train(toy_export: Path) -> None:
    nlp = _pipeline(toy_export, frozen=True)
    examples = _examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    tagger = nlp.get_pipe("tagger").model
    before = [numpy.array(p, copy=True) for p in _params(tagger)]
    losses = nlp.update(examples, sgd=optimizer)
    assert losses["tagger"] > 0
    after = _params(tagger)
    assert any(not numpy.array_equal(a, b) for a, b in zip(before, after))


def _params(model: Any) -> list[Any]:
    return [
        node.get_param(name)
        for node in model.walk()
        for name in node.param_names
        if node.has_param(name)
    ]


def test_mixed_precision_is_refused(toy_export: Path) -> None:
    with pytest.raises(UnsupportedSettingError, match="--quantize int8"):
        _pipeline(toy_export, mixed_precision=True)


def test_attentions_are_refused(toy_export: Path) -> None:
    backend = build_onnx_backend(str(toy_export), whole_docs)
    backend.initialize()
    backend.attrs["output_attentions"] = True
    with pytest.raises(UnsupportedSettingError, match="output_attentions"):
        backend.predict([spacy.blank("en")("some text")])


def test_hidden_states_missing_from_the_export(tmp_path: Path) -> None:
    path = make_toy_export(tmp_path / "model", hidden_states=False)
    backend = build_onnx_backend(str(path), whole_docs)
    backend.initialize()
    docs = [spacy.blank("en")("some text")]
    assert backend.predict(docs).model_output.get("hidden_states") is None
    backend.attrs["output_hidden_states"] = True
    with pytest.raises(UnsupportedSettingError, match="export the pipeline again"):
        backend.predict(docs)


def test_hidden_states_are_returned_when_asked(toy_export: Path) -> None:
    backend = build_onnx_backend(str(toy_export), whole_docs)
    backend.initialize()
    backend.attrs["output_hidden_states"] = True
    batch = backend.predict([spacy.blank("en")("the dog")])
    states = batch.model_output["hidden_states"]
    assert len(states) == 2  # embeddings + the toy's one layer
    numpy.testing.assert_array_equal(states[-1], batch.model_output["last_hidden_state"])


def test_disk_round_trip_gives_identical_outputs(trained: Language, tmp_path: Path) -> None:
    expected = _outputs(trained, TEXTS)
    trained.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert _same(_outputs(loaded, TEXTS), expected)
    # Saving over the folder it was loaded from, and then elsewhere, keeps the model whole.
    loaded.to_disk(tmp_path / "nlp")
    loaded.to_disk(tmp_path / "again")
    assert _same(_outputs(spacy.load(tmp_path / "again"), TEXTS), expected)


def test_bytes_round_trip_gives_identical_outputs(trained: Language, toy_export: Path) -> None:
    expected = _outputs(trained, TEXTS)
    fresh = _pipeline(Path("/nonexistent/never-read"), frozen=True)
    fresh.from_bytes(trained.to_bytes())
    assert _same(_outputs(fresh, TEXTS), expected)


def test_saving_after_the_source_folder_is_gone(toy_export: Path, tmp_path: Path) -> None:
    source = tmp_path / "model"
    shutil.copytree(toy_export, source)
    backend = build_onnx_backend(str(source), whole_docs)
    backend.initialize()
    shutil.rmtree(source)
    with pytest.raises(FileNotFoundError, match="files are gone"):
        backend.attrs["trf_to_bytes"](backend)


def test_copy_loads_independently(toy_export: Path, tmp_path: Path) -> None:
    other = make_toy_export(tmp_path / "other", seed=1)
    docs = [spacy.blank("en")("the lazy dog")]
    original = build_onnx_backend(str(toy_export), whole_docs)
    original.initialize()
    before = original.predict(docs).tensors[0]
    copy = original.copy()
    copy.attrs["trf_from_disk"](copy, other)
    assert not numpy.allclose(copy.predict(docs).tensors[0], before)
    numpy.testing.assert_array_equal(original.predict(docs).tensors[0], before)


@pytest.mark.parametrize("how", ["Model.copy", "deepcopy", "pickle"])
def test_copies_save_their_own_model_without_rebinding(
    toy_export: Path, tmp_path: Path, how: str
) -> None:
    """The serialization attributes are functions of the model: a copy that loaded another
    export saves that export's files, and the original still saves its own."""
    import copy as copy_module

    other = make_toy_export(tmp_path / "other", seed=1)
    docs = [spacy.blank("en")("the lazy dog")]
    original = build_onnx_backend(str(toy_export), whole_docs)
    original.initialize()
    copied = {
        "Model.copy": lambda m: m.copy(),
        "deepcopy": copy_module.deepcopy,
        "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    }[how](original)
    copied.attrs["trf_from_disk"](copied, other)
    reference = build_onnx_backend(str(other), whole_docs)
    reference.initialize()
    assert copied.attrs["trf_to_bytes"](copied) == reference.attrs["trf_to_bytes"](reference)
    fresh = build_onnx_backend(str(toy_export), whole_docs)
    fresh.initialize()
    assert original.attrs["trf_to_bytes"](original) == fresh.attrs["trf_to_bytes"](fresh)
    assert copied.attrs["count_pieces"](copied, docs) == [
        sum(d.wordpieces.lengths) for d in copied.predict(docs).doc_data
    ]


def test_pickled_backend_gives_identical_outputs(toy_export: Path) -> None:
    docs = [spacy.blank("en")("green ideas sleep furiously")]
    backend = build_onnx_backend(str(toy_export), whole_docs)
    backend.initialize()
    restored = pickle.loads(pickle.dumps(backend))
    numpy.testing.assert_array_equal(
        restored.predict(docs).tensors[0], backend.predict(docs).tensors[0]
    )


def test_missing_model_folder_says_what_it_needs(tmp_path: Path) -> None:
    backend = build_onnx_backend(str(tmp_path), whole_docs)
    with pytest.raises(FileNotFoundError, match=r"missing model\.onnx.*export-onnx"):
        backend.initialize()


def test_foreign_bytes_are_refused(toy_export: Path) -> None:
    import srsly

    backend = build_onnx_backend(str(toy_export), whole_docs)
    with pytest.raises(ValueError, match="not written by trf-onnx"):
        backend.attrs["trf_from_bytes"](
            backend, srsly.msgpack_dumps({"format": "trf-hf.v1", "files": {}})
        )


def test_bad_window_settings(toy_export: Path) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        build_onnx_backend(str(toy_export), whole_docs, window=-1)
    backend = build_onnx_backend(str(toy_export), whole_docs, window=99)
    backend.initialize()
    with pytest.raises(ValueError, match="at most 16"):
        backend.predict([spacy.blank("en")("the dog")])


_text = st.lists(st.sampled_from([*WORDS, "zebra", "jumps!", "(rain)"]), min_size=1, max_size=30)


@settings(max_examples=15, deadline=None)
@given(texts=st.lists(_text.map(" ".join), min_size=1, max_size=5))
def test_count_pieces_counts_the_pieces_the_model_reads(toy_export: Path, texts: list[str]) -> None:
    """count_pieces (used to group docs in pipe) equals the wordpieces of the batch."""
    nlp = spacy.blank("en")
    docs = [nlp(text) for text in texts]
    backend = build_onnx_backend(str(toy_export), whole_docs)
    backend.initialize()
    batch = backend.predict(docs)
    expected = [sum(data.wordpieces.lengths) for data in batch.doc_data]
    assert backend.attrs["count_pieces"](backend, docs) == expected


@settings(max_examples=15, deadline=None)
@given(lengths=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12))
def test_grouped_runs_equal_one_padded_call(toy_export: Path, lengths: list[int]) -> None:
    """Running windows in length groups and gathering the spans from the calls' outputs gives
    what one call over the padded batch, gathered by the plan, gives; padding positions zero."""
    from trf_onnx.backend import get_state
    from trf_onnx.runtime import LAST, reassemble, run_windows

    from trf_core.component.windowing import plan_windows

    nlp = spacy.blank("en")
    spans = [nlp(" ".join(WORDS[i % len(WORDS)] for i in range(n)))[:] for n in lengths]
    backend = build_onnx_backend(str(toy_export), whole_docs)
    backend.initialize()
    state = get_state(backend)
    plan = plan_windows(state.tokenizer, spans, window=16, stride=0, truncate=False)
    out = run_windows(state.session, plan, [LAST], with_type_ids=True)
    rows, padding = out.span_rows(plan)
    spans = reassemble(out, LAST, rows, padding, plan)
    feed = {
        "input_ids": plan.window_ids,
        "attention_mask": plan.window_mask,
        "token_type_ids": numpy.zeros_like(plan.window_ids),
    }
    (whole,) = state.session.run([LAST], feed)
    width = whole.shape[-1]
    real = plan.gather >= 0
    expected = numpy.zeros((plan.gather.shape[0], width), dtype="float32")
    expected[real] = whole.reshape(-1, width)[plan.gather[real]]
    numpy.testing.assert_allclose(spans.reshape(-1, width), expected, atol=1e-5)


def test_importing_the_plugin_loads_no_runtime() -> None:
    code = (
        "import sys, trf_onnx, trf_onnx.plugin\n"
        "heavy = [m for m in ('onnxruntime', 'tokenizers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_pipeline_without_trf_onnx_says_what_to_install(toy_export: Path) -> None:
    """An exported config where trf-onnx is missing (here: blocked) names the distribution."""
    import os

    block = {
        "@architectures": "trf.ONNXTransformerModel.v1",
        "name": str(toy_export),
        "get_spans": {"@span_getters": DOC_SPANS},
    }
    code = (
        "import spacy, trf_core\n"
        "try:\n"
        f"    spacy.util.registry.resolve({{'m': {block!r}}})\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    env = {**os.environ, "TRF_DISABLE_PLUGINS": "trf-onnx"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("MissingDistributionError")
    assert "provided by the distribution trf-onnx" in done.stdout


@settings(max_examples=25, deadline=None)
@given(
    sentences=st.lists(
        st.lists(st.sampled_from([*WORDS, "Cats", "ran!", "x9", "zzq"]), min_size=0, max_size=9),
        min_size=1,
        max_size=5,
    )
)
def test_trf_onnx_tokenizer_gives_the_encodings_path_what_its_lists_give(
    toy_export: Path, sentences: list[list[str]]
) -> None:
    """trf-onnx's tokenizer hands the windowing code its encodings (offsets, special flags and
    piece strings for the whole batch at once); the pieces equal those built from its lists."""
    from trf_onnx.backend import get_state

    from trf_core.component.windowing import _from_python_lists, tokenize_spans

    backend = build_onnx_backend(str(toy_export), whole_docs)
    backend.initialize()
    tokenizer = get_state(backend).tokenizer
    nlp = spacy.blank("en")
    doc = nlp(" ".join(" ".join(words) + " ." for words in sentences))
    spans, start = [], 0
    for words in sentences:  # one span per sentence, each ending at its "."
        spans.append(doc[start : start + len(words) + 1])
        start += len(words) + 1
    encoded = tokenizer([span.text for span in spans])
    assert len(encoded.encodings) == len(spans)
    got = tokenize_spans(tokenizer, spans)
    expected = _from_python_lists(tokenizer, spans, [span.text for span in spans])
    for a, b in zip(got, expected, strict=True):
        assert a.ids == b.ids
        assert a.strings == b.strings
        assert (a.type_ids is None) == (b.type_ids is None)
        assert a.type_ids is None or list(a.type_ids) == list(b.type_ids)
        assert a.offsets is not None and b.offsets is not None
        assert numpy.array_equal(a.offsets, b.offsets)
        assert numpy.array_equal(a.special, b.special)
