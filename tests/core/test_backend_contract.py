"""The backend contract's accessors: the backend's own functions of the model, thinc's else."""

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


_CALLS: list[tuple[str, int]] = []  # (hook, id of the model it was called with)


def _own_to_bytes(model: Model) -> bytes:
    _CALLS.append(("to_bytes", id(model)))
    return model.to_bytes()


def _own_from_bytes(model: Model, data: bytes) -> None:
    _CALLS.append(("from_bytes", id(model)))
    model.from_bytes(data)


def _hooked_backend(seed: int = 0) -> Model:
    model = toy_transformer_v1(whole_docs, seed=seed)
    model.attrs[contract.TO_BYTES] = _own_to_bytes
    model.attrs[contract.FROM_BYTES] = _own_from_bytes
    model.initialize()
    return model


def test_serialization_accessors_call_the_backends_functions_with_the_model() -> None:
    _CALLS.clear()
    source = _hooked_backend(seed=1)
    target = _hooked_backend(seed=2)
    contract.model_from_bytes(target, contract.model_to_bytes(source))
    assert _CALLS == [("to_bytes", id(source)), ("from_bytes", id(target))]
    docs = [spacy.blank("en")("a few words here")]
    numpy.testing.assert_array_equal(
        target.predict(docs).model_output.last_hidden_state,
        source.predict(docs).model_output.last_hidden_state,
    )


def test_a_copy_calls_the_same_functions_with_itself() -> None:
    """Nothing to re-bind after ``Model.copy()``: the copy's attrs are the same functions, and
    the accessors hand them the copy."""
    _CALLS.clear()
    source = _hooked_backend(seed=1)
    copied = source.copy()
    assert copied.attrs[contract.TO_BYTES] is _own_to_bytes
    contract.model_from_bytes(copied, contract.model_to_bytes(_hooked_backend(seed=3)))
    assert _CALLS[-1] == ("from_bytes", id(copied))
    docs = [spacy.blank("en")("copies keep their own weights")]
    assert not numpy.allclose(
        copied.predict(docs).model_output.last_hidden_state,
        source.predict(docs).model_output.last_hidden_state,
    )


def test_the_kits_serialization_check_uses_the_backends_functions() -> None:
    _CALLS.clear()
    model = _hooked_backend()
    checks.backend_serialization(model, [spacy.blank("en")("one two three")])
    assert _CALLS == [("to_bytes", id(model)), ("from_bytes", id(model))]


def test_without_hooks_the_accessors_use_thincs_methods(tmp_path: Path) -> None:
    source = toy_transformer_v1(whole_docs, seed=1).initialize()
    assert contract.TO_BYTES not in source.attrs
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
    model.attrs[contract.COUNT_PIECES] = lambda model, docs: [3]
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


class _Weights:
    """A backend's state object, as trf-onnx keeps one in ``attrs``."""

    def __init__(self, value: bytes) -> None:
        self.value = value

    def save(self) -> bytes:
        return self.value

    def load(self, data: bytes) -> None:
        self.value = data

    def save_to(self, path: Path) -> None:
        path.write_bytes(self.value)

    def load_from(self, path: Path) -> None:
        self.value = path.read_bytes()


def _weights_of(model: Model) -> _Weights:
    return model.attrs["weights"]


def _stateful_backend(value: bytes) -> Model:
    model = toy_transformer_v1(whole_docs)
    model.attrs["weights"] = _Weights(value)
    model.attrs.update(
        contract.serialization_attrs(
            _weights_of,
            to_bytes="save",
            from_bytes="load",
            to_disk="save_to",
            from_disk="load_from",
        )
    )
    return model


@pytest.mark.parametrize("how", ["Model.copy", "deepcopy", "pickle"])
def test_serialization_attrs_reach_each_copys_own_state(how: str, tmp_path: Path) -> None:
    import copy
    import pickle

    original = _stateful_backend(b"original")
    copied = {
        "Model.copy": lambda m: m.copy(),
        "deepcopy": copy.deepcopy,
        "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    }[how](original)
    contract.model_from_bytes(copied, b"loaded into the copy")
    assert contract.model_to_bytes(copied) == b"loaded into the copy"
    assert contract.model_to_bytes(original) == b"original"
    (tmp_path / "w").write_bytes(b"from disk")
    contract.model_from_disk(copied, tmp_path / "w")
    contract.model_to_disk(original, tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == b"original"
    assert contract.model_to_bytes(copied) == b"from disk"
