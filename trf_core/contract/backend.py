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
- ``BIND`` (``"trf_bind"``), a :class:`Bind`: re-point the attributes below at this model's own
  state, run before any of them is read (``Model.copy()`` keeps attribute values as they are);
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

The accessors below are what trf-core itself uses: each runs the backend's ``trf_bind`` hook
before reading a state-holding attribute, and falls back to thinc's own method when the
backend provides none. This module imports nothing of trf-core, so backends and the
conformance kit can import it freely.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from spacy.tokens import Doc
from thinc.api import Model

__all__ = [
    "BIND",
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
    "Bind",
    "CountPieces",
    "FromBytes",
    "FromDisk",
    "ToBytes",
    "ToDisk",
    "bind",
    "count_pieces",
    "model_from_bytes",
    "model_from_disk",
    "model_to_bytes",
    "model_to_disk",
    "needs_hidden_states",
    "request_hidden_states",
    "wants_hidden_states",
]

OUTPUT_HIDDEN_STATES = "output_hidden_states"
OUTPUT_ATTENTIONS = "output_attentions"
COUNT_PIECES = "count_pieces"
BIND = "trf_bind"
TO_BYTES = "trf_to_bytes"
FROM_BYTES = "trf_from_bytes"
TO_DISK = "trf_to_disk"
FROM_DISK = "trf_from_disk"
REPLACE_LISTENER = "replace_listener"
REPLACE_LISTENER_CFG = "replace_listener_cfg"
NEEDS_HIDDEN_STATES = "needs_hidden_states"

SERIALIZATION_ATTRS = (TO_BYTES, FROM_BYTES, TO_DISK, FROM_DISK)
"""The attributes that hold backend state of their own: read them after :func:`bind`."""


class Bind(Protocol):
    """``attrs["trf_bind"]``: point the model's attributes at its own state.

    ``Model.copy()`` deep-copies shims but keeps attribute values as they are; a backend whose
    attributes are bound to its state (trf-hf's point at its shim) re-binds them here.
    """

    def __call__(self, model: Model) -> None: ...


class ToBytes(Protocol):
    """``attrs["trf_to_bytes"]``: the backend's weights and settings as bytes."""

    def __call__(self) -> bytes: ...


class FromBytes(Protocol):
    """``attrs["trf_from_bytes"]``: restore what :class:`ToBytes` wrote, in place."""

    def __call__(self, data: bytes) -> object: ...


class ToDisk(Protocol):
    """``attrs["trf_to_disk"]``: save to ``path`` (a file or a folder the backend creates)."""

    def __call__(self, path: Path) -> object: ...


class FromDisk(Protocol):
    """``attrs["trf_from_disk"]``: restore what :class:`ToDisk` wrote, in place."""

    def __call__(self, path: Path) -> object: ...


class CountPieces(Protocol):
    """``attrs["count_pieces"]``: each doc's wordpiece count, exact or estimated."""

    def __call__(self, docs: list[Doc]) -> Sequence[int]: ...


def bind(model: Model) -> None:
    """Run the backend's ``trf_bind`` hook, if it has one."""
    hook = cast("Bind | None", model.attrs.get(BIND))
    if hook is not None:
        hook(model)


def _bound(model: Model, name: str) -> Any:
    """A state-holding attribute, read after the backend's ``trf_bind`` hook."""
    bind(model)
    return model.attrs.get(name)


def model_to_bytes(model: Model) -> bytes:
    """The backend's bytes: its ``trf_to_bytes``, else thinc's ``to_bytes``."""
    save = cast("ToBytes | None", _bound(model, TO_BYTES))
    return bytes(save()) if save is not None else model.to_bytes()


def model_from_bytes(model: Model, data: bytes) -> None:
    """Restore the backend from bytes: its ``trf_from_bytes``, else thinc's ``from_bytes``."""
    load = cast("FromBytes | None", _bound(model, FROM_BYTES))
    if load is not None:
        load(data)
    else:
        model.from_bytes(data)


def model_to_disk(model: Model, path: str | Path) -> None:
    """Save the backend: its ``trf_to_disk``, else thinc's ``to_disk`` (one file)."""
    save = cast("ToDisk | None", _bound(model, TO_DISK))
    if save is not None:
        save(Path(path))
    else:
        model.to_disk(path)


def model_from_disk(model: Model, path: str | Path) -> None:
    """Restore the backend: its ``trf_from_disk``, else thinc's ``from_disk`` (one file)."""
    load = cast("FromDisk | None", _bound(model, FROM_DISK))
    if load is not None:
        load(Path(path))
        return
    if Path(path).is_dir():
        raise ValueError(
            f"{path} is a directory, but this backend loads from a single file; was it "
            "saved by another backend? Load it with the model that saved it."
        )
    model.from_disk(path)


def count_pieces(model: Model, docs: Sequence[Doc]) -> list[int] | None:
    """Each doc's wordpiece count from the backend's ``count_pieces``; None without one."""
    counter = cast("CountPieces | None", _bound(model, COUNT_PIECES))
    if counter is None:
        return None
    lengths = [int(n) for n in counter(list(docs))]
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
