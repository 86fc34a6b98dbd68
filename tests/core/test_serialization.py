"""Serialization of the component and its listeners, replace_listeners and sourcing."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import spacy
from spacy.util import load_model_from_config
from thinc.api import Config

from trf_core.component.listeners import STANDALONE_ARCHITECTURE
from trf_core.testing.pipelines import (
    build_nlp,
    listener_cfg,
    params_of,
    same_params,
    tagger_examples,
    tok2vec_outputs,
    transformer_cfg,
)

TEXTS = ["I like green eggs", "", "Eat ham now !", "We   eat green ham and eggs"]
LISTENERS = {
    "tagger": listener_cfg(pooling="reduce_last.v1"),
    "tagger_mix": listener_cfg("trf.ScalarMixListener.v1"),
    "tagger_layers": listener_cfg(
        "trf.TransformerLayersListener.v1", layers=[-1, 1], combine="concat"
    ),
}


def trained(listeners: dict | None = None, steps: int = 4, **settings) -> spacy.language.Language:
    """A pipeline whose weights moved away from the seed's, so a bad load would show."""
    nlp = build_nlp(listeners=LISTENERS if listeners is None else listeners, **settings)
    optimizer = nlp.resume_training()
    examples = tagger_examples(nlp)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp


def outputs(nlp: spacy.language.Language, components: list[str]) -> dict:
    docs = list(nlp.pipe(TEXTS))
    out = {"tags": [[t.tag_ for t in doc] for doc in docs]}
    out["trf"] = [doc._.trf_data.tensors if doc._.trf_data is not None else None for doc in docs]
    for name in components:
        out[name] = tok2vec_outputs(nlp, name, docs)
        # Each tagger's own predictions (token.tag_ keeps the first tagger's: no overwrite).
        out[f"{name}-predicted"] = nlp.get_pipe(name).predict(docs)
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert a["tags"] == b["tags"]
    for key in a:
        if key == "tags":
            continue
        for x, y in zip(a[key], b[key]):
            if x is None or y is None:
                assert x is y
            elif isinstance(x, list):
                assert len(x) == len(y)
                for xa, ya in zip(x, y):
                    numpy.testing.assert_array_equal(xa, ya)
            else:
                numpy.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    return trained()


def test_component_to_bytes_from_bytes_gives_identical_outputs(nlp):
    fresh = spacy.blank("en")
    trf = fresh.add_pipe("transformer", config=transformer_cfg())
    trf.from_bytes(nlp.get_pipe("transformer").to_bytes())
    assert same_params(params_of(trf.model), params_of(nlp.get_pipe("transformer").model))
    for text in TEXTS:
        got = trf(fresh.make_doc(text))._.trf_data.tensors
        want = nlp(text)._.trf_data.tensors
        for a, b in zip(got, want):
            numpy.testing.assert_array_equal(a, b)


def test_component_to_disk_from_disk_gives_identical_outputs(nlp, tmp_path: Path):
    nlp.get_pipe("transformer").to_disk(tmp_path / "trf")
    fresh = spacy.blank("en")
    trf = fresh.add_pipe("transformer", config=transformer_cfg())
    trf.from_disk(tmp_path / "trf")
    assert trf.cfg == nlp.get_pipe("transformer").cfg
    for text in TEXTS:
        got = trf(fresh.make_doc(text))._.trf_data.tensors
        for a, b in zip(got, nlp(text)._.trf_data.tensors):
            numpy.testing.assert_array_equal(a, b)


def test_backend_serialization_hooks_are_used_when_present(nlp, tmp_path: Path):
    source = nlp.get_pipe("transformer")
    calls: list[tuple[str, int]] = []
    source.model.attrs["trf_to_bytes"] = lambda m: calls.append(("to_bytes", id(m))) or m.to_bytes()
    source.model.attrs["trf_to_disk"] = lambda m, path: (
        calls.append(("to_disk", id(m))) or path.write_bytes(m.to_bytes())
    )
    try:
        data = source.to_bytes()
        source.to_disk(tmp_path / "hooked")
    finally:
        del source.model.attrs["trf_to_bytes"], source.model.attrs["trf_to_disk"]
    fresh = spacy.blank("en")
    trf = fresh.add_pipe("transformer", config=transformer_cfg())
    trf.model.attrs["trf_from_bytes"] = lambda m, b: (
        calls.append(("from_bytes", id(m))) or m.from_bytes(b)
    )
    trf.model.attrs["trf_from_disk"] = lambda m, p: (
        calls.append(("from_disk", id(m))) or m.from_bytes(p.read_bytes())
    )
    trf.from_bytes(data)
    trf.from_disk(tmp_path / "hooked")
    # each hook is called with the model it serializes
    assert calls == [
        ("to_bytes", id(source.model)),
        ("to_disk", id(source.model)),
        ("from_bytes", id(trf.model)),
        ("from_disk", id(trf.model)),
    ]
    assert same_params(params_of(trf.model), params_of(source.model))


