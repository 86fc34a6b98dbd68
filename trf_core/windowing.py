"""Spans -> wordpieces -> the windows a model actually reads; framework-free (numpy only).

A span longer than the model's maximum input is not truncated: its content pieces are cut into
overlapping windows, each wrapped in the span's own special tokens, and every piece of the span is
later taken from the window where it sits most centrally (most context on both sides). The plan
built here is pure numpy, so the same indices drive the forward gather (and, in trf-hf, through
autograd, the gradients back into each window).

It lives in the core, not in a backend, because every backend that runs a Hugging Face style
tokenizer needs it: trf-hf (torch) and trf-onnx (ONNX Runtime, no torch) share it, and both give
the same wordpieces, windows and alignment. ``tokenizer`` is anything with the call interface of
a ``transformers`` tokenizer (``__call__`` returning ``input_ids``, ``special_tokens_mask``,
``offset_mapping``, ``convert_ids_to_tokens``, ``pad_token_id``, ``is_fast``,
``model_input_names``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, cast

import numpy
from spacy.tokens import Span
from thinc.types import Ints2d

from .data import WordpieceBatch


@dataclass
class WindowPlan:
    """A batch's tokenization and how its windows map back onto its spans.

    ``wordpieces`` and ``offsets`` describe whole spans (what users and alignment see);
    ``window_*`` arrays are what the model runs on. ``gather[k * span_width + j]`` is the row of
    ``windows.reshape(-1)`` that span ``k``'s piece ``j`` comes from, or ``-1`` for padding.
    ``window_columns[w, j]`` is the column of window ``w`` holding span position ``j`` (or
    ``window_width`` when the window does not hold it): used to reassemble attentions.
    """

    wordpieces: WordpieceBatch
    offsets: list[numpy.ndarray] | None
    window_ids: numpy.ndarray
    window_mask: numpy.ndarray
    window_type_ids: numpy.ndarray | None
    window_span: numpy.ndarray
    gather: numpy.ndarray
    window_columns: numpy.ndarray
    n_truncated_spans: int = 0
    n_dropped_pieces: int = 0

    @property
    def n_spans(self) -> int:
        return len(self.wordpieces.lengths)

    @property
    def span_width(self) -> int:
        return self.wordpieces.max_length

    @property
    def window_width(self) -> int:
        return int(self.window_ids.shape[1])


@dataclass
class SpanPieces:
    ids: list[int]
    type_ids: list[int] | None
    offsets: numpy.ndarray | None
    special: numpy.ndarray
    strings: list[str]


def plan_windows(
    tokenizer: Any,
    spans: Sequence[Span],
    window: int,
    stride: int,
    truncate: bool,
) -> WindowPlan:
    """Tokenize ``spans`` in one batched call and lay out the windows the model will read.

    window: the most pieces (specials included) one model input may hold.
    stride: how far consecutive windows' content starts move, in pieces; ``0`` means three
        quarters of a window's content, leaving a quarter as overlap.
    truncate: cut long spans at ``window`` instead of windowing them (the caller warns).
    """
    pieces = tokenize_spans(tokenizer, spans)
    return layout(pieces, window, stride, truncate, tokenizer.pad_token_id)


def tokenize_spans(tokenizer: Any, spans: Sequence[Span]) -> list[SpanPieces]:
    """Every span's pieces, in one batched call.

    A fast tokenizer also gives doc-absolute character offsets (specials get -1); a tokenizer
    without offsets leaves ``offsets`` None, and the backend aligns its piece strings instead.
    """
    if not spans:
        return []
    with_offsets = bool(getattr(tokenizer, "is_fast", False))
    options = {"return_offsets_mapping": True} if with_offsets else {}
    encoded = tokenizer(
        [span.text for span in spans],
        add_special_tokens=True,
        return_special_tokens_mask=True,
        return_token_type_ids=_wants_type_ids(tokenizer),
        truncation=False,
        padding=False,
        verbose=False,
        **options,
    )
    out: list[SpanPieces] = []
    type_ids_all = encoded.get("token_type_ids")
    for i, span in enumerate(spans):
        ids = list(encoded["input_ids"][i])
        special = numpy.asarray(encoded["special_tokens_mask"][i], dtype=bool).reshape((-1,))
        offsets = None
        if with_offsets:
            offsets = numpy.asarray(encoded["offset_mapping"][i], dtype="int64").reshape((-1, 2))
            offsets = offsets + span.start_char
            offsets[special] = -1
        out.append(
            SpanPieces(
                ids=ids,
                type_ids=None if type_ids_all is None else list(type_ids_all[i]),
                offsets=offsets,
                special=special,
                strings=tokenizer.convert_ids_to_tokens(ids),
            )
        )
    return out


def _wants_type_ids(tokenizer: Any) -> bool:
    """Only models that take ``token_type_ids`` get them (DistilBERT's forward has none)."""
    return "token_type_ids" in list(getattr(tokenizer, "model_input_names", ()) or ())


def _affixes(special: numpy.ndarray) -> tuple[int, int]:
    """How many special pieces open and close a span (``[CLS]`` / ``[SEP]``, ``<s>`` / ``</s>``)."""
    n = len(special)
    prefix = 0
    while prefix < n and special[prefix]:
        prefix += 1
    suffix = 0
    while suffix < n - prefix and special[n - 1 - suffix]:
        suffix += 1
    return prefix, suffix


def _window_starts(n_content: int, capacity: int, stride: int) -> list[int]:
    """Content start of each window: every ``stride`` pieces, the last flush with the end."""
    if n_content <= capacity:
        return [0]
    starts = [0]
    while starts[-1] + capacity < n_content:
        starts.append(min(starts[-1] + stride, n_content - capacity))
    return starts


def _most_central(n_content: int, starts: list[int], capacity: int) -> numpy.ndarray:
    """For each content piece, the window in which it has the most context on both sides.

    A window edge that is also the span's edge costs no context, so it counts as infinitely far.
    Ties go to the earlier window.
    """
    positions = numpy.arange(n_content)[:, None]
    begin = numpy.asarray(starts)[None, :]
    end = numpy.minimum(begin + capacity, n_content)
    big = n_content + capacity + 1
    left = numpy.where(begin == 0, big, positions - begin)
    right = numpy.where(end == n_content, big, end - 1 - positions)
    score = numpy.minimum(left, right)
    score = numpy.where((positions >= begin) & (positions < end), score, -1)
    return numpy.argmax(score, axis=1)


def layout(
    pieces: list[SpanPieces],
    window: int,
    stride: int,
    truncate: bool,
    pad_id: int | None,
) -> WindowPlan:
    """Build the span-level wordpieces and the window inputs with their gather indices."""
    pad = 0 if pad_id is None else int(pad_id)
    n_truncated = 0
    n_dropped = 0
    span_ids: list[list[int]] = []
    span_types: list[list[int] | None] = []
    span_offsets: list[numpy.ndarray | None] = []
    span_strings: list[list[str]] = []
    windows: list[tuple[list[int], list[int] | None]] = []
    coverage: list[list[int]] = []  # per window: the span position each column holds
    window_span: list[int] = []
    # (span, position) -> (window, column), as parallel lists per span
    sources: list[tuple[numpy.ndarray, numpy.ndarray]] = []
    for k, sp in enumerate(pieces):
        prefix, suffix = _affixes(sp.special)
        n = len(sp.ids)
        capacity = window - prefix - suffix
        if capacity < 1:
            raise ValueError(
                f"window = {window} leaves no room for content between the tokenizer's "
                f"{prefix + suffix} special tokens; use a window of at least {prefix + suffix + 1}"
            )
        n_content = n - prefix - suffix
        ids, types, offsets, strings = sp.ids, sp.type_ids, sp.offsets, sp.strings
        if truncate and n_content > capacity:
            keep = list(range(prefix + capacity)) + list(range(n - suffix, n))
            n_truncated += 1
            n_dropped += n_content - capacity
            ids = [ids[i] for i in keep]
            types = None if types is None else [types[i] for i in keep]
            offsets = None if offsets is None else offsets[keep]
            strings = [strings[i] for i in keep]
            n = len(ids)
            n_content = capacity
        span_ids.append(ids)
        span_types.append(types)
        span_offsets.append(offsets)
        span_strings.append(strings)
        step = stride if stride > 0 else max(1, (3 * capacity) // 4)
        step = min(step, capacity)
        starts = _window_starts(n_content, capacity, step)
        first_window = len(windows)
        for start in starts:
            end = min(start + capacity, n_content)
            chosen = list(range(prefix)) + list(range(prefix + start, prefix + end))
            chosen += list(range(n - suffix, n))
            windows.append(
                ([ids[i] for i in chosen], None if types is None else [types[i] for i in chosen])
            )
            coverage.append(chosen)
            window_span.append(k)
        src_window = numpy.empty((n,), dtype="int64")
        src_column = numpy.empty((n,), dtype="int64")
        src_window[:prefix] = first_window
        src_column[:prefix] = numpy.arange(prefix)
        if n_content:
            best = _most_central(n_content, starts, capacity)
            content = numpy.arange(n_content)
            src_window[prefix : prefix + n_content] = first_window + best
            src_column[prefix : prefix + n_content] = prefix + content - numpy.asarray(starts)[best]
        last = len(windows) - 1
        last_len = len(windows[last][0])
        src_window[n - suffix :] = last
        src_column[n - suffix :] = last_len - suffix + numpy.arange(suffix)
        sources.append((src_window, src_column))

    n_spans = len(pieces)
    span_width = max((len(ids) for ids in span_ids), default=0)
    window_width = max((len(w[0]) for w in windows), default=0)
    has_types = bool(span_types) and all(t is not None for t in span_types)
    input_ids = numpy.full((n_spans, span_width), pad, dtype="int32")
    attention_mask = numpy.zeros((n_spans, span_width), dtype="int32")
    token_type_ids = numpy.zeros((n_spans, span_width), dtype="int32") if has_types else None
    for k, ids in enumerate(span_ids):
        input_ids[k, : len(ids)] = ids
        attention_mask[k, : len(ids)] = 1
        if token_type_ids is not None:
            token_type_ids[k, : len(ids)] = span_types[k]  # type: ignore[assignment]
    n_windows = len(windows)
    window_ids = numpy.full((n_windows, window_width), pad, dtype="int64")
    window_mask = numpy.zeros((n_windows, window_width), dtype="int64")
    window_types = numpy.zeros((n_windows, window_width), dtype="int64") if has_types else None
    for w, (ids, types) in enumerate(windows):
        window_ids[w, : len(ids)] = ids
        window_mask[w, : len(ids)] = 1
        if window_types is not None and types is not None:
            window_types[w, : len(types)] = types
    gather = numpy.full((n_spans * span_width,), -1, dtype="int64")
    columns = numpy.full((n_windows, span_width), window_width, dtype="int64")
    for k, (src_window, src_column) in enumerate(sources):
        n = len(src_window)
        gather[k * span_width : k * span_width + n] = src_window * window_width + src_column
    for w, held in enumerate(coverage):
        columns[w, held] = numpy.arange(len(held))
    wordpieces = WordpieceBatch(
        strings=span_strings,
        input_ids=cast(Ints2d, input_ids),
        attention_mask=cast(Ints2d, attention_mask),
        lengths=[len(ids) for ids in span_ids],
        token_type_ids=cast(Optional[Ints2d], token_type_ids),
    )
    complete = [o for o in span_offsets if o is not None]
    return WindowPlan(
        wordpieces=wordpieces,
        offsets=complete if len(complete) == len(span_offsets) else None,
        window_ids=window_ids,
        window_mask=window_mask,
        window_type_ids=window_types,
        window_span=numpy.asarray(window_span, dtype="int64"),
        gather=gather,
        window_columns=columns,
        n_truncated_spans=n_truncated,
        n_dropped_pieces=n_dropped,
    )


def length_groups(
    lengths: Sequence[int], slack: float = 0.5, min_slack: int = 16
) -> list[list[int]]:
    """Window indices grouped by real length, shortest first, so each group pads little.

    A group takes windows up to ``first + max(min_slack, slack * first)`` pieces long, where
    ``first`` is its shortest window. Padding per window stays within that slack while the
    number of model calls stays small (a handful per batch): each call has a fixed cost, and
    on a busy machine every parallel op in it waits for the slowest thread, so many tiny calls
    lose what they save in padding.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    groups: list[list[int]] = []
    limit = -1
    for i in order:
        if not groups or lengths[i] > limit:
            groups.append([])
            limit = lengths[i] + max(min_slack, int(slack * lengths[i]))
        groups[-1].append(i)
    return groups
