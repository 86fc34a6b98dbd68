"""``trainable_layers``: only the top layers learn, and exactly what they would learn anyway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
import torch
from hf_helpers import NLP, doc_spans
from hf_models import make_bert
from test_hf_backend import SHORT
from thinc.api import Adam
from trf_hf import TransformerModel
from trf_hf.trainable import layer_stack

LAYERS = 3


@pytest.fixture(scope="module")
def deep_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bert(tmp_path_factory.mktemp("bert3") / "model", layers=LAYERS)


def _backend(path: Path, trainable_layers: int = -1) -> Any:
    model = TransformerModel(str(path), get_spans=doc_spans, trainable_layers=trainable_layers)
    model.initialize()
    return model


def _parameters(model: Any) -> dict[str, torch.Tensor]:
    return dict(model.shims[0].transformer.named_parameters())


def _top_layer_names(model: Any, k: int) -> set[str]:
    transformer = model.shims[0].transformer
    stack = layer_stack(transformer)
    top = {id(p) for layer in list(stack)[len(stack) - k :] for p in layer.parameters()}
    return {name for name, p in transformer.named_parameters() if id(p) in top}


def _backprop_random(model: Any, seed: int) -> dict[str, torch.Tensor]:
    """Gradients of the weights for a random gradient on the last hidden state."""
    for p in _parameters(model).values():
        p.grad = None
    batch, backprop = model.begin_update([NLP(SHORT)])
    tensors = batch.doc_data[0].tensors
    grad = numpy.random.default_rng(seed).normal(size=tensors[0].shape).astype("float32")
    backprop([[grad] + [None] * (len(tensors) - 1)])
    return {n: p.grad.clone() for n, p in _parameters(model).items() if p.grad is not None}


@pytest.mark.parametrize("k", range(1, LAYERS + 1))
def test_only_the_top_layers_get_gradients_and_theirs_are_unchanged(
    deep_bert: Path, k: int
) -> None:
    full = _backprop_random(_backend(deep_bert), seed=k)
    model = _backend(deep_bert, trainable_layers=k)
    partial = _backprop_random(model, seed=k)
    assert set(partial) == _top_layer_names(model, k)
    assert not any(name.startswith("embeddings.") for name in partial)
    for name, grad in partial.items():
        torch.testing.assert_close(grad, full[name], rtol=1e-5, atol=1e-6)


def test_zero_trainable_layers_leaves_only_what_follows_the_stack(deep_bert: Path) -> None:
    model = _backend(deep_bert, trainable_layers=0)
    trainable = {n for n, p in _parameters(model).items() if p.requires_grad}
    assert trainable and all(name.startswith("pooler.") for name in trainable)


def test_an_optimizer_step_moves_the_top_layer_only(deep_bert: Path) -> None:
    model = _backend(deep_bert, trainable_layers=1)
    before = {n: p.detach().clone() for n, p in _parameters(model).items()}
    _backprop_random(model, seed=0)
    model.finish_update(Adam(0.01))
    top = _top_layer_names(model, 1)
    for name, parameter in _parameters(model).items():
        moved = not torch.equal(parameter.detach(), before[name])
        assert moved == (name in top), name


def test_the_setting_survives_bytes_and_copies(deep_bert: Path) -> None:
    model = _backend(deep_bert, trainable_layers=2)
    wanted = {n: p.requires_grad for n, p in _parameters(model).items()}
    fresh = TransformerModel(str(deep_bert), get_spans=doc_spans, trainable_layers=2)
    fresh.from_bytes(model.to_bytes())
    assert {n: p.requires_grad for n, p in _parameters(fresh).items()} == wanted
    assert {n: p.requires_grad for n, p in _parameters(model.copy()).items()} == wanted


@pytest.mark.parametrize("bad", [-2, 1.5, True, "2"])
def test_a_bad_value_is_refused_when_the_config_resolves(bad: Any, deep_bert: Path) -> None:
    with pytest.raises(ValueError, match="trainable_layers must be -1"):
        TransformerModel(str(deep_bert), get_spans=doc_spans, trainable_layers=bad)


def test_more_layers_than_the_model_has_is_refused_naming_both(deep_bert: Path) -> None:
    model = TransformerModel(str(deep_bert), get_spans=doc_spans, trainable_layers=LAYERS + 1)
    with pytest.raises(
        ValueError, match=f"trainable_layers = {LAYERS + 1}, but .* {LAYERS} layers"
    ):
        model.initialize()
