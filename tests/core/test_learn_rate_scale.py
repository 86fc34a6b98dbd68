"""The transformer component's ``learn_rate_scale``: its backend's weights move at that fraction
of the optimizer's rate while the listening components keep the full rate (why: a rate that fresh
heads need collapses a pretrained model's outputs; see trf_core.component.scaled_optimizer)."""

from __future__ import annotations

import numpy
import pytest
import spacy
from thinc.api import Adam

from trf_core.testing.pipelines import build_nlp, params_of, tagger_examples, transformer_cfg


def deltas_after_first_gradient(scale: float) -> tuple[dict, dict]:
    """Each transformer and tagger weight's change over the first update that moves the
    transformer (the tagger's output layer starts at zero: the first two updates send it no
    gradient), so both runs start that update from the same weights."""
    nlp = build_nlp(learn_rate_scale=scale)
    optimizer = Adam(0.01, L2=0.0, grad_clip=0.0)
    for _ in range(2):
        nlp.update(tagger_examples(nlp), sgd=optimizer, drop=0.0)
    trf, tagger = nlp.get_pipe("transformer").model, nlp.get_pipe("tagger").model
    trf_before, tagger_before = params_of(trf), params_of(tagger)
    nlp.update(tagger_examples(nlp), sgd=optimizer, drop=0.0)
    trf_after, tagger_after = params_of(trf), params_of(tagger)
    return (
        {k: trf_after[k] - trf_before[k] for k in trf_before},
        {k: tagger_after[k] - tagger_before[k] for k in tagger_before},
    )


def test_the_transformer_steps_at_the_scaled_rate_and_the_heads_at_the_full_one() -> None:
    full_trf, full_tagger = deltas_after_first_gradient(1.0)
    half_trf, half_tagger = deltas_after_first_gradient(0.5)
    assert any(numpy.abs(d).max() > 0 for d in full_trf.values())
    for key, delta in full_trf.items():
        numpy.testing.assert_allclose(half_trf[key], 0.5 * delta, rtol=1e-4, atol=1e-9)
    for key, delta in full_tagger.items():
        numpy.testing.assert_allclose(half_tagger[key], delta, rtol=1e-5, atol=1e-9)


def test_scale_zero_keeps_the_transformer_while_the_heads_learn() -> None:
    zero_trf, zero_tagger = deltas_after_first_gradient(0.0)
    assert all(not d.any() for d in zero_trf.values())
    assert any(d.any() for d in zero_tagger.values())


def test_the_setting_is_in_the_config_and_checked() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_cfg(learn_rate_scale=0.15))
    assert nlp.config["components"]["transformer"]["learn_rate_scale"] == 0.15
    with pytest.raises(ValueError, match="learn_rate_scale"):
        spacy.blank("en").add_pipe("transformer", config=transformer_cfg(learn_rate_scale=-1))
