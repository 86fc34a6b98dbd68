"""The global batches, as one ``spacy train`` process would see them, and each worker's share.

:class:`GlobalBatches` yields exactly what spaCy's ``create_train_batches`` yields (the corpus,
shuffled in place at each epoch with Python's ``random``, through the config's batcher), but it
shuffles a list of indices instead of the examples (the same draws, so the same order) and keeps
its position: the epoch, that epoch's order and how many batches of it were used. A checkpoint
stores that position; a resumed run rebuilds the epoch's batches from it and skips the used
ones. With several workers rank 0's shuffle is sent to the others, so every worker walks the
same stream whatever else consumed random numbers on it.

:func:`split_by_words` cuts one global batch into the workers' shares.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from spacy.errors import Errors
from spacy.training import Example

__all__ = ["GlobalBatches", "StreamPosition", "sort_by_length", "split_by_words"]


@dataclass
class StreamPosition:
    """Where the stream stands: ``used`` batches of epoch ``epoch`` were handed out."""

    epoch: int = 0
    used: int = 0
    order: list[int] | None = None  # the current epoch's order (None: streamed corpus)
    started: bool = False  # whether ``epoch`` has been shuffled already

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "used": self.used,
            "order": self.order,
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamPosition:
        return cls(data["epoch"], data["used"], data["order"], data["started"])


@dataclass
class GlobalBatches:
    """The config's batch stream with a position that can be stored and restored."""

    examples_of: Callable[[], Iterable[Example]]
    batcher: Callable[[Iterable[Example]], Iterable[list[Example]]]
    max_epochs: int
    share_order: Callable[[list[int]], list[int]] = lambda order: order
    position: StreamPosition = field(default_factory=StreamPosition)

    def __iter__(self) -> Iterator[tuple[int, list[Example]]]:
        pos = self.position
        examples: list[Example] | None = None
        if self.max_epochs >= 0:
            examples = list(self.examples_of())
            if not examples:
                raise ValueError(Errors.E986)
            if pos.order is None:
                pos.order = list(range(len(examples)))
            elif len(pos.order) != len(examples):
                raise ValueError(
                    f"the checkpoint's batch stream covers {len(pos.order)} training examples, "
                    f"the corpus now has {len(examples)}"
                )
        while self.max_epochs < 1 or pos.epoch != self.max_epochs:
            if examples is not None:
                assert pos.order is not None
                if not pos.started:
                    random.shuffle(pos.order)
                    pos.order = self.share_order(pos.order)
                    pos.started = True
                epoch_examples: Iterable[Example] = [examples[i] for i in pos.order]
            else:
                pos.started = True
                epoch_examples = self.examples_of()
            skip = pos.used
            for index, batch in enumerate(self.batcher(epoch_examples)):
                if index < skip:
                    continue
                pos.used = index + 1
                yield pos.epoch, batch
            pos.epoch += 1
            pos.used = 0
            pos.started = False


def sort_by_length(batch: Iterable[Example]) -> list[Example]:
    """The order spaCy's ``subdivide_batch`` puts a batch in (a stable sort by doc length)."""
    return sorted(batch, key=lambda eg: len(eg.predicted))


def split_by_words(lengths: Sequence[int], workers: int) -> list[tuple[int, int]]:
    """Cut a sequence of docs (their word counts) into ``workers`` contiguous shares.

    Returns ``[start, end)`` per worker. Each doc goes to the worker whose slice of the batch's
    words holds the doc's middle word, so shares hold about ``total / workers`` words each and
    differ from it by at most one doc; a share may be empty (fewer docs than workers, or one long
    doc). A batch of empty docs is split by doc count. Pure and deterministic: every worker
    computes the same cut.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    total = sum(lengths)
    owners: list[int] = []
    before = 0
    for i, n in enumerate(lengths):
        if total > 0:
            middle2 = 2 * before + n  # twice the doc's middle position, to stay in integers
            owner = (middle2 * workers) // (2 * total)
        else:
            owner = (i * workers) // max(len(lengths), 1)
        owners.append(min(owner, workers - 1))
        before += n
    bounds = []
    start = 0
    for rank in range(workers):
        end = start
        while end < len(owners) and owners[end] == rank:
            end += 1
        bounds.append((start, end))
        start = end
    return bounds
