"""The ``transformer`` component's listener bookkeeping: who listens, and what they need.

spaCy wires listeners through a protocol of its own (``Language._link_components``): after every
change to the pipeline (``add_pipe``, ``remove_pipe``, ``rename_pipe``, ``replace_listeners``,
loading) it assigns ``listener_map = {}`` to each component that has the attribute, then calls
its ``find_listeners(component)`` for every component, which calls ``add_listener``;
``replace_listeners`` calls ``remove_listener``. This mixin implements that protocol.
"""

from __future__ import annotations

import logging
from typing import Any

from thinc.api import Model

from ..contract import backend as contract
from .listeners import TransformerListener
from .state import ComponentState

__all__ = ["ListenerBookkeeping"]

logger = logging.getLogger("trf_core")


class ListenerBookkeeping(ComponentState):
    """Listening component name -> its listener layers, kept as spaCy's protocol asks."""

    @property
    def listener_map(self) -> dict[str, list[Model]]:
        """Listening component name -> its listener layers. spaCy resets and refills it."""
        return self._listener_map

    @listener_map.setter
    def listener_map(self, value: dict[str, list[Model]]) -> None:
        """spaCy's protocol: ``Language._link_components`` assigns ``{}`` after every pipeline
        change, then refills the map through :meth:`find_listeners`.

        Two things happen here, both because this assignment is spaCy's only call into the
        component after it stored the component's config (``add_pipe``, loading, every later
        change): the map is replaced, each listener detached or attached; and
        :meth:`_migrate_stored_config` renames a spacy-transformers 1.x
        ``set_extra_annotations`` in that stored config, logging it.
        """
        self._forget_listeners()
        for component, listeners in dict(value).items():
            for listener in listeners:
                self.add_listener(listener, component)
        self._migrate_stored_config()

    def _forget_listeners(self) -> None:
        """Empty the map, telling each listener it no longer listens to this component."""
        for listeners in self._listener_map.values():
            for listener in listeners:
                _detach(listener, self.name)
        self._listener_map = {}

    @property
    def listeners(self) -> list[Model]:
        return [m for c in self.listening_components for m in self._listener_map[c]]

    @property
    def listening_components(self) -> list[str]:
        return list(self._listener_map.keys())

    def _request_hidden_states(self) -> None:
        """Make the backend return every hidden layer when a listener or the setter reads them.

        Listeners declare it in their attrs, annotation setters as an attribute
        ``needs_hidden_states``; without this, such a config fails at its first batch. Applied
        again after loading, since a backend that restores its attrs from disk would otherwise
        switch it off under a setter given at load time.
        """
        readers = [self._annotation_setter, *self.listeners]
        if any(contract.needs_hidden_states(reader) for reader in readers):
            contract.request_hidden_states(self.model)

    def add_listener(self, listener: Model, component_name: str) -> None:
        """Register a listener of a downstream component (spaCy calls this)."""
        listeners = self._listener_map.setdefault(component_name, [])
        if listener not in listeners:
            listeners.append(listener)
        if isinstance(listener, TransformerListener):
            listener.upstreams.add(self.name)
            if self._shape is not None:
                listener.set_upstream_shape(*self._shape)
        self._request_hidden_states()

    def remove_listener(self, listener: Model, component_name: str) -> bool:
        """Unregister a listener (spaCy calls this from ``replace_listeners``)."""
        listeners = self._listener_map.get(component_name)
        if listeners is None or listener not in listeners:
            return False
        listeners.remove(listener)
        if not listeners:
            del self._listener_map[component_name]
        _detach(listener, self.name)
        return True

    def find_listeners(self, component: Any) -> None:
        """Add every listener in ``component``'s model whose upstream is ``"*"`` or this name."""
        names = ("*", self.name)
        model = getattr(component, "model", None)
        if isinstance(model, Model):
            for node in model.walk():
                if isinstance(node, TransformerListener) and node.upstream_name in names:
                    self.add_listener(node, component.name)

    def _active_listeners(self) -> list[Model]:
        """Listeners of the components that will run after this one (enabled ones)."""
        nlp = self._nlp_ref() if self._nlp_ref is not None else None
        if nlp is None:
            return self.listeners
        enabled = set(nlp.pipe_names)
        return [m for c in self.listening_components if c in enabled for m in self._listener_map[c]]

    def _migrate_stored_config(self) -> None:
        """Rewrite a spacy-transformers 1.x config stored for this component in ``nlp``.

        Its ``set_extra_annotations`` becomes ``annotation_setter``, so ``nlp.config`` (and
        what ``spacy init fill-config`` writes) shows only the current key. The factory cannot
        do it: spaCy stores the config after the factory returns. Logged at INFO on the
        ``trf_core`` logger, so the rewrite is never silent.
        """
        nlp = self._nlp_ref() if self._nlp_ref is not None else None
        if nlp is None or self.name not in nlp.component_names:
            return
        cfg = nlp.get_pipe_config(self.name)
        if "set_extra_annotations" in cfg:
            value = cfg.pop("set_extra_annotations")
            if value is not None:
                cfg["annotation_setter"] = value
            logger.info(
                "component %r: the stored config's spacy-transformers 1.x key "
                "set_extra_annotations is now annotation_setter (nlp.config shows the new key)",
                self.name,
            )


def _detach(listener: Model, upstream: str) -> None:
    if isinstance(listener, TransformerListener):
        listener.upstreams.discard(upstream)
