"""Each text tokenized once: what ``count_pieces`` tokenized is what the batch encodes.

``Transformer.pipe`` counts a buffer's pieces, then encodes it a batch at a time; the backend's
:class:`~trf_core.component.piece_cache.PieceCache` keeps the counting call's tokenizations.
These tests check that a cached tokenization equals a fresh one wherever the same text sits in a
doc, and that the HF backend tokenizes each span once between counting and encoding, with the
same outputs as without counting first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
from hf_helpers import NLP, doc_spans
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Span
from trf_hf import TransformerModel

from trf_core.component.piece_cache import PieceCache
from trf_core.component.windowing import SpanPieces, tokenize_spans

WORDS = st.sampled_from(["a", "cat", "Sat", "on", "the", "mat", "Zürich", "unbelievable", "!"])
SENTENCE = st.lists(WORDS, min_size=1, max_size=8).map(" ".join)


def _same(a: SpanPieces, b: SpanPieces) -> None:
    assert a.ids == b.ids and a.strings == b.strings and a.type_ids == b.type_ids
    numpy.testing.assert_array_equal(a.special, b.special)
    assert (a.offsets is None) == (b.offsets is None)
    if a.offsets is not None:
        numpy.testing.assert_array_equal(a.offsets, b.offsets)


def _spans_after(prefix: str, sentences: list[str]) -> list[Span]:
    """Each sentence as a span of one doc that starts with ``prefix``, all joined by spaces."""
    doc = NLP(" ".join([prefix, *sentences]))
    spans, start = [], len(prefix) + 1
    for s in sentences:
        span = doc.char_span(start, start + len(s))
        assert span is not None and span.text == s
        spans.append(span)
        start += len(s) + 1
    return spans


class _CountingTokenizer:
    """A tokenizer that records every text it is asked to tokenize."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __call__(self, texts: Any, *args: Any, **kwargs: Any) -> Any:
        self.texts.extend([texts] if isinstance(texts, str) else texts)
        return self.inner(texts, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@settings(max_examples=30, deadline=None)
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=5), prefix=SENTENCE)
def test_a_cached_tokenization_equals_a_fresh_one_wherever_the_text_sits(
    model_dir: Path, sentences: list[str], prefix: str
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    first = [NLP(s)[:] for s in sentences]
    # The same texts further into another doc, and one text the count never saw.
    moved = _spans_after(prefix, [*sentences, "unseen words"])
    cache = PieceCache()
    counts = cache.count(tokenizer, first)
    assert counts == [len(p.ids) for p in tokenize_spans(tokenizer, first)]
    for got, want in zip(cache.tokenize(tokenizer, moved), tokenize_spans(tokenizer, moved)):
        _same(got, want)
    assert len(cache) == 0  # every counted text was taken out by the batch that used it


def test_a_cache_for_another_tokenizer_is_not_used(bert_dir: Path, roberta_dir: Path) -> None:
    from transformers import AutoTokenizer

    bert = AutoTokenizer.from_pretrained(str(bert_dir), local_files_only=True)
    roberta = AutoTokenizer.from_pretrained(str(roberta_dir), local_files_only=True)
    spans = [NLP("The cat sat on the mat in Zürich")[:]]
    cache = PieceCache()
    cache.count(bert, spans)
    _same(cache.tokenize(roberta, spans)[0], tokenize_spans(roberta, spans)[0])


@pytest.mark.parametrize("texts", [["The cat sat.", "On the mat in Zürich!", "The cat sat."]])
def test_counting_then_encoding_tokenizes_each_span_once(model_dir: Path, texts: list[str]) -> None:
    counted = TransformerModel(str(model_dir), get_spans=doc_spans)
    counted.initialize()
    fresh = TransformerModel(str(model_dir), get_spans=doc_spans)
    fresh.initialize()
    shim = counted.shims[0]
    spy = _CountingTokenizer(shim.tokenizer)
    shim.tokenizer = spy
    docs = [NLP(t) for t in texts]
    counts = counted.attrs["count_pieces"](counted, docs)
    batch = counted.predict(docs)
    # the repeated text's second copy was popped by the first: tokenized again, correctly
    assert sorted(spy.texts) == sorted([*texts, texts[2]])
    expected = fresh.predict([NLP(t) for t in texts])
    assert counts == [len(s) for s in expected.wordpieces.strings]
    assert batch.wordpieces.strings == expected.wordpieces.strings
    numpy.testing.assert_array_equal(batch.align.dataXd, expected.align.dataXd)
    numpy.testing.assert_allclose(
        batch.model_output.last_hidden_state, expected.model_output.last_hidden_state, atol=1e-5
    )


def test_counts_in_a_row_add_up_and_a_count_after_encoding_starts_afresh(bert_dir: Path) -> None:
    """pipe counts a buffer a batch at a time, then encodes it: every count of a buffer must
    stay cached until its batches run, and nothing of an old buffer may outlive the next."""
    from transformers import AutoTokenizer

    tokenizer = _CountingTokenizer(AutoTokenizer.from_pretrained(str(bert_dir)))
    a, b, c = (NLP(t)[:] for t in ("The cat sat.", "On the mat.", "In Zürich!"))
    cache = PieceCache()
    cache.count(tokenizer, [a])
    cache.count(tokenizer, [b])
    assert len(cache) == 2
    tokenizer.texts.clear()
    cache.tokenize(tokenizer, [b])
    assert tokenizer.texts == []  # both counts were kept
    cache.count(tokenizer, [c])  # a new buffer: a's leftover entry goes
    assert len(cache) == 1
    tokenizer.texts.clear()
    cache.tokenize(tokenizer, [a, c])
    assert tokenizer.texts == [a.text]


def test_nlp_pipe_tokenizes_each_text_once_over_several_buffers(bert_dir: Path) -> None:
    import spacy

    import trf_core  # noqa: F401  (the factories and the HF backend)

    nlp = spacy.blank("en")
    model = {
        "@architectures": "spacy-transformers.TransformerModel.v3",
        "name": str(bert_dir),
        "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
    }
    # a small budget: the 40 texts span several buffers, each counted a batch at a time
    nlp.add_pipe("transformer", config={"model": model, "max_batch_items": 32})
    nlp.initialize()
    shim = nlp.get_pipe("transformer").model.shims[0]
    spy = _CountingTokenizer(shim.tokenizer)
    shim.tokenizer = spy
    texts = [f"The {i} cats sat on {i + 1} mats." for i in range(40)]
    docs = list(nlp.pipe(texts, batch_size=3))
    assert [d.text for d in docs] == texts
    assert sorted(spy.texts) == sorted(texts)


def test_copies_and_pickles_start_with_an_empty_cache(bert_dir: Path) -> None:
    import copy
    import pickle

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(bert_dir))
    cache = PieceCache()
    cache.count(tokenizer, [NLP("The cat sat.")[:]])
    assert len(cache) == 1
    assert len(copy.deepcopy(cache)) == 0
    assert len(pickle.loads(pickle.dumps(cache))) == 0
    assert len(cache) == 1


