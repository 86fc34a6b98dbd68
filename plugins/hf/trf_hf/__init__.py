"""trf-hf: Hugging Face transformers as a trf-core backend.

``TransformerModel`` builds the backend a ``transformer`` component wraps; ``Tok2VecTransformer``
a transformer used directly as a component's tok2vec. Importing this package imports neither
torch nor transformers: models are loaded when first initialized or used.
"""

from __future__ import annotations

from .architectures import (
    ARCHITECTURES,
    Tok2VecTransformer,
    TransformerModel,
    tok2vec_transformer_v1,
    tok2vec_transformer_v2,
    tok2vec_transformer_v3,
    transformer_model_v1,
    transformer_model_v2,
    transformer_model_v3,
)
from .loading import ModelNotFoundError, resolve_model_dir

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURES",
    "ModelNotFoundError",
    "Tok2VecTransformer",
    "TransformerModel",
    "__version__",
    "resolve_model_dir",
    "tok2vec_transformer_v1",
    "tok2vec_transformer_v2",
    "tok2vec_transformer_v3",
    "transformer_model_v1",
    "transformer_model_v2",
    "transformer_model_v3",
]
