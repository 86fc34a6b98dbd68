"""Listener layers: pooling of empty rows, exact gradients, grad_factor, layers and scalar mix."""

from __future__ import annotations

from typing import Any

import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.training import Example
from thinc.api import (
    Model,
    constant,
    constant_then,
    reduce_first,
    reduce_last,
    reduce_max,
    reduce_mean,
)
from thinc.types import Ragged

from trf_core import ModelOutput, TransformerData, WordpieceBatch
from trf_core.component.listeners import (
    last_layer_head,
    layers_head,
    scalar_mix_head,
    tok2vec_from_backend,
    transformer_layers_listener_v1,
    transformer_listener_tok2vec_v1,
)
from trf_core.component.pooling import nonempty_pooling
from trf_core.component.transformer import Transformer
from trf_core.testing.pipelines import whole_docs
from trf_core.testing.toy_backend import toy_transformer_v1

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
POOLERS = {"mean": reduce_mean, "max": reduce_max, "first": reduce_first, "last": reduce_last}


# -- pooling ------------------------------------------------------------------------------------


@SETTINGS
@given(
    lengths=st.lists(st.integers(0, 3), min_size=1, max_size=8),
    pooler=st.sampled_from(sorted(POOLERS)),
    seed=st.integers(0, 2**16),
)
def test_tokens_without_rows_get_zeros_and_no_gradient(lengths, pooler, seed):
    rng = numpy.random.default_rng(seed)
    width = 3
    data = rng.normal(size=(sum(lengths), width)).astype("float32")
    X = Ragged(data, numpy.asarray(lengths, dtype="int32"))
    model = nonempty_pooling(POOLERS[pooler]())
    model.initialize()
    Y, backprop = model.begin_update(X)
    assert Y.shape == (len(lengths), width)
    # Reference: the plain pooler on the non-empty tokens only, computed separately.
    full = [i for i, n in enumerate(lengths) if n]
    if full:
        plain = POOLERS[pooler]()
        ref_Y, ref_bp = plain.begin_update(
            Ragged(data, numpy.asarray([lengths[i] for i in full], dtype="int32"))
        )
        numpy.testing.assert_allclose(Y[full], ref_Y, rtol=1e-6)
    empty = [i for i, n in enumerate(lengths) if n == 0]
    assert not Y[empty].any()
    dY = rng.normal(size=Y.shape).astype("float32")
    dX = backprop(dY)
    assert dX.dataXd.shape == data.shape
    # Whatever gradient reaches an empty token, nothing flows from it.
    dY_changed = dY.copy()
    dY_changed[empty] += 100.0
    _, backprop2 = model.begin_update(X)
    numpy.testing.assert_array_equal(backprop2(dY_changed).dataXd, dX.dataXd)
    if full:
        numpy.testing.assert_allclose(dX.dataXd, ref_bp(dY[full]).dataXd, rtol=1e-6)


# -- heads: exact gradients -----------------------------------------------------------------


def make_doc_data(
    rng: numpy.random.Generator, n_spans: int, length: int, width: int, lengths: list[int]
) -> TransformerData:
    """Random outputs with hidden states, and a random alignment that leaves some tokens empty."""
    n_rows = n_spans * length
    states = tuple(rng.normal(size=(n_spans, length, width)).astype("float32") for _ in range(3))
    output = ModelOutput()
    output["last_hidden_state"] = states[-1].copy()
    output["pooler_output"] = rng.normal(size=(n_spans, width)).astype("float32")
    output["hidden_states"] = states
    rows = numpy.concatenate(
        [numpy.sort(rng.choice(n_rows, size=n, replace=False)) for n in lengths]
        or [numpy.zeros((0,), dtype="int64")]
    ).astype("int32")
    wordpieces = WordpieceBatch(
        strings=[["x"] * length for _ in range(n_spans)],
        input_ids=numpy.zeros((n_spans, length), dtype="int32"),
        attention_mask=numpy.ones((n_spans, length), dtype="int32"),
        lengths=[length] * n_spans,
    )
    return TransformerData(wordpieces, output, Ragged(rows, numpy.asarray(lengths, dtype="int32")))


HEADS = {
    "last": lambda p: last_layer_head(p),
    "layers-mean": lambda p: layers_head(p, [-1, 0], "mean"),
    "layers-concat": lambda p: layers_head(p, [1, -1], "concat"),
    "mix": lambda p: scalar_mix_head(p),
}


def loss_only(head: Model, data: list[TransformerData], weights: list[Any]) -> float:
    return float(sum((y.astype("float64") * w).sum() for y, w in zip(head.predict(data), weights)))