class _PlainDictTokenizer(_CountingTokenizer):
    """A fast tokenizer whose output is a plain dict: no ``encodings`` to read from."""

    def __call__(self, texts: Any, *args: Any, **kwargs: Any) -> Any:
        return dict(super().__call__(texts, *args, **kwargs))


@settings(max_examples=30, deadline=None)
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=6), prefix=SENTENCE)
def test_pieces_read_from_the_encodings_equal_the_tokenizers_python_lists(
    model_dir: Path, sentences: list[str], prefix: str
) -> None:
    from transformers import AutoTokenizer

    from trf_core.component.windowing import _from_python_lists

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    spans = _spans_after(prefix, sentences)
    from_lists = _from_python_lists(tokenizer, spans, [s.text for s in spans])
    plain = _PlainDictTokenizer(tokenizer)
    for got in (tokenize_spans(tokenizer, spans), tokenize_spans(plain, spans)):
        assert len(got) == len(spans)
        for a, b in zip(got, from_lists, strict=True):
            _same(a, b)
            assert a.offsets is not None and a.offsets.dtype == numpy.int64
    # and both match the tokenizer's own offsets, moved to where each span starts in the doc
    for span, pieces in zip(spans, from_lists):
        encoded = tokenizer(span.text, return_offsets_mapping=True, return_special_tokens_mask=True)
        assert pieces.ids == encoded["input_ids"]
        for (a, b), special, got in zip(
            encoded["offset_mapping"], encoded["special_tokens_mask"], pieces.offsets.tolist()
        ):
            assert got == ([-1, -1] if special else [a + span.start_char, b + span.start_char])
