"""Hypothesis strategies for the span-getter tests: small docs, with or without sentences."""

from __future__ import annotations

from hypothesis import strategies as st
from spacy.tokens import Doc
from spacy.vocab import Vocab

VOCAB = Vocab()
WORDS = ["a", "bb", "The", "cat", ".", "!", "x9", "\n", "\n\n", " ", "\n \n"]


@st.composite
def docs(draw: st.DrawFn, max_tokens: int = 30, sentences: bool = True) -> Doc:
    """A doc of up to ``max_tokens`` tokens; with ``sentences`` every boundary is set."""
    words = draw(st.lists(st.sampled_from(WORDS), max_size=max_tokens))
    spaces = draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words)))
    if not sentences or not words:
        return Doc(VOCAB, words=words, spaces=spaces)
    rest = draw(st.lists(st.booleans(), min_size=len(words) - 1, max_size=len(words) - 1))
    starts = [True, *rest]
    return Doc(VOCAB, words=words, spaces=spaces, sent_starts=starts)


def assert_inside(doc: Doc, spans: list) -> None:
    """Every span belongs to ``doc``, lies within it, and is not empty."""
    for span in spans:
        assert span.doc is doc
        assert 0 <= span.start < span.end <= len(doc)


def covered(spans: list) -> set[int]:
    return {i for span in spans for i in range(span.start, span.end)}
