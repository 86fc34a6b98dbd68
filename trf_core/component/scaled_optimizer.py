"""The optimizer seen through a factor on its learning rate, for the transformer's own weights.

Why: one spaCy optimizer steps every component at one learning rate. A rate high enough for
freshly initialized heads (a tagger's softmax, a parser's hidden layer) to learn in a few hundred
steps moves a pretrained transformer's weights so far in the first steps that its outputs
collapse to one vector for every token (measured on all-MiniLM-L6-v2 at 3e-4 and 6e-4: the
spread of its hidden states fell from 0.31 to 0.003, and the tagger never left the most frequent
tag). The ``transformer`` component's ``learn_rate_scale`` hands its backend this wrapper, so
its weights move at a fraction of the rate while the listening components keep the full one.
"""

from __future__ import annotations

from typing import Any

from thinc.api import Optimizer

__all__ = ["ScaledOptimizer", "scaled"]


class ScaledOptimizer:
    """Calls the optimizer with its ``lr_scale`` multiplied by ``scale``; all else delegated."""

    __slots__ = ("_optimizer", "scale")

    def __init__(self, optimizer: Optimizer, scale: float) -> None:
        self._optimizer = optimizer
        self.scale = scale

    def __call__(
        self, key: tuple[int, str], weights: Any, gradient: Any, *, lr_scale: float = 1.0
    ) -> Any:
        return self._optimizer(key, weights, gradient, lr_scale=lr_scale * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)


def scaled(optimizer: Optimizer, scale: float) -> Any:
    """``optimizer`` itself at scale 1, else the wrapper."""
    return optimizer if scale == 1.0 else ScaledOptimizer(optimizer, scale)