def loss_and_grads(head: Model, data: list[TransformerData], weights: list[Any]) -> Any:
    Y, backprop = head.begin_update(data)
    loss = float(sum((y.astype("float64") * w).sum() for y, w in zip(Y, weights)))
    return loss, backprop([w.astype("float32") for w in weights])


@SETTINGS
@given(
    head_kind=st.sampled_from(sorted(HEADS)),
    pooler=st.sampled_from(["mean", "first", "last"]),
    seed=st.integers(0, 2**16),
)
def test_head_gradients_agree_with_finite_differences(head_kind, pooler, seed):
    rng = numpy.random.default_rng(seed)
    data = [
        make_doc_data(rng, 2, 4, 3, [1, 0, 2, 3]),
        make_doc_data(rng, 1, 3, 3, [2, 1]),
    ]
    head = HEADS[head_kind](POOLERS[pooler]())
    head.initialize()
    if head_kind == "mix":  # a mix that is not uniform, with a scale that is not 1
        head.begin_update(data)
        head.set_param("mix_weights", rng.normal(size=(3,)).astype("float32"))
        head.set_param("mix_scale", numpy.asarray([1.7], dtype="float32"))
    Y, _ = head.begin_update(data)
    weights = [rng.normal(size=y.shape) for y in Y]
    _, grads = loss_and_grads(head, data, weights)
    eps = 1e-2
    for doc_index, doc_data in enumerate(data):
        tensors = doc_data.tensors
        assert len(grads[doc_index]) == len(tensors)
        for t_index, tensor in enumerate(tensors):
            grad = grads[doc_index][t_index]
            assert grad is None or grad.shape == tensor.shape  # backprop returns input shapes
            flat = tensor.reshape(-1)
            for k in rng.choice(flat.size, size=min(6, flat.size), replace=False):
                old = flat[k]
                flat[k] = old + eps
                plus, _ = loss_and_grads(head, data, weights)
                flat[k] = old - eps
                minus, _ = loss_and_grads(head, data, weights)
                flat[k] = old
                numeric = (plus - minus) / (2 * eps)
                analytic = 0.0 if grad is None else float(grad.reshape(-1)[k])
                assert analytic == pytest.approx(numeric, abs=2e-3, rel=2e-2)
    if head_kind == "mix":
        for name in ("mix_weights", "mix_scale"):
            head.set_grad(name, numpy.zeros_like(head.get_param(name)))
        loss_and_grads(head, data, weights)
        for name in ("mix_weights", "mix_scale"):
            param = head.get_param(name)
            analytic_all = head.get_grad(name).copy()
            for k in range(param.size):
                old = param[k]
                param[k] = old + eps
                plus = loss_only(head, data, weights)
                param[k] = old - eps
                minus = loss_only(head, data, weights)
                param[k] = old
                numeric = (plus - minus) / (2 * eps)
                assert float(analytic_all[k]) == pytest.approx(numeric, abs=2e-3, rel=2e-2)


def test_layers_head_sends_gradient_to_every_layer_it_reads_and_only_those():
    rng = numpy.random.default_rng(0)
    data = [make_doc_data(rng, 1, 4, 3, [2, 2])]
    head = layers_head(reduce_mean(), [0, -1], "concat")
    head.initialize()
    Y, backprop = head.begin_update(data)
    assert Y[0].shape == (2, 6)
    grads = backprop([numpy.ones_like(Y[0])])[0]
    # tensors: last_hidden_state, pooler_output, hidden_states[0..2]
    assert [g is not None for g in grads] == [False, False, True, False, True]


def test_head_without_any_output_or_known_width_says_to_initialize():
    head = last_layer_head(reduce_mean())
    head.initialize()
    with pytest.raises(ValueError, match="initialize"):
        head.predict([TransformerData.empty(3)])


def test_layers_listener_rejects_a_layer_the_model_lacks():
    rng = numpy.random.default_rng(0)
    head = layers_head(reduce_mean(), [5])
    head.initialize()
    with pytest.raises(ValueError, match="hidden states"):
        head.predict([make_doc_data(rng, 1, 2, 3, [1])])


# -- through the toy backend ---------------------------------------------------------------


def toy(**kwargs: Any) -> Model:
    model = toy_transformer_v1(whole_docs, width=4, depth=2, **kwargs)
    model.initialize()
    return model


