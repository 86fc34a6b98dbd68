"""The trf-core plugin entry point: registers this distribution's poolers as thinc layers.

Kept cheap to import: the layer modules load only when the core asks for the names.
"""

from collections.abc import Callable
from typing import Any

from trf_core.plugins.hookspecs import hookimpl


@hookimpl
def trf_poolers() -> dict[str, Callable[..., Any]]:
    """Registry name -> configure function, resolved from configs as ``@layers``."""
    from .attention import attention_pooling
    from .first_last import first_last
    from .reducers import reduce_first, reduce_last, reduce_max, reduce_mean, reduce_sum

    return {
        "trf.first_last.v1": first_last,
        "trf.attention_pooling.v1": attention_pooling,
        "trf.reduce_mean.v1": reduce_mean,
        "trf.reduce_sum.v1": reduce_sum,
        "trf.reduce_max.v1": reduce_max,
        "trf.reduce_first.v1": reduce_first,
        "trf.reduce_last.v1": reduce_last,
    }
