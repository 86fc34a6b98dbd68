"""`spacy package` on a trained trf-core pipeline: the package requires the distributions the
config uses, installs, and loads with `spacy.load(name)` in a fresh environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytest.importorskip("trf_span_getters")
pytest.importorskip("trf_poolers")
pytest.importorskip("trf_setters")

import spacy
from spacy.training import Example

from trf_core.testing.pipelines import listener_cfg, tagger_cfg

WORDS = ["Maria", "works", "in", "Berlin", "."]
TAGS = ["NNP", "VBZ", "IN", "NNP", "."]


def _trained_pipeline() -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {
                "@architectures": "trf.ToyTransformer.v1",
                "get_spans": {"@span_getters": "doc_spans.v1"},
            },
            "annotation_setter": {
                "@annotation_setters": "spacy-transformers.null_annotation_setter.v1"
            },
        },
    )
    nlp.add_pipe("tagger", config=tagger_cfg(listener_cfg(pooling="trf.first_last.v1")))
    doc = spacy.tokens.Doc(nlp.vocab, words=WORDS, tags=TAGS)
    examples = [Example(nlp.make_doc(doc.text), doc)]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    return nlp


def test_initialize_records_the_plugin_distributions() -> None:
    nlp = _trained_pipeline()
    names = {r.split(">")[0] for r in nlp.meta["requirements"]}
    # factory + listener + toy backend: trf-core; doc_spans.v1; trf.first_last.v1
    assert {"trf-core", "trf-span-getters", "trf-poolers", "trf-setters"} <= names
    assert not names & {"spacy", "thinc"}


def test_spacy_package_installs_and_loads_in_a_fresh_venv(tmp_path: Path) -> None:
    nlp = _trained_pipeline()
    expected = [t.tag_ for t in nlp(" ".join(WORDS[:-1]) + ".")]
    nlp.to_disk(tmp_path / "pipeline")
    out = tmp_path / "packages"
    out.mkdir()
    subprocess.run(
        [sys.executable, "-m", "spacy", "package", str(tmp_path / "pipeline"), str(out),
         "--name", "trf_pkg_test", "--version", "0.0.1", "--force"],
        check=True, capture_output=True,
    )  # fmt: skip
    meta = json.loads(next(out.glob("*/meta.json")).read_text())
    names = {r.split(">")[0] for r in meta["requirements"]}
    assert {"trf-core", "trf-span-getters", "trf-poolers", "trf-setters"} <= names
    sdist = next(out.glob("*/dist/*.tar.gz"))
    # A fresh venv whose only link to this environment is a .pth file naming its
    # site-packages, standing in for "pip install trf-core and its plugins" there; the pipeline
    # package itself is built and installed by pip like any package.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    parents = [p for p in sys.path if p.endswith("site-packages")]
    (Path(_site_packages(python)) / "_parent_env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parents)
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(sdist)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import spacy; nlp = spacy.load('en_trf_pkg_test'); "
        "print(' '.join(t.tag_ for t in nlp('Maria works in Berlin.')))"
    )
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == expected


def _site_packages(python: Path) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
