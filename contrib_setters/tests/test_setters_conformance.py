"""The setters pass trf-core's conformance kit and work as a real component's annotation_setter."""

from __future__ import annotations

import warnings
from typing import Any

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from setter_helpers import per_token_means

import trf_core  # noqa: F401  (loads the plugins)
from trf_core.testing.checks import check_annotation_setter
from trf_core.testing.pipelines import transformer_cfg

SETTERS: list[tuple[str, dict[str, Any] | None]] = [
    ("spacy-transformer.null_annotation_setter.v1", None),
    ("spacy-transformers.null_annotation_setter.v1", None),
    ("trf.token_vectors.v1", None),
    ("trf.doc_embedding.v1", None),
    ("trf.doc_embedding.v1", {"pooling": "cls", "normalize": True, "extension": "cls_vec"}),
    ("trf.doc_embedding.v1", {"pooling": "pooler", "set_hooks": False, "extension": "pooled"}),
]


@pytest.mark.parametrize(("name", "config"), SETTERS)
def test_conformance_kit(name: str, config: dict[str, Any] | None) -> None:
    check_annotation_setter(name, config=config, max_examples=5)


def _pipeline(setter: dict[str, Any]) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_cfg(annotation_setter=setter))
    nlp.initialize()
    return nlp


def test_token_vectors_in_a_pipeline() -> None:
    nlp = _pipeline({"@annotation_setters": "trf.token_vectors.v1"})
    doc = nlp("I like green eggs .\n\n")
    other = nlp("They eat ham")
    data = doc._.trf_data
    expected = per_token_means(data.model_output["last_hidden_state"], data.align, data.width)
    assert doc.tensor.shape == (len(doc), 8)
    assert_allclose(doc.tensor, expected, rtol=1e-5, atol=1e-6)
    assert not doc[-1].vector.any()  # the "\n\n" token has no wordpiece
    mine, theirs = doc.tensor.mean(axis=0), other.tensor.mean(axis=0)
    cosine = float(mine @ theirs / numpy.linalg.norm(mine) / numpy.linalg.norm(theirs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spaCy's W007: no static vectors, tensors are used
        assert doc.similarity(other) == pytest.approx(cosine, rel=1e-5)


def test_doc_embedding_in_a_pipeline() -> None:
    nlp = _pipeline({"@annotation_setters": "trf.doc_embedding.v1", "pooling": "mean"})
    doc = nlp("I like green eggs")
    state = doc._.trf_data.model_output["last_hidden_state"]
    lengths = doc._.trf_data.wordpieces.lengths
    rows = numpy.concatenate([state[i, :n] for i, n in enumerate(lengths)])
    assert_allclose(doc.vector, rows.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert doc.similarity(doc) == pytest.approx(1.0)
    assert doc.similarity(nlp("I like green eggs")) == pytest.approx(1.0, abs=1e-6)
    empty = nlp("")  # a batch with nothing for the transformer: the width seen before
    assert empty.vector.shape == (8,) and not empty.vector.any()
    assert doc.similarity(empty) == 0.0


def test_token_vectors_of_an_all_empty_batch_keep_the_width() -> None:
    nlp = _pipeline({"@annotation_setters": "trf.token_vectors.v1"})
    nlp("warm up")
    assert nlp("").tensor.shape == (0, 8)  # no spans, no outputs: the width seen before
    blank = nlp(" \n\n ")
    assert blank.tensor.shape == (len(blank), 8) and not blank.tensor.any()
