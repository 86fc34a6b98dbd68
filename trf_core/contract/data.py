"""The data contract between backends, the component, listeners and annotation setters.

A backend returns one :class:`FullTransformerBatch` for a batch of docs: every span of every doc
padded to the batch's longest span. Users and listeners read :class:`TransformerData`, one per doc,
holding only that doc's spans and padded only to that doc's longest span, so what a doc keeps
never depends on the batch it came in.

Arrays stay framework-neutral (numpy, or cupy on GPU, through thinc's ops); backends convert
their framework's tensors at the boundary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy
import srsly
from spacy.tokens import Span
from thinc.api import get_array_module
from thinc.types import FloatsXd, Ints2d, Ragged

from .arrays import offsets_from_lengths, to_numpy

ArrayOrArrays = Union[FloatsXd, tuple[FloatsXd, ...]]

# Keys, in spacy-transformers' order, whose values are tuples of per-layer arrays.
_LAYERED_OUTPUTS = ("hidden_states", "attentions")


class ModelOutput(dict):  # type: ignore[type-arg]
    """An ordered mapping of output name -> array (or tuple of arrays), with attribute access.

    Code written for spacy-transformers reads ``model_output.last_hidden_state``; this keeps that
    working without importing transformers. Insertion order is the order of ``tensors``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"model output has no {name!r}; it holds: {', '.join(self) or 'nothing'}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def flat(self) -> list[FloatsXd]:
        """Every array in order, layered outputs expanded: spacy-transformers' ``tensors``."""
        out: list[FloatsXd] = []
        for value in self.values():
            if value is None:
                continue
            if isinstance(value, (tuple, list)):
                out.extend(value)
            else:
                out.append(value)
        return out

    @classmethod
    def empty(
        cls, width: int, *, n_hidden_states: int = 0, pooler: bool = False, xp: Any = numpy
    ) -> ModelOutput:
        """An output without rows, in a model's shapes: what a doc without spans gets.

        ``last_hidden_state`` ``(0, 0, width)``, then ``pooler_output`` ``(0, width)`` when the
        model has a pooler, then ``n_hidden_states`` hidden states (none when 0).
        """
        out = cls()
        out["last_hidden_state"] = xp.zeros((0, 0, width), dtype="float32")
        if pooler:
            out["pooler_output"] = xp.zeros((0, width), dtype="float32")
        if n_hidden_states:
            out["hidden_states"] = tuple(
                xp.zeros((0, 0, width), dtype="float32") for _ in range(n_hidden_states)
            )
        return out

    def map_arrays(self, fn: Any) -> ModelOutput:
        """A new output with ``fn`` applied to every array, structure kept."""
        mapped = ModelOutput()
        for key, value in self.items():
            if value is None:
                mapped[key] = None
            elif isinstance(value, (tuple, list)):
                mapped[key] = tuple(fn(v) for v in value)
            else:
                mapped[key] = fn(value)
        return mapped

    def to_msg(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.items()}

    @classmethod
    def from_msg(cls, msg: Mapping[str, Any]) -> ModelOutput:
        out = cls()
        for key, value in msg.items():
            out[key] = tuple(value) if isinstance(value, list) else value
        return out


