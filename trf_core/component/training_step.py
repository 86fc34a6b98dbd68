"""One training step of the ``transformer`` component: listeners' gradients summed, one backward.

During ``nlp.update`` the component runs its batch once and hands every listener the outputs and
a gradient callback. Each listener's gradient is added to the step's total
(:meth:`TrainingStep.accumulate`); after the last listener the backend's backward pass runs once
on the sum (:meth:`TrainingStep.backward`). A step belongs to one training process: pickled
(``pickle.dumps(nlp)``, spawned ``nlp.pipe`` workers) or deep-copied it becomes ``None``, since
the copy predicts rather than trains. spaCy's pipes pickle through Cython's reduce, so the
component cannot drop it itself.
"""

from __future__ import annotations

from typing import Any

from thinc.api import Optimizer

from ..contract.types import BackendBackprop, DocData, TensorGradients

__all__ = ["TrainingStep"]


class TrainingStep:
    """The summed gradient of one update's listeners, and the backward pass it waits for.

    ``bp_batch`` is the backend's backprop, or None when nothing learns (a frozen transformer,
    a batch without tokens): then gradients are still checked but neither counted nor applied.
    ``sgd`` is the optimizer the update was given, applied right after the backward pass.
    """

    __slots__ = ("_bp_batch", "_done", "_total", "_xp", "sgd")

    def __init__(
        self,
        doc_data: DocData,
        bp_batch: BackendBackprop | None,
        sgd: Optimizer | None,
        xp: Any,
    ) -> None:
        self._total: TensorGradients = [[None] * len(d.tensors) for d in doc_data]
        self._bp_batch = bp_batch
        self._xp = xp
        self._done = False
        self.sgd = sgd

    def accumulate(self, d_tensors: TensorGradients) -> float:
        """Add one listener's gradients to the total; return their loss (0 when nothing learns).

        The loss is the sum of squared gradients, as spaCy's tok2vec reports it.
        """
        if len(d_tensors) != len(self._total):
            raise ValueError(
                f"a listener sent gradients for {len(d_tensors)} docs, the batch has "
                f"{len(self._total)}"
            )
        loss = 0.0
        for doc_total, doc_grads in zip(self._total, d_tensors):
            for j, grad in enumerate(doc_grads):
                if grad is None:
                    continue
                if self._bp_batch is not None:  # a frozen transformer learns nothing
                    loss += float(self._xp.square(grad).sum())
                doc_total[j] = grad.copy() if doc_total[j] is None else doc_total[j] + grad
        return loss

    def backward(self) -> bool:
        """Run the backend's backward pass on the total, once; True if it left a gradient.

        No gradient at all (every grad_factor 0, or nothing learns) skips the backward pass, so
        the optimizer need not run either and not even weight decay moves the weights.
        """
        if self._done:
            return False
        self._done = True
        has_gradient = any(g is not None for doc_grads in self._total for g in doc_grads)
        if self._bp_batch is None or not has_gradient:
            return False
        self._bp_batch(self._total)
        return True

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_no_step, ())


def _no_step() -> None:
    return None
