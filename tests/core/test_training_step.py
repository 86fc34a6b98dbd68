"""TrainingStep: listeners' gradients summed, one backward pass, nothing carried by copies."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trf_core.component.training_step import TrainingStep
from trf_core.contract.data import TransformerData
from trf_core.testing import strategies as trf_st


def _recording_backprop() -> tuple[list[Any], Any]:
    calls: list[Any] = []

    def bp(total: Any) -> list[Any]:
        calls.append(total)
        return []

    return calls, bp


def _doc_data(batch: Any) -> list[TransformerData]:
    return batch.batch.doc_data


@settings(max_examples=20, deadline=None)
@given(
    batch=trf_st.full_transformer_batches(),
    n_listeners=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_backward_gets_the_sum_of_every_listeners_gradient(
    batch: Any, n_listeners: int, seed: int
) -> None:
    rng = numpy.random.default_rng(seed)
    doc_data = _doc_data(batch)
    calls, bp = _recording_backprop()
    step = TrainingStep(doc_data, bp, None, numpy)
    sent = [
        [[rng.normal(size=t.shape).astype("float32") for t in d.tensors] for d in doc_data]
        for _ in range(n_listeners)
    ]
    loss = sum(step.accumulate(grads) for grads in sent)
    expected_loss = sum(
        float((g.astype("float64") ** 2).sum()) for gs in sent for d in gs for g in d
    )
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    left = step.backward()
    assert left == bool(any(d.tensors for d in doc_data))
    assert step.backward() is False  # once only
    if not left:
        assert calls == []
        return
    (total,) = calls
    for i, d in enumerate(doc_data):
        for j in range(len(d.tensors)):
            numpy.testing.assert_allclose(
                total[i][j], sum(grads[i][j] for grads in sent), rtol=1e-5, atol=1e-6
            )


def test_no_gradient_and_nothing_to_learn_skip_the_backward_pass() -> None:
    doc_data = [TransformerData.empty(3)]
    calls, bp = _recording_backprop()
    step = TrainingStep(doc_data, bp, None, numpy)
    step.accumulate([[None] * len(doc_data[0].tensors)])
    assert step.backward() is False and calls == []
    frozen = TrainingStep([_one_tensor_doc()], None, None, numpy)
    assert frozen.accumulate([[numpy.ones((1, 2, 3), dtype="float32")]]) == 0.0
    assert frozen.backward() is False


def test_gradients_for_the_wrong_number_of_docs_are_refused() -> None:
    step = TrainingStep([_one_tensor_doc()], lambda total: [], None, numpy)
    with pytest.raises(ValueError, match="gradients for 2 docs, the batch has 1"):
        step.accumulate([[None], [None]])


def test_a_step_pickles_and_copies_as_none() -> None:
    step = TrainingStep([_one_tensor_doc()], lambda total: [], None, numpy)
    holder = {"step": step}
    assert pickle.loads(pickle.dumps(holder)) == {"step": None}
    assert copy.deepcopy(holder) == {"step": None}


def _one_tensor_doc() -> TransformerData:
    from trf_core.contract.data import ModelOutput

    data = TransformerData.empty(0)
    output = ModelOutput()
    output["last_hidden_state"] = numpy.zeros((1, 2, 3), dtype="float32")
    return TransformerData(wordpieces=data.wordpieces, model_output=output, align=data.align)
