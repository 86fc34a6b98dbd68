"""How a global batch is cut into shares, and the batch stream one process sees: properties."""

from __future__ import annotations

import itertools
import random
from typing import Any

import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.batchers import minibatch_by_words
from spacy.training.loop import create_train_batches
from trf_train.stream import GlobalBatches, StreamPosition, split_by_words

lengths = st.lists(st.integers(min_value=0, max_value=60), max_size=40)
workers = st.integers(min_value=1, max_value=9)


@given(lengths, workers)
def test_shares_cover_the_batch_in_order_once(lens: list[int], n: int) -> None:
    bounds = split_by_words(lens, n)
    assert len(bounds) == n
    assert bounds[0][0] == 0 and bounds[-1][1] == len(lens)
    for (_, end), (start, _) in itertools.pairwise(bounds):
        assert end == start  # contiguous, nothing twice, nothing left out
    assert all(start <= end for start, end in bounds)


@given(lengths, workers)
def test_shares_are_balanced_by_words_within_one_doc(lens: list[int], n: int) -> None:
    total = sum(lens)
    longest = max(lens, default=0)
    for start, end in split_by_words(lens, n):
        assert sum(lens[start:end]) <= total / n + longest


@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=3), workers)
def test_a_batch_with_fewer_docs_than_workers_leaves_shares_empty(lens: list[int], n: int) -> None:
    bounds = split_by_words(lens, max(n, len(lens) + 1))
    assert any(start == end for start, end in bounds)
    assert sum(end - start for start, end in bounds) == len(lens)


@given(lengths, workers)
def test_the_split_is_deterministic(lens: list[int], n: int) -> None:
    assert split_by_words(list(lens), n) == split_by_words(tuple(lens), n)


# --- the stream ------------------------------------------------------------------------------

NLP = spacy.blank("en")


def corpus(n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    docs = [Doc(NLP.vocab, words=["w"] * rng.randint(1, 9)) for _ in range(n)]
    return [Example(d, d) for d in docs]


def batcher(examples: Any) -> Any:
    return minibatch_by_words(examples, size=20, tolerance=0.2, discard_oversize=False)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**16), st.integers(1, 3))
def test_the_stream_is_spacy_trains_stream(n: int, seed: int, epochs: int) -> None:
    examples = corpus(n, seed)
    random.seed(seed)
    spacy_stream = create_train_batches(NLP, lambda _: examples, batcher, epochs)
    theirs = [(e, [id(x) for x in b]) for e, b in spacy_stream]
    random.seed(seed)
    stream = GlobalBatches(lambda: examples, batcher, epochs)
    ours = [(e, [id(x) for x in b]) for e, b in stream]
    assert ours == theirs


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**16), st.data())
def test_a_stream_restored_from_its_position_goes_on_the_same(n: int, seed: int, data: Any) -> None:
    examples = corpus(n, seed)
    random.seed(seed)
    whole = [(e, [id(x) for x in b]) for e, b in GlobalBatches(lambda: examples, batcher, 3)]
    cut = data.draw(st.integers(0, len(whole)))
    random.seed(seed)
    first = GlobalBatches(lambda: examples, batcher, 3)
    head = []
    iterator = iter(first)
    for _ in range(cut):
        epoch, batch = next(iterator)
        head.append((epoch, [id(x) for x in batch]))
    saved, state = first.position.to_dict(), random.getstate()
    random.seed(seed + 1)  # whatever happened in between
    random.setstate(state)
    resumed = GlobalBatches(lambda: examples, batcher, 3, position=StreamPosition.from_dict(saved))
    tail = [(e, [id(x) for x in b]) for e, b in resumed]
    assert head + tail == whole
