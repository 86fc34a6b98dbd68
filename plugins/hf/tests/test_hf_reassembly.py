"""Span reassembly straight from the calls' flat outputs: every span position reads its own
window's piece, padding reads zeros, and gradients go back to exactly the rows that were read."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from trf_hf.reassembly import WindowPart, gather_spans, mean_per_span, span_index

HIDDEN = 3


def piece_value(window: int, column: int) -> torch.Tensor:
    """A vector no other (window, column) has."""
    return torch.tensor([float(window), float(column), float(window * 1000 + column)])


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[int], list[list[int]], bool, list[int], int]:
    """Window lengths, the calls they run in (the first maybe packed), and span positions."""
    window_width = draw(st.integers(1, 9))
    lengths = draw(st.lists(st.integers(1, window_width), min_size=1, max_size=8))
    order = draw(st.permutations(range(len(lengths))))
    cuts = (
        sorted(draw(st.sets(st.integers(1, len(lengths) - 1), max_size=3)))
        if len(lengths) > 1
        else []
    )
    calls = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(lengths)])]
    packed_first = draw(st.booleans())
    pieces = [w * window_width + c for w, n in enumerate(lengths) for c in range(n)]
    gather = draw(
        st.lists(st.one_of(st.just(-1), st.sampled_from(pieces)), min_size=1, max_size=20)
    )
    return lengths, calls, packed_first, gather, window_width


def build_parts(
    lengths: list[int], calls: list[list[int]], packed_first: bool, requires_grad: bool
) -> list[WindowPart]:
    parts = []
    for k, windows in enumerate(calls):
        if k == 0 and packed_first:  # end to end in one row, each window after the last
            starts = [sum(lengths[w] for w in windows[:i]) for i in range(len(windows))]
            rows = torch.zeros(sum(lengths[w] for w in windows) + 2, HIDDEN)  # + row padding
        else:  # a group: one row per window, as wide as the longest
            width = max(lengths[w] for w in windows)
            starts = [i * width for i in range(len(windows))]
            rows = torch.full((len(windows) * width, HIDDEN), 7.0)  # padding never read
        for w, start in zip(windows, starts):
            for c in range(lengths[w]):
                rows[start + c] = piece_value(w, c)
        rows.requires_grad_(requires_grad)
        pooled = torch.tensor([[float(w)] * HIDDEN for w in windows])
        parts.append(
            WindowPart(
                windows=windows,
                starts=torch.tensor(starts),
                last=rows,
                states=None,
                pooled=pooled,
            )
        )
    return parts


@settings(max_examples=200, deadline=None)
@given(layouts())
def test_each_span_position_reads_its_own_windows_piece_and_padding_reads_zeros(layout) -> None:
    lengths, calls, packed_first, gather, window_width = layout
    parts = build_parts(lengths, calls, packed_first, requires_grad=False)
    gather_t = torch.tensor(gather)
    index, padding = span_index(parts, gather_t, window_width)
    out = gather_spans([p.last for p in parts], index, padding, 1, len(gather))
    assert out.shape == (1, len(gather), HIDDEN)
    for p, g in enumerate(gather):
        expected = (
            torch.zeros(HIDDEN) if g < 0 else piece_value(g // window_width, g % window_width)
        )
        assert torch.equal(out[0, p], expected)
    assert (padding is None) == (min(gather) >= 0)


@settings(max_examples=100, deadline=None)
@given(layouts(), st.integers(0, 2**31 - 1))
def test_gradients_reach_exactly_the_rows_that_were_read(layout, seed: int) -> None:
    lengths, calls, packed_first, gather, window_width = layout
    parts = build_parts(lengths, calls, packed_first, requires_grad=True)
    index, padding = span_index(parts, torch.tensor(gather), window_width)
    out = gather_spans([p.last for p in parts], index, padding, 1, len(gather))
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    (out * weights).sum().backward()
    expected = [torch.zeros_like(p.last) for p in parts]
    where = {w: (k, int(p.starts[i])) for k, p in enumerate(parts) for i, w in enumerate(p.windows)}
    for pos, g in enumerate(gather):
        if g >= 0:
            k, start = where[g // window_width]
            expected[k][start + g % window_width] += weights[0, pos]
    for part, grad in zip(parts, expected):
        assert part.last.grad is not None
        assert torch.allclose(part.last.grad, grad)


@settings(max_examples=100, deadline=None)
@given(layouts(), st.data())
def test_a_spans_pooled_output_is_the_mean_of_its_windows(layout, data: st.DataObject) -> None:
    lengths, calls, packed_first, _, _ = layout
    parts = build_parts(lengths, calls, packed_first, requires_grad=False)
    n_windows = len(lengths)
    # Windows belong to spans in order (a span's windows are consecutive), as the plan lays them.
    n_spans = data.draw(st.integers(1, n_windows))
    firsts = (
        [
            0,
            *sorted(
                data.draw(
                    st.sets(
                        st.integers(1, n_windows - 1), min_size=n_spans - 1, max_size=n_spans - 1
                    )
                )
            ),
        ]
        if n_spans > 1
        else [0]
    )
    window_span = torch.tensor([sum(1 for f in firsts if f <= w) - 1 for w in range(n_windows)])
    pooled = mean_per_span(parts, window_span, n_spans)
    assert pooled is not None
    for s in range(n_spans):
        members = [float(w) for w in range(n_windows) if int(window_span[w]) == s]
        assert torch.allclose(pooled[s], torch.full((HIDDEN,), sum(members) / len(members)))
