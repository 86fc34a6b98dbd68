"""A hand-built batch with numbers simple enough to pool in one's head, and snapshot helpers."""

from __future__ import annotations

import copy
from typing import Any

import numpy
from spacy.tokens import Doc
from spacy.vocab import Vocab
from thinc.types import Ragged

from trf_core import FullTransformerBatch, ModelOutput, WordpieceBatch

VOCAB = Vocab()


def hand_batch(with_hidden: bool = False) -> tuple[list[Doc], FullTransformerBatch]:
    """Two docs, three spans, rows whose values say where they are.

    doc1 "a bc ! d", one span: [CLS] a b ##c d [SEP] (6 pieces); "!" aligns to nothing.
    doc2 "x y z", spans [x] and [y z]: [CLS] x [SEP] (3) and [CLS] y z [SEP] (4).
    Row (span k, position j) of the last hidden state is [10k + j, (10k + j)**2 / 10].
    """
    doc1 = Doc(VOCAB, words=["a", "bc", "!", "d"])
    doc2 = Doc(VOCAB, words=["x", "y", "z"])
    spans = [[doc1[0:4]], [doc2[0:1], doc2[1:3]]]
    lengths = [6, 3, 4]
    base = 10.0 * numpy.arange(3)[:, None] + numpy.arange(6)[None, :]
    state = numpy.stack([base, base**2 / 10], axis=-1).astype("float32")  # (3, 6, 2)
    mask = (numpy.arange(6)[None, :] < numpy.asarray(lengths)[:, None]).astype("int32")
    output = ModelOutput()
    output["last_hidden_state"] = state
    output["pooler_output"] = numpy.asarray([[1, 2], [3, 4], [5, 6]], dtype="float32")
    if with_hidden:
        output["hidden_states"] = (state * 0 + 1, state * 2, state)
    # Rows are span * 6 + position. doc1: a->1, bc->2,3, !->none, d->4; doc2: x->7, y->13, z->14.
    align = Ragged(
        numpy.asarray([1, 2, 3, 4, 7, 13, 14], dtype="int32"),
        numpy.asarray([1, 2, 0, 1, 1, 1, 1], dtype="int32"),
    )
    wordpieces = WordpieceBatch(
        strings=[
            ["[CLS]", "a", "b", "##c", "d", "[SEP]"],
            ["[CLS]", "x", "[SEP]"],
            ["[CLS]", "y", "z", "[SEP]"],
        ],
        input_ids=mask.copy(),
        attention_mask=mask,
        lengths=lengths,
    )
    batch = FullTransformerBatch(
        spans=spans, wordpieces=wordpieces, model_output=output, align=align, doc_lengths=[4, 3]
    )
    return [doc1, doc2], batch


def snapshot(batch: FullTransformerBatch) -> dict[str, Any]:
    """Deep copies of everything a setter must leave alone."""
    return {
        "tensors": [numpy.array(t, copy=True) for t in batch.tensors],
        "align": (batch.align.data.copy(), batch.align.lengths.copy()),
        "doc_data": [
            ([numpy.array(t, copy=True) for t in d.tensors], d.align.data.copy(), d.wordpieces)
            for d in batch.doc_data
        ],
        "wordpieces": copy.deepcopy(batch.wordpieces),
        "keys": list(batch.model_output),
    }


def assert_unchanged(before: dict[str, Any], batch: FullTransformerBatch) -> None:
    after = snapshot(batch)
    assert after["keys"] == before["keys"]
    assert len(after["tensors"]) == len(before["tensors"])
    for a, b in zip(after["tensors"], before["tensors"]):
        numpy.testing.assert_array_equal(a, b)
    for a, b in zip(after["align"], before["align"]):
        numpy.testing.assert_array_equal(a, b)
    for (ta, aa, wa), (tb, ab, wb) in zip(after["doc_data"], before["doc_data"]):
        for x, y in zip(ta, tb):
            numpy.testing.assert_array_equal(x, y)
        numpy.testing.assert_array_equal(aa, ab)
        assert wa.lengths == wb.lengths
    assert after["wordpieces"].lengths == before["wordpieces"].lengths
    numpy.testing.assert_array_equal(after["wordpieces"].input_ids, before["wordpieces"].input_ids)


def per_token_means(layer: numpy.ndarray, align: Ragged, width: int) -> numpy.ndarray:
    """A plain loop: each token's mean row of ``layer`` (zeros for none)."""
    rows = layer.reshape(-1, layer.shape[-1]) if layer is not None else None
    out = numpy.zeros((len(align.lengths), width), dtype="float64")
    index = numpy.asarray(align.dataXd).reshape(-1)
    position = 0
    for i, n in enumerate(align.lengths):
        if n:
            out[i] = rows[index[position : position + n]].astype("float64").mean(axis=0)
        position += int(n)
    return out
