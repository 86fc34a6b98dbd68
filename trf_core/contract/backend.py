"""The backend contract beyond ``FullTransformerBatch``: the model attributes, named once.

A backend is a thinc ``Model[list[Doc], FullTransformerBatch]``. Besides its output, the
``transformer`` component, the listeners and the conformance kit read a few entries of the
backend's ``model.attrs``. They are all optional except the two ``replace_listener`` ones, and
their string values are fixed (saved pipelines and third-party backends set them by name):

- ``OUTPUT_HIDDEN_STATES`` (``"output_hidden_states"``), a bool read at call time: also return
  ``hidden_states``, every layer's output;
- ``OUTPUT_ATTENTIONS`` (``"output_attentions"``), a bool read at call time: also return
  ``attentions``;
- ``COUNT_PIECES`` (``"count_pieces"``), a :class:`CountPieces`: each doc's wordpiece count, exact
  or estimated, so ``pipe`` can group docs of similar length (else token counts are used);
- ``TO_BYTES`` / ``FROM_BYTES`` (``"trf_to_bytes"`` / ``"trf_from_bytes"``) and ``TO_DISK`` /
  ``FROM_DISK`` (``"trf_to_disk"`` / ``"trf_from_disk"``): the backend's own serialization,
  used instead of thinc's ``to_bytes`` & co. (the disk pair may write a folder);
- ``REPLACE_LISTENER`` / ``REPLACE_LISTENER_CFG`` (``"replace_listener"`` /
  ``"replace_listener_cfg"``), required: spaCy's ``replace_listeners`` callbacks, set with
  ``model.attrs.update(trf_core.component.listeners.listener_attrs())`` (they are the
  component's, so this layer names only the keys).

Listeners and annotation setters say they read hidden layers with ``NEEDS_HIDDEN_STATES``
(``needs_hidden_states``: an ``attrs`` entry on a listener, an attribute on a setter); the
component then sets ``OUTPUT_HIDDEN_STATES`` on its backend.

Every callable attribute takes the model first, as a thinc layer's ``forward`` does
(``fn(model, ...)``), and finds the state it needs on that model (a shim, a param, an attrs
entry). Copies (``Model.copy()``, ``copy.deepcopy``, pickling, ``nlp`` copies) carry the same
functions and call them with themselves, so nothing is bound to a particular model and
nothing needs re-binding after a copy; module-level functions also pickle by reference.

The accessors below are what trf-core itself uses: each calls the backend's attribute with the
model, and falls back to thinc's own method when the backend provides none. This module
imports nothing of trf-core, so backends and the conformance kit can import it freely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from spacy.tokens import Doc
from thinc.api import Model

__all__ = [
    "COUNT_PIECES",
    "FROM_BYTES",
    "FROM_DISK",
    "NEEDS_HIDDEN_STATES",
    "OUTPUT_ATTENTIONS",
    "OUTPUT_HIDDEN_STATES",
    "REPLACE_LISTENER",
    "REPLACE_LISTENER_CFG",
    "SERIALIZATION_ATTRS",
    "TO_BYTES",
    "TO_DISK",
    "CountPieces",
    "FromBytes",
    "FromDisk",
    "StateMethod",
    "ToBytes",
    "ToDisk",
    "count_pieces",
    "model_from_bytes",
    "model_from_disk",
    "model_to_bytes",
    "model_to_disk",
    "needs_hidden_states",
    "request_hidden_states",
    "serialization_attrs",
    "wants_hidden_states",
]

OUTPUT_HIDDEN_STATES = "output_hidden_states"
OUTPUT_ATTENTIONS = "output_attentions"
COUNT_PIECES = "count_pieces"
TO_BYTES = "trf_to_bytes"
FROM_BYTES = "trf_from_bytes"
TO_DISK = "trf_to_disk"
FROM_DISK = "trf_from_disk"
REPLACE_LISTENER = "replace_listener"
REPLACE_LISTENER_CFG = "replace_listener_cfg"
NEEDS_HIDDEN_STATES = "needs_hidden_states"

SERIALIZATION_ATTRS = (TO_BYTES, FROM_BYTES, TO_DISK, FROM_DISK)
"""The backend's own serialization, used instead of thinc's methods where present."""


class ToBytes(Protocol):
    """``attrs["trf_to_bytes"]``: the model's weights and settings as bytes."""

    def __call__(self, model: Model) -> bytes: ...


class FromBytes(Protocol):
    """``attrs["trf_from_bytes"]``: restore what :class:`ToBytes` wrote into the model."""

    def __call__(self, model: Model, data: bytes) -> object: ...


