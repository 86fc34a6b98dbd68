"""The ``transformer`` component's training: ``update`` with one backward pass for all
listeners, ``finish_update`` only after a real gradient, and ``initialize``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any, cast

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from thinc.api import Model, Optimizer, set_dropout_rate

from ..contract.data import FullTransformerBatch, TransformerData
from ..contract.types import BackendBackprop, TensorGradients
from ..plugins.requirements import record_requirements
from .allocator import keep_freed_memory
from .listeners import get_batch_id
from .scaled_optimizer import scaled
from .state import ComponentState, WeakNlp
from .training_step import TrainingStep

__all__ = ["Training"]


class Training(ComponentState):
    """Trains the backend from the gradients its listeners send back."""

    # Training state, as class defaults so that a component unpickled from an older version
    # (which may lack them) starts without a pending step too.
    _pending_step: TrainingStep | None = None
    """An update whose last listener sat out (``nlp.update(exclude=)``): finished next update."""
    _gradient_to_apply = False
    """A backward pass left a gradient that ``finish_update`` has not applied yet."""

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
        keep_freed_memory()
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
        self.model.finish_update(scaled(sgd, float(self.cfg.get("learn_rate_scale", 1.0))))

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
            self._nlp_ref = WeakNlp(nlp)
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
