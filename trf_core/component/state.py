"""What every part of the ``transformer`` component shares: its own attributes, a weak ``nlp``.

The component is one class, :class:`~trf_core.component.transformer.Transformer`, built from a
mixin per concern (:mod:`.listening`, :mod:`.prediction`, :mod:`.training`,
:mod:`.serialization`) over :class:`ComponentState`. ``ComponentState`` declares, for the type
checker only, the attributes ``Transformer.__init__`` sets and the methods the mixins call on
each other, so nothing here shadows spaCy's ``TrainablePipe`` at run time.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from thinc.api import Model

from ..contract.data import FullTransformerBatch
from ..contract.types import AnnotationSetter

__all__ = ["ComponentState", "WeakNlp"]


class WeakNlp:
    """A weak reference to the nlp object that pickles and copies as ``None``.

    The component only uses it to look up its own stored config and which components are
    enabled; a copy sent to another process or pipeline must not drag the nlp object along.
    """

    def __init__(self, nlp: Language) -> None:
        self._ref = weakref.ref(nlp)

    def __call__(self) -> Language | None:
        return self._ref()

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_no_nlp, ())


def _no_nlp() -> None:
    return None


class ComponentState(TrainablePipe):
    """The base of the component's mixins: what they read of each other, declared once."""

    if TYPE_CHECKING:
        _listener_map: dict[str, list[Model]]
        _annotation_setter: AnnotationSetter
        _nlp_ref: WeakNlp | None
        _shape: tuple[int, int | None] | None

        @property
        def annotation_setter(self) -> AnnotationSetter: ...

        @property
        def max_batch_items(self) -> int: ...

        @property
        def keep(self) -> str: ...

        @property
        def frozen(self) -> bool: ...

        @property
        def listeners(self) -> list[Model]: ...

        def _active_listeners(self) -> list[Model]: ...

        def _request_hidden_states(self) -> None: ...

        def predict(self, docs: Iterable[Doc]) -> FullTransformerBatch: ...

        def _accept(self, batch: Any, docs: list[Doc]) -> FullTransformerBatch: ...
