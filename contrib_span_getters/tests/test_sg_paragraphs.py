"""Paragraph spans: split at blank lines, every token read once."""

from __future__ import annotations

from hypothesis import given, settings
from sg_strategies import VOCAB, assert_inside, covered, docs
from spacy.tokens import Doc
from trf_span_getters import configure_paragraph_spans


def texts(spans: list) -> list[str]:
    return [s.text_with_ws for s in spans]


def test_paragraphs_hand_derived() -> None:
    words = ["\n\n", "One", ".", "\n\n", "Two", "\n", "lines", ".", "\n\n\n", "Three", "\n\n"]
    spaces = [False] * len(words)
    doc = Doc(VOCAB, words=words, spaces=spaces)
    (spans,) = configure_paragraph_spans()([doc])
    assert texts(spans) == ["\n\nOne.\n\n", "Two\nlines.\n\n\n", "Three\n\n"]


def test_single_newlines_do_not_split_unless_asked() -> None:
    doc = Doc(VOCAB, words=["a", "\n", "b", "\n", "c"], spaces=[False] * 5)
    assert texts(configure_paragraph_spans()([doc])[0]) == ["a\nb\nc"]
    assert texts(configure_paragraph_spans(min_newlines=1)([doc])[0]) == ["a\n", "b\n", "c"]


def test_whitespace_only_and_empty_docs() -> None:
    blank = Doc(VOCAB, words=["\n\n", "\n\n"], spaces=[False, False])
    empty = Doc(VOCAB, words=[])
    spans = configure_paragraph_spans()([blank, empty])
    assert [(s.start, s.end) for s in spans[0]] == [(0, 2)]
    assert spans[1] == []


@settings(max_examples=50, deadline=None)
@given(doc=docs(sentences=False))
def test_paragraphs_partition_the_doc(doc: Doc) -> None:
    (spans,) = configure_paragraph_spans()([doc])
    assert_inside(doc, spans)
    assert covered(spans) == set(range(len(doc)))
    assert sum(len(s) for s in spans) == len(doc)
    assert "".join(texts(spans)) == doc.text
    for span in spans:
        # Each paragraph has text, and a blank line never sits between two of its words.
        words = [t.i for t in span if t.text.strip()]
        assert words or len(spans) == 1
        if words:
            inner = span.doc[words[0] : words[-1] + 1]
            for run in "".join(t.text if not t.text.strip() else "|" for t in inner).split("|"):
                assert run.count("\n") < 2
