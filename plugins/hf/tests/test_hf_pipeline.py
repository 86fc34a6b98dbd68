"""trf-hf inside real spaCy pipelines: training, saving, loading offline in a fresh process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from hf_helpers import as_numpy
from spacy.training import Example

import trf_core
from trf_core.testing.pipelines import listener_cfg, tagger_cfg

TRAIN = [
    (
        "The quick brown fox jumps over the lazy dog .",
        "DET ADJ ADJ NOUN VERB ADP DET ADJ NOUN PUNCT",
    ),
    ("Colorless green ideas sleep furiously !", "ADJ ADJ NOUN VERB ADV PUNCT"),
    ("The dog sleeps .", "DET NOUN VERB PUNCT"),
]
TEXTS = ["The lazy fox sleeps over the dog.", "Green ideas jump furiously!", ""]


def _tagger_pipeline(model_dir: Path, get_spans: dict[str, Any]) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {
                "@architectures": "spacy-transformers.TransformerModel.v3",
                "name": str(model_dir),
                "tokenizer_config": {"use_fast": True},
                "get_spans": get_spans,
            },
            "annotation_setter": {"@annotation_setters": "trf_hf_test.no_annotations"},
        },
    )
    nlp.add_pipe("tagger", config=tagger_cfg(listener_cfg()))  # mean-pooling listener
    return nlp


def _train(nlp: spacy.Language, steps: int = 8) -> dict[str, float]:
    examples = [
        Example.from_dict(nlp.make_doc(text), {"tags": tags.split()}) for text, tags in TRAIN
    ]
    optimizer = nlp.initialize(lambda: examples)
    losses: dict[str, float] = {}
    for _ in range(steps):
        losses = nlp.update(examples, sgd=optimizer)
    return losses


def _predictions(nlp: spacy.Language) -> list[dict[str, Any]]:
    return [
        {
            "tags": [t.tag_ for t in doc],
            "tensor0": as_numpy(doc._.trf_data.tensors[0]).tolist()
            if doc._.trf_data.tensors
            else [],
        }
        for doc in nlp.pipe(TEXTS)
    ]


@pytest.fixture(scope="module")
def saved_pipeline(bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A trained transformer + tagger pipeline saved to disk, its source model folder deleted."""
    root = tmp_path_factory.mktemp("pipeline")
    source = root / "source-model"
    shutil.copytree(bert_dir, source)
    nlp = _tagger_pipeline(source, {"@span_getters": "trf_hf_test.doc_spans"})
    losses = _train(nlp)
    assert losses["tagger"] > 0
    nlp.to_disk(root / "nlp")
    expected = _predictions(nlp)
    shutil.rmtree(source)
    return root / "nlp", expected


@trf_core.registry.span_getters("trf_hf_test.doc_spans")
def _configure_doc_spans() -> Any:
    from hf_helpers import doc_spans

    return doc_spans


@trf_core.registry.annotation_setters("trf_hf_test.no_annotations")
def _configure_no_annotations() -> Any:
    """The tests' own setter, so they need no annotation-setter distribution."""

    def no_annotations(docs: Any, batch: Any) -> None:
        return None

    return no_annotations


NO_NETWORK = """
import socket

class NetworkDisabled(OSError):
    pass

def _refuse(*args, **kwargs):
    raise NetworkDisabled("network access attempted in an offline test")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


def test_saved_pipeline_loads_offline_in_a_fresh_process(
    saved_pipeline: tuple[Path, Any], tmp_path: Path
) -> None:
    path, expected = saved_pipeline
    files = {p.name for p in (path / "transformer" / "model").iterdir()}
    assert {"config.json", "model.safetensors"} <= files
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_NETWORK, encoding="utf8")
    out = tmp_path / "out.json"
    script = textwrap.dedent(
        f"""
        import json, socket, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
            blocked = False
        except OSError as err:
            blocked = type(err).__name__ == "NetworkDisabled"
        import spacy
        import test_hf_pipeline  # registers the test's span getter
        from hf_helpers import as_numpy
        nlp = spacy.load({str(path)!r})
        preds = test_hf_pipeline._predictions(nlp)
        json.dump({{"blocked": blocked, "preds": preds}}, open({str(out)!r}, "w"))
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf-home"),  # an empty cache: nothing to fall back on
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["blocked"], "the socket patch did not take effect"
    for ours, theirs in zip(got["preds"], expected):
        assert ours["tags"] == theirs["tags"]
        numpy.testing.assert_allclose(
            numpy.asarray(ours["tensor0"]), numpy.asarray(theirs["tensor0"]), atol=1e-5
        )


