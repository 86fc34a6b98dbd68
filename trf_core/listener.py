"""The listener layers and their registered architectures (home: :mod:`trf_core.listeners`).

This module keeps the names it always had: the pyproject entry points
(``trf_core.listener:transformer_listener_tok2vec_v1`` ...), backends that import
``replace_listener`` from here, and models pickled before the split, whose layers name their
forward and init functions in this module, all resolve through it.
"""

from __future__ import annotations

from .listeners import *  # noqa: F403 (every name, as before the split)
from .listeners import __all__ as __all__

# What models pickled before the split reference by this module's name (thinc pickles a layer's
# forward and init functions by reference).
from .listeners.heads import _head_forward, _head_init
from .listeners.node import _listener_forward, _listener_init
from .listeners.standalone import _to_docs_forward, _to_docs_init

_PICKLED_BEFORE_THE_SPLIT = (
    _head_forward,
    _head_init,
    _listener_forward,
    _listener_init,
    _to_docs_forward,
    _to_docs_init,
)
