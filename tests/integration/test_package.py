"""`spacy package` on a trained trf-core pipeline: the package requires the distributions the
config uses, installs, and loads with `spacy.load(name)` in a fresh environment. A trf-hf
pipeline trained from a Hub id installs and runs the same way with the network and the Hugging
Face cache gone: the package carries the weights and tokenizer files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trf_span_getters")
pytest.importorskip("trf_poolers")
pytest.importorskip("trf_setters")

import spacy
from spacy.training import Example

from trf_core.testing.pipelines import listener_cfg, tagger_cfg

WORDS = ["Maria", "works", "in", "Berlin", "."]
TAGS = ["NNP", "VBZ", "IN", "NNP", "."]


def _trained_pipeline(model: dict[str, Any] | None = None) -> spacy.Language:
    """A transformer + tagger trained to tag WORDS; ``model`` replaces the toy backend."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {
                **(model or {"@architectures": "trf.ToyTransformer.v1"}),
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


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv's python whose only link to this environment is a .pth file naming its
    site-packages, standing in for "pip install trf-core and its plugins" there; pipeline
    packages are built and installed into it by pip like any package."""
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    parents = [p for p in sys.path if p.endswith("site-packages")]
    (Path(_site_packages(python)) / "_parent_env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parents)
    )
    return python


def _package_and_install(
    nlp: spacy.Language, name: str, tmp_path: Path, python: Path
) -> dict[str, Any]:
    """`spacy package` the pipeline, pip-install the sdist into ``python``'s venv; the meta."""
    nlp.to_disk(tmp_path / "pipeline")
    out = tmp_path / "packages"
    out.mkdir()
    subprocess.run(
        [sys.executable, "-m", "spacy", "package", str(tmp_path / "pipeline"), str(out),
         "--name", name, "--version", "0.0.1", "--force"],
        check=True, capture_output=True,
    )  # fmt: skip
    meta: dict[str, Any] = json.loads(next(out.glob("*/meta.json")).read_text())
    sdist = next(out.glob("*/dist/*.tar.gz"))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(sdist)],
        check=True, capture_output=True,
    )  # fmt: skip
    return meta


def _tags_in(python: Path, package: str, cwd: Path, env: dict[str, str]) -> list[str]:
    code = (
        f"import spacy; nlp = spacy.load({package!r}); "
        "print(' '.join(t.tag_ for t in nlp('Maria works in Berlin.')))"
    )
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, "PYTHONPATH": "", **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


def test_spacy_package_installs_and_loads_in_a_fresh_venv(
    tmp_path: Path, fresh_python: Path
) -> None:
    nlp = _trained_pipeline()
    expected = [t.tag_ for t in nlp(" ".join(WORDS[:-1]) + ".")]
    meta = _package_and_install(nlp, "trf_pkg_test", tmp_path, fresh_python)
    names = {r.split(">")[0] for r in meta["requirements"]}
    assert {"trf-core", "trf-span-getters", "trf-poolers", "trf-setters"} <= names
    assert _tags_in(fresh_python, "en_trf_pkg_test", tmp_path, {}) == expected


@pytest.mark.needs_torch
def test_package_of_a_pipeline_from_a_hub_id_runs_offline_without_the_cache(
    tmp_path: Path, fresh_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("trf_hf")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "hf" / "tests"))
    from hf_models import make_bert
    from hub_cache import lay_out_snapshot

    cache = tmp_path / "hf-hub-cache"
    lay_out_snapshot(cache, "acme/tiny-bert", make_bert(tmp_path / "bert"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nlp = _trained_pipeline(
        {"@architectures": "spacy-transformers.TransformerModel.v3", "name": "acme/tiny-bert"}
    )
    expected = [t.tag_ for t in nlp(" ".join(WORDS[:-1]) + ".")]
    meta = _package_and_install(nlp, "trf_hub_pkg_test", tmp_path, fresh_python)
    assert "trf-hf" in {r.split(">")[0] for r in meta["requirements"]}
    shutil.rmtree(cache)
    empty = tmp_path / "empty"
    offline = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_CACHE": str(empty / "hub"),
        "HF_HOME": str(empty),
    }
    assert _tags_in(fresh_python, "en_trf_hub_pkg_test", tmp_path, offline) == expected


def _site_packages(python: Path) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
