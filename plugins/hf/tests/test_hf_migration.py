"""Pipelines and DocBins saved by spacy-transformers 1.x load in trf-core with the same results.

The fixture (``tests/fixtures/spacy_transformers_1x``) was made by ``make_fixture.py`` with
spacy-transformers 1.4.0 and transformers 4.53: a tiny random BERT + a tagger listening to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from hf_helpers import as_numpy
from spacy.tokens import DocBin

FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "spacy_transformers_1x"

pytestmark = pytest.mark.skipif(
    not (FIXTURE / "pipeline").is_dir(), reason="the spacy-transformers fixture is not here"
)


@pytest.fixture(scope="module")
def expected() -> list[dict[str, Any]]:
    return json.loads((FIXTURE / "expected.json").read_text(encoding="utf8"))


def _compare_tensor0(ours: Any, theirs: list[Any], lengths: list[int]) -> None:
    """spacy-transformers padded to the batch; compare each span's real pieces."""
    ours = as_numpy(ours)
    theirs_arr = numpy.asarray(theirs, dtype="float32")
    assert ours.shape[0] == theirs_arr.shape[0]
    for k, n in enumerate(lengths):
        numpy.testing.assert_allclose(ours[k, :n], theirs_arr[k, :n], atol=1e-4)


def test_spacy_transformers_pipeline_predicts_the_same(expected: list[dict[str, Any]]) -> None:
    pytest.importorskip("trf_span_getters")  # the config uses spacy-transformers.strided_spans.v1
    pytest.importorskip("trf_setters")  # ... and spacy-transformers.null_annotation_setter.v1
    nlp = spacy.load(FIXTURE / "pipeline")
    assert nlp.pipe_names == ["transformer", "tagger"]
    for item, doc in zip(expected, nlp.pipe([e["text"] for e in expected])):
        assert [t.tag_ for t in doc] == item["tags"]
        data = doc._.trf_data
        lengths = data.wordpieces.lengths
        assert [s[:n] for s, n in zip(item["wordpieces"], lengths)] == data.wordpieces.strings
        _compare_tensor0(data.tensors[0], item["tensor0"], lengths)
        assert as_numpy(data.align.lengths).tolist() == item["align_lengths"]
    # A 1.x config's set_extra_annotations is read as annotation_setter.
    assert "annotation_setter" in nlp.config["components"]["transformer"]


def test_spacy_transformers_pipeline_saves_in_our_format(tmp_path: Path) -> None:
    pytest.importorskip("trf_span_getters")
    pytest.importorskip("trf_setters")
    nlp = spacy.load(FIXTURE / "pipeline")
    text = "The lazy fox sleeps over the dog."
    before = nlp(text)
    nlp.to_disk(tmp_path / "nlp")
    assert (tmp_path / "nlp" / "transformer" / "model" / "model.safetensors").is_file()
    after = spacy.load(tmp_path / "nlp")(text)
    assert [t.tag_ for t in after] == [t.tag_ for t in before]
    numpy.testing.assert_array_equal(
        as_numpy(after._.trf_data.tensors[0]), as_numpy(before._.trf_data.tensors[0])
    )


def test_spacy_transformers_docbin_loads(expected: list[dict[str, Any]]) -> None:
    import trf_core  # noqa: F401  (registers the msgpack decoders for trf_data)
    from trf_core.contract.data import TransformerData
    from trf_core.contract.extensions import install_extensions

    install_extensions()
    docs = list(DocBin().from_disk(FIXTURE / "docs.spacy").get_docs(spacy.blank("en").vocab))
    assert len(docs) == len(expected)
    for doc, item in zip(docs, expected):
        data = doc._.trf_data
        assert isinstance(data, TransformerData)
        assert [t.tag_ for t in doc] == item["tags"]
        numpy.testing.assert_allclose(
            as_numpy(data.tensors[0]), numpy.asarray(item["tensor0"], dtype="float32"), atol=0
        )
        assert as_numpy(data.align.lengths).tolist() == item["align_lengths"]
        assert as_numpy(data.align.data).reshape(-1).tolist() == item["align_data"]
        assert data.model_output.last_hidden_state is data.tensors[0]


def test_spacy_transformers_model_bytes_load() -> None:
    """``nlp.to_bytes`` of a 1.x pipeline holds the same thinc msgpack as its ``model`` file."""
    from hf_helpers import NLP, doc_spans
    from trf_hf import TransformerModel

    legacy = (FIXTURE / "pipeline" / "transformer" / "model").read_bytes()
    from_bytes = TransformerModel("gone", get_spans=doc_spans)
    from_bytes.attrs["trf_from_bytes"](from_bytes, legacy)
    from_disk = TransformerModel("gone", get_spans=doc_spans)
    from_disk.attrs["trf_from_disk"](from_disk, FIXTURE / "pipeline" / "transformer" / "model")
    doc = NLP("The lazy fox sleeps over the dog.")
    a = from_bytes.predict([doc]).tensors
    b = from_disk.predict([doc]).tensors
    assert len(a) == len(b) == 2  # last hidden state and BERT's pooled output
    for x, y in zip(a, b):
        numpy.testing.assert_array_equal(as_numpy(x), as_numpy(y))
