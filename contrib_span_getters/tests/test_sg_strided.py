"""Strided spans: spacy-transformers' window/stride semantics, on hand-derived examples."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sg_strategies import VOCAB, assert_inside, covered
from spacy.tokens import Doc
from trf_span_getters import configure_strided_spans, get_strided_spans, strided_bounds


def make_doc(n: int) -> Doc:
    return Doc(VOCAB, words=[f"w{i}" for i in range(n)])


# Worked out by hand from the rule: windows at 0, s, 2s, ... (at most n // s of them), stop after
# the first that reaches the end, else add a tail span from the next start to the end.
HAND_DERIVED = [
    # (window, stride, n_tokens, bounds); the first three are spacy-transformers' own examples
    (4, 3, 6, [(0, 4), (3, 6)]),
    (4, 4, 6, [(0, 4), (4, 6)]),
    (4, 2, 6, [(0, 4), (2, 6)]),
    (4, 3, 1, [(0, 1)]),
    (4, 3, 4, [(0, 4)]),
    (3, 3, 9, [(0, 3), (3, 6), (6, 9)]),
    (3, 2, 0, []),
    (2, 3, 7, [(0, 2), (3, 5), (6, 7)]),  # stride > window: tokens 2 and 5 unread
    (2, 5, 4, [(0, 4)]),  # shorter than stride: one span, even though longer than window
    (128, 96, 300, [(0, 128), (96, 224), (192, 300)]),
    (5, 5, 11, [(0, 5), (5, 10), (10, 11)]),
]


@pytest.mark.parametrize(("window", "stride", "n_tokens", "expected"), HAND_DERIVED)
def test_strided_matches_hand_derived(
    window: int, stride: int, n_tokens: int, expected: list[tuple[int, int]]
) -> None:
    doc = make_doc(n_tokens)
    (spans,) = get_strided_spans([doc], window, stride)
    assert [(s.start, s.end) for s in spans] == expected
    assert strided_bounds(n_tokens, window, stride) == expected


@settings(max_examples=50, deadline=None)
@given(
    n_tokens=st.integers(0, 60),
    window=st.integers(1, 12),
    stride=st.integers(1, 12),
)
def test_strided_structure(n_tokens: int, window: int, stride: int) -> None:
    """Starts step by ``stride``; only the last span may differ from ``window`` in length."""
    doc = make_doc(n_tokens)
    (spans,) = get_strided_spans([doc], window, stride)
    assert_inside(doc, spans)
    if n_tokens == 0:
        assert spans == []
        return
    assert [s.start for s in spans] == [k * stride for k in range(len(spans))]
    assert all(len(s) == window for s in spans[:-1])
    # The last span ends within one stride of the doc's end (at the end when windows overlap).
    assert n_tokens - stride < spans[-1].end <= n_tokens
    if stride <= window:
        assert spans[-1].end == n_tokens
        assert covered(spans) == set(range(n_tokens))


@settings(max_examples=30, deadline=None)
@given(n_tokens=st.integers(1, 60), window=st.integers(1, 12), data=st.data())
def test_strided_spans_cover_when_stride_at_most_window(
    n_tokens: int, window: int, data: st.DataObject
) -> None:
    stride = data.draw(st.integers(1, window))
    doc = make_doc(n_tokens)
    (spans,) = configure_strided_spans(window, stride)([doc])
    assert covered(spans) == set(range(n_tokens))
    # Consecutive windows overlap by exactly window - stride tokens (the tail may be shorter).
    for a, b in itertools.pairwise(spans):
        assert a.end - b.start == min(window - stride, a.end - b.start)


def test_strided_batch_keeps_docs_apart() -> None:
    docs = [make_doc(6), make_doc(0), make_doc(2)]
    spans = configure_strided_spans(4, 3)(docs)
    assert [[(s.start, s.end) for s in doc_spans] for doc_spans in spans] == [
        [(0, 4), (3, 6)],
        [],
        [(0, 2)],
    ]
    assert spans[2][0].doc is docs[2]


@pytest.mark.parametrize(("window", "stride"), [(0, 1), (4, 0), (-1, 2), (4, 1.5)])
def test_strided_bad_settings_say_which(window: int, stride: int) -> None:
    with pytest.raises(ValueError, match=r"window|stride"):
        configure_strided_spans(window, stride)


def test_strided_warns_when_tokens_would_be_skipped() -> None:
    with pytest.warns(UserWarning, match="never reads"):
        configure_strided_spans(2, 3)


def test_getter_rejects_text_instead_of_docs() -> None:
    getter = configure_strided_spans(4, 3)
    with pytest.raises(TypeError, match="make_doc"):
        getter(["some text"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list"):
        getter(make_doc(3))  # type: ignore[arg-type]