def test_finite_differences_agree_through_backend_listener_and_pooler():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("green eggs and ham"), nlp.make_doc("  "), nlp.make_doc("I am Sam")]
    backend = toy()
    model = tok2vec_from_backend(backend, reduce_max(), 1.0)
    model.initialize()
    rng = numpy.random.default_rng(3)
    Y, backprop = model.begin_update(docs)
    weights = [rng.normal(size=y.shape) for y in Y]
    backprop([w.astype("float32") for w in weights])

    def loss() -> float:
        out = model.predict(docs)
        return float(sum((y.astype("float64") * w).sum() for y, w in zip(out, weights)))

    eps = 1e-2
    for name in ("W0", "U1", "b1", "E"):
        param = backend.get_param(name)
        grad = backend.get_grad(name)
        flat, flat_grad = param.reshape(-1), grad.reshape(-1)
        candidates = numpy.nonzero(flat_grad)[0] if name == "E" else numpy.arange(flat.size)
        for k in rng.choice(candidates, size=min(5, candidates.size), replace=False):
            old = flat[k]
            flat[k] = old + eps
            plus = loss()
            flat[k] = old - eps
            minus = loss()
            flat[k] = old
            assert float(flat_grad[k]) == pytest.approx(
                (plus - minus) / (2 * eps), abs=3e-3, rel=3e-2
            )


def run_update(factors: dict[str, Any], d_outputs_seed: int = 0) -> Model:
    """One Transformer.update with a listener per factor, each sent a fixed gradient.

    Returns the backend with the gradients it accumulated (no optimizer step).
    """
    nlp = spacy.blank("en")
    backend = toy()
    trf = Transformer(nlp.vocab, backend)
    docs = [nlp.make_doc("green eggs and ham"), nlp.make_doc("I do not like them")]
    listeners = {}
    for name, factor in factors.items():
        chain = transformer_listener_tok2vec_v1(reduce_mean(), grad_factor=factor)
        trf.add_listener(chain.get_ref("listener"), name)
        listeners[name] = chain
    examples = [Example(doc, doc.copy()) for doc in docs]
    trf.update(examples, sgd=None)
    rng = numpy.random.default_rng(d_outputs_seed)
    for chain in listeners.values():
        Y, backprop = chain.begin_update(docs)
        backprop([rng.normal(size=y.shape).astype("float32") for y in Y])
    return backend


def grads_of(model: Model) -> dict[str, numpy.ndarray]:
    return {n: model.get_grad(n).copy() for n in model.param_names if model.has_grad(n)}


