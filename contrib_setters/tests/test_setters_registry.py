"""The entry point works, the null setter sets nothing, and the package imports before the core."""

from __future__ import annotations

import subprocess
import sys

import numpy
import pytest
import spacy
from setter_helpers import assert_unchanged, hand_batch, snapshot
from trf_setters import null_annotation_setter

import trf_core  # noqa: F401  (loads the plugins)

NAMES = [
    "spacy-transformer.null_annotation_setter.v1",
    "spacy-transformers.null_annotation_setter.v1",
    "trf.token_vectors.v1",
    "trf.doc_embedding.v1",
]


@pytest.mark.parametrize("name", NAMES)
def test_name_resolves_through_spacy_registry(name: str) -> None:
    assert callable(spacy.registry.get("annotation_setters", name))
    setter = spacy.registry.resolve({"s": {"@annotation_setters": name}})["s"]
    docs, batch = hand_batch()
    setter(docs, batch)


@pytest.mark.parametrize(
    "name",
    ["spacy-transformer.null_annotation_setter.v1", "spacy-transformers.null_annotation_setter.v1"],
)
def test_null_setters_set_nothing(name: str) -> None:
    setter = spacy.registry.resolve({"s": {"@annotation_setters": name}})["s"]
    assert setter is null_annotation_setter
    docs, batch = hand_batch()
    before = snapshot(batch)
    setter(docs, batch)
    assert_unchanged(before, batch)
    for doc in docs:
        assert doc.tensor.size == 0 and not doc.user_hooks and not doc.user_data


def test_config_settings_reach_the_setter() -> None:
    block = {"@annotation_setters": "trf.token_vectors.v1", "layer": 1}
    setter = spacy.registry.resolve({"s": block})["s"]
    docs, batch = hand_batch(with_hidden=True)
    setter(docs, batch)
    numpy.testing.assert_allclose(docs[1].tensor[0], [22.0, 24.2], rtol=1e-6)


def test_a_hidden_layer_setting_in_a_pipeline_config_gets_its_layer() -> None:
    """A config naming ``layer`` needs no listener reading hidden layers: the component asks
    the backend for them because the setter says it needs them."""
    from trf_core.testing.pipelines import toy_model_cfg

    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": toy_model_cfg(width=4, depth=2),
            "annotation_setter": {"@annotation_setters": "trf.token_vectors.v1", "layer": 1},
        },
    )
    nlp.initialize()
    doc = nlp("green eggs and ham")
    layer = doc._.trf_data.model_output["hidden_states"][1]
    rows = layer.reshape(-1, layer.shape[-1])
    align = doc._.trf_data.align
    expected = [rows[align[i].dataXd.ravel()].mean(axis=0) for i in range(len(doc))]
    numpy.testing.assert_allclose(doc.tensor, numpy.asarray(expected), rtol=1e-5, atol=1e-6)


def test_importing_the_plugin_package_before_the_core_still_registers() -> None:
    code = (
        "import trf_setters, sys\n"
        "assert 'trf_core' not in sys.modules\n"
        "import spacy, trf_core\n"
        "spacy.registry.get('annotation_setters', 'trf.doc_embedding.v1')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