@dataclass
class WordpieceBatch:
    """The tokenizer's output for a batch of spans, padded to the longest span.

    ``lengths[i]`` is span i's real piece count; ``strings[i]`` holds only the real pieces.
    """

    strings: list[list[str]]
    input_ids: Ints2d
    attention_mask: Ints2d
    lengths: list[int]
    token_type_ids: Ints2d | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def max_length(self) -> int:
        return int(self.input_ids.shape[1]) if self.input_ids.ndim == 2 else 0

    @classmethod
    def empty(cls, xp: Any = numpy) -> WordpieceBatch:
        zeros = xp.zeros((0, 0), dtype="int32")
        return cls(strings=[], input_ids=zeros, attention_mask=zeros.copy(), lengths=[])

    def map_arrays(self, fn: Any) -> WordpieceBatch:
        """A new batch with ``fn`` applied to every id array, and lists of its own."""
        return WordpieceBatch(
            strings=[list(s) for s in self.strings],
            input_ids=fn(self.input_ids),
            attention_mask=fn(self.attention_mask),
            lengths=list(self.lengths),
            token_type_ids=None if self.token_type_ids is None else fn(self.token_type_ids),
        )

    def select(self, start: int, end: int, *, copy: bool = False) -> WordpieceBatch:
        """Spans ``start:end``, padded only to the longest of them: views of this batch's
        arrays, or with ``copy`` arrays of their own."""
        lengths = self.lengths[start:end]
        width = max(lengths, default=0)
        return WordpieceBatch(
            strings=self.strings[start:end],
            input_ids=_own(self.input_ids[start:end, :width], copy),
            attention_mask=_own(self.attention_mask[start:end, :width], copy),
            lengths=list(lengths),
            token_type_ids=(
                None
                if self.token_type_ids is None
                else _own(self.token_type_ids[start:end, :width], copy)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strings": self.strings,
            "input_ids": to_numpy(self.input_ids),
            "attention_mask": to_numpy(self.attention_mask),
            "lengths": list(self.lengths),
            "token_type_ids": (
                None if self.token_type_ids is None else to_numpy(self.token_type_ids)
            ),
        }

    @classmethod
    def from_dict(cls, msg: Mapping[str, Any]) -> WordpieceBatch:
        n_spans = len(msg["lengths"])
        raw_ids: Any = numpy.asarray(msg["input_ids"], dtype="int32")
        # numpy cannot infer the -1 of an empty array: a batch without pieces is (n_spans, 0).
        input_ids: Any = raw_ids.reshape((n_spans, -1 if raw_ids.size else 0))
        attention_mask: Any = msg.get("attention_mask")
        if attention_mask is None:
            attention_mask = numpy.zeros_like(input_ids)
        type_ids = msg.get("token_type_ids")
        return cls(
            strings=[list(s) for s in msg["strings"]],
            input_ids=input_ids,
            attention_mask=numpy.asarray(attention_mask).reshape(input_ids.shape),
            lengths=[int(n) for n in msg["lengths"]],
            token_type_ids=(
                None
                if type_ids is None
                else numpy.asarray(type_ids, dtype="int32").reshape(input_ids.shape)
            ),
        )


@dataclass
class TransformerData:
    """One doc's transformer output: the value of ``doc._.trf_data``.

    ``align`` gives, for each spaCy token, the indices of its rows in
    ``tensors[0].reshape(-1, width)``; a token may have none (whitespace, or a model that saw no
    piece of it) or rows in several spans (overlapping spans).
    """

    wordpieces: WordpieceBatch
    model_output: ModelOutput
    align: Ragged

    @property
    def tensors(self) -> list[FloatsXd]:
        """spacy-transformers' view: last hidden state, pooled output, layers, attentions."""
        return self.model_output.flat()

    @property
    def width(self) -> int:
        tensors = self.tensors
        return int(tensors[0].shape[-1]) if tensors else 0

    @property
    def last_hidden_layer_state(self) -> Ragged:
        """Each token's rows of the last hidden state, as a Ragged (rows in token order)."""
        tensors = self.tensors
        xp = get_array_module(self.align.data)
        if not tensors:
            return Ragged(xp.zeros((0, 0), dtype="float32"), self.align.lengths)
        rows: Any = tensors[0].reshape((-1, tensors[0].shape[-1]))
        # Ragged.data is an (n, 1) view: index with flat rows to get (n, width), not (n, 1, width).
        return Ragged(rows[self.align.dataXd.reshape((-1,))], self.align.lengths)

    @classmethod
    def empty(cls, n_tokens: int = 0, xp: Any = numpy) -> TransformerData:
        """The data of a doc the transformer did not see: every token aligned to nothing."""
        align = Ragged(xp.zeros((0,), dtype="int32"), xp.zeros((n_tokens,), dtype="int32"))
        return cls(wordpieces=WordpieceBatch.empty(xp), model_output=ModelOutput(), align=align)

    def nbytes(self) -> int:
        """Bytes held by this doc's arrays (outputs, wordpieces and alignment)."""
        arrays: list[Any] = [*self.tensors, self.align.data, self.align.lengths]
        wp = self.wordpieces
        arrays += [wp.input_ids, wp.attention_mask]
        if wp.token_type_ids is not None:
            arrays.append(wp.token_type_ids)
        return int(sum(getattr(a, "nbytes", 0) for a in arrays))

    def to_dict(self) -> dict[str, Any]:
        return {
            "wordpieces": self.wordpieces.to_dict(),
            "model_output": self.model_output.map_arrays(to_numpy).to_msg(),
            "align": [to_numpy(self.align.data), to_numpy(self.align.lengths)],
        }

    @classmethod
    def from_dict(cls, msg: Mapping[str, Any]) -> TransformerData:
        data, lengths = msg["align"]
        flat_data: Any = numpy.asarray(data, dtype="int32").reshape((-1,))
        flat_lengths: Any = numpy.asarray(lengths, dtype="int32").reshape((-1,))
        align = Ragged(flat_data, flat_lengths)
        return cls(
            wordpieces=WordpieceBatch.from_dict(msg["wordpieces"]),
            model_output=ModelOutput.from_msg(msg.get("model_output") or {}),
            align=align,
        )


@dataclass
class FullTransformerBatch:
    """A batch's output: every span of every doc, padded to the batch's longest span.

    ``align`` covers every token of every doc in order, indexing rows of
    ``model_output.last_hidden_state.reshape(-1, width)``. ``split_by_doc`` gives each doc its own
    :class:`TransformerData`; ``unsplit_by_doc`` maps per-doc gradients back to batch shape.
    """

    spans: list[list[Span]]
    wordpieces: WordpieceBatch
    model_output: ModelOutput
    align: Ragged
    cached_doc_data: list[TransformerData] | None = field(default=None, repr=False)
    doc_lengths: list[int] | None = None
    """Each doc's token count. Backends set it; without it a doc with no spans counts 0 tokens."""

    @property
    def tensors(self) -> list[FloatsXd]:
        return self.model_output.flat()

    @property
    def doc_data(self) -> list[TransformerData]:
        if self.cached_doc_data is None:
            self.cached_doc_data = self.split_by_doc()
        return self.cached_doc_data

    @classmethod
    def empty(cls, n_docs: int, xp: Any = numpy) -> FullTransformerBatch:
        align = Ragged(xp.zeros((0,), dtype="int32"), xp.zeros((0,), dtype="int32"))
        return cls(
            spans=[[] for _ in range(n_docs)],
            wordpieces=WordpieceBatch.empty(xp),
            model_output=ModelOutput(),
            align=align,
            cached_doc_data=[TransformerData.empty(0, xp) for _ in range(n_docs)],
        )

    def _doc_bounds(self) -> Iterator[tuple[int, int, int, int]]:
        """For each doc: first span, end span, first token and end token in the batch."""
        lengths = self.doc_lengths
        if lengths is None:
            lengths = [len(spans[0].doc) if spans else 0 for spans in self.spans]
        if len(lengths) != len(self.spans):
            raise ValueError(
                f"the batch has spans for {len(self.spans)} docs but lengths for {len(lengths)}"
            )
        span_start = 0
        token_start = 0
        for spans, doc_len in zip(self.spans, lengths):
            yield span_start, span_start + len(spans), token_start, token_start + doc_len
            span_start += len(spans)
            token_start += doc_len

    def split_by_doc(self, *, copy: bool = False) -> list[TransformerData]:
        """One TransformerData per doc, each padded only to its own longest span.

        copy: give every doc arrays of its own instead of views of the batch's, so that a doc
            kept after its batch holds only its own share of the outputs (what the component
            sets on ``doc._.trf_data``); cut in one step, not sliced then copied.
        """
        xp = get_array_module(self.align.data)
        batch_width = self.wordpieces.max_length
        row_starts = offsets_from_lengths(self.align.lengths)[:-1]
        outputs: list[TransformerData] = []
        for s0, s1, t0, t1 in self._doc_bounds():
            if s0 == s1:
                outputs.append(TransformerData.empty(t1 - t0, xp))
                continue
            wordpieces = self.wordpieces.select(s0, s1, copy=copy)
            doc_width = wordpieces.max_length
            model_output = self.model_output.map_arrays(
                lambda a, s0=s0, s1=s1, w=doc_width: _own(_slice_doc(a, s0, s1, w), copy)
            )
            lengths = self.align.lengths[t0:t1]
            if t1 > len(row_starts):
                raise ValueError(
                    f"the batch aligns {len(row_starts)} tokens, fewer than its docs hold; "
                    "a backend must give every token of every doc an entry in align"
                )
            r0 = int(row_starts[t0]) if t0 < t1 else 0
            r1 = r0 + int(lengths.sum())
            rows = self.align.dataXd[r0:r1]
            span_index = rows // max(batch_width, 1) - s0
            position = rows % max(batch_width, 1)
            doc_rows = (span_index * doc_width + position).astype("int32")
            outputs.append(
                TransformerData(
                    wordpieces=wordpieces,
                    model_output=model_output,
                    align=Ragged(doc_rows, _own(xp.asarray(lengths, dtype="int32"), copy)),
                )
            )
        return outputs

    def unsplit_by_doc(
        self, gradients: Sequence[Sequence[FloatsXd | None]]
    ) -> list[FloatsXd | None]:
        """Per-doc gradients of each doc's ``tensors`` -> gradients of the batch's ``tensors``.

        A tensor no doc sent a gradient for stays ``None``, so a backend can skip it.
        """
        if len(gradients) != len(self.spans):
            raise ValueError(
                f"unsplit_by_doc got gradients for {len(gradients)} docs, but the batch holds "
                f"{len(self.spans)}; pass one list of gradients per doc, in batch order"
            )
        batch_tensors = self.tensors
        out: list[FloatsXd | None] = [None] * len(batch_tensors)
        for (s0, s1, _t0, _t1), doc_grads in zip(self._doc_bounds(), gradients):
            if s0 == s1:
                continue
            doc_width = max(self.wordpieces.lengths[s0:s1], default=0)
            for j, grad in enumerate(doc_grads):
                if grad is None:
                    continue
                if j >= len(batch_tensors):
                    raise ValueError(
                        f"a gradient was given for tensor {j}, but the batch has only "
                        f"{len(batch_tensors)} tensors"
                    )
                if out[j] is None:
                    xp = get_array_module(batch_tensors[j])
                    out[j] = xp.zeros(batch_tensors[j].shape, dtype=batch_tensors[j].dtype)
                _add_doc_slice(out[j], grad, s0, s1, doc_width)
        return out


def _doc_index(array: Any, s0: int, s1: int, width: int) -> tuple[Any, ...]:
    """The index that cuts one doc's spans, at its own padded width, out of a batch array.

    Hidden states are ``(spans, length, width)``, attentions ``(spans, heads, length, length)``,
    per-span outputs such as the pooled output ``(spans, width)``.
    """
    if array.ndim == 3:
        return (slice(s0, s1), slice(0, width))
    if array.ndim == 4:
        return (slice(s0, s1), slice(None), slice(0, width), slice(0, width))
    return (slice(s0, s1),)


def _slice_doc(array: Any, s0: int, s1: int, width: int) -> Any:
    return array[_doc_index(array, s0, s1, width)]


def _own(array: Any, copy: bool) -> Any:
    """``array`` itself, or with ``copy`` an array of its own."""
    return array.copy() if copy else array


def _add_doc_slice(target: Any, grad: Any, s0: int, s1: int, width: int) -> None:
    index = _doc_index(target, s0, s1, width)
    expected = target[index].shape
    if tuple(grad.shape) != tuple(expected):
        raise ValueError(
            f"a doc's gradient has shape {tuple(grad.shape)}, but its tensor has shape "
            f"{tuple(expected)}; gradients must match the doc's own tensors"
        )
    target[index] += grad


@srsly.msgpack_encoders("transformerdata")
def _encode_transformer_data(obj: Any, chain: Any = None) -> Any:
    """Lets DocBin keep ``doc._.trf_data``, under spacy-transformers' key."""
    if isinstance(obj, TransformerData):
        return {"__transformerdata__": obj.to_dict()}
    return obj if chain is None else chain(obj)


@srsly.msgpack_decoders("transformerdata")
def _decode_transformer_data(obj: Any, chain: Any = None) -> Any:
    if isinstance(obj, dict) and "__transformerdata__" in obj:
        return TransformerData.from_dict(obj["__transformerdata__"])
    return obj if chain is None else chain(obj)
