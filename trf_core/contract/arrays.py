"""Small array helpers the data classes, the alignment, the windowing and the listeners share.

A leaf: it imports only numpy, so every module of trf-core (and the conformance kit) can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

__all__ = ["offsets_from_lengths", "positions_within", "to_numpy"]


def to_numpy(array: Any) -> Any:
    """``array`` as a numpy array on the host (a cupy array is copied over); None stays None."""
    if array is None:
        return None
    if hasattr(array, "get"):  # cupy
        return array.get()
    return numpy.asarray(array)


def offsets_from_lengths(lengths: Sequence[int] | Any) -> numpy.ndarray:
    """``[0, l0, l0 + l1, ...]``: where each of consecutive runs of ``lengths`` starts, then
    where the last ends (``n + 1`` int64 values; run ``i`` is ``offsets[i]:offsets[i + 1]``)."""
    counts = numpy.asarray(to_numpy(lengths), dtype="int64").reshape((-1,))
    offsets = numpy.zeros((len(counts) + 1,), dtype="int64")
    numpy.cumsum(counts, out=offsets[1:])
    return offsets


def positions_within(lengths: Sequence[int] | Any) -> numpy.ndarray:
    """For consecutive runs of ``lengths`` laid end to end, each element's index within its own
    run: ``[0 .. l0 - 1, 0 .. l1 - 1, ...]`` (int64)."""
    offsets = offsets_from_lengths(lengths)
    counts = numpy.diff(offsets)
    return numpy.arange(int(offsets[-1]), dtype="int64") - numpy.repeat(offsets[:-1], counts)
