"""Sentence-based getters: sentences, sentences with context, packed sentences."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sg_strategies import VOCAB, assert_inside, covered, docs
from spacy.tokens import Doc
from trf_span_getters import (
    configure_get_sent_spans,
    configure_packed_sent_spans,
    configure_sent_context_spans,
    get_sent_spans,
)


def sentenced(lengths: list[int]) -> Doc:
    """A doc whose sentences have the given token counts."""
    words = [f"w{i}" for i in range(sum(lengths))]
    starts = [False] * len(words)
    position = 0
    for n in lengths:
        starts[position] = True
        position += n
    return Doc(VOCAB, words=words, sent_starts=starts)


def bounds(spans: list) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in spans]


def test_sent_spans_are_the_sentences() -> None:
    doc = sentenced([2, 3, 1])
    assert bounds(get_sent_spans([doc])[0]) == [(0, 2), (2, 5), (5, 6)]
    assert configure_get_sent_spans()([doc]) == get_sent_spans([doc])


@pytest.mark.parametrize(
    "getter",
    [
        configure_get_sent_spans(),
        configure_sent_context_spans(1),
        configure_packed_sent_spans(10),
    ],
)
def test_missing_sentence_boundaries_name_the_fix(getter) -> None:  # type: ignore[no-untyped-def]
    doc = Doc(VOCAB, words=["no", "boundaries", "here"])
    with pytest.raises(ValueError, match="sentencizer") as info:
        getter([doc])
    assert "E030" not in str(info.value)
    assert "senter" in str(info.value)


def test_one_token_and_empty_docs_need_no_sentencizer() -> None:
    one = Doc(VOCAB, words=["hi"])
    empty = Doc(VOCAB, words=[])
    assert bounds(get_sent_spans([one, empty])[0]) == [(0, 1)]
    assert get_sent_spans([one, empty])[1] == []


def test_sent_context_hand_derived() -> None:
    doc = sentenced([2, 3, 1, 4])  # sentences (0,2) (2,5) (5,6) (6,10)
    (spans,) = configure_sent_context_spans(1)([doc])
    assert bounds(spans) == [(0, 5), (0, 6), (2, 10), (5, 10)]
    (spans,) = configure_sent_context_spans(2)([doc])
    assert bounds(spans) == [(0, 6), (0, 10), (0, 10), (2, 10)]
    (spans,) = configure_sent_context_spans(0)([doc])
    assert bounds(spans) == [(0, 2), (2, 5), (5, 6), (6, 10)]


def test_packed_hand_derived() -> None:
    doc = sentenced([2, 3, 1, 4, 9, 1])
    # 2+3 = 5 fits; +1 = 6 > 5 -> new span; 1+4 = 5 fits; 9 > 5 is cut 5+4; 1 alone.
    (spans,) = configure_packed_sent_spans(5)([doc])
    assert bounds(spans) == [(0, 5), (5, 10), (10, 15), (15, 19), (19, 20)]


@settings(max_examples=40, deadline=None)
@given(doc=docs(), context=st.integers(0, 3))
def test_sent_context_covers_and_centres(doc: Doc, context: int) -> None:
    (spans,) = configure_sent_context_spans(context)([doc])
    sents = list(doc.sents)
    assert len(spans) == len(sents)
    assert_inside(doc, spans)
    assert covered(spans) == set(range(len(doc)))
    for i, (span, sent) in enumerate(zip(spans, sents)):
        assert span.start <= sent.start and sent.end <= span.end
        assert span.start == sents[max(0, i - context)].start
        assert span.end == sents[min(len(sents) - 1, i + context)].end


@settings(max_examples=50, deadline=None)
@given(doc=docs(), max_tokens=st.integers(1, 8))
def test_packed_partitions_within_budget(doc: Doc, max_tokens: int) -> None:
    (spans,) = configure_packed_sent_spans(max_tokens)([doc])
    assert_inside(doc, spans)
    # A partition: consecutive, no overlap, every token once.
    assert [s.start for s in spans] == [0, *(s.end for s in spans[:-1])][: len(spans)]
    assert (spans[-1].end if spans else 0) == len(doc)
    assert all(len(s) <= max_tokens for s in spans)
    sents = list(doc.sents)
    starts = {s.start for s in sents}
    long_sentence_tokens = {i for s in sents if len(s) > max_tokens for i in range(s.start, s.end)}
    for a, b in itertools.pairwise(spans):
        if b.start in long_sentence_tokens or a.start in long_sentence_tokens:
            continue
        # Whole sentences only, and packing is greedy: b's first sentence did not fit into a.
        assert b.start in starts
        first_of_b = next(s for s in sents if s.start == b.start)
        assert len(a) + len(first_of_b) > max_tokens


@settings(max_examples=30, deadline=None)
@given(doc=docs())
def test_sent_spans_cover(doc: Doc) -> None:
    (spans,) = get_sent_spans([doc])
    assert_inside(doc, spans)
    assert covered(spans) == set(range(len(doc)))


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_context_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="context"):
        configure_sent_context_spans(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -3, "8"])
def test_bad_max_tokens_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        configure_packed_sent_spans(bad)  # type: ignore[arg-type]
