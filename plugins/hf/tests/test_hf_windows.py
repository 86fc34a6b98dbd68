"""The window plan, property-tested without a model: every span piece comes from a window
that holds exactly that piece, windows fit the limit, truncation counts what it drops."""

from __future__ import annotations

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trf_core.component.windowing import SpanPieces, layout


def _span(n_content: int, prefix: int, suffix: int, offset: int) -> SpanPieces:
    n = prefix + n_content + suffix
    ids = [1000 + offset + i for i in range(n)]  # distinct ids: each piece is recognisable
    special = numpy.zeros((n,), dtype=bool)
    special[:prefix] = True
    special[n - suffix :] = True
    offsets = numpy.stack([numpy.arange(n), numpy.arange(n) + 1], axis=1)
    offsets[special] = -1
    return SpanPieces(
        ids=ids, type_ids=[0] * n, offsets=offsets, special=special, strings=[str(i) for i in ids]
    )


spans_strategy = st.lists(st.integers(0, 60), min_size=1, max_size=4)


@settings(max_examples=50, deadline=None)
@given(
    lengths=spans_strategy,
    affixes=st.sampled_from([(1, 1), (0, 0), (1, 0), (2, 1)]),
    window=st.integers(4, 20),
    stride=st.integers(0, 25),
)
def test_every_piece_comes_from_a_window_holding_it(
    lengths: list[int], affixes: tuple[int, int], window: int, stride: int
) -> None:
    prefix, suffix = affixes
    pieces = [_span(n, prefix, suffix, 100 * k) for k, n in enumerate(lengths)]
    plan = layout(pieces, window, stride, truncate=False, pad_id=0)
    assert plan.window_width <= window
    assert plan.wordpieces.lengths == [len(p.ids) for p in pieces]  # nothing dropped
    flat = plan.window_ids.reshape(-1)
    mask = plan.window_mask.reshape(-1)
    for k, piece in enumerate(pieces):
        rows = plan.gather[k * plan.span_width : k * plan.span_width + len(piece.ids)]
        assert (rows >= 0).all()
        assert flat[rows].tolist() == piece.ids
        assert mask[rows].all()
        assert (plan.window_span[rows // plan.window_width] == k).all()
        assert (
            plan.gather[k * plan.span_width + len(piece.ids) : (k + 1) * plan.span_width] < 0
        ).all()
    for w in range(len(plan.window_span)):  # every window starts and ends with its span's specials
        n = int(plan.window_mask[w].sum())
        k = int(plan.window_span[w])
        ids = pieces[k].ids
        assert plan.window_ids[w, :prefix].tolist() == ids[:prefix]
        assert plan.window_ids[w, n - suffix : n].tolist() == ids[len(ids) - suffix :]


@settings(max_examples=30, deadline=None)
@given(lengths=spans_strategy, window=st.integers(4, 20))
def test_truncation_counts_what_it_drops(lengths: list[int], window: int) -> None:
    pieces = [_span(n, 1, 1, 100 * k) for k, n in enumerate(lengths)]
    plan = layout(pieces, window, 0, truncate=True, pad_id=0)
    capacity = window - 2
    assert plan.n_truncated_spans == sum(n > capacity for n in lengths)
    assert plan.n_dropped_pieces == sum(max(0, n - capacity) for n in lengths)
    assert len(plan.window_span) == len(lengths)  # one window per span
    for piece, kept in zip(pieces, plan.wordpieces.strings):
        assert kept[-1] == piece.strings[-1]  # the closing special survives the cut
        assert kept[: len(kept) - 1] == piece.strings[: len(kept) - 1]


def test_a_window_too_small_for_the_specials() -> None:
    with pytest.raises(ValueError, match="leaves no room"):
        layout([_span(5, 1, 1, 0)], 2, 0, truncate=False, pad_id=0)
