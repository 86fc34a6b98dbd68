"""``trf.ListenerWithFeatures.v1``: a listener's vectors beside case-bearing token features.

What must hold for the quickstart's NER to use it: the transformer component still finds the
listener inside and trains through it, the listener's columns are exactly what a plain listener
gives, the feature columns see capitalization, and the config is written by init-config.
"""

from __future__ import annotations

from typing import Any

import numpy
import pytest
from thinc.api import Adam, Linear

from trf_core.cli.init_config import build_base_config
from trf_core.component.listeners.features import listener_with_features_v1
from trf_core.testing.pipelines import (
    build_nlp,
    listener_cfg,
    params_of,
    same_params,
    tagger_examples,
    tok2vec_outputs,
)

FEATURES: dict[str, Any] = {
    "@architectures": "spacy.MultiHashEmbed.v2",
    "width": 16,
    "attrs": ["SHAPE", "PREFIX", "SUFFIX"],
    "rows": [50, 50, 50],
    "include_static_vectors": False,
}
WITH_FEATURES = {
    "@architectures": "trf.ListenerWithFeatures.v1",
    "listener": listener_cfg(),
    "features": FEATURES,
}
TOY_WIDTH = 8  # trf_core.testing.pipelines.toy_model_cfg's default


def test_the_listener_inside_is_found_and_its_columns_are_a_plain_listeners() -> None:
    nlp = build_nlp({"plain": listener_cfg(), "cased": WITH_FEATURES})
    assert set(nlp.get_pipe("transformer").listening_components) == {"plain", "cased"}
    docs = list(nlp.pipe(["I like green eggs", "Eat ham now"]))
    plain = tok2vec_outputs(nlp, "plain", docs)
    cased = tok2vec_outputs(nlp, "cased", docs)
    for p, c, doc in zip(plain, cased, docs):
        assert c.shape == (len(doc), TOY_WIDTH + FEATURES["width"])
        numpy.testing.assert_allclose(c[:, :TOY_WIDTH], p, rtol=1e-6, atol=1e-7)


def test_the_feature_columns_see_capitalization() -> None:
    nlp = build_nlp({"cased": WITH_FEATURES})
    lower, upper = list(nlp.pipe(["eggs now", "EGGS now"]))
    a, b = tok2vec_outputs(nlp, "cased", [lower, upper])
    assert not numpy.allclose(a[0, TOY_WIDTH:], b[0, TOY_WIDTH:])  # "eggs" vs "EGGS"
    numpy.testing.assert_allclose(a[1, TOY_WIDTH:], b[1, TOY_WIDTH:])  # "now" in both


def test_training_reaches_the_transformer_through_the_inner_listener() -> None:
    nlp = build_nlp({"cased": WITH_FEATURES})
    transformer = nlp.get_pipe("transformer").model
    before = params_of(transformer)
    optimizer = Adam(0.01)
    for _ in range(3):  # the tagger's output layer starts at zero: step 1 sends no gradient back
        nlp.update(tagger_examples(nlp), sgd=optimizer, drop=0.0)
    assert not same_params(before, params_of(transformer))


def test_a_block_that_is_no_model_is_named() -> None:
    with pytest.raises(TypeError, match="'features' must be a thinc Model"):
        listener_with_features_v1(Linear(2, 2), "SHAPE")  # type: ignore[arg-type]


def test_init_config_puts_case_features_only_where_asked() -> None:
    base = build_base_config(["tagger", "ner"], "m", "doc", "mean", "x.v1", case_features=("ner",))
    assert base.count('"trf.ListenerWithFeatures.v1"') == 1
    assert "[components.ner.model.tok2vec.listener.pooling]" in base
    assert "[components.tagger.model.tok2vec.pooling]" in base
    with pytest.raises(ValueError, match="parser"):
        build_base_config(["ner"], "m", "doc", "mean", "x.v1", case_features=("parser",))
