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
``model_input_names``). Where a fast tokenizer's output carries ``encodings`` (the Rust
``tokenizers.Encoding`` objects), offsets and special-token flags are read from those instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any, Optional, cast

import numpy
from spacy.tokens import Span
from thinc.types import Ints2d

from ..contract.arrays import positions_within
from ..contract.data import WordpieceBatch


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


def tokenize_spans(
    tokenizer: Any, spans: Sequence[Span], texts: Sequence[str] | None = None
) -> list[SpanPieces]:
    """Every span's pieces, in one batched call.

    A fast tokenizer also gives doc-absolute character offsets (specials get -1); a tokenizer
    without offsets leaves ``offsets`` None, and the backend aligns its piece strings instead.
    ``texts``: the spans' texts when the caller has them (``Span.text`` rebuilds a span's text
    from its tokens each time it is read).
    """
    if not spans:
        return []
    texts = [span.text for span in spans] if texts is None else list(texts)
    if getattr(tokenizer, "is_fast", False):
        # Only the input ids as Python lists: everything else is read from the tokenizer's own
        # encodings, the whole batch's offsets and special-token flags in one numpy array each.
        encoded = tokenizer(
            texts,
            add_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            truncation=False,
            padding=False,
            verbose=False,
        )
        encodings = getattr(encoded, "encodings", None)
        if encodings is not None and len(encodings) == len(spans):
            return _from_encodings(tokenizer, spans, encodings)
    return _from_python_lists(tokenizer, spans, texts)


def _from_encodings(tokenizer: Any, spans: Sequence[Span], encodings: Any) -> list[SpanPieces]:
    """Spans' pieces from a fast tokenizer's ``tokenizers.Encoding`` objects: what
    :func:`_from_python_lists` gives, without a Python list and a numpy conversion per span and
    output."""
    lengths = [len(encoding) for encoding in encodings]
    total = sum(lengths)
    offsets = numpy.fromiter(
        chain.from_iterable(chain.from_iterable(e.offsets for e in encodings)),
        dtype="int64",
        count=2 * total,
    ).reshape((total, 2))
    special = numpy.fromiter(
        chain.from_iterable(e.special_tokens_mask for e in encodings), dtype=bool, count=total
    )
    starts = numpy.asarray([span.start_char for span in spans], dtype="int64")
    offsets += numpy.repeat(starts, lengths)[:, None]
    offsets[special] = -1
    ends = list(accumulate(lengths))
    with_type_ids = _wants_type_ids(tokenizer)
    # The encodings' own token strings: what convert_ids_to_tokens gives, without a vocab
    # lookup per piece (about 40 ms of 130-155 a pass over the EWT test sentences).
    return [
        SpanPieces(
            ids=encoding.ids,
            type_ids=encoding.type_ids if with_type_ids else None,
            offsets=offsets[end - n : end],
            special=special[end - n : end],
            strings=encoding.tokens,
        )
        for encoding, n, end in zip(encodings, lengths, ends)
    ]


