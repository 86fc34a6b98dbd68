"""The backend contract's accessors: ``trf_bind`` first, the backend's own hooks, thinc's else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from thinc.api import Model

from trf_core.contract import backend as contract
from trf_core.testing import checks
from trf_core.testing.pipelines import whole_docs
from trf_core.testing.toy_backend import toy_transformer_v1


@pytest.mark.parametrize(
    "constant, key",
    [
        (contract.OUTPUT_HIDDEN_STATES, "output_hidden_states"),
        (contract.OUTPUT_ATTENTIONS, "output_attentions"),
        (contract.COUNT_PIECES, "count_pieces"),
        (contract.BIND, "trf_bind"),
        (contract.TO_BYTES, "trf_to_bytes"),
        (contract.FROM_BYTES, "trf_from_bytes"),
        (contract.TO_DISK, "trf_to_disk"),
        (contract.FROM_DISK, "trf_from_disk"),
        (contract.REPLACE_LISTENER, "replace_listener"),
        (contract.REPLACE_LISTENER_CFG, "replace_listener_cfg"),
        (contract.NEEDS_HIDDEN_STATES, "needs_hidden_states"),
    ],
)
def test_attribute_keys_are_the_strings_backends_set(constant: str, key: str) -> None:
    # Third-party backends (and saved, pickled models) use these keys by name; renaming one
    # would silently disconnect them.
    assert constant == key


class _Store:
    """A backend's own serialization that only works once ``trf_bind`` bound it to a model."""

    def __init__(self, model: Model | None) -> None:
        self.model = model

    def save(self) -> bytes:
        if self.model is None:
            raise RuntimeError("read before trf_bind")
        return self.model.to_bytes()

    def load(self, data: bytes) -> None:
        if self.model is None:
            raise RuntimeError("read before trf_bind")
        self.model.from_bytes(data)


_BIND_CALLS: list[int] = []  # ids of the models bound (not in attrs: from_bytes restores those)


def _bind(model: Model) -> None:
    store = _Store(model)
    model.attrs[contract.TO_BYTES] = store.save
    model.attrs[contract.FROM_BYTES] = store.load
    _BIND_CALLS.append(id(model))


def _bound_backend(seed: int = 0) -> Model:
    model = toy_transformer_v1(whole_docs, seed=seed)
    unbound = _Store(None)
    model.attrs[contract.TO_BYTES] = unbound.save
    model.attrs[contract.FROM_BYTES] = unbound.load
    model.attrs[contract.BIND] = _bind
    model.initialize()
    return model


def test_serialization_accessors_run_trf_bind_first() -> None:
    _BIND_CALLS.clear()
    source = _bound_backend(seed=1)
    target = _bound_backend(seed=2)
    contract.model_from_bytes(target, contract.model_to_bytes(source))
    assert _BIND_CALLS.count(id(source)) == 1 and _BIND_CALLS.count(id(target)) == 1
    docs = [spacy.blank("en")("a few words here")]
    numpy.testing.assert_array_equal(
        target.predict(docs).model_output.last_hidden_state,
        source.predict(docs).model_output.last_hidden_state,
    )


def test_the_kits_serialization_check_runs_trf_bind() -> None:
    _BIND_CALLS.clear()
    model = _bound_backend()
    checks.backend_serialization(model, [spacy.blank("en")("one two three")])
    assert _BIND_CALLS.count(id(model)) == 2  # once for the save, once for the load


def test_without_hooks_the_accessors_use_thincs_methods(tmp_path: Path) -> None:
    source = toy_transformer_v1(whole_docs, seed=1).initialize()
    assert contract.TO_BYTES not in source.attrs and contract.BIND not in source.attrs
    target = toy_transformer_v1(whole_docs, seed=2)
    contract.model_from_bytes(target, contract.model_to_bytes(source))
    docs = [spacy.blank("en")("thinc serializes the toy")]
    expected = source.predict(docs).model_output.last_hidden_state
    numpy.testing.assert_array_equal(target.predict(docs).model_output.last_hidden_state, expected)
    contract.model_to_disk(source, tmp_path / "toy")
    from_disk = toy_transformer_v1(whole_docs, seed=3)
    contract.model_from_disk(from_disk, tmp_path / "toy")
    numpy.testing.assert_array_equal(
        from_disk.predict(docs).model_output.last_hidden_state, expected
    )


def test_a_folder_for_a_single_file_backend_is_explained(tmp_path: Path) -> None:
    model = toy_transformer_v1(whole_docs)
    with pytest.raises(ValueError, match="is a directory, but this backend loads from a single"):
        contract.model_from_disk(model, tmp_path)


def test_count_pieces_none_without_a_counter_and_checked_with_one() -> None:
    docs = list(spacy.blank("en").pipe(["a b", "c"]))
    model = toy_transformer_v1(whole_docs)
    del model.attrs[contract.COUNT_PIECES]
    assert contract.count_pieces(model, docs) is None
    model.attrs[contract.COUNT_PIECES] = lambda docs: [3]
    with pytest.raises(ValueError, match="returned 1 counts for 2 docs"):
        contract.count_pieces(model, docs)


def test_needs_hidden_states_reads_listener_attrs_and_setter_attributes() -> None:
    class Setter:
        needs_hidden_states = True

        def __call__(self, docs: Any, batch: Any) -> None:
            pass

    listener = Model("listener", lambda model, X, is_train: (X, lambda dY: dY))
    assert not contract.needs_hidden_states(listener)
    listener.attrs[contract.NEEDS_HIDDEN_STATES] = True
    assert contract.needs_hidden_states(listener)
    assert contract.needs_hidden_states(Setter())
    assert not contract.needs_hidden_states(lambda docs, batch: None)
