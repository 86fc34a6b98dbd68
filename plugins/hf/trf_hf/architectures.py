"""The registered architectures, with spacy-transformers' names and parameters.

Kept free of torch, transformers and trf_core imports so that resolving a config (and importing
``trf_hf``) stays cheap; :mod:`trf_hf.backend` loads the model only when it is first needed.
Each version keeps its spacy-transformers signature; ``window``, ``stride`` and ``truncate`` are
trf-hf's own, optional, and say what happens to spans longer than the model accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from thinc.api import Model
from thinc.types import Floats2d, Ragged

if TYPE_CHECKING:  # importing trf_core here would be circular: trf_core loads this plugin
    from spacy.tokens import Doc

    from trf_core.contract.types import SpanGetter

BackendModel = Model[Any, Any]
"""``Model[list[Doc], FullTransformerBatch]`` (spelled loosely: trf_core is not imported here)."""


def transformer_model_v3(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any] = {},  # noqa: B006 (configs pass dicts; never mutated)
    transformer_config: dict[str, Any] = {},  # noqa: B006
    mixed_precision: bool = False,
    grad_scaler_config: dict[str, Any] = {},  # noqa: B006
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
    trainable_layers: int = -1,
) -> BackendModel:
    """A Hugging Face transformer as a trf-core backend: ``spacy-transformers.TransformerModel.v3``.

    name: a local model folder, the import name of an installed package shipping one, or a
        Hugging Face Hub id (cache first, downloaded unless offline; see ``trf_hf.loading``).
    get_spans: splits each doc into the spans the model reads.
    tokenizer_config: options for ``AutoTokenizer.from_pretrained`` (e.g. ``use_fast``).
    transformer_config: options for ``AutoConfig.from_pretrained``; ``output_hidden_states`` /
        ``output_attentions`` also make the backend return those outputs.
    mixed_precision: autocast to half precision on GPU; grad_scaler_config configures the scaler.
    window: the most wordpieces one model input holds (0: the model's maximum).
    stride: how far consecutive windows of a long span move, in wordpieces (0: 3/4 of a window).
    truncate: cut spans longer than a window (warning with counts) instead of windowing them.
    trainable_layers: fine-tune only this many top layers (the embeddings and the layers below
        stay as pretrained, and cost no backward pass); -1 trains every weight.
    """
    from .backend import build_hf_backend

    return build_hf_backend(
        name,
        get_spans,
        tokenizer_config=tokenizer_config,
        transformer_config=transformer_config,
        mixed_precision=mixed_precision,
        grad_scaler_config=grad_scaler_config,
        window=window,
        stride=stride,
        truncate=truncate,
        trainable_layers=trainable_layers,
    )


def transformer_model_v2(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any] = {},  # noqa: B006
    transformer_config: dict[str, Any] = {},  # noqa: B006
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
) -> BackendModel:
    """``spacy-transformers.TransformerModel.v2``: v3 without mixed precision."""
    return transformer_model_v3(
        name,
        get_spans,
        tokenizer_config,
        transformer_config,
        window=window,
        stride=stride,
        truncate=truncate,
    )


def transformer_model_v1(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any] = {},  # noqa: B006
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
) -> BackendModel:
    """``spacy-transformers.TransformerModel.v1``: no transformer_config."""
    return transformer_model_v3(
        name, get_spans, tokenizer_config, window=window, stride=stride, truncate=truncate
    )


def tok2vec_transformer_v3(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any],
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    transformer_config: dict[str, Any] = {},  # noqa: B006
    mixed_precision: bool = False,
    grad_scaler_config: dict[str, Any] = {},  # noqa: B006
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
) -> Model[list[Doc], list[Floats2d]]:
    """A transformer used directly as a component's tok2vec, not shared through a listener."""
    from trf_core.component.listeners import tok2vec_from_backend

    backend = transformer_model_v3(
        name,
        get_spans,
        tokenizer_config,
        transformer_config,
        mixed_precision,
        grad_scaler_config,
        window=window,
        stride=stride,
        truncate=truncate,
    )
    return tok2vec_from_backend(backend, pooling, grad_factor)


def tok2vec_transformer_v2(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any],
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    transformer_config: dict[str, Any] = {},  # noqa: B006
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
) -> Model[list[Doc], list[Floats2d]]:
    """``spacy-transformers.Tok2VecTransformer.v2``."""
    return tok2vec_transformer_v3(
        name,
        get_spans,
        tokenizer_config,
        pooling,
        grad_factor,
        transformer_config,
        window=window,
        stride=stride,
        truncate=truncate,
    )


def tok2vec_transformer_v1(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any],
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
) -> Model[list[Doc], list[Floats2d]]:
    """``spacy-transformers.Tok2VecTransformer.v1``."""
    return tok2vec_transformer_v3(
        name,
        get_spans,
        tokenizer_config,
        pooling,
        grad_factor,
        window=window,
        stride=stride,
        truncate=truncate,
    )


TransformerModel = transformer_model_v3
"""The Python equivalent of the usage page: ``TransformerModel(name, get_spans=..., ...)``."""

Tok2VecTransformer = tok2vec_transformer_v3

ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "spacy-transformers.TransformerModel.v1": transformer_model_v1,
    "spacy-transformers.TransformerModel.v2": transformer_model_v2,
    "spacy-transformers.TransformerModel.v3": transformer_model_v3,
    "spacy-transformers.Tok2VecTransformer.v1": tok2vec_transformer_v1,
    "spacy-transformers.Tok2VecTransformer.v2": tok2vec_transformer_v2,
    "spacy-transformers.Tok2VecTransformer.v3": tok2vec_transformer_v3,
}
"""Every name trf-hf registers, as the plugin hook and the catalogue entry points declare."""
