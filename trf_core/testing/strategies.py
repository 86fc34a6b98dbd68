"""Hypothesis strategies for testing trf-core and its plugins on hostile input.

Real text breaks alignment code in ways tidy test sentences never do: runs of whitespace (which
spaCy keeps as tokens), emoji built from several code points, combining marks, characters whose
lower-case form is longer, CJK without spaces, empty docs, docs longer than a model's window.
These strategies generate such docs, span sets over them (overlapping, always inside the doc)
and whole :class:`~trf_core.contract.data.FullTransformerBatch` values from the toy backend.

Needs hypothesis (``pip install trf-core[test]``); nothing else in trf-core imports this module.

Example::

    from hypothesis import given
    from trf_core.testing import strategies as trf_st

    @given(trf_st.docs_with_spans())
    def test_my_getter_keeps_spans_inside(doc_and_spans):
        doc, spans = doc_and_spans
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab, create_vocab

from ..contract.backend import request_hidden_states
from ..contract.data import FullTransformerBatch

__all__ = [
    "FRAGMENTS",
    "WHITESPACE",
    "ToyBatch",
    "batches_of_docs",
    "docs",
    "docs_with_spans",
    "fixed_span_getter",
    "full_transformer_batches",
    "shared_vocab",
    "span_sets",
    "texts",
    "words",
]

FRAGMENTS: tuple[str, ...] = (
    "hello",
    "World",
    "Don't",
    "U.S.A.",
    "İstanbul",  # lower-cases to one more character
    "straße",
    "naïve",
    "cafe\u0301",  # combining acute accent
    "n\u0303o",
    "😀",
    "👍🏽",  # emoji + skin-tone modifier
    "👨\u200d👩\u200d👧",  # zero-width-joiner family
    "🇩🇪",  # regional indicators
    "東京都に住む",
    "中文字符",
    "١٢٣",
    "שלום",
    "a\u200bb",  # zero-width space is not whitespace
    "--",
    "...",
    "$3.50",
    "@user",
    "#tag",
    "http://x.y/z?q=1",
    "supercalifragilisticexpialidocious",
)
"""Hand-picked troublemakers: multi-code-point graphemes, case changes, scripts without spaces."""

WHITESPACE: tuple[str, ...] = (" ", "  ", "\n", "\n\n", "\t", " \n ", "\u3000", "\xa0", "\u2009")
"""Whitespace runs spaCy turns into tokens of their own, including non-ASCII spaces."""

_VOCAB: Vocab | None = None


def shared_vocab() -> Vocab:
    """One vocab for every generated doc, so the string store is not rebuilt per example."""
    global _VOCAB
    if _VOCAB is None:
        # English lexical attributes, so Token.is_space and friends are set as in a pipeline.
        from spacy.lang.en import English

        _VOCAB = create_vocab("en", English.Defaults)
    return _VOCAB


_any_char = st.characters(codec="utf-8")  # no lone surrogates: they cannot be encoded
_word_char = st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")).filter(
    lambda c: not c.isspace()
)


def words(max_size: int = 8) -> st.SearchStrategy[str]:
    """Non-empty strings without whitespace: a fragment or arbitrary characters."""
    return st.one_of(
        st.sampled_from([f for f in FRAGMENTS if not any(c.isspace() for c in f)]),
        st.text(alphabet=_word_char, min_size=1, max_size=max_size),
    )


def texts(max_parts: int = 20) -> st.SearchStrategy[str]:
    """Adversarial text: fragments, whitespace runs and random characters, possibly empty."""
    part = st.one_of(
        st.sampled_from(FRAGMENTS),
        st.sampled_from(WHITESPACE),
        st.text(alphabet=_any_char, max_size=6),
    )
    return st.lists(part, max_size=max_parts).map("".join)


@st.composite
def _docs_from_words(draw: Any, min_tokens: int, max_tokens: int) -> Doc:
    """A doc built from words and whitespace tokens, spaCy-style (spaces kept as tokens)."""
    n = draw(st.integers(min_tokens, max_tokens))
    tokens: list[str] = []
    spaces: list[bool] = []
    for _ in range(n):
        if tokens and draw(st.integers(0, 5)) == 0:
            tokens.append(draw(st.sampled_from(WHITESPACE)))
            spaces.append(False)
        else:
            tokens.append(draw(words()))
            spaces.append(draw(st.booleans()))
    return Doc(shared_vocab(), words=tokens, spaces=spaces)


def docs(
    tokenizer: Callable[[str], Doc] | None = None,
    min_tokens: int = 0,
    max_tokens: int = 30,
    max_parts: int = 20,
) -> st.SearchStrategy[Doc]:
    """Docs from adversarial text, empty docs included.

    tokenizer: turn generated text into a doc (``nlp.make_doc``, ``nlp.tokenizer``); without one,
        docs are built from generated words and whitespace tokens, ``min_tokens`` to
        ``max_tokens`` long.
    """
    if tokenizer is not None:
        return texts(max_parts=max_parts).map(tokenizer)
    return _docs_from_words(min_tokens, max_tokens)


@st.composite
def span_sets(
    draw: Any, doc: Doc, max_spans: int = 4, allow_empty_spans: bool = False
) -> list[Span]:
    """Spans of ``doc``, possibly overlapping or repeated, always inside it, in any order."""
    if len(doc) == 0:
        return []
    spans = []
    for _ in range(draw(st.integers(0, max_spans))):
        start = draw(st.integers(0, len(doc) - (0 if allow_empty_spans else 1)))
        end = draw(st.integers(start if allow_empty_spans else start + 1, len(doc)))
        spans.append(doc[start:end])
    return spans


@st.composite
def docs_with_spans(
    draw: Any,
    doc_strategy: st.SearchStrategy[Doc] | None = None,
    max_spans: int = 4,
) -> tuple[Doc, list[Span]]:
    """A doc and a span set over it."""
    doc = draw(doc_strategy if doc_strategy is not None else docs())
    return doc, draw(span_sets(doc, max_spans=max_spans))


def batches_of_docs(
    doc_strategy: st.SearchStrategy[Doc] | None = None,
    min_docs: int = 1,
    max_docs: int = 4,
    max_spans: int = 4,
) -> st.SearchStrategy[list[tuple[Doc, list[Span]]]]:
    """A batch: several docs, each with its span set (some docs may have none)."""
    return st.lists(
        docs_with_spans(doc_strategy, max_spans=max_spans), min_size=min_docs, max_size=max_docs
    )


def fixed_span_getter(spans: Sequence[Sequence[Span]]) -> Callable[[list[Doc]], list[list[Span]]]:
    """A span getter that returns pre-drawn spans for the docs they belong to."""
    by_doc = {id(doc_spans[0].doc): list(doc_spans) for doc_spans in spans if doc_spans}

    def get_spans(docs: list[Doc]) -> list[list[Span]]:
        return [by_doc.get(id(doc), []) for doc in docs]

    return get_spans


@dataclass
class ToyBatch:
    """A toy backend's output together with what produced it."""

    docs: list[Doc]
    spans: list[list[Span]]
    batch: FullTransformerBatch
    model: Any
    backprop: Callable[[list[list[Any]]], Any]


