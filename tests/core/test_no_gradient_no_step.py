"""A transformer that receives no gradient does not move, even after it has been trained.

Optimizers keep state (Adam's moments, weight decay) and frameworks keep zeroed gradients
around, so stepping "with nothing" still changes weights; the component must not step at all.
"""

from __future__ import annotations

from trf_core.testing.pipelines import (
    build_nlp,
    listener_cfg,
    params_of,
    same_params,
    tagger_examples,
)

ONE_THEN_ZERO = {
    "@schedules": "constant_then.v1",
    "rate": 1.0,
    "steps": 3,
    "schedule": {"@schedules": "constant.v1", "rate": 0.0},
}


def test_grad_factor_scheduled_to_zero_freezes_a_trained_transformer() -> None:
    nlp = build_nlp(listeners={"tagger": listener_cfg(grad_factor=ONE_THEN_ZERO)})
    examples = tagger_examples(nlp)
    optimizer = nlp.resume_training()  # Adam with L2 weight decay
    trf = nlp.get_pipe("transformer").model
    moved = []
    for _ in range(6):
        before = params_of(trf)
        nlp.update(examples, sgd=optimizer)
        moved.append(not same_params(before, params_of(trf)))
    # nlp.update steps the transformer before its listeners send gradients, so each step
    # applies the previous update's gradient: steps 1-3 apply factor-1 gradients, 4-5 nothing.
    assert moved[1:4] == [True, True, True]
    assert moved[4:] == [False, False]


def test_frozen_after_training_stays_put() -> None:
    nlp = build_nlp()
    examples = tagger_examples(nlp)
    optimizer = nlp.resume_training()
    for _ in range(2):
        nlp.update(examples, sgd=optimizer)
    trf = nlp.get_pipe("transformer")
    # flush the gradient the last update left, then freeze
    nlp.update(examples, sgd=optimizer)
    trf.cfg["frozen"] = True
    before = params_of(trf.model)
    losses = {}
    for _ in range(2):
        losses = nlp.update(examples, sgd=optimizer)
    assert same_params(before, params_of(trf.model))
    assert losses.get("transformer", 0.0) == 0.0
