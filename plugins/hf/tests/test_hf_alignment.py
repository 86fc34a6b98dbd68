"""Alignment invariants on real tokenizers (WordPiece and byte-level BPE), property-tested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
from hf_helpers import NLP, as_numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trf_hf import TransformerModel

WORDS = [
    "The",
    "quick",
    "brown",
    "fox",
    "unbelievable",
    "Zürich",
    "Émile",
    "2019",
    "don't",
    "e-mail",
    "ideas",
    "!",
    ",",
    ".",
    "(",
    ")",
    "x",
    "sleepily",
    "日本",
]
SEPARATORS = [" ", " ", " ", "  ", "\n", " \t "]

texts = st.lists(
    st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=0, max_size=40
).map(lambda parts: "".join(w + s for w, s in parts))


def sentence_pairs(docs: list[Any]) -> list[list[Any]]:
    """Two overlapping spans per doc (first two thirds, last two thirds), to test overlaps."""
    out = []
    for doc in docs:
        n = len(doc)
        if n < 3:
            out.append([doc[:]] if n else [])
        else:
            out.append([doc[: (2 * n) // 3], doc[n // 3 :]])
    return out


@pytest.fixture(scope="module")
def backends(bert_dir: Path, roberta_dir: Path) -> list[Any]:
    models = []
    for path in (bert_dir, roberta_dir):
        model = TransformerModel(str(path), get_spans=sentence_pairs, window=12, stride=7)
        model.initialize()
        models.append(model)
    return models


def _piece_offsets(tokenizer: Any, span: Any) -> numpy.ndarray:
    """Each piece's doc-absolute characters, computed directly with the tokenizer."""
    enc = tokenizer(span.text, return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = numpy.asarray(enc["offset_mapping"], dtype="int64").reshape((-1, 2)) + span.start_char
    offsets[numpy.asarray(enc["special_tokens_mask"], dtype=bool)] = -1
    return offsets


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts)
def test_alignment_invariants(backends: list[Any], text: str) -> None:
    docs = [NLP(text), NLP("A fox.")]
    for model in backends:
        tokenizer = model.shims[0].tokenizer
        batch = model.predict(docs)
        width = batch.wordpieces.max_length
        offsets = [_piece_offsets(tokenizer, s) for spans in batch.spans for s in spans]
        lengths = as_numpy(batch.align.lengths)
        rows_all = as_numpy(batch.align.data).reshape((-1,))
        assert len(lengths) == sum(len(d) for d in docs)
        starts = numpy.concatenate([[0], numpy.cumsum(lengths)[:-1]]).astype(int)
        span_base = 0
        token_base = 0
        for doc, spans in zip(docs, batch.spans):
            covered: set[tuple[int, int]] = set()  # (span, piece) rows the doc's tokens hold
            for token in doc:
                i = token_base + token.i
                rows = rows_all[starts[i] : starts[i] + lengths[i]]
                assert list(rows) == sorted(rows), "a token's pieces are in order"
                if token.is_space:
                    assert len(rows) == 0
                for row in rows:
                    k, j = divmod(int(row), width)
                    start, end = offsets[k][j]
                    assert start >= 0, "special tokens align to nothing"
                    assert start < token.idx + len(token) and end > token.idx, "overlap"
                    covered.add((k, j))
            # Every piece covering a non-space character of a token is held by that token.
            for k in range(span_base, span_base + len(spans)):
                for j, (start, end) in enumerate(offsets[k]):
                    if start < 0 or not doc.text[start:end].strip():
                        continue
                    assert (k, j) in covered
            # A token inside both overlapping spans has rows in both.
            if len(spans) == 2:
                a, b = spans
                for token in doc[b.start : a.end]:
                    if token.is_space:
                        continue
                    i = token_base + token.i
                    rows = rows_all[starts[i] : starts[i] + lengths[i]]
                    ks = {int(r) // width - span_base for r in rows}
                    assert ks == {0, 1}
            span_base += len(spans)
            token_base += len(doc)
