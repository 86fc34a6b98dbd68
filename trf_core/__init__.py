"""trf-core: pretrained transformers in spaCy pipelines, as a plugin platform.

The public surface lives here and nowhere else; submodules are implementation.
"""

from __future__ import annotations

from . import registry
from .align import align_batch, align_by_strings
from .batching import plan_batches
from .data import FullTransformerBatch, ModelOutput, TransformerData, WordpieceBatch
from .errors import (
    MissingDistributionError,
    PluginConflictError,
    SpacyTransformersInstalledError,
    UnknownRegistryNameError,
)
from .hookspecs import hookimpl, hookspec
from .listeners import (
    TransformerListener,
    last_layer_head,
    layers_head,
    replace_listener,
    replace_listener_cfg,
    scalar_mix_head,
    tok2vec_from_backend,
    transformer_to_docs,
)
from .plugins import load_plugins
from .pooling import nonempty_pooling

__version__ = "0.1.0"

__all__ = [
    "FullTransformerBatch",
    "MissingDistributionError",
    "ModelOutput",
    "PluginConflictError",
    "SpacyTransformersInstalledError",
    "Transformer",
    "TransformerData",
    "TransformerListener",
    "UnknownRegistryNameError",
    "WordpieceBatch",
    "__version__",
    "align_batch",
    "align_by_strings",
    "hookimpl",
    "hookspec",
    "last_layer_head",
    "layers_head",
    "load_plugins",
    "nonempty_pooling",
    "plan_batches",
    "registry",
    "replace_listener",
    "replace_listener_cfg",
    "scalar_mix_head",
    "tok2vec_from_backend",
    "transformer_to_docs",
]


def __getattr__(name: str) -> object:
    """``trf_core.Transformer``, imported on first use.

    The component's module refuses to load beside spacy-transformers (both provide the
    ``transformer`` factory); importing it lazily keeps ``import trf_core`` and
    ``python -m trf_core plugins`` working there, so they can report the clash.
    """
    if name == "Transformer":
        from .pipeline import Transformer

        return Transformer
    raise AttributeError(f"module 'trf_core' has no attribute {name!r}")


# Keep this last: plugins are loaded once every name above exists, so plugin modules can do
# `from trf_core import hookimpl` (or import anything else exported here) while we import them.
load_plugins()
