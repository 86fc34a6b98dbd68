"""Invariants every pooler keeps: shapes, empty tokens, exact gradients, batch invariance."""

from __future__ import annotations

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from pool_helpers import POOLERS, WIDTH_FACTOR, build, lengths_lists, make_ragged
from thinc.api import registry as thinc_registry
from thinc.types import Ragged

import trf_core  # noqa: F401  (loads the plugins)

NAMES = list(POOLERS)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(lengths=lengths_lists, width=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_shapes_and_empty_tokens(name: str, lengths: list[int], width: int, seed: int) -> None:
    model = build(name, width, seed)
    X = make_ragged(lengths, width, seed)
    Y, backprop = model(X, is_train=True)
    assert Y.shape == (len(lengths), WIDTH_FACTOR[name] * width)
    empty = numpy.asarray(lengths, dtype=int) == 0
    assert not Y[empty].any()
    dY = numpy.random.default_rng(seed).normal(size=Y.shape)
    dX = backprop(dY)
    assert dX.dataXd.shape == X.dataXd.shape
    assert_allclose(dX.lengths, X.lengths)
    # What the gradient says about a token with no rows goes nowhere.
    dY_changed = dY.copy()
    dY_changed[empty] += 1000.0
    _, backprop2 = model(X, is_train=True)
    assert_allclose(backprop2(dY_changed).dataXd, dX.dataXd)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(lengths=lengths_lists, width=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_finite_differences_agree(name: str, lengths: list[int], width: int, seed: int) -> None:
    model = build(name, width, seed)
    X = make_ragged(lengths, width, seed)
    Y, backprop = model(X, is_train=True)
    G = numpy.random.default_rng(seed + 7).normal(size=Y.shape)
    analytic = backprop(G).dataXd

    def loss(data: numpy.ndarray) -> float:
        out, _ = model(Ragged(data, X.lengths), is_train=False)
        return float((out * G).sum())

    eps = 1e-6
    numeric = numpy.zeros_like(X.dataXd)
    for index in numpy.ndindex(*X.dataXd.shape):
        up, down = X.dataXd.copy(), X.dataXd.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (loss(up) - loss(down)) / (2 * eps)
    assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(lengths=lengths_lists, width=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_attention_weight_gradient_agrees(lengths: list[int], width: int, seed: int) -> None:
    model = build("trf.attention_pooling.v1", width, seed)
    X = make_ragged(lengths, width, seed)
    Y, backprop = model(X, is_train=True)
    G = numpy.random.default_rng(seed + 3).normal(size=Y.shape)
    backprop(G)
    analytic = model.get_grad("w") if model.has_grad("w") else numpy.zeros((width,))
    w = model.get_param("w").copy()
    eps = 1e-6
    numeric = numpy.zeros_like(w)
    for i in range(width):
        values = []
        for step in (eps, -eps):
            shifted = w.copy()
            shifted[i] += step
            model.set_param("w", shifted)
            values.append(float((model(X, is_train=False)[0] * G).sum()))
        numeric[i] = (values[0] - values[1]) / (2 * eps)
    assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(first=lengths_lists, second=lengths_lists, width=st.integers(1, 3), seed=st.integers(0, 99))
def test_batch_invariance(
    name: str, first: list[int], second: list[int], width: int, seed: int
) -> None:
    """A token's vector and gradient do not depend on the other tokens in the Ragged."""
    model = build(name, width, seed)
    A = make_ragged(first, width, seed)
    B = make_ragged(second, width, seed + 1)
    both = Ragged(
        numpy.concatenate([A.dataXd, B.dataXd]),
        numpy.concatenate([A.lengths, B.lengths]).astype("int32"),
    )
    Y, bp = model(both, is_train=True)
    YA, bpA = model(A, is_train=True)
    YB, bpB = model(B, is_train=True)
    assert_allclose(Y, numpy.concatenate([YA, YB]).reshape(Y.shape), atol=1e-12)
    dY = numpy.random.default_rng(seed).normal(size=Y.shape)
    dX = bp(dY).dataXd
    n_a = len(first)
    dXA = bpA(dY[:n_a]).dataXd
    dXB = bpB(dY[n_a:]).dataXd
    assert_allclose(dX, numpy.concatenate([dXA, dXB]).reshape(dX.shape), atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_only_empty_tokens(name: str) -> None:
    model = build(name, 3)
    X = Ragged(numpy.zeros((0, 3), dtype="float32"), numpy.zeros((4,), dtype="int32"))
    Y, backprop = model(X, is_train=True)
    assert Y.shape == (4, 3 * WIDTH_FACTOR[name]) and not Y.any()
    assert backprop(numpy.ones(Y.shape, dtype="float32")).dataXd.shape == (0, 3)
    Y0, _ = model(Ragged(numpy.zeros((0, 3), "f"), numpy.zeros((0,), "i")), is_train=False)
    assert Y0.shape == (0, 3 * WIDTH_FACTOR[name])


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name: str) -> None:
    model = POOLERS[name]()
    X = Ragged(numpy.ones((3, 4), dtype="float32"), numpy.asarray([1, 0, 2], dtype="int32"))
    Y, backprop = model(X, is_train=True)
    assert Y.dtype == numpy.float32
    assert backprop(Y).dataXd.dtype == numpy.float32


def test_clear_errors_for_bad_input() -> None:
    model = build("trf.reduce_mean.v1", 3)
    with pytest.raises(ValueError, match="width 3"):
        model(Ragged(numpy.ones((2, 5)), numpy.asarray([2], dtype="int32")), is_train=False)
    with pytest.raises(ValueError, match="lengths add up"):
        model(Ragged(numpy.ones((2, 3)), numpy.asarray([3], dtype="int32")), is_train=False)
    with pytest.raises(TypeError, match="Ragged"):
        model(numpy.ones((2, 3)), is_train=False)


@pytest.mark.parametrize("name", NAMES)
def test_name_resolves_through_the_registries(name: str) -> None:
    assert callable(thinc_registry.layers.get(name))
    model = spacy.registry.resolve({"pooling": {"@layers": name}})["pooling"]
    Y, _ = model(Ragged(numpy.ones((2, 3), "f"), numpy.asarray([2], "i")), is_train=False)
    assert Y.shape == (1, 3 * WIDTH_FACTOR[name])
