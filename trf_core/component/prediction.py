"""The ``transformer`` component's prediction: ``__call__``, ``pipe``, ``predict`` and setting
each doc's ``doc._.trf_data``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from spacy import util
from spacy.tokens import Doc

from ..contract import backend as contract
from ..contract.data import FullTransformerBatch, TransformerData
from ..contract.extensions import install_extensions
from .allocator import keep_freed_memory
from .batching import plan_batches
from .listeners import TransformerListener
from .retention import expect_readers
from .state import ComponentState

__all__ = ["Prediction"]

PIPE_BUFFER_BUDGETS = 8
"""How many ``max_batch_items`` budgets of wordpieces ``pipe`` sorts by length at once.

The more docs are sorted together, the more alike the lengths within each batch, so the less a
padded backend computes beyond the real pieces and the fewer calls an exact-length one makes
(trf-onnx on the EWT test sentences: 398 calls when 256 docs were sorted at a time, 174 at
1,024). The cost is memory: every buffered doc waits, with its ``doc._.trf_data``, until its
whole buffer has run. With MiniLM a buffer of 8 x 4,096 pieces holds about 1,900 EWT sentences
(or 25 documents of 1,000 words), some 40 KB each (``doc._.trf_data`` 27 KB: the last hidden
state and pooled output in float32, the wordpieces and alignment; the rest the ``Doc``): piping
the 2,077 EWT test sentences with ``keep = "none"`` peaked at 82 MB of Python and numpy memory,
against 24 MB when 4 batches of 64 docs were buffered (bench/bench_throughput.py, memory).
"""
PIPE_BUFFER_MAX_BATCHES = 64
"""At most this many batches' worth of docs are buffered, however short they are."""


class Prediction(ComponentState):
    """Runs the backend for inference and hands each doc its own outputs."""

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

        Docs are buffered about :data:`PIPE_BUFFER_BUDGETS` ``max_batch_items`` wordpieces at
        a time (the backend's ``count_pieces``, or token counts) and grouped by length, so
        batches waste little on padding; each batch holds at most ``batch_size`` docs and
        ``max_batch_items`` padded wordpieces. A doc's output does not depend on the batch it
        lands in; docs come out in input order, each buffer once all its batches have run.
        """
        install_extensions()
        error_handler = self.get_error_handler()
        batch_size = max(int(batch_size), 1)
        for docs, lengths in self._buffers(stream, batch_size):
            for indices in plan_batches(lengths, self.max_batch_items, batch_size):
                subset = [docs[i] for i in indices]
                try:
                    batch = self.predict(subset)
                    self.set_annotations(subset, batch)
                except Exception as e:
                    error_handler(self.name, self, subset, e)
            yield from docs

    def _buffers(
        self, stream: Iterable[Doc], batch_size: int
    ) -> Iterator[tuple[list[Doc], list[int]]]:
        """The stream in buffers of about :data:`PIPE_BUFFER_BUDGETS` ``max_batch_items``
        pieces (counted a batch of docs at a time), with each doc's piece count."""
        budget = PIPE_BUFFER_BUDGETS * self.max_batch_items
        max_docs = PIPE_BUFFER_MAX_BATCHES * batch_size
        docs: list[Doc] = []
        lengths: list[int] = []
        for chunk in util.minibatch(stream, size=batch_size):
            chunk_docs = list(chunk)
            docs.extend(chunk_docs)
            lengths.extend(self._estimate_lengths(chunk_docs))
            if len(docs) >= max_docs or sum(lengths) >= budget:
                yield docs, lengths
                docs, lengths = [], []
        if docs:
            yield docs, lengths

    def _estimate_lengths(self, docs: Sequence[Doc]) -> list[int]:
        counts = contract.count_pieces(self.model, docs)
        return [len(doc) for doc in docs] if counts is None else counts

    def predict(self, docs: Iterable[Doc]) -> FullTransformerBatch:
        """Run the backend for inference (no gradient kept) and return the batch's output."""
        keep_freed_memory()
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
        if predictions.cached_doc_data is not None:  # split already: copy each doc's views
            own = [_own_copy(data) for data in predictions.cached_doc_data]
        else:
            own = predictions.split_by_doc(copy=True)
        if len(own) != len(docs):
            raise ValueError(
                f"the transformer output holds {len(own)} docs, but {len(docs)} were given"
            )
        readers = [m.id for m in self._active_listeners()]
        for doc, data in zip(docs, own):
            expect_readers(doc, data, readers, self.keep)
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


def _own_copy(data: TransformerData) -> TransformerData:
    """A doc's data in arrays of its own, so the batch's big arrays can be freed."""
    return TransformerData(
        wordpieces=data.wordpieces.map_arrays(_copy),
        model_output=data.model_output.map_arrays(_copy),
        align=type(data.align)(data.align.dataXd.copy(), data.align.lengths.copy()),
    )


def _copy(array: Any) -> Any:
    return array.copy()
