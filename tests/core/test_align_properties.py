"""DESIGN.md's alignment invariants, checked on adversarial docs and span sets.

Two tokenizers feed align_batch: a random one (cuts each span's text anywhere, pieces may hold
whitespace, specials anywhere) and the toy backend's. The expected alignment is computed by brute
force, character by character, independently of align_batch's binary searches.
"""

from __future__ import annotations

import importlib.util
import itertools
from typing import Any

import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, Span

from trf_core.contract.align import align_batch, align_by_strings
from trf_core.testing import strategies as trf_st
from trf_core.testing.toy_backend import toy_tokenize

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def random_piece_offsets(draw: Any, span: Span) -> numpy.ndarray:
    """Cut a span's text at random points; drop some all-whitespace pieces; add specials."""
    a, b = span.start_char, span.end_char
    cuts = sorted(set(draw(st.lists(st.integers(a, b), max_size=max(0, b - a)))) | {a, b})
    text = span.doc.text
    rows: list[tuple[int, int]] = []
    for start, end in itertools.pairwise(cuts):
        if end <= start:
            continue
        if text[start:end].isspace() and draw(st.booleans()):
            continue  # most tokenizers emit no piece for whitespace
        if draw(st.integers(0, 6)) == 0:
            rows.append((-1, -1))  # a special token in the middle
        rows.append((start, end))
    return numpy.asarray([(-1, -1), *rows, (-1, -1)], dtype="int32").reshape((-1, 2))


@st.composite
def batches_with_random_pieces(draw: Any, doc_strategy: Any = None) -> tuple:
    pairs = draw(trf_st.batches_of_docs(doc_strategy))
    spans = [spans for _, spans in pairs]
    offsets = [draw(random_piece_offsets(span)) for doc_spans in spans for span in doc_spans]
    return [doc for doc, _ in pairs], spans, offsets


def brute_force_rows(
    docs: list[Doc], spans: list[list[Span]], offsets: list[numpy.ndarray], max_length: int
) -> list[list[int]]:
    """Each token's rows: every non-special piece sharing a character with a non-space token."""
    expected: list[list[int]] = []
    k0 = 0
    for doc, doc_spans in zip(docs, spans):
        for token in doc:
            rows = []
            chars = set(range(token.idx, token.idx + len(token.text)))
            for k, span in enumerate(doc_spans):
                for j, (a, b) in enumerate(offsets[k0 + k].tolist()):
                    if a < 0 or token.text.isspace():
                        continue
                    piece_chars = set(range(max(a, span.start_char), min(b, span.end_char)))
                    if chars & piece_chars:
                        rows.append((k0 + k) * max_length + j)
            expected.append(sorted(rows))
        k0 += len(doc_spans)
    return expected


def rows_of(align: Any) -> list[list[int]]:
    data = numpy.asarray(align.dataXd).ravel().tolist()
    out, i = [], 0
    for n in numpy.asarray(align.lengths).tolist():
        out.append(data[i : i + n])
        i += n
    return out