def test_gradients_of_two_listeners_add_up():
    a = grads_of(run_update({"one": 1.0, "two": 0.0}))
    b = grads_of(run_update({"one": 0.0, "two": 1.0}))
    both = grads_of(run_update({"one": 1.0, "two": 1.0}))
    assert both.keys() == a.keys() == b.keys() and both
    for name in both:
        numpy.testing.assert_allclose(both[name], a[name] + b[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("factor", [0.5, 2.0, -3.0])
def test_grad_factor_scales_the_gradient_linearly(factor):
    one = grads_of(run_update({"tagger": 1.0}))
    scaled = grads_of(run_update({"tagger": factor}))
    assert one and scaled.keys() == one.keys()
    for name in one:
        numpy.testing.assert_allclose(scaled[name], factor * one[name], rtol=1e-4, atol=1e-6)


def test_grad_factor_zero_sends_nothing_to_the_backend():
    assert grads_of(run_update({"tagger": 0.0})) == {}


def test_grad_factor_schedule_is_read_once_per_update():
    nlp = spacy.blank("en")
    trf = Transformer(nlp.vocab, toy())
    chain = transformer_listener_tok2vec_v1(
        reduce_mean(), grad_factor=constant_then(0.0, 1, constant(2.0))
    )
    listener = chain.get_ref("listener")
    trf.add_listener(listener, "tagger")
    examples = [Example(nlp.make_doc("a b"), nlp.make_doc("a b"))]
    seen = []
    for _ in range(3):
        trf.update(examples, sgd=None)
        seen.append(listener.grad_factor.last)
    assert seen == [0.0, 2.0, 2.0]


def test_a_pipeline_with_a_grad_factor_schedule_pickles():
    """spaCy pickles the pipeline for nlp.pipe(n_process > 1) where workers spawn; thinc 8's
    schedules are generators. The copy predicts the same and, trained on, says what it lost."""
    import pickle
    import warnings

    from trf_core.testing.pipelines import build_nlp, listener_cfg

    schedule = {"@schedules": "constant_then.v1", "rate": 0.0, "steps": 1,
                "schedule": {"@schedules": "constant.v1", "rate": 1.5}}  # fmt: skip
    nlp = build_nlp(listeners={"tagger": listener_cfg(grad_factor=schedule)})
    nlp.get_pipe("transformer").annotation_setter = None  # the test setter is a local function
    nlp.update(tagger_examples_for(nlp))  # the schedule has moved: last = 0.0
    copy = pickle.loads(pickle.dumps(nlp))
    assert [t.tag_ for t in copy("green eggs")] == [t.tag_ for t in nlp("green eggs")]
    factor = copy.get_pipe("tagger").model.get_ref("tok2vec").get_ref("listener").grad_factor
    with pytest.warns(UserWarning, match="grad_factor schedule was pickled"):
        assert factor.next() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        assert factor.next() == 0.0


def test_a_pipeline_with_a_gradient_step_still_pending_pickles():
    """With the last listener's component sitting an update out, the summed gradient waits for
    the next update; a pickled copy (for prediction) leaves it behind."""
    import pickle

    from trf_core.testing.pipelines import build_nlp, listener_cfg

    nlp = build_nlp(listeners={"t1": listener_cfg(), "t2": listener_cfg()})
    nlp.get_pipe("transformer").annotation_setter = None  # the test setter is a local function
    nlp.update(tagger_examples_for(nlp), exclude=["t2"])
    assert nlp.get_pipe("transformer")._pending_step is not None
    copy = pickle.loads(pickle.dumps(nlp))
    assert copy.get_pipe("transformer")._pending_step is None
    assert [t.tag_ for t in copy("green eggs")] == [t.tag_ for t in nlp("green eggs")]


def tagger_examples_for(nlp: spacy.language.Language) -> list[Example]:
    from trf_core.testing.pipelines import tagger_examples

    return tagger_examples(nlp)


def test_listener_config_builds_with_spacy_registry():
    from spacy import registry

    built = registry.resolve(
        {
            "x": {
                "@architectures": "trf.TransformerLayersListener.v1",
                "layers": [-1, -2],
                "combine": "concat",
                "pooling": {"@layers": "reduce_max.v1"},
            }
        }
    )["x"]
    assert built.get_ref("listener").attrs["needs_hidden_states"] is True
    scheduled = registry.resolve(
        {
            "x": {
                "@architectures": "spacy-transformers.TransformerListener.v1",
                "pooling": {"@layers": "reduce_mean.v1"},
                "grad_factor": {
                    "@schedules": "constant_then.v1",
                    "rate": 0.0,
                    "steps": 2,
                    "schedule": {"@schedules": "constant.v1", "rate": 1.5},
                },
            }
        }
    )["x"]
    factor = scheduled.get_ref("listener").grad_factor
    assert [factor.next() for _ in range(4)] == [0.0, 0.0, 1.5, 1.5]
    plain = transformer_layers_listener_v1(reduce_mean())
    assert plain.layers[1].attrs["layers"] == [-1]


def test_a_pooler_that_changes_the_width_sets_the_heads_output_width():
    from thinc.api import concatenate

    rng = numpy.random.default_rng(0)
    head = last_layer_head(concatenate(reduce_first(), reduce_last()))
    head.initialize()
    (vectors,) = head.predict([make_doc_data(rng, 1, 4, 3, [1, 0, 2])])
    assert vectors.shape == (3, 6) and not vectors[1].any()
    assert head.get_dim("nI") == 3 and head.get_dim("nO") == 6
    (empty,) = head.predict([TransformerData.empty(2)])  # no rows at all: still 6 wide
    assert empty.shape == (2, 6) and not empty.any()


@SETTINGS
@given(seed=st.integers(0, 2**16), head_kind=st.sampled_from(sorted(HEADS)))
def test_half_precision_outputs_pool_like_their_float32_values(seed, head_kind):
    rng = numpy.random.default_rng(seed)
    data32 = [make_doc_data(rng, 2, 4, 3, [1, 0, 2, 3]), make_doc_data(rng, 1, 3, 3, [2, 1])]
    data16 = [
        TransformerData(
            d.wordpieces, d.model_output.map_arrays(lambda a: a.astype("float16")), d.align
        )
        for d in data32
    ]
    for d in data32:  # the same values as the half-precision copy holds
        d.model_output = d.model_output.map_arrays(lambda a: a.astype("float16").astype("float32"))
    head = HEADS[head_kind](reduce_mean())
    head.initialize()
    for got, want in zip(head.predict(data16), head.predict(data32)):
        assert got.dtype == numpy.float32
        # Selecting (a mean or mix of layers) runs in half precision: its rounding only.
        numpy.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_an_alignment_past_the_outputs_rows_is_named_not_read():
    rng = numpy.random.default_rng(0)
    data = make_doc_data(rng, 1, 4, 3, [1, 2])
    bad = TransformerData(
        data.wordpieces,
        data.model_output,
        Ragged(numpy.asarray([0, 1, 9], dtype="int32"), data.align.lengths),
    )
    head = last_layer_head(reduce_mean())
    head.initialize()
    with pytest.raises(ValueError, match=r"rows 0\.\.9.*4 rows.*inconsistent"):
        head.predict([bad])
