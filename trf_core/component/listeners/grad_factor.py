"""``grad_factor``: how much of a listener's gradient reaches the transformer.

A constant, or a thinc schedule advanced once per update step. The listener node and the
standalone copy (:mod:`trf_core.component.listeners.standalone`) both scale their gradient with
:func:`scale_gradients` before passing it upstream.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any, Union, cast

from ...contract.types import TensorGradients

__all__ = ["GradFactor", "GradFactorLike", "scale_gradients"]

GradFactorLike = Union[float, int, Iterator[float], Callable[[int], float], "GradFactor"]


class GradFactor:
    """A ``grad_factor``: a constant, or a schedule advanced once per update step.

    thinc 8's schedules are generators, which cannot be copied; copies of a model share this
    object instead (``copy``/``deepcopy`` return it), so copying a listener never fails.
    """

    frozen_schedule = False  # set on a copy whose schedule was pickled as its last value

    def __init__(self, value: GradFactorLike) -> None:
        if isinstance(value, GradFactor):
            value = cast(Any, value).source
        if isinstance(value, bool) or not (
            isinstance(value, (int, float)) or callable(value) or isinstance(value, Iterator)
        ):
            raise TypeError(
                f"grad_factor must be a number or a thinc schedule, got {type(value).__name__}; "
                "use e.g. grad_factor = 1.0, or a [grad_factor] block with @schedules"
            )
        self.source: Any = value
        self.step = 0
        self.last = float(value) if isinstance(value, (int, float)) else 1.0

    def next(self) -> float:
        """The factor for the next update step (advances a schedule by one)."""
        value = self.source
        if self.frozen_schedule:
            self.frozen_schedule = False  # warn once per copy
            warnings.warn(
                f"this listener's grad_factor schedule was pickled (nlp.pipe with n_process > 1, "
                f"or pickle.dumps) and continues at its last value {self.last}; thinc 8 "
                "schedules are generators and cannot travel. To train on with the schedule, "
                "load the pipeline from disk (spacy.load) instead of unpickling it",
                stacklevel=2,
            )
        if isinstance(value, (int, float)):
            self.last = float(value)
        elif isinstance(value, Iterator):
            self.last = float(next(value))
        else:
            self.last = float(value(self.step))
        self.step += 1
        return self.last

    def __getstate__(self) -> dict[str, Any]:
        # A generator cannot be pickled, and spaCy pickles the pipeline for each worker of
        # nlp.pipe(n_process > 1) where processes spawn. Prediction reads only `last`, so the
        # copy keeps that value; `next` says so if the copy is trained on.
        state = dict(self.__dict__)
        if isinstance(self.source, Iterator):
            state["source"] = self.last
            state["frozen_schedule"] = True
        return state

    def __copy__(self) -> GradFactor:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> GradFactor:
        return self

    def __repr__(self) -> str:
        return f"GradFactor({self.source!r})"


def scale_gradients(d_tensors: TensorGradients, factor: float) -> TensorGradients:
    """Each gradient times ``factor``; all ``None`` at 0 (the transformer then skips backward)."""
    if factor == 0:
        return [[None] * len(doc_grads) for doc_grads in d_tensors]
    if factor == 1:
        return d_tensors
    return [[None if g is None else g * factor for g in doc_grads] for doc_grads in d_tensors]
