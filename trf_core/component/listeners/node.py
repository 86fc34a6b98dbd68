"""The listener node: where a downstream component's model meets the transformer's output.

During ``nlp.update`` the ``transformer`` component runs the batch once and hands every
listener the per-doc outputs and a callback for gradients (:meth:`TransformerListener.receive`);
at prediction time the node reads ``doc._.trf_data``, which the component set earlier in the
pipeline. The node has no weights: what to read and how to pool it is the head's job
(:mod:`trf_core.component.listeners.heads`).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from typing import Any, cast

from spacy.tokens import Doc
from thinc.api import Model

from ...contract.backend import NEEDS_HIDDEN_STATES
from ...contract.data import ModelOutput, TransformerData, WordpieceBatch
from ...contract.extensions import install_extensions
from ...contract.types import TensorGradients
from ..retention import mark_read
from .grad_factor import GradFactor, GradFactorLike, scale_gradients

__all__ = ["TransformerListener", "get_batch_id"]

install_extensions()


def get_batch_id(docs: Iterable[Doc]) -> int:
    """A content hash of a batch, to check a listener got the batch it was sent."""
    return sum(sum(token.orth for token in doc) for doc in docs)


class TransformerListener(Model):
    """Stands in for a tok2vec layer: yields each doc's transformer output, sends gradients back.

    ``upstream_name`` is the transformer component's name, or ``"*"`` for any. The node has no
    weights; ``attrs`` remember the upstream's width and layer count (set by the component), so
    docs the transformer never saw still get outputs of the right shape.
    """

    name = "transformer-listener"
    # What one training step (or initialization) leaves behind: never copied or pickled.
    _STEP_STATE = ("_outputs", "_backprop", "_batch_id", "_init_docs")

    def __init__(
        self,
        upstream_name: str,
        grad_factor: GradFactorLike = 1.0,
        needs_hidden_states: bool = False,
    ) -> None:
        Model.__init__(
            self,
            name=self.name,
            forward=_listener_forward,
            init=_listener_init,
            dims={"nO": None},
            attrs={
                NEEDS_HIDDEN_STATES: bool(needs_hidden_states),
                "trf_width": None,
                "trf_n_layers": None,
            },
        )
        self.upstream_name = upstream_name
        self.grad_factor = GradFactor(grad_factor)
        self.upstreams: set[str] = set()
        self._batch_id: int | None = None
        self._outputs: list[TransformerData] | None = None
        self._backprop: Callable[[TensorGradients], Any] | None = None
        self._factor = self.grad_factor.last
        self._init_docs: list[Doc] | None = None
        self._warned = False

    @classmethod
    def get_batch_id(cls, inputs: Iterable[Doc]) -> int:
        return get_batch_id(inputs)

    def receive(
        self,
        batch_id: int,
        outputs: list[TransformerData],
        backprop: Callable[[TensorGradients], Any],
    ) -> None:
        """Store one update step's outputs and gradient callback (called by the transformer)."""
        self._batch_id = batch_id
        self._outputs = outputs
        self._backprop = backprop
        self._factor = self.grad_factor.next()

    def set_upstream_shape(self, width: int, n_layers: int | None) -> None:
        """Learn the transformer's width (and hidden-state count) for docs it never saw."""
        self.attrs["trf_width"] = int(width)
        if not self.has_dim("nO"):
            self.set_dim("nO", int(width))
        if n_layers is not None:
            self.attrs["trf_n_layers"] = int(n_layers)

    def __getstate__(self) -> tuple[dict[str, Any], dict[str, Any]]:
        # A received batch's backprop callback is a closure of that training step: it neither
        # pickles nor means anything in another process (nlp.pipe(n_process > 1) after training).
        # The state is pickle's default (instance dict, slot values), with those dropped.
        state = dict(self.__dict__)
        for key in self._STEP_STATE:
            if key in state:
                state[key] = None
        slots = {name: getattr(self, name) for name in Model.__slots__ if hasattr(self, name)}
        return state, slots

    def __deepcopy__(self, memo: dict[int, Any]) -> TransformerListener:
        # Received batches and callbacks belong to one training step of one pipeline.
        new = cast(TransformerListener, Model.__new__(type(self)))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key in self._STEP_STATE:
                new.__dict__[key] = None
            elif key == "upstreams":
                new.__dict__[key] = set()
            else:
                new.__dict__[key] = copy.deepcopy(value, memo)
        return new


