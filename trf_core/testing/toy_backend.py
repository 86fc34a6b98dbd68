"""A tiny transformer stand-in, in pure numpy/thinc, for tests that need a real backend.

It honours the whole backend contract (spans, windows, specials, alignment, per-doc padding,
hidden states, exact gradients, serialization) while staying small enough to run in
milliseconds and without torch, so the component, listeners and third-party plugins can be
tested in a torch-free environment.

The tokenizer lower-cases and cuts each whitespace-separated chunk of a span's text into pieces
of at most three characters; each window gets a ``[CLS]`` and a ``[SEP]``. A span with more
pieces than ``max_length`` allows is cut into consecutive windows, so nothing is truncated. The
model embeds hashed pieces and runs ``depth`` residual layers that each mix in the mean of the
window's real pieces: outputs depend on context, never on padding or on the rest of the batch.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy
from spacy.tokens import Doc, Span
from thinc.api import Model
from thinc.types import Ints2d

from ..component.listeners import listener_attrs
from ..contract import backend as contract
from ..contract.align import align_batch
from ..contract.data import FullTransformerBatch, ModelOutput, WordpieceBatch
from ..contract.types import BackendModel, SpanGetter

__all__ = [
    "CLS",
    "PAD_ID",
    "SEP",
    "ToyWindow",
    "count_toy_pieces",
    "toy_piece_id",
    "toy_tokenize",
    "toy_transformer_v1",
]

CLS = "[CLS]"
SEP = "[SEP]"
PAD_ID = 0
CLS_ID = 1
SEP_ID = 2
_N_RESERVED = 3
PIECE_CHARS = 3
_CHUNK = re.compile(r"\S+")


@dataclass
class ToyWindow:
    """One row of the batch: the tokens it covers, its piece strings and character offsets.

    ``offsets`` has one ``[start, end)`` row per piece, doc-absolute; specials are ``(-1, -1)``.
    """

    span: Span
    strings: list[str]
    offsets: Ints2d


def toy_piece_id(piece: str, n_vocab: int) -> int:
    """A stable hash of a (lower-cased) piece into the vocabulary, clear of the reserved ids."""
    return _N_RESERVED + zlib.crc32(piece.encode("utf8")) % (n_vocab - _N_RESERVED)


def _span_pieces(span: Span) -> tuple[list[str], list[tuple[int, int]]]:
    """Lower-cased pieces of <= 3 characters and their doc-absolute offsets."""
    strings: list[str] = []
    offsets: list[tuple[int, int]] = []
    base = span.start_char
    for match in _CHUNK.finditer(span.text):
        start, end = match.start() + base, match.end() + base
        chunk = match.group()
        for i in range(0, len(chunk), PIECE_CHARS):
            # Offsets count characters of the original text; only the string is lower-cased
            # (which can change its length, as with "İ").
            strings.append(chunk[i : i + PIECE_CHARS].lower())
            offsets.append((start + i, min(start + i + PIECE_CHARS, end)))
    return strings, offsets


def toy_tokenize(span: Span, max_length: int) -> list[ToyWindow]:
    """Cut one span into windows of at most ``max_length`` pieces, specials included."""
    if max_length < 3:
        raise ValueError(
            f"max_length={max_length} leaves no room for a piece beside [CLS] and [SEP]; "
            "use max_length >= 3"
        )
    strings, offsets = _span_pieces(span)
    per_window = max_length - 2
    if len(strings) <= per_window:
        return [_make_window(span, strings, offsets)]
    token_starts = numpy.asarray([t.idx for t in span], dtype="int64")
    windows = []
    for i in range(0, len(strings), per_window):
        w_offsets = offsets[i : i + per_window]
        # The window's span: from the token holding its first character to the token holding
        # its last, so consecutive windows may share a token cut between them.
        first = int(numpy.searchsorted(token_starts, w_offsets[0][0], side="right")) - 1
        last = int(numpy.searchsorted(token_starts, w_offsets[-1][1] - 1, side="right"))
        window_span = span.doc[span.start + max(first, 0) : span.start + last]
        windows.append(_make_window(window_span, strings[i : i + per_window], w_offsets))
    return windows


def _make_window(span: Span, strings: list[str], offsets: list[tuple[int, int]]) -> ToyWindow:
    rows = [(-1, -1), *offsets, (-1, -1)]
    return ToyWindow(
        span=span,
        strings=[CLS, *strings, SEP],
        offsets=_as_any(numpy.asarray(rows, dtype="int32").reshape((-1, 2))),
    )


def count_toy_pieces(model: Model, docs: Sequence[Doc]) -> list[int]:
    """The cheap length estimate ``pipe`` may group docs by: pieces of the whole text + 2.

    The backend's ``count_pieces`` attribute; a function of the model, as the contract asks
    (the toy needs nothing of it: its pieces depend on the text alone).
    """
    counts = []
    for doc in docs:
        n = sum(-(-len(m.group()) // PIECE_CHARS) for m in _CHUNK.finditer(doc.text))
        counts.append(n + 2)
    return counts


def toy_transformer_v1(
    get_spans: SpanGetter,
    width: int = 16,
    depth: int = 2,
    n_vocab: int = 1000,
    max_length: int = 64,
    seed: int = 0,
) -> BackendModel:
    """Build the toy backend (registered as ``trf.ToyTransformer.v1``).

    Call ``model.initialize()`` before use; parameters come from ``seed`` alone, so two models
    built with the same arguments compute the same function.
    """
    if width < 1 or depth < 0:
        raise ValueError(
            f"the toy transformer needs width >= 1 and depth >= 0, got {width}/{depth}"
        )
    if n_vocab <= _N_RESERVED:
        raise ValueError(f"n_vocab must exceed the {_N_RESERVED} reserved ids, got {n_vocab}")
    if max_length < 3:
        raise ValueError(f"max_length must be >= 3 ([CLS], a piece, [SEP]), got {max_length}")
    params: dict[str, Any] = {"E": None}
    for layer in range(depth):
        params.update({f"W{layer}": None, f"U{layer}": None, f"b{layer}": None})
    attrs: dict[str, Any] = {
        "get_spans": get_spans,
        "depth": depth,
        "max_length": max_length,
        "seed": seed,
        contract.OUTPUT_HIDDEN_STATES: False,
        contract.OUTPUT_ATTENTIONS: False,
        contract.COUNT_PIECES: count_toy_pieces,
        **listener_attrs(),
    }
    return Model(
        "toy_transformer",
        _forward,
        init=_init,
        dims={"nO": width, "n_vocab": n_vocab},
        params=params,
        attrs=attrs,
    )


def _init(model: Model, X: Any = None, Y: Any = None) -> Model:
    """Draw every parameter from ``seed``: same seed, same function, whatever the data."""
    width = model.get_dim("nO")
    ops: Any = model.ops
    rng = numpy.random.default_rng(model.attrs["seed"])
    scale = 1.0 / numpy.sqrt(width)
    model.set_param("E", ops.asarray(rng.normal(0.0, 1.0, (model.get_dim("n_vocab"), width))))
    for layer in range(model.attrs["depth"]):
        model.set_param(f"W{layer}", ops.asarray(rng.normal(0.0, scale, (width, width))))
        model.set_param(f"U{layer}", ops.asarray(rng.normal(0.0, scale, (width, width))))
        model.set_param(f"b{layer}", ops.asarray(rng.normal(0.0, 0.1, (width,))))
    for name in model.param_names:
        model.set_param(name, _param(model, name).astype("float32"))
    return model


def _param(model: Model, name: str) -> Any:
    """A parameter as a plain array: the numerics below are easier to read untyped."""
    return model.get_param(name)


def _as_any(array: Any) -> Any:
    return array


def _tokenize_batch(
    model: Model, docs: list[Doc]
) -> tuple[list[list[Span]], list[list[str]], list[Ints2d]]:
    # Getters may return any iterables (generators, tuples); the batch keeps plain lists.
    spans = [list(doc_spans) for doc_spans in model.attrs["get_spans"](docs)]
    if len(spans) != len(docs):
        raise ValueError(
            f"the span getter returned spans for {len(spans)} docs, but got {len(docs)}; "
            "it must return one list of spans per doc"
        )
    max_length = model.attrs["max_length"]
    batch_spans: list[list[Span]] = []
    strings: list[list[str]] = []
    offsets: list[Ints2d] = []
    for doc, doc_spans in zip(docs, spans):
        windows_spans: list[Span] = []
        for span in doc_spans:
            if span.doc is not doc:
                raise ValueError("the span getter returned a span of another doc")
            for window in toy_tokenize(span, max_length):
                windows_spans.append(window.span)
                strings.append(window.strings)
                offsets.append(window.offsets)
        batch_spans.append(windows_spans)
    return batch_spans, strings, offsets


def _wordpieces(strings: list[list[str]], n_vocab: int) -> WordpieceBatch:
    lengths = [len(s) for s in strings]
    n_cols = max(lengths, default=0)
    ids: Any = numpy.zeros((len(strings), n_cols), dtype="int32")
    mask: Any = numpy.zeros((len(strings), n_cols), dtype="int32")
    special = {CLS: CLS_ID, SEP: SEP_ID}
    for i, row in enumerate(strings):
        ids[i, : len(row)] = [special[p] if p in special else toy_piece_id(p, n_vocab) for p in row]
        mask[i, : len(row)] = 1
    return WordpieceBatch(
        strings=strings,
        input_ids=ids,
        attention_mask=mask,
        lengths=lengths,
        token_type_ids=numpy.zeros_like(ids),
    )


def _forward(
    model: Model, docs: list[Doc], is_train: bool
) -> tuple[FullTransformerBatch, Callable[[list[list[Any]]], list[Any]]]:
    batch_spans, strings, offsets = _tokenize_batch(model, docs)
    wordpieces = _wordpieces(strings, model.get_dim("n_vocab"))
    align = align_batch(batch_spans, offsets, wordpieces.max_length, [len(doc) for doc in docs])
    ops: Any = model.ops
    E = _param(model, "E")
    ids = ops.asarray(wordpieces.input_ids)
    m3 = ops.asarray(wordpieces.attention_mask).astype(E.dtype)[:, :, None]
    n_real = ops.xp.maximum(m3.sum(axis=1), 1.0)  # (n_spans, 1)
    states, saved = _layers_forward(model, E[ids] * m3, m3, n_real)
    with_hidden = contract.wants_hidden_states(model)
    batch = FullTransformerBatch(
        spans=batch_spans,
        wordpieces=wordpieces,
        model_output=_outputs(model, states, m3, n_real, with_hidden),
        align=align,
        doc_lengths=[len(doc) for doc in docs],
    )
    depth = model.attrs["depth"]

    def backprop(d_tensors: list[list[Any]]) -> list[Any]:
        grads = batch.unsplit_by_doc(d_tensors)
        d_last, d_pool = grads[0], grads[1]
        d_hidden = grads[2 : 2 + depth + 1] if with_hidden else [None] * (depth + 1)
        dX = ops.xp.zeros(states[-1].shape, dtype=states[-1].dtype)
        if d_last is not None:
            dX += d_last
        if d_pool is not None:
            dX += (d_pool / n_real)[:, None, :] * m3
        dX = _layers_backward(model, dX, saved, m3, n_real, d_hidden)
        dE = ops.xp.zeros(E.shape, dtype=E.dtype)
        ops.scatter_add(dE, ids.reshape((-1,)), (dX * m3).reshape((-1, model.get_dim("nO"))))
        model.inc_grad("E", dE)
        return []

    return batch, backprop


def _layers_forward(
    model: Model, X: Any, m3: Any, n_real: Any
) -> tuple[list[Any], list[tuple[Any, Any, Any]]]:
    """Every layer's output (the embeddings first), and what each layer's backward needs."""
    xp = model.ops.xp
    states = [X]
    saved: list[tuple[Any, Any, Any]] = []
    for layer in range(model.attrs["depth"]):
        W, U, b = (_param(model, f"{p}{layer}") for p in "WUb")
        mean = X.sum(axis=1) / n_real
        H = xp.tanh(X @ W + (mean @ U)[:, None, :] + b)
        saved.append((X, mean, H))
        X = (X + H) * m3
        states.append(X)
    return states, saved


def _outputs(
    model: Model, states: list[Any], m3: Any, n_real: Any, with_hidden: bool
) -> ModelOutput:
    X = states[-1]
    output = ModelOutput()
    output["last_hidden_state"] = X
    output["pooler_output"] = X.sum(axis=1) / n_real
    if with_hidden:
        output["hidden_states"] = tuple(states)
    if model.attrs.get(contract.OUTPUT_ATTENTIONS):
        # The mixing is a uniform attention over the window's real pieces: report it as such.
        mask2 = m3[:, :, 0]
        att = (mask2[:, :, None] * mask2[:, None, :]) / n_real[:, :, None]
        output["attentions"] = tuple(att[:, None, :, :] for _ in range(model.attrs["depth"]))
    return output


def _layers_backward(
    model: Model,
    dX: Any,
    saved: list[tuple[Any, Any, Any]],
    m3: Any,
    n_real: Any,
    d_hidden: list[Any],
) -> Any:
    """Backprop ``dX`` (the last layer's gradient) through every layer; the embeddings' one."""
    width = model.get_dim("nO")
    depth = len(saved)
    if d_hidden[depth] is not None:
        dX = dX + d_hidden[depth]
    for layer in reversed(range(depth)):
        A, mean, H = saved[layer]
        W, U = _param(model, f"W{layer}"), _param(model, f"U{layer}")
        dXm = dX * m3
        dZ = dXm * (1.0 - H * H)
        dZ_sum = dZ.sum(axis=1)
        model.inc_grad(f"W{layer}", A.reshape((-1, width)).T @ dZ.reshape((-1, width)))
        model.inc_grad(f"U{layer}", mean.T @ dZ_sum)
        model.inc_grad(f"b{layer}", dZ.sum(axis=(0, 1)))
        d_mean = dZ_sum @ U.T
        dX = dXm + dZ @ W.T + (d_mean / n_real)[:, None, :] * m3
        if d_hidden[layer] is not None:
            dX += d_hidden[layer]
    return dX