def _from_python_lists(tokenizer: Any, spans: Sequence[Span], texts: list[str]) -> list[SpanPieces]:
    """Spans' pieces from the tokenizer's call interface alone (slow tokenizers, or a fast one
    whose output carries no encodings)."""
    with_offsets = bool(getattr(tokenizer, "is_fast", False))
    options = {"return_offsets_mapping": True} if with_offsets else {}
    encoded = tokenizer(
        texts,
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
    spans: list[SpanPieces] = []
    windows: list[_Window] = []
    # per span: (window, column) each of its positions is read from, as parallel arrays
    sources: list[tuple[numpy.ndarray, numpy.ndarray]] = []
    n_truncated = n_dropped = 0
    for k, sp in enumerate(pieces):
        prefix, suffix = _affixes(sp.special)
        capacity = _capacity(window, prefix + suffix)
        n_content = len(sp.ids) - prefix - suffix
        if truncate and n_content > capacity:
            sp = _truncated(sp, prefix, suffix, capacity)
            n_truncated += 1
            n_dropped += n_content - capacity
        spans.append(sp)
        sources.append(_add_windows(windows, k, sp, prefix, suffix, capacity, stride))
    plan = _assemble(spans, windows, sources, 0 if pad_id is None else int(pad_id))
    plan.n_truncated_spans = n_truncated
    plan.n_dropped_pieces = n_dropped
    return plan


@dataclass
class _Window:
    """One model input: a span's specials around a stretch of its content."""

    ids: list[int]
    type_ids: list[int] | None
    positions: list[int]
    """The span position each column holds."""
    span: int


def _capacity(window: int, n_specials: int) -> int:
    """How many content pieces fit in a window beside the span's special pieces."""
    if window - n_specials < 1:
        raise ValueError(
            f"window = {window} leaves no room for content between the tokenizer's "
            f"{n_specials} special tokens; use a window of at least {n_specials + 1}"
        )
    return window - n_specials


def _truncated(sp: SpanPieces, prefix: int, suffix: int, capacity: int) -> SpanPieces:
    """The span cut to ``capacity`` content pieces, its closing specials kept."""
    n = len(sp.ids)
    keep = [*range(prefix + capacity), *range(n - suffix, n)]
    return SpanPieces(
        ids=[sp.ids[i] for i in keep],
        type_ids=None if sp.type_ids is None else [sp.type_ids[i] for i in keep],
        offsets=None if sp.offsets is None else sp.offsets[keep],
        special=sp.special[keep],
        strings=[sp.strings[i] for i in keep],
    )


def _add_windows(
    windows: list[_Window],
    span: int,
    sp: SpanPieces,
    prefix: int,
    suffix: int,
    capacity: int,
    stride: int,
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Append span ``span``'s windows; return, per position, the (window, column) to read."""
    n = len(sp.ids)
    n_content = n - prefix - suffix
    first_window = len(windows)
    if n_content <= capacity:  # the span fits one window: it is its own window, in order
        windows.append(_Window(list(sp.ids), sp.type_ids, list(range(n)), span))
        return numpy.full((n,), first_window, dtype="int64"), numpy.arange(n, dtype="int64")
    step = min(stride if stride > 0 else max(1, (3 * capacity) // 4), capacity)
    starts = _window_starts(n_content, capacity, step)
    for start in starts:
        end = min(start + capacity, n_content)
        chosen = [*range(prefix), *range(prefix + start, prefix + end), *range(n - suffix, n)]
        types = None if sp.type_ids is None else [sp.type_ids[i] for i in chosen]
        windows.append(_Window([sp.ids[i] for i in chosen], types, chosen, span))
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
    src_window[n - suffix :] = last
    src_column[n - suffix :] = len(windows[last].ids) - suffix + numpy.arange(suffix)
    return src_window, src_column


def _assemble(
    spans: list[SpanPieces],
    windows: list[_Window],
    sources: list[tuple[numpy.ndarray, numpy.ndarray]],
    pad: int,
) -> WindowPlan:
    """The padded span and window arrays, and the indices between them."""
    span_width = max((len(sp.ids) for sp in spans), default=0)
    window_width = max((len(w.ids) for w in windows), default=0)
    has_types = bool(spans) and all(sp.type_ids is not None for sp in spans)
    input_ids, attention_mask = _pad_rows([sp.ids for sp in spans], span_width, pad, "int32")
    window_ids, window_mask = _pad_rows([w.ids for w in windows], window_width, pad, "int64")
    token_type_ids = window_types = None
    if has_types:
        token_type_ids = _pad_rows([sp.type_ids or [] for sp in spans], span_width, 0, "int32")[0]
        window_types = _pad_rows([w.type_ids or [] for w in windows], window_width, 0, "int64")[0]
    # Every span position reads (window, column) from ``sources``: laid into the span rows'
    # real positions in one assignment (the mask's row-major order is the spans' order).
    gather_rows = numpy.full((len(spans), span_width), -1, dtype="int64")
    if sources:
        src_window = numpy.concatenate([window for window, _ in sources])
        src_column = numpy.concatenate([column for _, column in sources])
        gather_rows[attention_mask.astype(bool)] = src_window * window_width + src_column
    columns = numpy.full((len(windows), span_width), window_width, dtype="int64")
    if windows:
        held = [len(w.positions) for w in windows]
        rows = numpy.repeat(numpy.arange(len(windows)), held)
        positions = numpy.fromiter(
            chain.from_iterable(w.positions for w in windows), dtype="int64", count=sum(held)
        )
        columns[rows, positions] = positions_within(held)  # each position's column in its window
    offsets = [sp.offsets for sp in spans if sp.offsets is not None]
    return WindowPlan(
        wordpieces=WordpieceBatch(
            strings=[sp.strings for sp in spans],
            input_ids=cast(Ints2d, input_ids),
            attention_mask=cast(Ints2d, attention_mask),
            lengths=[len(sp.ids) for sp in spans],
            token_type_ids=cast(Optional[Ints2d], token_type_ids),
        ),
        offsets=offsets if len(offsets) == len(spans) else None,
        window_ids=window_ids,
        window_mask=window_mask,
        window_type_ids=window_types,
        window_span=numpy.asarray([w.span for w in windows], dtype="int64"),
        gather=gather_rows.reshape((-1,)),
        window_columns=columns,
    )


def _pad_rows(
    rows: list[list[int]], width: int, fill: int, dtype: str
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``rows`` padded with ``fill`` to ``width``, and the mask of their real entries.

    One assignment through the mask (row-major, so the rows' entries in order) instead of one
    per row: a batch of sentences has thousands of short rows.
    """
    lengths = numpy.fromiter((len(row) for row in rows), dtype="int64", count=len(rows))
    real = numpy.arange(width)[None, :] < lengths[:, None]
    array = numpy.full((len(rows), width), fill, dtype=dtype)
    array[real] = numpy.fromiter(chain.from_iterable(rows), dtype=dtype, count=int(lengths.sum()))
    return array, real.astype(dtype)


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
