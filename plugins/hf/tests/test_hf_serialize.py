"""Saving and loading: HF model folders on disk, msgpack in bytes, identical outputs after."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy
import pytest
import srsly
from hf_helpers import NLP, as_numpy, doc_spans
from test_hf_backend import LONG, SHORT
from trf_hf import TransformerModel


def _outputs(model: Any) -> list[numpy.ndarray]:
    batch = model.predict([NLP(SHORT), NLP(LONG)])
    return [as_numpy(t) for t in batch.tensors]


def _assert_same(a: list[numpy.ndarray], b: list[numpy.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        numpy.testing.assert_array_equal(x, y)


@pytest.fixture()
def trained(model_dir: Path, tmp_path: Path) -> Any:
    """A backend whose weights differ from the folder it came from (one SGD step)."""
    from thinc.api import SGD

    source = tmp_path / "source"
    shutil.copytree(model_dir, source)
    model = TransformerModel(str(source), get_spans=doc_spans, window=16)
    model.initialize()
    batch, backprop = model.begin_update([NLP(SHORT)])
    tensors = batch.doc_data[0].tensors
    backprop([[numpy.ones_like(tensors[0])] + [None] * (len(tensors) - 1)])
    model.finish_update(SGD(0.5))
    shutil.rmtree(source)  # loads below must not need the original folder
    return model


def test_to_disk_writes_a_hugging_face_folder(trained: Any, tmp_path: Path) -> None:
    target = tmp_path / "saved"
    trained.attrs["trf_to_disk"](trained, target)
    names = {p.name for p in target.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= names
    assert "tokenizer.json" in names or "vocab.txt" in names
    fresh = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans, window=16)
    fresh.attrs["trf_from_disk"](fresh, target)
    _assert_same(_outputs(trained), _outputs(fresh))
    # The folder is an ordinary HF folder: transformers itself loads the trained weights.
    from transformers import AutoModel

    reloaded = AutoModel.from_pretrained(str(target), local_files_only=True)
    ours = dict(trained.shims[0].transformer.named_parameters())
    for name, p in reloaded.named_parameters():
        numpy.testing.assert_array_equal(p.detach().numpy(), ours[name].detach().numpy())


def test_to_bytes_round_trip(trained: Any, tmp_path: Path) -> None:
    data = trained.attrs["trf_to_bytes"](trained)
    assert srsly.msgpack_loads(data)["format"] == "trf-hf.v1"
    fresh = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans, window=16)
    fresh.attrs["trf_from_bytes"](fresh, data)
    _assert_same(_outputs(trained), _outputs(fresh))


def test_thinc_serialization_round_trip(trained: Any, tmp_path: Path) -> None:
    """Nested in another component, the backend serializes through thinc's own to_bytes."""
    fresh = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans, window=16)
    fresh.from_bytes(trained.to_bytes())
    _assert_same(_outputs(trained), _outputs(fresh))
    copied = trained.copy()
    _assert_same(_outputs(trained), _outputs(copied))


def test_unloaded_backend_serializes_to_nothing(tmp_path: Path) -> None:
    model = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans)
    other = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans)
    other.from_bytes(model.to_bytes())
    assert not other.shims[0].loaded


def test_from_disk_on_a_folder_without_a_model(tmp_path: Path) -> None:
    model = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no trf-hf model"):
        model.attrs["trf_from_disk"](model, tmp_path / "empty")


def test_a_copy_saves_its_own_weights(trained: Any, tmp_path: Path) -> None:
    from thinc.api import SGD

    copied = trained.copy()
    batch, backprop = copied.begin_update([NLP(SHORT)])  # training the copy only
    tensors = batch.doc_data[0].tensors
    backprop([[numpy.ones_like(tensors[0])] + [None] * (len(tensors) - 1)])
    copied.finish_update(SGD(0.5))
    fresh = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans, window=16)
    fresh.attrs["trf_from_bytes"](fresh, copied.attrs["trf_to_bytes"](copied))
    _assert_same(_outputs(copied), _outputs(fresh))
    with pytest.raises(AssertionError):
        _assert_same(_outputs(trained), _outputs(copied))


def test_backend_pickles(trained: Any) -> None:
    import pickle

    restored = pickle.loads(pickle.dumps(trained))
    _assert_same(_outputs(trained), _outputs(restored))


@pytest.mark.parametrize("how", ["Model.copy", "deepcopy", "pickle"])
def test_copies_save_and_load_their_own_weights_without_rebinding(
    trained: Any, tmp_path: Path, how: str
) -> None:
    """The serialization attributes are functions of the model: called on a copy that never
    ran (nothing re-bound it), they read and write the copy's weights, not the original's."""
    import copy as copy_module
    import pickle

    import torch

    expected = _outputs(trained)
    copied = {
        "Model.copy": lambda m: m.copy(),
        "deepcopy": copy_module.deepcopy,
        "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    }[how](trained)
    with torch.no_grad():  # the copy's own weights move; the original's must not
        for param in copied.shims[0].transformer.parameters():
            param.add_(0.25)
    fresh = TransformerModel(str(tmp_path / "gone"), get_spans=doc_spans, window=16)
    fresh.attrs["trf_from_bytes"](fresh, copied.attrs["trf_to_bytes"](copied))
    _assert_same(_outputs(fresh), _outputs(copied))
    with pytest.raises(AssertionError):
        _assert_same(_outputs(fresh), expected)
    # and loading into the copy leaves the original alone
    copied.attrs["trf_from_bytes"](copied, trained.attrs["trf_to_bytes"](trained))
    _assert_same(_outputs(copied), expected)
    copied.attrs["trf_from_disk"](copied, _saved(fresh, tmp_path / "moved"))
    _assert_same(_outputs(trained), expected)
    _assert_same(_outputs(copied), _outputs(fresh))


def _saved(model: Any, path: Path) -> Path:
    model.attrs["trf_to_disk"](model, path)
    return path


def test_a_copied_backend_loads_into_its_own_weights(trained: Any, model_dir: Path) -> None:
    """Loading into a copy (before it ever ran) must not write into the original's weights."""
    import spacy

    from trf_core import Transformer

    vocab = spacy.blank("en").vocab
    saved = Transformer(vocab, trained).to_bytes()
    fresh = TransformerModel(str(model_dir), get_spans=doc_spans, window=16)
    fresh.initialize()
    before = _outputs(fresh)
    copy = Transformer(vocab, fresh.copy())
    copy.from_bytes(saved)
    _assert_same(_outputs(fresh), before)  # the original kept its weights
    _assert_same(_outputs(copy.model), _outputs(trained))  # the copy got the saved ones