def check_invariants(
    docs: list[Doc], spans: list[list[Span]], offsets: list[numpy.ndarray], max_length: int
) -> None:
    align = align_batch(spans, offsets, max_length, [len(doc) for doc in docs])
    got = rows_of(align)
    assert len(got) == sum(len(doc) for doc in docs)
    assert got == brute_force_rows(docs, spans, offsets, max_length)

    tokens = [token for doc in docs for token in doc]
    first_span = numpy.cumsum([0] + [len(s) for s in spans])
    for t, (token, rows) in enumerate(zip(tokens, got)):
        assert rows == sorted(set(rows)), "a token's rows are in order, each once"
        for row in rows:
            k, j = divmod(row, max_length)
            a, b = offsets[k][j].tolist()
            assert a >= 0, "special tokens align to nothing"
            assert max(a, token.idx) < min(b, token.idx + len(token.text)), (
                f"token {t} aligned to piece {j} of span {k}, which does not overlap it"
            )

    # Every non-whitespace character a piece covers belongs to a token aligned to that piece.
    t0 = 0
    for d, (doc, doc_spans) in enumerate(zip(docs, spans)):
        char_to_token = {c: tok.i for tok in doc for c in range(tok.idx, tok.idx + len(tok))}
        for k in range(len(doc_spans)):
            row_base = (first_span[d] + k) * max_length
            for j, (a, b) in enumerate(offsets[first_span[d] + k].tolist()):
                for c in range(max(a, 0), b):
                    if doc.text[c].isspace() or c not in char_to_token:
                        continue
                    assert row_base + j in got[t0 + char_to_token[c]]
        # A token inside two overlapping spans that both give it a piece has rows in both.
        for tok in doc:
            holders = {k for k, span in enumerate(doc_spans) if span.start <= tok.i < span.end}
            spans_seen = {row // max_length - first_span[d] for row in got[t0 + tok.i]}
            assert spans_seen <= holders, "a token aligns only to pieces of spans holding it"
        t0 += len(doc)


@SETTINGS
@given(batches_with_random_pieces())
def test_random_tokenizer_word_docs(batch: tuple) -> None:
    docs, spans, offsets = batch
    max_length = max((len(o) for o in offsets), default=0)
    check_invariants(docs, spans, offsets, max_length)


@SETTINGS
@given(batches_with_random_pieces(trf_st.docs(spacy.blank("en").make_doc)), st.integers(0, 3))
def test_random_tokenizer_spacy_tokenized_text(batch: tuple, extra_padding: int) -> None:
    docs, spans, offsets = batch
    max_length = max((len(o) for o in offsets), default=0) + extra_padding
    check_invariants(docs, spans, offsets, max_length)


@SETTINGS
@given(trf_st.batches_of_docs(), st.integers(3, 9))
def test_toy_tokenizer_covers_every_non_space_token_of_each_span(
    pairs: list, max_length: int
) -> None:
    docs = [doc for doc, _ in pairs]
    windows = [[w for span in spans for w in toy_tokenize(span, max_length)] for _, spans in pairs]
    spans = [[w.span for w in doc_windows] for doc_windows in windows]
    offsets = [w.offsets for doc_windows in windows for w in doc_windows]
    check_invariants(docs, spans, offsets, max_length)
    # The toy covers every non-whitespace character, so each non-space token of a span gets
    # rows in every window holding one of its characters, overlapping spans included.
    got = rows_of(align_batch(spans, offsets, max_length, [len(d) for d in docs]))
    t0 = 0
    for doc, (_, orig_spans) in zip(docs, pairs):
        for tok in doc:
            if not tok.text.strip():
                continue
            holders = [span for span in orig_spans if span.start <= tok.i < span.end]
            windows_seen = {row // max_length for row in got[t0 + tok.i]}
            assert len(windows_seen) >= len(holders), (
                f"token {tok.text!r} lies in {len(holders)} spans but aligns to "
                f"{len(windows_seen)} windows"
            )
        t0 += len(doc)


def test_token_in_two_overlapping_spans_aligns_to_both_with_the_toy_tokenizer() -> None:
    doc = spacy.blank("en").make_doc("The quick brown fox jumps")
    spans = [doc[0:3], doc[1:5]]
    windows = [w for span in spans for w in toy_tokenize(span, 16)]
    offsets = [w.offsets for w in windows]
    got = rows_of(align_batch([[w.span for w in windows]], offsets, 16, [len(doc)]))
    for i in (1, 2):  # "quick", "brown" lie in both spans
        assert {row // 16 for row in got[i]} == {0, 1}
    assert {row // 16 for row in got[0]} == {0}
    assert {row // 16 for row in got[4]} == {1}


def _tiny_bert_tokenizer() -> Any:
    """A real uncased, accent-stripping WordPiece tokenizer, trained here on a few words."""
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, normalizers, pre_tokenizers, processors, trainers

    tok = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=150, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]"]
    )
    tok.train_from_iterator([" ".join(trf_st.FRAGMENTS)] * 3, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[(s, tok.token_to_id(s)) for s in ("[CLS]", "[SEP]")],
    )
    return tok


@pytest.fixture(scope="module")
def bert_tokenizer() -> Any:
    return _tiny_bert_tokenizer()


@SETTINGS
@given(batch=trf_st.batches_of_docs(trf_st.docs(spacy.blank("en").make_doc)))
def test_real_lowercasing_accent_stripping_tokenizer(bert_tokenizer: Any, batch: list) -> None:
    """Offsets as a backend builds them: span-relative + start_char, specials to -1."""
    docs = [doc for doc, _ in batch]
    spans = [spans for _, spans in batch]
    offsets = []
    for doc_spans in spans:
        for span in doc_spans:
            enc = bert_tokenizer.encode(span.text)
            rows = numpy.asarray(enc.offsets, dtype="int32").reshape((-1, 2)) + span.start_char
            rows[numpy.asarray(enc.special_tokens_mask, dtype=bool)] = -1
            offsets.append(rows)
    max_length = max((len(o) for o in offsets), default=0)
    check_invariants(docs, spans, offsets, max_length)


_ascii_docs = st.lists(
    st.tuples(st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True), st.booleans()),
    min_size=1,
    max_size=12,
).map(
    lambda pairs: Doc(
        trf_st.shared_vocab(), words=[w for w, _ in pairs], spaces=[s for _, s in pairs]
    )
)


@pytest.mark.skipif(
    importlib.util.find_spec("spacy_alignments") is None,
    reason="spacy-alignments is not installed (pip install 'trf-core[alignments]')",
)
@SETTINGS
@given(trf_st.batches_of_docs(_ascii_docs), st.integers(3, 8))
def test_align_by_strings_agrees_with_offsets_on_plain_words(pairs: list, max_length: int) -> None:
    """Where strings are unambiguous (letters only), aligning strings equals aligning offsets."""
    docs = [doc for doc, _ in pairs]
    windows = [[w for span in spans for w in toy_tokenize(span, max_length)] for _, spans in pairs]
    spans = [[w.span for w in doc_windows] for doc_windows in windows]
    lengths = [len(doc) for doc in docs]
    by_offsets = align_batch(spans, [w.offsets for ws in windows for w in ws], max_length, lengths)
    by_strings = align_by_strings(
        spans,
        [w.strings for ws in windows for w in ws],
        max_length,
        lengths,
        special_tokens={"[CLS]", "[SEP]"},
    )
    assert rows_of(by_strings) == rows_of(by_offsets)
