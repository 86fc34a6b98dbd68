"""What a backend that reads wordpieces from a Hugging Face style tokenizer does around its model.

trf-hf (torch) and trf-onnx (ONNX Runtime) differ only in how they run the windows; splitting
docs into checked span lists, counting pieces for ``Transformer.pipe``'s length grouping, the
window size, the truncation warning, the wordpieces on the model's device and the batch of docs
without spans are the same, and live here so both give the same ``doc._.trf_data``. Framework-free
(numpy and thinc ops only); the windows themselves are :mod:`trf_core.component.windowing`'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from spacy.tokens import Doc, Span
from thinc.api import Ops
from thinc.types import Ragged

from ..contract.data import FullTransformerBatch, ModelOutput, WordpieceBatch
from ..contract.types import SpanGetter
from .piece_cache import PieceCache
from .windowing import WindowPlan, layout, tokenize_spans

PIECE_CACHE = "piece_cache"
"""The backend attribute holding its :class:`~trf_core.component.piece_cache.PieceCache`."""


def doc_spans(get_spans: SpanGetter, docs: Sequence[Doc]) -> list[list[Span]]:
    """The span getter's spans for each doc, checked to be one list per doc."""
    spans = [list(spans_of_doc) for spans_of_doc in get_spans(list(docs))]
    if len(spans) != len(docs):
        raise ValueError(
            f"the span getter returned spans for {len(spans)} docs, but got {len(docs)}; "
            "it must return one list of spans per doc"
        )
    return spans


def count_pieces(
    tokenizer: Any, get_spans: SpanGetter, docs: Sequence[Doc], cache: PieceCache | None = None
) -> list[int]:
    """Each doc's wordpieces (all its spans', specials included), for grouping docs in ``pipe``.

    A fast tokenizer counts exactly, in one batched call, at a few percent of the model's cost;
    grouping by a guess from token counts left batches padded 25% more than sorting by exact
    counts (EWT). With a ``cache``, that call is the spans' full tokenization, kept there for
    :func:`plan_spans` (each text tokenized once). Slow tokenizers, or a backend not loaded yet
    (``tokenizer`` None), get the guess.
    """
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return [2 + (4 * sum(1 for t in doc if not t.is_space)) // 3 for doc in docs]
    spans = doc_spans(get_spans, docs)
    flat = [span for spans_of_doc in spans for span in spans_of_doc]
    if not flat:
        return [0] * len(docs)
    if cache is not None:
        lengths = cache.count(tokenizer, flat)
    else:
        encoded = tokenizer(
            [span.text for span in flat],
            add_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            truncation=False,
            verbose=False,
        )
        lengths = [len(ids) for ids in encoded["input_ids"]]
    counts: list[int] = []
    start = 0
    for spans_of_doc in spans:
        counts.append(sum(lengths[start : start + len(spans_of_doc)]))
        start += len(spans_of_doc)
    return counts


def window_size(window: int, limit: int) -> int:
    """The configured ``window`` (0: the model's ``limit``), refused when above the limit."""
    if window == 0:
        return limit
    if window > limit:
        raise ValueError(
            f"window = {window} wordpieces is more than this model accepts ({limit}); "
            f"set window to at most {limit}, or 0 for the maximum"
        )
    return window


def plan_spans(
    backend: str,
    tokenizer: Any,
    spans: Sequence[Span],
    window: int,
    attrs: dict[str, Any],
    cache: PieceCache | None = None,
) -> WindowPlan:
    """The windows of ``spans`` under the backend's ``stride`` / ``truncate`` settings
    (``attrs``), with the counted warning when ``truncate`` dropped wordpieces. Spans that
    :func:`count_pieces` tokenized into ``cache`` are not tokenized again."""
    pieces = tokenize_spans(tokenizer, spans) if cache is None else cache.tokenize(tokenizer, spans)
    plan = layout(
        pieces, window, int(attrs["stride"]), bool(attrs["truncate"]), tokenizer.pad_token_id
    )
    warn_if_truncated(backend, plan, len(spans), window)
    return plan


def warn_if_truncated(backend: str, plan: WindowPlan, n_spans: int, window: int) -> None:
    """The counted warning ``truncate = true`` owes its user when it dropped wordpieces."""
    if plan.n_truncated_spans:
        warnings.warn(
            f"{backend} truncated {plan.n_truncated_spans} of {n_spans} spans to {window} "
            f"wordpieces, dropping {plan.n_dropped_pieces} wordpieces: the tokens they covered "
            "get no vectors. Set truncate = false to run long spans in overlapping windows "
            "instead.",
            stacklevel=4,
        )


def empty_batch(
    ops: Ops,
    spans: list[list[Any]],
    doc_lengths: list[int],
    width: int,
    has_pooler: bool,
    n_hidden_states: int | None,
) -> FullTransformerBatch:
    """A batch whose docs hold no spans: no rows, every token aligned to nothing.

    n_hidden_states: how many hidden states the model returns (layers + 1), or None when they
        were not asked for.
    """
    model_output = ModelOutput.empty(
        width, n_hidden_states=n_hidden_states or 0, pooler=has_pooler, xp=ops.xp
    )
    align = Ragged(ops.alloc1i(0), ops.alloc1i(sum(doc_lengths)))
    return FullTransformerBatch(
        spans=spans,
        wordpieces=WordpieceBatch.empty(ops.xp),
        model_output=model_output,
        align=align,
        doc_lengths=doc_lengths,
    )
