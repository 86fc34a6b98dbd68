"""The new-plugin template cannot rot: render it, install it, run its tests, train with it.

Every kind is rendered and pip-installed (into a ``--target`` folder put on ``PYTHONPATH`` of
subprocesses, so this environment stays untouched); the rendered tests, which subclass the
conformance suites, must pass; ``python -m trf_core plugins`` must list the plugins; and a real
``spacy train`` run must resolve the span getter, annotation setter and pooler from its config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin

import trf_core
from trf_core.cli import main as cli
from trf_core.cli.scaffold import KINDS, PluginNames, render_plugin, trf_core_requirement

REPO = Path(__file__).resolve().parents[2]

PLUGINS = {
    "span_getter": "acme-spans",
    "annotation_setter": "acme-setter",
    "pooler": "acme_pool",
    "backend": "acme-backend",
}


_PIP_INSTALL = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRF_")}
    env["PYTHONPATH"] = str(site)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _run(args: list[str], cwd: Path, site: Path, timeout: int = 300) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=_env(site), capture_output=True, text=True, timeout=timeout
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Every kind rendered into ``root`` and pip-installed into ``site``."""
    root = tmp_path_factory.mktemp("plugins")
    site = root / "site"
    folders = [render_plugin(name, kind, root) for kind, name in PLUGINS.items()]
    _run(
        [*_PIP_INSTALL, "--target", str(site), *map(str, folders)],
        cwd=root,
        site=site,
    )
    return root, site


_IMPORTLIB = ["--import-mode=importlib"]


@pytest.mark.slow
def test_rendered_plugins_pass_their_own_conformance_tests(installed: tuple[Path, Path]) -> None:
    root, site = installed
    tests = [str(root / PluginNames.from_name(name).dist / "tests") for name in PLUGINS.values()]
    output = _run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", *_IMPORTLIB, *tests],
        cwd=root,
        site=site,
    )
    passed = {line.split("::", 1)[1] for line in output.splitlines() if line.startswith("PASSED ")}
    # One test per invariant, by id, for each kind's suite, and each plugin's own test.
    assert {
        "TestFixedWindows::test_spans_inside_doc",
        "TestFixedWindows::test_covers_every_token",
        "TestMeanPooling::test_finite_differences",
        "TestMeanPooling::test_empty_rows",
        "TestPieceCounts::test_idempotent",
        "TestHashingBackend::test_batch_invariance",
        "TestHashingBackend::test_finite_differences",
        "test_windows_hold_at_most_window_tokens",
        "test_averages_each_tokens_rows",
        "test_counts_every_piece_the_model_read",
        "test_one_piece_per_chunk",
    } <= passed, output[-3000:]
    assert " failed" not in output and " error" not in output


@pytest.mark.slow
def test_rendered_plugins_show_up_in_the_listing(installed: tuple[Path, Path]) -> None:
    root, site = installed
    listing = json.loads(_run([sys.executable, "-m", "trf_core", "plugins", "--json"], root, site))
    by_name = {plugin["name"]: plugin for plugin in listing["plugins"]}
    expected = {
        "acme_spans": ("span_getters", "acme_spans.fixed_windows.v1"),
        "acme_setter": ("annotation_setters", "acme_setter.piece_counts.v1"),
        "acme_pool": ("layers", "acme_pool.mean_pooling.v1"),
        "acme_backend": ("architectures", "acme_backend.HashingBackend.v1"),
    }
    for plugin, (registry, name) in expected.items():
        assert by_name[plugin]["status"] == "ok", by_name[plugin]
        assert by_name[plugin]["provides"][registry] == [name]


_TRAIN_CONFIG = """
[paths]
train = null
dev = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = ["transformer","tagger"]
batch_size = 8

[components]

[components.transformer]
factory = "transformer"
max_batch_items = 512

[components.transformer.model]
@architectures = "trf.ToyTransformer.v1"
width = 16
depth = 1
max_length = 16

[components.transformer.model.get_spans]
@span_getters = "acme_spans.fixed_windows.v1"
window = 4

[components.transformer.annotation_setter]
@annotation_setters = "acme_setter.piece_counts.v1"

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"
nO = null

[components.tagger.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.tagger.model.tok2vec.pooling]
@layers = "acme_pool.mean_pooling.v1"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
train_corpus = "corpora.train"
dev_corpus = "corpora.dev"
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
max_steps = 6
eval_frequency = 3
patience = 0
dropout = 0.1
accumulate_gradient = 1
max_epochs = 0
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.01

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
size = 200
tolerance = 0.2

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"

[initialize]
"""

_CORPUS = [
    ("The cat sat on the mat .", "DET NOUN VERB ADP DET NOUN PUNCT"),
    ("A dog ran in the big park .", "DET NOUN VERB ADP DET ADJ NOUN PUNCT"),
    ("Birds fly south .", "NOUN VERB ADV PUNCT"),
    ("She reads old books quietly .", "PRON VERB ADJ NOUN ADV PUNCT"),
]