def test_pipeline_bytes_round_trip(saved_pipeline: tuple[Path, Any]) -> None:
    path, expected = saved_pipeline
    nlp = spacy.load(path)
    copy = spacy.blank("en").from_config(nlp.config).from_bytes(nlp.to_bytes())
    for ours, theirs in zip(_predictions(copy), expected):
        assert ours["tags"] == theirs["tags"]
        numpy.testing.assert_allclose(
            numpy.asarray(ours["tensor0"]), numpy.asarray(theirs["tensor0"]), atol=1e-5
        )


def test_tok2vec_transformer_trains_and_round_trips(bert_dir: Path, tmp_path: Path) -> None:
    """Tok2VecTransformer: the transformer inside the tagger, serialized through thinc."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "tagger",
        config={
            "model": {
                "@architectures": "spacy.Tagger.v2",
                "tok2vec": {
                    "@architectures": "spacy-transformers.Tok2VecTransformer.v3",
                    "name": str(bert_dir),
                    "tokenizer_config": {"use_fast": True},
                    "grad_factor": 1.0,
                    "pooling": {"@layers": "reduce_mean.v1"},
                    "get_spans": {"@span_getters": "trf_hf_test.doc_spans"},
                },
            }
        },
    )
    examples = [
        Example.from_dict(nlp.make_doc(text), {"tags": tags.split()}) for text, tags in TRAIN
    ]
    optimizer = nlp.initialize(lambda: examples)
    first = nlp.update(examples, sgd=optimizer)["tagger"]
    for _ in range(8):
        last = nlp.update(examples, sgd=optimizer)["tagger"]
    assert last < first
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    for a, b in zip(nlp.pipe(TEXTS), loaded.pipe(TEXTS)):
        assert [t.tag_ for t in a] == [t.tag_ for t in b]


def test_seed_page_python_equivalent(bert_dir: Path) -> None:
    """The usage page's Python example, with our import paths."""
    pytest.importorskip("trf_setters")
    pytest.importorskip("trf_span_getters")
    from trf_hf import TransformerModel
    from trf_setters import null_annotation_setter
    from trf_span_getters import get_doc_spans

    from trf_core import Transformer

    nlp = spacy.blank("en")
    trf = Transformer(
        nlp.vocab,
        TransformerModel(
            str(bert_dir),
            get_spans=get_doc_spans,
            tokenizer_config={"use_fast": True},
        ),
        annotation_setter=null_annotation_setter,
        max_batch_items=4096,
    )
    trf.initialize(lambda: [Example.from_dict(nlp.make_doc("some text"), {})], nlp=nlp)
    doc = trf(nlp("the fox"))
    assert doc._.trf_data.tensors[0].shape[:2] == (1, 4)  # [CLS] some text [SEP]
    assert doc._.trf_data.align.lengths.tolist() == [1, 1]


def test_config_resolves_before_trf_core_is_imported(bert_dir: Path) -> None:
    """The catalogue entry points find the architectures with trf_core not yet imported."""
    script = textwrap.dedent(
        f"""
        import sys, spacy
        fn = spacy.registry.architectures.get("spacy-transformers.TransformerModel.v3")
        model = fn({str(bert_dir)!r}, get_spans=lambda docs: [[d[:]] for d in docs])
        assert "transformers" not in sys.modules, "configs must resolve without transformers"
        print(model.name, sorted(k for k in model.attrs if k.startswith("trf_")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    attrs = "['trf_from_bytes', 'trf_from_disk', 'trf_to_bytes', 'trf_to_disk']"
    assert f"trf-hf {attrs}" in result.stdout


def test_replace_listeners_keeps_predictions_through_save_and_load(
    saved_pipeline: tuple[Path, Any], tmp_path: Path
) -> None:
    """The tagger gets its own copy of the HF backend, saved inside the tagger's model."""
    path, expected = saved_pipeline
    nlp = spacy.load(path)
    nlp.replace_listeners("transformer", "tagger", ["model.tok2vec"])
    nlp.remove_pipe("transformer")
    tags = [[t.tag_ for t in doc] for doc in nlp.pipe(TEXTS)]
    assert tags == [e["tags"] for e in expected]
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert [[t.tag_ for t in doc] for doc in loaded.pipe(TEXTS)] == tags
