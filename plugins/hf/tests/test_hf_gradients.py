"""Gradients: every output a listener sends one for reaches the weights, windows included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
import torch
from hf_helpers import NLP, doc_spans, load_reference, most_central_window, window_starts
from test_hf_backend import LONG, SHORT
from trf_hf import TransformerModel


def _backend(path: Path, **kwargs: Any) -> Any:
    model = TransformerModel(str(path), get_spans=doc_spans, **kwargs)
    model.initialize()
    model.attrs["output_hidden_states"] = True
    return model


def _weight_grads(model: Any) -> dict[str, torch.Tensor]:
    return {
        name: p.grad.clone()
        for name, p in model.shims[0].transformer.named_parameters()
        if p.grad is not None
    }


def _zero_grads(model: Any) -> None:
    for p in model.shims[0].transformer.parameters():
        p.grad = None


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_gradient_of_one_hidden_layer_matches_autograd(bert_dir: Path, layer: int) -> None:
    """A gradient sent for hidden layer i alone equals autograd's for sum(h_i * G)."""
    model = _backend(bert_dir)
    tokenizer, reference = load_reference(bert_dir)
    doc = NLP(SHORT)
    batch, backprop = model.begin_update([doc])
    tensors = batch.doc_data[0].tensors
    hidden_index = 2 + layer  # last_hidden_state, pooler_output, then hidden_states
    rng = numpy.random.default_rng(layer)
    grad = rng.normal(size=tensors[hidden_index].shape).astype("float32")
    d_tensors = [None] * len(tensors)
    d_tensors[hidden_index] = grad
    _zero_grads(model)
    assert backprop([d_tensors]) == []
    ours = _weight_grads(model)

    ids = tokenizer(SHORT)["input_ids"]
    reference.train()
    out = reference(
        input_ids=torch.tensor([ids]),
        attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
        output_hidden_states=True,
    )
    (out.hidden_states[layer] * torch.from_numpy(grad)).sum().backward()
    theirs = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, atol=1e-4, rtol=1e-3)
    # Layers above the one read get nothing.
    for i in range(layer, reference.config.num_hidden_layers):
        assert not any(n.startswith(f"encoder.layer.{i}.") for n in ours)


def test_gradients_from_several_outputs_add_up(bert_dir: Path) -> None:
    model = _backend(bert_dir)
    doc = NLP(SHORT)
    tensors = model.predict([doc]).doc_data[0].tensors
    rng = numpy.random.default_rng(0)
    g_last = rng.normal(size=tensors[0].shape).astype("float32")
    g_mid = rng.normal(size=tensors[3].shape).astype("float32")

    def run(grads: dict[int, numpy.ndarray]) -> dict[str, torch.Tensor]:
        _zero_grads(model)
        _, backprop = model.begin_update([doc])
        d = [grads.get(i) for i in range(len(tensors))]
        backprop([d])
        return _weight_grads(model)

    both = run({0: g_last, 3: g_mid})
    last = run({0: g_last})
    mid = run({3: g_mid})
    for name, value in both.items():
        expected = last[name] + mid.get(name, torch.zeros_like(value))
        torch.testing.assert_close(value, expected, atol=1e-5, rtol=1e-4)


def test_windowed_gradients_reach_the_windows_they_came_from(bert_dir: Path) -> None:
    """With windows, gradients equal autograd through the reassembly done by hand."""
    window, stride = 16, 8
    model = _backend(bert_dir, window=window, stride=stride)
    tokenizer, reference = load_reference(bert_dir)
    doc = NLP(LONG)
    batch, backprop = model.begin_update([doc])
    shape = batch.doc_data[0].tensors[0].shape
    grad = numpy.random.default_rng(1).normal(size=shape).astype("float32")
    _zero_grads(model)
    backprop([[grad]])
    ours = _weight_grads(model)

    ids = tokenizer(LONG)["input_ids"]
    content = ids[1:-1]
    capacity = window - 2
    starts = window_starts(len(content), capacity, stride)
    reference.train()
    outputs = []
    for start in starts:
        w_ids = ids[:1] + content[start : start + capacity] + ids[-1:]
        outputs.append(
            reference(
                input_ids=torch.tensor([w_ids]),
                attention_mask=torch.ones((1, len(w_ids)), dtype=torch.long),
            ).last_hidden_state[0]
        )
    rows = [outputs[0][0]]
    for c in range(len(content)):
        w = most_central_window(c, starts, capacity, len(content))
        rows.append(outputs[w][1 + c - starts[w]])
    rows.append(outputs[-1][-1])
    (torch.stack(rows) * torch.from_numpy(grad[0])).sum().backward()
    theirs = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, atol=1e-4, rtol=1e-3)


def test_finish_update_changes_only_with_gradients(bert_dir: Path) -> None:
    from thinc.api import SGD

    model = _backend(bert_dir)
    before = {n: p.detach().clone() for n, p in model.shims[0].transformer.named_parameters()}
    optimizer = SGD(0.1)
    batch, backprop = model.begin_update([NLP(SHORT)])
    backprop([[None] * len(batch.doc_data[0].tensors)])  # no gradient at all
    model.finish_update(optimizer)
    after = dict(model.shims[0].transformer.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)
    batch, backprop = model.begin_update([NLP(SHORT)])
    tensors = batch.doc_data[0].tensors
    backprop([[numpy.ones_like(tensors[0])] + [None] * (len(tensors) - 1)])
    model.finish_update(optimizer)
    after = dict(model.shims[0].transformer.named_parameters())
    assert not torch.equal(
        before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"]
    )
