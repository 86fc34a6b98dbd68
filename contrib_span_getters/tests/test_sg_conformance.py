"""The getters pass trf-core's conformance kit and work inside a real transformer pipeline."""

from __future__ import annotations

from typing import Any

import pytest
import spacy
from spacy.training import Example

import trf_core  # noqa: F401  (loads the plugins)
from trf_core.testing.checks import check_span_getter
from trf_core.testing.pipelines import transformer_cfg

COVERING: list[tuple[str, dict[str, Any] | None]] = [
    ("doc_spans.v1", None),
    ("spacy-transformers.doc_spans.v1", None),
    ("sent_spans.v1", None),
    ("spacy-transformers.sent_spans.v1", None),
    ("spacy-transformers.strided_spans.v1", {"window": 4, "stride": 3}),
    ("spacy-transformers.strided_spans.v1", {"window": 3, "stride": 3}),
    ("trf.sent_context_spans.v1", {"context": 1}),
    ("trf.packed_sent_spans.v1", {"max_tokens": 5}),
    ("trf.paragraph_spans.v1", None),
]


@pytest.mark.parametrize(("name", "config"), COVERING)
def test_conformance_kit(name: str, config: dict[str, Any] | None) -> None:
    check_span_getter(name, config=config, covers_every_token=True, max_examples=10)


def _pipeline(get_spans: dict[str, Any], sentencizer: bool = False) -> spacy.Language:
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    cfg = transformer_cfg()
    cfg["model"]["get_spans"] = get_spans
    nlp.add_pipe("transformer", config=cfg)
    return nlp


def _span_of_rows(doc: spacy.tokens.Doc, token: int) -> set[int]:
    """Which of the doc's spans a token's rows come from."""
    data = doc._.trf_data
    starts = data.align.lengths.cumsum() - data.align.lengths
    rows = data.align.dataXd.reshape(-1)[starts[token] : starts[token] + data.align.lengths[token]]
    return {int(r) // data.wordpieces.max_length for r in rows}


def test_old_strided_config_in_a_pipeline() -> None:
    nlp = _pipeline(
        {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 4, "stride": 3}
    )
    nlp.initialize()
    doc = nlp("a b c d e f")
    assert len(doc._.trf_data.wordpieces.lengths) == 2  # windows a-d and d-f
    assert _span_of_rows(doc, 3) == {0, 1}  # "d" is read in both windows
    assert all(n > 0 for n in doc._.trf_data.align.lengths)


def test_sentence_context_in_a_pipeline_with_a_sentencizer() -> None:
    nlp = _pipeline({"@span_getters": "trf.sent_context_spans.v1", "context": 1}, sentencizer=True)
    sentencizer = nlp.get_pipe("sentencizer")
    nlp.initialize(lambda: [Example.from_dict(sentencizer(nlp.make_doc("Hi. There.")), {})])
    doc = nlp("One two. Three four. Five.")
    assert len(doc._.trf_data.wordpieces.lengths) == 3
    assert _span_of_rows(doc, 3) == {0, 1, 2}  # "Three" is read with each neighbour
    assert _span_of_rows(doc, 0) == {0, 1}
