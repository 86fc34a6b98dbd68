"""Hub ids as ``name``: the Hugging Face cache offline, a download online, clear errors on a miss.

Every test runs against a cache laid out on the spot (:mod:`hub_cache`) with the sockets closed;
the download path is exercised with huggingface_hub's ``snapshot_download`` replaced.
"""

from __future__ import annotations

import fnmatch
import shutil
import socket
from pathlib import Path
from typing import Any

import huggingface_hub
import numpy
import pytest
import spacy
from hf_helpers import NLP, as_numpy, doc_spans
from hf_models import make_bert
from hub_cache import lay_out_snapshot
from trf_hf import ModelNotFoundError, TransformerModel, resolve_model_dir
from trf_hf.loading import configured_revision

REPO = "acme/tiny-bert"
TEXT = "The quick brown fox jumps over the lazy dog."
REAL_SNAPSHOT_DOWNLOAD = huggingface_hub.snapshot_download


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed("a Hub test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def other_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny BERT architecture with other weights: what a second commit would hold."""
    return make_bert(tmp_path_factory.mktemp("bert-v2") / "model", seed=1)


@pytest.fixture
def cache(
    tmp_path: Path, bert_dir: Path, other_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """``acme/tiny-bert``: main at ``bert_dir``'s weights, branch ``v2`` at ``other_bert``'s."""
    root = tmp_path / "hub-cache"
    main = lay_out_snapshot(root, REPO, bert_dir, refs=["main"])
    v2 = lay_out_snapshot(root, REPO, other_bert, refs=["v2"])
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return {"root": root, "main": main, "v2": v2}


def _hidden(name: str | Path, **kwargs: Any) -> numpy.ndarray:
    model = TransformerModel(str(name), get_spans=doc_spans, **kwargs)
    model.initialize()
    return as_numpy(model.predict([NLP(TEXT)]).model_output.last_hidden_state)


def test_hub_id_loads_from_the_cache_offline(
    cache: dict[str, Any], bert_dir: Path, other_bert: Path
) -> None:
    assert resolve_model_dir(REPO) == cache["main"]
    # the cache holds symlinks into blobs/, as huggingface_hub writes it
    assert (cache["main"] / "model.safetensors").is_symlink()
    from_hub = _hidden(REPO)
    numpy.testing.assert_allclose(from_hub, _hidden(bert_dir), atol=1e-6)
    assert not numpy.allclose(from_hub, _hidden(other_bert), atol=1e-3)  # main, not v2


def test_cache_is_found_through_hf_home_set_after_import(
    tmp_path: Path, bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huggingface_hub read the environment at import; the lookup must read it now."""
    home = tmp_path / "hf-home"
    snapshot = lay_out_snapshot(home / "hub", REPO, bert_dir)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_dir(REPO) == snapshot


def test_revision_by_branch_and_by_commit(cache: dict[str, Any]) -> None:
    main, v2 = cache["main"], cache["v2"]
    assert resolve_model_dir(REPO, revision="v2") == v2
    assert resolve_model_dir(REPO, revision="main") == main
    assert resolve_model_dir(REPO, revision=v2.name) == v2  # a commit hash, no ref needed
    assert resolve_model_dir(REPO, revision=main.name) == main


def test_missing_id_offline_says_what_was_searched_and_how_to_fetch(
    cache: dict[str, Any],
) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        TransformerModel("acme/no-such-model", get_spans=doc_spans).initialize()
    message = str(info.value)
    for part in (
        "'acme/no-such-model'",
        "revision 'main'",
        str(cache["root"]),
        "HF_HUB_OFFLINE=1",
        "`hf download acme/no-such-model`",
        "`huggingface-cli download acme/no-such-model`",
        "no folder at",
        "is not a Python package name",
    ):
        assert part in message, (part, message)


def test_missing_revision_names_it_in_the_fetch_command(cache: dict[str, Any]) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_dir(REPO, revision="v3")
    message = str(info.value)
    assert "revision 'v3'" in message
    assert f"`hf download {REPO} --revision v3`" in message


def test_snapshot_without_weights_is_a_miss(
    tmp_path: Path, bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a config-only fetch leaves (e.g. AutoConfig alone): not a loadable model."""
    root = tmp_path / "hub-cache"
    lay_out_snapshot(root, REPO, bert_dir, only=["config.json", "vocab.txt"])
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"lacks model\.safetensors or pytorch_model\.bin"):
        resolve_model_dir(REPO)


def test_a_path_that_is_no_hub_id_keeps_the_folder_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a Hugging Face Hub id either"):
        resolve_model_dir(tmp_path / "missing" / "model")


class FakeHub:
    """``snapshot_download`` online: records each call and "downloads" from ``source``.

    Local lookups (``local_files_only=True``) go to the real function, against the test cache.
    """

    def __init__(self, source: Path) -> None:
        self.source = source
        self.calls: list[dict[str, Any]] = []

    def __call__(self, repo_id: str, **kwargs: Any) -> str:
        if kwargs.get("local_files_only"):
            return str(REAL_SNAPSHOT_DOWNLOAD(repo_id, **kwargs))
        self.calls.append({"repo_id": repo_id, **kwargs})
        patterns = kwargs["allow_patterns"]
        wanted = [
            str(p.relative_to(self.source))
            for p in self.source.rglob("*")
            if p.is_file()
            and any(fnmatch.fnmatch(str(p.relative_to(self.source)), pat) for pat in patterns)
        ]
        folder = Path(kwargs["cache_dir"]) / ("models--" + repo_id.replace("/", "--"))
        shutil.rmtree(folder, ignore_errors=True)  # a fresh snapshot each call, like a re-fetch
        return str(lay_out_snapshot(Path(kwargs["cache_dir"]), repo_id, self.source, only=wanted))


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "hub-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return root


def test_download_fetches_config_tokenizer_and_safetensors_only(
    online: Path, bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "repo"
    shutil.copytree(bert_dir, source)
    (source / "onnx").mkdir()
    (source / "onnx" / "model.onnx").write_bytes(b"not needed")
    torch = pytest.importorskip("torch")
    torch.save({}, source / "pytorch_model.bin")  # the older copy of the weights: not needed
    fake = FakeHub(source)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    path = resolve_model_dir(REPO, revision="v2")
    assert len(fake.calls) == 1
    call = fake.calls[0]
    assert call["repo_id"] == REPO and call["revision"] == "v2"
    assert Path(call["cache_dir"]) == online
    assert "local_files_only" not in call or not call["local_files_only"]
    files = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"} <= files
    assert not files & {"pytorch_model.bin", "onnx"}
    numpy.testing.assert_allclose(_hidden(path), _hidden(bert_dir), atol=1e-6)


def test_transformers_offline_alone_also_forbids_the_download(
    online: Path, bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeHub(bert_dir)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="TRANSFORMERS_OFFLINE=1 forbids downloads"):
        resolve_model_dir(REPO)
    assert fake.calls == []


def test_cached_model_is_not_downloaded_again(
    online: Path, bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = lay_out_snapshot(online, REPO, bert_dir)
    fake = FakeHub(bert_dir)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    assert resolve_model_dir(REPO) == snapshot
    assert fake.calls == []


def test_download_falls_back_to_pytorch_bin_without_safetensors(
    online: Path, bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    source = tmp_path / "repo"
    shutil.copytree(bert_dir, source)
    state = load_file(str(source / "model.safetensors"))
    (source / "model.safetensors").unlink()
    torch.save(state, source / "pytorch_model.bin")
    fake = FakeHub(source)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    path = resolve_model_dir(REPO)
    assert [("pytorch_model.bin" in c["allow_patterns"]) for c in fake.calls] == [False, True]
    assert (path / "pytorch_model.bin").is_file()
    numpy.testing.assert_allclose(_hidden(path), _hidden(bert_dir), atol=1e-6)


def test_failed_download_is_a_model_not_found_error(
    online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(repo_id: str, **kwargs: Any) -> str:
        if kwargs.get("local_files_only"):
            return str(REAL_SNAPSHOT_DOWNLOAD(repo_id, **kwargs))
        raise ConnectionError("the Hub is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_dir(REPO)
    assert isinstance(info.value.__cause__, ConnectionError)
    message = str(info.value)
    assert f"downloading it into {str(online)!r} failed" in message
    assert "the Hub is unreachable" in message and f"`hf download {REPO}`" in message


def test_configured_revision_reads_either_config() -> None:
    assert configured_revision({}, {}) is None
    assert configured_revision({}, {"revision": "v2", "output_attentions": False}) == "v2"
    assert configured_revision({"revision": "v2", "use_fast": True}, {}) == "v2"
    assert configured_revision({"revision": "v2"}, {"revision": "v2"}) == "v2"
    with pytest.raises(ValueError, match="differ"):
        configured_revision({"revision": "main"}, {"revision": "v2"})
    with pytest.raises(ValueError, match="must be a branch, tag or commit hash"):
        configured_revision({}, {"revision": 2})


def test_revision_in_transformer_config_selects_the_snapshot(
    cache: dict[str, Any], other_bert: Path
) -> None:
    """How a spacy-transformers config names a revision: ``transformer_config``."""
    from_v2 = _hidden(REPO, transformer_config={"revision": "v2"})
    numpy.testing.assert_allclose(from_v2, _hidden(other_bert), atol=1e-6)


def test_pipeline_trained_from_a_hub_id_loads_without_the_cache(
    cache: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_hf_pipeline import _predictions, _tagger_pipeline, _train

    nlp = _tagger_pipeline(REPO, {"@span_getters": "trf_hf_test.doc_spans"})  # type: ignore[arg-type]
    assert _train(nlp, steps=3)["tagger"] > 0
    expected = _predictions(nlp)
    nlp.to_disk(tmp_path / "nlp")
    shutil.rmtree(cache["root"])
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotFoundError):  # the cache is really gone
        resolve_model_dir(REPO)
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.config["components"]["transformer"]["model"]["name"] == REPO
    for ours, theirs in zip(_predictions(loaded), expected):
        assert ours["tags"] == theirs["tags"]
        numpy.testing.assert_allclose(
            numpy.asarray(ours["tensor0"]), numpy.asarray(theirs["tensor0"]), atol=1e-5
        )
