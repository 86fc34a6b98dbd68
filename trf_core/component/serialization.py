"""The ``transformer`` component's serialization: its settings, the vocab and the backend
(through the backend contract's accessors, so a backend's own format is used)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import srsly
from spacy import util

from ..contract import backend as contract
from .state import ComponentState

__all__ = ["Serialization"]

_Self = TypeVar("_Self", bound="Serialization")


class Serialization(ComponentState):
    """``to_bytes`` / ``from_bytes`` / ``to_disk`` / ``from_disk`` of the component."""

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        self._validate_serialization_attrs()
        serialize: dict[str, Callable[[], bytes]] = {
            "cfg": lambda: srsly.json_dumps(self.cfg),
            "vocab": lambda: self.vocab.to_bytes(exclude=exclude),
            "model": lambda: contract.model_to_bytes(self.model),
        }
        return util.to_bytes(serialize, exclude)

    def from_bytes(self: _Self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> _Self:
        self._validate_serialization_attrs()
        deserialize: dict[str, Callable[[bytes], Any]] = {
            "cfg": lambda b: self.cfg.update(srsly.json_loads(b)),
            "vocab": lambda b: self.vocab.from_bytes(b, exclude=exclude),
            "model": lambda b: contract.model_from_bytes(self.model, b),
        }
        util.from_bytes(bytes_data, deserialize, exclude)
        self._request_hidden_states()
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = tuple()) -> None:
        self._validate_serialization_attrs()
        serialize: dict[str, Callable[[Path], Any]] = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            "vocab": lambda p: self.vocab.to_disk(p, exclude=exclude),
            "model": lambda p: contract.model_to_disk(self.model, p),
        }
        util.to_disk(path, serialize, exclude)

    def from_disk(self: _Self, path: str | Path, *, exclude: Iterable[str] = tuple()) -> _Self:
        self._validate_serialization_attrs()
        deserialize: dict[str, Callable[[Path], Any]] = {
            "cfg": lambda p: self.cfg.update(srsly.read_json(p)),
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "model": lambda p: contract.model_from_disk(self.model, p),
        }
        util.from_disk(path, deserialize, exclude)
        self._request_hidden_states()
        return self