def _listener_init(
    model: TransformerListener, X: list[Doc] | None = None, Y: Any = None
) -> TransformerListener:
    # A chain initialises a layer, then calls its predict on the same docs to shape the next
    # layer: the transformer never saw those docs, and that is expected, not worth a warning.
    model._init_docs = X
    return model


def _listener_forward(
    model: TransformerListener, docs: list[Doc], is_train: bool
) -> tuple[list[TransformerData], Callable[[TensorGradients], list[Any]]]:
    upstream: Callable[[TensorGradients], Any] | None = None
    factor = 0.0
    if is_train and model._batch_id is not None and model._batch_id == get_batch_id(docs):
        data = list(model._outputs or [])
        upstream = model._backprop
        factor = model._factor
    else:
        if is_train and model._batch_id is not None and any(d._.trf_data is None for d in docs):
            raise ValueError(
                "the transformer listener got a batch of docs that differs from the one its "
                "transformer component sent it during this update, and the docs carry no "
                "doc._.trf_data to fall back on. Update the transformer and its listening "
                "components together (nlp.update), or let the transformer annotate the docs "
                "first (training.annotating_components)."
            )
        data = _read_docs(model, docs)
    if len(data) != len(docs):
        raise ValueError(
            f"the transformer listener has outputs for {len(data)} docs but was given "
            f"{len(docs)}; the listener must be called with the batch its transformer saw"
        )
    # Docs the backend gave no spans (empty, whitespace) carry no arrays; give them the
    # upstream's shape so a batch of only such docs still yields vectors of the right width.
    data = [d if d.model_output else _empty_output(model, len(doc)) for doc, d in zip(docs, data)]
    for doc, doc_data in zip(docs, data):
        n_aligned = int(doc_data.align.lengths.shape[0])
        if n_aligned != len(doc):
            raise ValueError(
                f"the transformer output aligns {n_aligned} tokens, but the doc has {len(doc)}: "
                "doc._.trf_data belongs to another tokenization of the text"
            )

    def backprop(d_tensors: TensorGradients) -> list[Any]:
        if upstream is not None:
            upstream(scale_gradients(d_tensors, factor))
        return []

    return data, backprop


def _read_docs(model: TransformerListener, docs: list[Doc]) -> list[TransformerData]:
    """Each doc's ``doc._.trf_data``; docs the transformer never saw read as empty output."""
    missing = [doc for doc in docs if doc._.trf_data is None]
    if missing and any(len(doc) for doc in missing):
        if not model.upstreams:
            raise ValueError(
                f"a transformer listener (upstream {model.upstream_name!r}) has no transformer "
                "component to listen to, and the docs carry no doc._.trf_data. Add a "
                "'transformer' component before the component that uses this listener, e.g. "
                "nlp.add_pipe('transformer', first=True), or give that component its own "
                "transformer with nlp.replace_listeners."
            )
        if not model._warned and docs is not model._init_docs:
            model._warned = True
            warnings.warn(
                f"a transformer listener got docs without doc._.trf_data (is the transformer "
                f"component {', '.join(sorted(model.upstreams))!r} disabled?); it returns zero "
                "vectors for them. Enable the transformer component to get real vectors.",
                UserWarning,
                stacklevel=4,
            )
    data: list[TransformerData] = []
    for doc in docs:
        value = doc._.trf_data
        if value is None:
            data.append(_empty_output(model, len(doc)))
        elif not isinstance(value, TransformerData):
            raise TypeError(
                f"doc._.trf_data holds a {type(value).__name__}, not a TransformerData; "
                "something other than the transformer component wrote it"
            )
        else:
            data.append(value)
        mark_read(doc, model.id)
    return data


def _empty_output(model: TransformerListener, n_tokens: int) -> TransformerData:
    """Output for a doc the transformer never saw: no rows, but the upstream's shape."""
    xp = model.ops.xp
    data = TransformerData.empty(n_tokens, xp)
    width = model.attrs.get("trf_width")
    if width is None and model.has_dim("nO"):
        width = model.get_dim("nO")  # e.g. a pipeline saved by spacy-transformers
    if width is None:
        return data
    n_layers = model.attrs.get("trf_n_layers") or 0
    output = ModelOutput.empty(int(width), n_hidden_states=int(n_layers), xp=xp)
    return TransformerData(
        wordpieces=WordpieceBatch.empty(xp), model_output=output, align=data.align
    )
