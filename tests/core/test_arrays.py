"""The shared array helpers, and the data classes' copy/empty constructors built on them."""

from __future__ import annotations

import numpy
from hypothesis import given
from hypothesis import strategies as st

from trf_core.contract.arrays import offsets_from_lengths, positions_within, to_numpy
from trf_core.contract.data import ModelOutput, WordpieceBatch


@given(st.lists(st.integers(0, 50), max_size=20))
def test_offsets_cut_a_flat_array_into_its_runs(lengths: list[int]) -> None:
    flat = numpy.arange(sum(lengths))
    offsets = offsets_from_lengths(lengths)
    assert offsets.shape == (len(lengths) + 1,) and offsets.dtype == numpy.int64
    runs = [flat[offsets[i] : offsets[i + 1]] for i in range(len(lengths))]
    assert [len(run) for run in runs] == lengths
    numpy.testing.assert_array_equal(numpy.concatenate([flat[:0], *runs]), flat)


@given(st.lists(st.integers(0, 50), max_size=20))
def test_positions_within_count_from_zero_in_every_run(lengths: list[int]) -> None:
    positions = positions_within(lengths)
    assert positions.dtype == numpy.int64
    assert positions.tolist() == [j for n in lengths for j in range(n)]


def test_to_numpy_keeps_none_and_makes_lists_arrays() -> None:
    assert to_numpy(None) is None
    numpy.testing.assert_array_equal(to_numpy([[1, 2]]), numpy.asarray([[1, 2]]))


def test_an_empty_output_has_the_models_shapes_and_no_rows() -> None:
    out = ModelOutput.empty(7, n_hidden_states=3, pooler=True)
    assert list(out) == ["last_hidden_state", "pooler_output", "hidden_states"]
    assert out.last_hidden_state.shape == (0, 0, 7) and out.pooler_output.shape == (0, 7)
    assert [h.shape for h in out.hidden_states] == [(0, 0, 7)] * 3
    assert list(ModelOutput.empty(4)) == ["last_hidden_state"]


def test_mapped_wordpieces_share_nothing_with_the_original() -> None:
    ids = numpy.asarray([[1, 2, 0]], dtype="int32")
    wp = WordpieceBatch(strings=[["a", "b"]], input_ids=ids, attention_mask=ids.copy(), lengths=[2])
    copy = wp.map_arrays(lambda a: a.copy())
    copy.input_ids[0, 0] = 9
    copy.strings[0].append("c")
    copy.lengths.append(1)
    assert wp.input_ids[0, 0] == 1 and wp.strings == [["a", "b"]] and wp.lengths == [2]
    assert copy.token_type_ids is None
