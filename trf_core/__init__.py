"""trf-core: pretrained transformers in spaCy pipelines, as a plugin platform.

The public surface lives here and nowhere else; submodules are implementation.
"""

from __future__ import annotations

from .component.batching import plan_batches
from .component.listeners import (
    TransformerListener,
    last_layer_head,
    layers_head,
    listener_attrs,
    replace_listener,
    replace_listener_cfg,
    scalar_mix_head,
    tok2vec_from_backend,
    transformer_to_docs,
)
from .component.pooling import nonempty_pooling
from .contract.align import align_batch, align_by_strings
from .contract.data import FullTransformerBatch, ModelOutput, TransformerData, WordpieceBatch
from .contract.errors import (
    MissingDistributionError,
    PluginConflictError,
    SpacyTransformersInstalledError,
    UnknownRegistryNameError,
)
from .plugins import registry
from .plugins.hookspecs import hookimpl, hookspec
from .plugins.loader import load_plugins
from .version import __version__

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
    "listener_attrs",
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
        from .component.transformer import Transformer

        return Transformer
    raise AttributeError(f"module 'trf_core' has no attribute {name!r}")


# Keep this last: plugins are loaded once every name above exists, so plugin modules can do
# `from trf_core import hookimpl` (or import anything else exported here) while we import them.
load_plugins()