class ToDisk(Protocol):
    """``attrs["trf_to_disk"]``: save the model to ``path`` (a file or a folder it creates)."""

    def __call__(self, model: Model, path: Path) -> object: ...


class FromDisk(Protocol):
    """``attrs["trf_from_disk"]``: restore what :class:`ToDisk` wrote into the model."""

    def __call__(self, model: Model, path: Path) -> object: ...


class CountPieces(Protocol):
    """``attrs["count_pieces"]``: each doc's wordpiece count, exact or estimated."""

    def __call__(self, model: Model, docs: list[Doc]) -> Sequence[int]: ...


class StateMethod:
    """An attribute ``fn(model, *args)`` that calls ``method`` on the model's own state object.

    ``state_of(model)`` finds the state (trf-hf: ``model.shims[0]``; trf-onnx: an ``attrs``
    entry), so a copy calling it reaches its own state. Picklable when ``state_of`` is a
    module-level function.
    """

    def __init__(self, state_of: Callable[[Model], Any], method: str) -> None:
        self.state_of = state_of
        self.method = method

    def __call__(self, model: Model, *args: Any) -> Any:
        return getattr(self.state_of(model), self.method)(*args)


def serialization_attrs(
    state_of: Callable[[Model], Any],
    *,
    to_bytes: str,
    from_bytes: str,
    to_disk: str,
    from_disk: str,
) -> dict[str, StateMethod]:
    """The four serialization attributes of a backend that keeps its state in one object.

    ``model.attrs.update(serialization_attrs(state_of, to_bytes="to_bytes", ...))``, naming the
    state object's method for each.
    """
    return {
        TO_BYTES: StateMethod(state_of, to_bytes),
        FROM_BYTES: StateMethod(state_of, from_bytes),
        TO_DISK: StateMethod(state_of, to_disk),
        FROM_DISK: StateMethod(state_of, from_disk),
    }


def model_to_bytes(model: Model) -> bytes:
    """The backend's bytes: its ``trf_to_bytes``, else thinc's ``to_bytes``."""
    save = cast("ToBytes | None", model.attrs.get(TO_BYTES))
    return bytes(save(model)) if save is not None else model.to_bytes()


def model_from_bytes(model: Model, data: bytes) -> None:
    """Restore the backend from bytes: its ``trf_from_bytes``, else thinc's ``from_bytes``."""
    load = cast("FromBytes | None", model.attrs.get(FROM_BYTES))
    if load is not None:
        load(model, data)
    else:
        model.from_bytes(data)


def model_to_disk(model: Model, path: str | Path) -> None:
    """Save the backend: its ``trf_to_disk``, else thinc's ``to_disk`` (one file)."""
    save = cast("ToDisk | None", model.attrs.get(TO_DISK))
    if save is not None:
        save(model, Path(path))
    else:
        model.to_disk(path)


def model_from_disk(model: Model, path: str | Path) -> None:
    """Restore the backend: its ``trf_from_disk``, else thinc's ``from_disk`` (one file)."""
    load = cast("FromDisk | None", model.attrs.get(FROM_DISK))
    if load is not None:
        load(model, Path(path))
        return
    if Path(path).is_dir():
        raise ValueError(
            f"{path} is a directory, but this backend loads from a single file; was it "
            "saved by another backend? Load it with the model that saved it."
        )
    model.from_disk(path)


def count_pieces(model: Model, docs: Sequence[Doc]) -> list[int] | None:
    """Each doc's wordpiece count from the backend's ``count_pieces``; None without one."""
    counter = cast("CountPieces | None", model.attrs.get(COUNT_PIECES))
    if counter is None:
        return None
    lengths = [int(n) for n in counter(model, list(docs))]
    if len(lengths) != len(docs):
        raise ValueError(
            f"the backend's count_pieces returned {len(lengths)} counts for {len(docs)} docs"
        )
    return lengths


def wants_hidden_states(model: Model) -> bool:
    """Whether the backend is asked, at its next call, for every hidden layer."""
    return bool(model.attrs.get(OUTPUT_HIDDEN_STATES, False))


def request_hidden_states(model: Model, value: bool = True) -> None:
    """Ask the backend for every hidden layer (or stop asking, with ``value=False``)."""
    model.attrs[OUTPUT_HIDDEN_STATES] = bool(value)


def needs_hidden_states(reader: Any) -> bool:
    """Whether a listener (``attrs`` entry) or an annotation setter (attribute) reads layers."""
    if isinstance(reader, Model):
        return bool(reader.attrs.get(NEEDS_HIDDEN_STATES, False))
    return bool(getattr(reader, NEEDS_HIDDEN_STATES, False))