@st.composite
def full_transformer_batches(
    draw: Any,
    doc_strategy: st.SearchStrategy[Doc] | None = None,
    max_docs: int = 3,
    width: int = 8,
    depth: int = 1,
    hidden_states: bool | None = None,
) -> ToyBatch:
    """A FullTransformerBatch from the toy backend over drawn docs and spans.

    ``max_length`` is drawn small so long spans are windowed; ``hidden_states=None`` draws
    whether the backend also outputs every hidden layer.
    """
    from .toy_backend import toy_transformer_v1

    pairs = draw(batches_of_docs(doc_strategy, max_docs=max_docs))
    doc_list = [doc for doc, _ in pairs]
    # The same Doc object may be drawn twice; keep one span set per object.
    spans_by_id = {id(doc): spans for doc, spans in pairs}
    span_lists = [spans_by_id[id(doc)] for doc in doc_list]
    model = toy_transformer_v1(
        lambda ds: [spans_by_id.get(id(d), []) for d in ds],
        width=width,
        depth=depth,
        n_vocab=97,
        max_length=draw(st.integers(3, 12)),
        seed=draw(st.integers(0, 3)),
    )
    model.initialize()
    with_hidden = draw(st.booleans()) if hidden_states is None else hidden_states
    request_hidden_states(model, with_hidden)
    batch, backprop = model(doc_list, is_train=True)
    return ToyBatch(docs=doc_list, spans=span_lists, batch=batch, model=model, backprop=backprop)
