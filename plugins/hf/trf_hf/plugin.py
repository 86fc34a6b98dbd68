"""trf-hf's plugin module: the entry point trf-core loads (group ``trf_core``, name ``hf``).

Importing it must stay cheap, so it only names the configure functions; torch and transformers
are imported when a model is built.
"""

from __future__ import annotations

from trf_core.plugins.hookspecs import ConfigureFunction, hookimpl

from .architectures import ARCHITECTURES


@hookimpl
def trf_model_backends() -> dict[str, ConfigureFunction]:
    """TransformerModel.v1-v3 and Tok2VecTransformer.v1-v3, spacy-transformers' names."""
    return dict(ARCHITECTURES)
