"""The poolers pass trf-core's conformance kit and train inside a real listener."""

from __future__ import annotations

import numpy
import pytest
from pool_helpers import POOLERS, WIDTH_FACTOR
from thinc.api import Adam

import trf_core  # noqa: F401  (loads the plugins)
from trf_core.testing.checks import check_pooler
from trf_core.testing.pipelines import build_nlp, listener_cfg, tagger_examples


@pytest.mark.parametrize("name", list(POOLERS))
def test_conformance_kit(name: str) -> None:
    check_pooler(name, max_examples=10)


@pytest.mark.parametrize("name", ["trf.first_last.v1", "trf.attention_pooling.v1"])
def test_pooler_trains_in_a_tagger_listener(name: str) -> None:
    nlp = build_nlp(listeners={"tagger": listener_cfg(pooling=name)}, model_width=8)
    examples = tagger_examples(nlp)
    tok2vec = nlp.get_pipe("tagger").model.get_ref("tok2vec")
    vectors = tok2vec.predict([nlp(eg.x.text) for eg in examples[:1]])[0]
    assert vectors.shape == (len(examples[0].x), 8 * WIDTH_FACTOR[name])
    # Docs with no wordpiece at all (here: whitespace only) still get the pooler's width.
    (blank,) = tok2vec.predict([nlp("  \n\n ")])
    assert blank.shape[1] == 8 * WIDTH_FACTOR[name] and not blank.any()
    pooler = next(node for node in tok2vec.walk() if node.name.startswith("trf-"))
    start_w = numpy.array(pooler.get_param("w"), copy=True) if pooler.has_param("w") else None
    optimizer = Adam(0.01)
    losses = []
    for _ in range(15):
        step: dict[str, float] = {}
        nlp.update(examples, sgd=optimizer, losses=step)
        losses.append(step["tagger"])
    assert losses[-1] < losses[0] * 0.5
    if start_w is not None:  # the attention weights learned something
        assert not numpy.allclose(pooler.get_param("w"), start_w)
    tags = [token.tag_ for token in nlp("I like green eggs")]
    assert tags == ["PRON", "VERB", "ADJ", "NOUN"]
