"""Poolers for trf-core: each token's wordpiece rows -> one vector (``Model[Ragged, Floats2d]``).

Every pooler gives a token with no wordpiece a zero vector and no gradient. Registered with the
core through the ``trf_core`` entry point (see :mod:`.plugin`); configs name them as
``@layers = "..."``.
"""

from .attention import attention_pooling
from .first_last import first_last
from .reducers import reduce_first, reduce_last, reduce_max, reduce_mean, reduce_sum

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "attention_pooling",
    "first_last",
    "reduce_first",
    "reduce_last",
    "reduce_max",
    "reduce_mean",
    "reduce_sum",
]
