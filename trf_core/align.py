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
from spacy.attrs import IDX, LENGTH
from spacy.tokens import Doc, Span
from thinc.types import Ints2d, Ragged

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
    entries and ``data`` the row indices, each token's rows ascending. Whitespace tokens and tokens
    no piece touches get no rows; a token inside two overlapping spans gets rows in both.
    """
    _check_batch(spans, piece_offsets, max_length, doc_lengths)
    n_tokens_total = int(sum(doc_lengths))
    token_parts: list[_Index] = []
    row_parts: list[_Index] = []
    span_index = 0
    token_offset = 0
    for doc_spans, n_tokens in zip(spans, doc_lengths):
        n_spans = len(doc_spans)
        if n_spans:
            doc = doc_spans[0].doc
            tokens, rows = _align_doc(
                doc,
                doc_spans,
                piece_offsets[span_index : span_index + n_spans],
                span_index,
                max_length,
            )
            token_parts.append(tokens + token_offset)
            row_parts.append(rows)
        span_index += n_spans
        token_offset += int(n_tokens)
    return _pairs_to_ragged(token_parts, row_parts, n_tokens_total)


def _align_doc(
    doc: Doc,
    doc_spans: Sequence[Span],
    offsets: Sequence[Ints2d],
    first_span: int,
    max_length: int,
) -> tuple[_Index, _Index]:
    """(token index, row) pairs of one doc, found with two binary searches per piece."""
    starts, ends, rows = _doc_pieces(doc_spans, offsets, first_span, max_length)
    if not len(doc) or not len(starts):
        return numpy.zeros((0,), dtype="int64"), numpy.zeros((0,), dtype="int64")
    attrs = doc.to_array([IDX, LENGTH]).astype("int64").reshape((-1, 2))
    real = numpy.flatnonzero(_visible_chars(doc.text, attrs[:, 0], attrs[:, 0] + attrs[:, 1]) > 0)
    tok_start = attrs[real, 0]
    tok_end = tok_start + attrs[real, 1]
    # Tokens never overlap and come in text order, so both bounds are sorted: the tokens a piece
    # [a, b) overlaps are those with end > a and start < b, a contiguous range.
    first = numpy.searchsorted(tok_end, starts, side="right")
    last = numpy.searchsorted(tok_start, ends, side="left")
    counts = numpy.maximum(last - first, 0)
    total = int(counts.sum())
    pair_rows = numpy.repeat(rows, counts)
    group_starts = numpy.repeat(numpy.cumsum(counts) - counts, counts)
    pair_pos = numpy.repeat(first, counts) + (numpy.arange(total) - group_starts)
    return real[pair_pos], pair_rows


# Every whitespace code point lies below U+3001; listing them once keeps the check vectorised.
_WHITESPACE = numpy.asarray([c for c in range(0x3001) if chr(c).isspace()], dtype="uint32")


def _visible_chars(text: str, starts: _Index, ends: _Index) -> _Index:
    """How many non-whitespace characters each ``[start, end)`` range of ``text`` holds.

    Whitespace tokens are found from the text itself rather than ``Token.is_space``, which a doc
    built on a bare ``Vocab`` (no lexical attribute getters) reports as False for every token.
    """
    codes = numpy.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    visible = numpy.zeros((len(codes) + 1,), dtype="int64")
    numpy.cumsum(~numpy.isin(codes, _WHITESPACE), out=visible[1:])
    return visible[ends] - visible[starts]


def _doc_pieces(
    doc_spans: Sequence[Span],
    offsets: Sequence[Ints2d],
    first_span: int,
    max_length: int,
) -> tuple[_Index, _Index, _Index]:
    """Every real piece of a doc's spans: start, end (clipped to its span) and batch row."""
    starts: list[_Index] = []
    ends: list[_Index] = []
    rows: list[_Index] = []
    for k, (span, span_offsets) in enumerate(zip(doc_spans, offsets)):
        arr = numpy.asarray(_to_numpy(span_offsets), dtype="int64").reshape((-1, 2))
        # Clip to the span: a tokenizer that reports a piece reaching past its span's text must
        # not pull tokens outside the span into it.
        a = numpy.maximum(arr[:, 0], span.start_char)
        b = numpy.minimum(arr[:, 1], span.end_char)
        keep = numpy.flatnonzero((arr[:, 0] >= 0) & (b > a))
        starts.append(a[keep])
        ends.append(b[keep])
        rows.append((first_span + k) * max_length + keep)
    if not starts:
        empty = numpy.zeros((0,), dtype="int64")
        return empty, empty, empty
    return numpy.concatenate(starts), numpy.concatenate(ends), numpy.concatenate(rows)


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
    try:
        from spacy_alignments import get_alignments
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "align_by_strings needs the spacy-alignments package, which trf-core does not "
            "require: `pip install spacy-alignments`, or use a tokenizer that returns offsets "
            "(a 'fast' Hugging Face tokenizer) with align_batch"
        ) from err
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
            token_texts = [t.text for t in span]
            tok2piece, _ = get_alignments(token_texts, [pieces[j] for j in real])
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


def _to_numpy(array: Any) -> Any:
    return array.get() if hasattr(array, "get") else array
