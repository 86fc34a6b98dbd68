"""trf-core: pretrained transformers in spaCy pipelines, as a plugin platform.

The public surface lives here and nowhere else; submodules are implementation.
"""

from __future__ import annotations

from . import registry
from .data import FullTransformerBatch, ModelOutput, TransformerData, WordpieceBatch
from .errors import (
    MissingDistributionError,
    PluginConflictError,
    SpacyTransformersInstalledError,
    UnknownRegistryNameError,
)
from .hookspecs import hookimpl, hookspec
from .plugins import load_plugins

__version__ = "0.1.0"

__all__ = [
    "FullTransformerBatch",
    "MissingDistributionError",
    "ModelOutput",
    "PluginConflictError",
    "SpacyTransformersInstalledError",
    "TransformerData",
    "UnknownRegistryNameError",
    "WordpieceBatch",
    "__version__",
    "hookimpl",
    "hookspec",
    "load_plugins",
    "registry",
]

# Keep this last: plugins are loaded once every name above exists, so plugin modules can do
# `from trf_core import hookimpl` (or import anything else exported here) while we import them.
load_plugins()
