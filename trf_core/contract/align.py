"""Tokens <-> wordpieces: which rows of a batch's hidden states belong to which spaCy token.

Backends hand us each wordpiece's character offsets in the doc's own text. Working from
characters, not strings, makes the alignment immune to what a tokenizer does to the text
(lower-casing, accent stripping, ``##`` prefixes, byte-level markers): a token aligns to exactly
the pieces whose characters overlap its characters.

Tokenizers that give no offsets (slow, pure-Python ones) can use :func:`align_by_strings`, which
aligns the strings themselves with spacy-alignments.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy
from numpy.typing import NDArray
from spacy.attrs import IDX, IS_SPACE, LENGTH, ORTH
from spacy.tokens import Doc, Span
from thinc.types import Ints2d, Ragged

from .arrays import offsets_from_lengths, positions_within, to_numpy

__all__ = ["align_batch", "align_by_strings"]

_Index = NDArray[Any]
"""Host-side integer arrays the alignment works on (always numpy: offsets come from the CPU)."""


def align_batch(
    spans: Sequence[Sequence[Span]],
    piece_offsets: Sequence[Ints2d],
    max_length: int,
    doc_lengths: Sequence[int],
) -> Ragged:
    """Align every token of every doc to the rows of its wordpieces.

    spans: the batch's spans, per doc.
    piece_offsets: one ``(n_pieces, 2)`` int array per span (spans flattened in doc order) of each
        piece's doc-absolute character offsets ``[start, end)``; a row with ``start < 0`` is a
        special token and aligns to nothing.
    max_length: the batch's padded piece count: piece ``j`` of flattened span ``k`` is row
        ``k * max_length + j``.
    doc_lengths: each doc's token count.

    Returns a Ragged over all tokens of all docs concatenated, ``lengths`` with ``sum(doc_lengths)``
    entries and ``dataXd`` the 1-D int32 row indices (thinc's ``.data`` is an ``(n, 1)`` view),
    each token's rows ascending. Whitespace tokens and tokens no piece touches get no rows; a token
    inside two overlapping spans gets rows in both. A piece is clipped to its span's characters,
    so a zero-width piece (or one outside its span) aligns to nothing.
    """
    _check_batch(spans, piece_offsets, max_length, doc_lengths)
    tokens, starts, ends, bounds = _batch_tokens(spans, doc_lengths)
    a, b, rows = _batch_pieces(piece_offsets, bounds, max_length)
    # Every doc's characters sit past the previous doc's (see _batch_tokens), and tokens never
    # overlap and come in text order, so both bounds are sorted across the whole batch: the
    # tokens a piece [a, b) overlaps are those with end > a and start < b, a contiguous range,
    # found for every piece of the batch with two binary searches.
    first = numpy.searchsorted(ends, a, side="right")
    last = numpy.searchsorted(starts, b, side="left")
    counts = numpy.maximum(last - first, 0)
    pair_rows = numpy.repeat(rows, counts)
    pair_pos = numpy.repeat(first, counts) + positions_within(counts)
    return _pairs_to_ragged([tokens[pair_pos]], [pair_rows], int(sum(doc_lengths)))


def _batch_tokens(
    spans: Sequence[Sequence[Span]], doc_lengths: Sequence[int]
) -> tuple[_Index, _Index, _Index, _Index]:
    """The batch's visible tokens (index in the batch, start and end character) and each
    span's start, end and shift, with every doc's characters moved by its shift past the
    previous doc's (one character of gap), so that no piece of one doc overlaps a token of
    another.

    Each doc gives one table of its tokens (:func:`_token_table`); which are visible and where
    they move is worked out once over the batch's tables joined, not per doc (a dozen numpy
    calls per doc were a third of the alignment's time on short docs).
    """
    tables: list[_Index] = []
    first_token: list[int] = []  # each table's first token's index in the batch
    shifts: list[int] = []
    bounds: list[tuple[int, int, int]] = []
    token_offset = shift = 0
    for doc_spans, n_tokens in zip(spans, doc_lengths):
        if doc_spans:
            table = _token_table(doc_spans[0].doc)
            tables.append(table)
            first_token.append(token_offset)
            shifts.append(shift)
            bounds.extend((s.start_char + shift, s.end_char + shift, shift) for s in doc_spans)
            # Past the doc's last token and every span: the next doc's characters start after.
            last_end = int(table[-1, 0] + table[-1, 1]) if len(table) else 0
            shift += max(last_end, *(s.end_char for s in doc_spans)) + 1
        token_offset += int(n_tokens)
    bounds_array = numpy.asarray(bounds, dtype="int64").reshape((-1, 3))
    if not tables:
        empty = numpy.zeros((0,), dtype="int64")
        return empty, empty, empty, bounds_array
    sizes = [len(t) for t in tables]
    joined = numpy.concatenate(tables)
    real = numpy.flatnonzero((joined[:, 2] == 0) & (joined[:, 1] > 0))
    table_starts = offsets_from_lengths(numpy.asarray(sizes, dtype="int64"))[:-1]
    moved_by = numpy.asarray(first_token, dtype="int64") - table_starts
    index = real + numpy.repeat(moved_by, sizes)[real]
    starts = joined[real, 0] + numpy.repeat(numpy.asarray(shifts, dtype="int64"), sizes)[real]
    return index, starts, starts + joined[real, 1], bounds_array


def _token_table(doc: Doc) -> _Index:
    """``(n_tokens, 3)`` int64: each token's start character, length, and 1 where it holds
    only whitespace.

    ``Token.is_space`` is only right when the vocab has a lexical getter for it; a doc built on
    a bare ``Vocab`` reports False for every token, so there each distinct token string is
    checked instead (once per string, not per token, and without rebuilding ``doc.text``).
    """
    if IS_SPACE in getattr(doc.vocab, "lex_attr_getters", {}):
        return doc.to_array([IDX, LENGTH, IS_SPACE]).astype("int64").reshape((-1, 3))
    attrs = doc.to_array([IDX, LENGTH, ORTH]).astype("uint64").reshape((-1, 3))
    orths, inverse = numpy.unique(attrs[:, 2], return_inverse=True)
    strings = doc.vocab.strings
    is_blank = numpy.asarray([strings[int(o)].isspace() for o in orths.tolist()], dtype="int64")
    table = attrs.astype("int64")
    table[:, 2] = is_blank[inverse.reshape((-1,))]
    return table


def _batch_pieces(
    offsets: Sequence[Ints2d], bounds: _Index, max_length: int
) -> tuple[_Index, _Index, _Index]:
    """Every real piece of the batch: start, end (moved with its doc by the shift in
    ``bounds``, and clipped to its span) and batch row."""
    arrays = [numpy.asarray(to_numpy(o), dtype="int64").reshape((-1, 2)) for o in offsets]
    counts = numpy.asarray([len(a) for a in arrays], dtype="int64")
    total = int(counts.sum())
    if not total:
        empty = numpy.zeros((0,), dtype="int64")
        return empty, empty, empty
    pieces = numpy.concatenate(arrays)
    span_of = numpy.repeat(numpy.arange(len(arrays)), counts)
    position = positions_within(counts)
    shift = bounds[span_of, 2]
    # Clip to the span: a tokenizer that reports a piece reaching past its span's text must not
    # pull tokens outside the span into it.
    a = numpy.maximum(pieces[:, 0] + shift, bounds[span_of, 0])
    b = numpy.minimum(pieces[:, 1] + shift, bounds[span_of, 1])
    keep = numpy.flatnonzero((pieces[:, 0] >= 0) & (b > a))
    rows = span_of[keep] * max_length + position[keep]
    return a[keep], b[keep], rows


def _pairs_to_ragged(token_parts: list[_Index], row_parts: list[_Index], n_tokens: int) -> Ragged:
    """Group (token, row) pairs by token, rows ascending within each token."""
    if token_parts:
        tokens = numpy.concatenate(token_parts)
        rows = numpy.concatenate(row_parts)
    else:
        tokens = numpy.zeros((0,), dtype="int64")
        rows = numpy.zeros((0,), dtype="int64")
    order = numpy.lexsort((rows, tokens))
    data = rows[order].astype("int32")
    lengths = numpy.bincount(tokens, minlength=n_tokens).astype("int32")
    return Ragged(data, lengths)  # type: ignore[arg-type]


def _check_batch(
    spans: Sequence[Sequence[Span]],
    piece_offsets: Sequence[Any],
    max_length: int,
    doc_lengths: Sequence[int],
) -> None:
    """Turn inconsistent backend input into an error that says which doc or span is wrong."""
    if len(spans) != len(doc_lengths):
        raise ValueError(
            f"align_batch got spans for {len(spans)} docs but doc_lengths for "
            f"{len(doc_lengths)}; pass one token count per doc"
        )
    n_spans = sum(len(s) for s in spans)
    if len(piece_offsets) != n_spans:
        raise ValueError(
            f"align_batch got piece offsets for {len(piece_offsets)} spans, but the docs hold "
            f"{n_spans} spans; pass one (n_pieces, 2) array per span, flattened in doc order"
        )
    if max_length < 0:
        raise ValueError(f"max_length must be >= 0, got {max_length}")
    k = 0
    for i, (doc_spans, n_tokens) in enumerate(zip(spans, doc_lengths)):
        for span in doc_spans:
            if span.doc is not doc_spans[0].doc:
                raise ValueError(
                    f"doc {i}'s spans come from different Doc objects; a span getter must "
                    "return, for each doc, spans of that doc"
                )
            shape = tuple(getattr(piece_offsets[k], "shape", ()))
            if len(shape) != 2 or shape[1] != 2:
                raise ValueError(
                    f"piece offsets of span {k} have shape {shape}; expected (n_pieces, 2) "
                    "character offsets [start, end)"
                )
            if shape[0] > max_length:
                raise ValueError(
                    f"span {k} has {shape[0]} pieces, more than max_length={max_length}; "
                    "max_length must be the batch's padded piece count"
                )
            k += 1
        if doc_spans and len(doc_spans[0].doc) != int(n_tokens):
            raise ValueError(
                f"doc {i} has {len(doc_spans[0].doc)} tokens but doc_lengths says {n_tokens}"
            )


def align_by_strings(
    spans: Sequence[Sequence[Span]],
    piece_strings: Sequence[Sequence[str]],
    max_length: int,
    doc_lengths: Sequence[int],
    special_tokens: Collection[str] = (),
) -> Ragged:
    """Like :func:`align_batch`, for tokenizers that report no character offsets.

    piece_strings: one list of piece strings per span (flattened in doc order), specials
        included; piece ``j`` of span ``k`` is row ``k * max_length + j``.
    special_tokens: strings of special pieces (``[CLS]``, ``<s>``, ...), which align to nothing.

    The strings are aligned with spacy-alignments, which normalises case and accents and skips
    characters it cannot match (``##``, ``Ġ``), so this is an approximation of the offsets path.
    """
    get_alignments = _get_alignments()
    _check_strings_batch(spans, piece_strings, doc_lengths)
    specials = set(special_tokens)
    token_parts: list[_Index] = []
    row_parts: list[_Index] = []
    k = 0
    token_offset = 0
    for doc_spans, n_tokens in zip(spans, doc_lengths):
        for span in doc_spans:
            pieces = list(piece_strings[k])
            if len(pieces) > max_length:
                raise ValueError(
                    f"span {k} has {len(pieces)} pieces, more than max_length={max_length}"
                )
            real = [j for j, p in enumerate(pieces) if p not in specials]
            tok2piece, _ = get_alignments([t.text for t in span], [pieces[j] for j in real])
            for t, piece_ids in enumerate(tok2piece):
                if span[t].text.isspace() or not piece_ids:
                    continue
                rows = numpy.asarray([k * max_length + real[j] for j in piece_ids], dtype="int64")
                token_parts.append(numpy.full(rows.shape, token_offset + span.start + t))
                row_parts.append(rows)
            k += 1
        token_offset += int(n_tokens)
    tokens_all = numpy.concatenate(token_parts) if token_parts else numpy.zeros((0,), "int64")
    rows_all = numpy.concatenate(row_parts) if row_parts else numpy.zeros((0,), "int64")
    # A token in two spans may meet the same row once per span; it cannot meet it twice
    # within one, but keep the result a set of rows all the same.
    if len(tokens_all):
        pairs = numpy.unique(numpy.stack([tokens_all, rows_all], axis=1), axis=0)
        tokens_all, rows_all = pairs[:, 0], pairs[:, 1]
    return _pairs_to_ragged([tokens_all], [rows_all], int(sum(doc_lengths)))


def _get_alignments() -> Any:
    """spacy-alignments' ``get_alignments``, or an error saying how to get it or do without."""
    try:
        from spacy_alignments import get_alignments
    except ImportError as err:
        raise ImportError(
            "align_by_strings needs the spacy-alignments package, which trf-core does not "
            "require: `pip install spacy-alignments` (the extra 'trf-core[alignments]'), or use "
            "a tokenizer that returns offsets (a 'fast' Hugging Face tokenizer) with align_batch"
        ) from err
    return get_alignments


def _check_strings_batch(
    spans: Sequence[Sequence[Span]], piece_strings: Sequence[Any], doc_lengths: Sequence[int]
) -> None:
    n_spans = sum(len(s) for s in spans)
    if len(piece_strings) != n_spans:
        raise ValueError(
            f"align_by_strings got piece strings for {len(piece_strings)} spans, but the docs "
            f"hold {n_spans} spans; pass one list of strings per span, flattened in doc order"
        )
    if len(spans) != len(doc_lengths):
        raise ValueError(
            f"align_by_strings got spans for {len(spans)} docs but doc_lengths for "
            f"{len(doc_lengths)}; pass one token count per doc"
        )