def test_pipeline_to_disk_and_load_gives_identical_outputs(nlp, tmp_path: Path):
    before = outputs(nlp, list(LISTENERS))
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("transformer").listening_components == list(LISTENERS)
    assert_same(before, outputs(loaded, list(LISTENERS)))
    # And through bytes, into a pipeline built from the same config.
    from_bytes = load_model_from_config(nlp.config, auto_fill=True).from_bytes(nlp.to_bytes())
    assert_same(before, outputs(from_bytes, list(LISTENERS)))


def test_replace_listeners_keeps_predictions_and_detaches_the_component(tmp_path: Path):
    nlp = trained()
    before = outputs(nlp, list(LISTENERS))
    nlp.replace_listeners("transformer", "tagger_mix", ["model.tok2vec"])
    trf = nlp.get_pipe("transformer")
    assert "tagger_mix" not in trf.listening_components
    tok2vec_cfg = nlp.config["components"]["tagger_mix"]["model"]["tok2vec"]
    assert tok2vec_cfg["@architectures"] == STANDALONE_ARCHITECTURE
    assert tok2vec_cfg["backend"]["@architectures"] == "trf.ToyTransformer.v1"
    assert_same(before, outputs(nlp, list(LISTENERS)))
    # Training the shared transformer no longer moves the replaced component.
    mix_before = params_of(nlp.get_pipe("tagger_mix").model)
    optimizer = nlp.resume_training()
    examples = tagger_examples(nlp)
    trf_before = params_of(trf.model)
    for _ in range(2):
        nlp.update(examples, sgd=optimizer, exclude=["tagger_mix"])
    assert not same_params(trf_before, params_of(trf.model))
    assert same_params(mix_before, params_of(nlp.get_pipe("tagger_mix").model))
    after = outputs(nlp, list(LISTENERS))
    nlp.to_disk(tmp_path / "replaced")
    assert_same(after, outputs(spacy.load(tmp_path / "replaced"), list(LISTENERS)))


def test_a_replaced_last_layer_listener_does_not_compute_hidden_states():
    nlp = trained(steps=1)  # tagger_mix reads every layer: the shared backend returns them all
    assert nlp.get_pipe("transformer").model.attrs["output_hidden_states"] is True
    before = outputs(nlp, ["tagger"])
    nlp.replace_listeners("transformer", "tagger", ["model.tok2vec"])
    copies = [
        node for node in nlp.get_pipe("tagger").model.walk()
        if "output_hidden_states" in node.attrs
    ]  # fmt: skip
    assert copies and all(node.attrs["output_hidden_states"] is False for node in copies)
    assert_same(before, outputs(nlp, ["tagger"]))


def test_sourcing_a_component_with_replace_listeners(nlp, tmp_path: Path):
    nlp.to_disk(tmp_path / "source")
    config = Config(
        {
            "nlp": {"lang": "en", "pipeline": ["tagger_layers"]},
            "components": {
                "tagger_layers": {
                    "source": str(tmp_path / "source"),
                    "replace_listeners": ["model.tok2vec"],
                }
            },
        }
    )
    sourced = load_model_from_config(config, auto_fill=True)
    assert sourced.pipe_names == ["tagger_layers"]
    docs = list(nlp.pipe(TEXTS))
    alone = list(sourced.pipe(TEXTS))
    # Compare the tagger's own predictions: in the source pipeline an earlier tagger already
    # set token.tag_, which a tagger does not overwrite.
    assert_same_predictions(
        sourced.get_pipe("tagger_layers"), alone, nlp.get_pipe("tagger_layers"), docs
    )
    for a, b in zip(
        tok2vec_outputs(sourced, "tagger_layers", alone),
        tok2vec_outputs(nlp, "tagger_layers", docs),
    ):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    sourced.to_disk(tmp_path / "sourced")
    reloaded = spacy.load(tmp_path / "sourced")
    assert [[t.tag_ for t in d] for d in reloaded.pipe(TEXTS)] == [
        [t.tag_ for t in d] for d in alone
    ]


def assert_same_predictions(pipe_a, docs_a, pipe_b, docs_b) -> None:
    for a, b in zip(pipe_a.predict(docs_a), pipe_b.predict(docs_b)):
        numpy.testing.assert_array_equal(a, b)