_CHECK_TRAINED = """
import sys, spacy
nlp = spacy.load(sys.argv[1])
doc = nlp("The dog sat on a mat .")
assert nlp.pipe_names == ["transformer", "tagger"], nlp.pipe_names
assert all(t.tag_ for t in doc), [t.tag_ for t in doc]
spans = nlp.get_pipe("transformer").model.attrs["get_spans"]([doc])[0]
assert [len(s) for s in spans] == [4, 3], spans  # acme_spans.fixed_windows.v1, window = 4
n_pieces = doc._.acme_setter_n_pieces  # written by acme_setter.piece_counts.v1
assert n_pieces == sum(len(s) for s in doc._.trf_data.wordpieces.strings), n_pieces
print("trained pipeline ok")
"""


_PATHS = ["--paths.train", "train.spacy", "--paths.dev", "train.spacy"]


@pytest.mark.slow
def test_spacy_train_resolves_the_rendered_plugins(installed: tuple[Path, Path]) -> None:
    root, site = installed
    work = root / "train"
    work.mkdir()
    nlp = spacy.blank("en")
    corpus = DocBin()
    for text, tags in _CORPUS:
        corpus.add(Doc(nlp.vocab, words=text.split(), tags=tags.split()))
    corpus.to_disk(work / "train.spacy")
    (work / "config.cfg").write_text(_TRAIN_CONFIG, encoding="utf8")
    output = _run(
        [sys.executable, "-m", "spacy", "train", "config.cfg", "--output", "out", *_PATHS],
        cwd=work,
        site=site,
    )
    assert "Saved pipeline" in output, output[-3000:]
    (work / "check.py").write_text(_CHECK_TRAINED, encoding="utf8")
    checked = _run([sys.executable, "check.py", "out/model-last"], cwd=work, site=site)
    assert "trained pipeline ok" in checked


# -- the renderer itself -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_completely(kind: str, tmp_path: Path) -> None:
    target = render_plugin("Acme-Thing", kind, tmp_path)
    assert target == tmp_path / "acme-thing"
    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert {
        "pyproject.toml",
        "README.md",
        "acme_thing/__init__.py",
        "acme_thing/plugin.py",
    } <= files
    assert any(f.startswith("tests/test_") for f in files)
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf8")
            assert "{{" not in text and "}}" not in text, path
    pyproject = (target / "pyproject.toml").read_text(encoding="utf8")
    assert '[project.entry-points.trf_core]\nacme_thing = "acme_thing.plugin"' in pyproject
    assert f'dependencies = ["{trf_core_requirement()}"]' in pyproject
    compile((target / "acme_thing" / "plugin.py").read_text(encoding="utf8"), "plugin", "exec")


def test_requirement_is_the_current_minor_series() -> None:
    assert trf_core_requirement("0.1.3") == "trf-core>=0.1.0,<0.2"
    assert trf_core_requirement("2.7.0") == "trf-core>=2.7.0,<2.8"
    major, minor = trf_core.__version__.split(".")[:2]
    assert trf_core_requirement() == f"trf-core>={major}.{minor}.0,<{major}.{int(minor) + 1}"


@pytest.mark.parametrize("bad", ["1acme", "acme spans", "acme--x", "acme.x", "-acme", ""])
def test_bad_names_are_refused_with_a_hint(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a usable plugin name"):
        render_plugin(bad, "pooler", tmp_path)


def test_unknown_kind_and_existing_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        render_plugin("acme", "tokenizer", tmp_path)
    render_plugin("acme", "pooler", tmp_path)
    with pytest.raises(FileExistsError, match="not empty"):
        render_plugin("acme", "pooler", tmp_path)


def test_cli_new_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["new-plugin", "acme-x", "--kind", "span_getter", "--output", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "acme-x" / "acme_x" / "span_getters.py").is_file()
    assert "acme_x.fixed_windows.v1" in capsys.readouterr().out
    assert cli.main(["new-plugin", "acme x", "--kind", "pooler", "--output", str(tmp_path)]) == 1
    assert "not a usable plugin name" in capsys.readouterr().out


@pytest.mark.slow
def test_wheel_ships_the_templates(tmp_path: Path) -> None:
    where = [str(tmp_path), str(REPO)]
    _run(
        [*_PIP_INSTALL[:3], "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", *where],
        cwd=tmp_path,
        site=tmp_path,
    )
    (wheel,) = tmp_path.glob("trf_core-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in KINDS:
        assert f"trf_core/cli/templates/{kind}/__package__/plugin.py.tmpl" in names
    assert "trf_core/cli/templates/common/pyproject.toml.tmpl" in names
    assert "trf_core/testing/pytest_plugin.py" in names
