"""Group items of similar length so padding wastes little memory.

A transformer pads every span of a batch to the longest one, so memory grows with
``batch size * longest length``. Sorting by length and cutting batches against a budget of padded
items keeps that product bounded while keeping batches as large as the budget allows.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plan_batches"]


def plan_batches(
    lengths: Sequence[int], max_padded_items: int, max_batch_size: int
) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, shortest items first.

    Each batch keeps ``len(batch) * max(its lengths) <= max_padded_items`` (an item longer than
    the budget on its own forms a batch of one) and holds at most ``max_batch_size`` items. Every
    index appears exactly once; within a batch, indices are in ascending length order (ties in
    index order), so callers must map results back to input order themselves.
    """
    if max_padded_items < 1:
        raise ValueError(
            f"max_padded_items must be >= 1, got {max_padded_items}; it is the number of padded "
            "items (e.g. wordpieces) one batch may hold"
        )
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
    for i, n in enumerate(lengths):
        if int(n) < 0:
            raise ValueError(f"lengths must be >= 0, but item {i} has length {n}")
    order = sorted(range(len(lengths)), key=lambda i: (int(lengths[i]), i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so the newcomer is the longest: the padded size is count * its length.
        n = int(lengths[i])
        if current and (
            len(current) >= max_batch_size or (len(current) + 1) * n > max_padded_items
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
