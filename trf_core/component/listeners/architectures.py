"""The registered listener architectures: ``chain(TransformerListener, head)``.

That is spacy-transformers' layout, so its saved pipelines load: the node
(:mod:`trf_core.component.listeners.node`) yields each doc's output and passes gradients upstream,
the head (:mod:`trf_core.component.listeners.heads`) reads and pools it. The entry points in
pyproject.toml name these functions here.
"""

from __future__ import annotations

from thinc.api import chain

from ...contract.backend import needs_hidden_states
from ...contract.types import ListenerHead, ListenerModel, Pooler
from .grad_factor import GradFactorLike
from .heads import last_layer_head, layers_head, scalar_mix_head
from .node import TransformerListener

__all__ = [
    "LISTENER_ARCHITECTURES",
    "scalar_mix_listener_v1",
    "transformer_layers_listener_v1",
    "transformer_listener_tok2vec_v1",
]

LISTENER_ARCHITECTURES = (
    "spacy-transformers.TransformerListener.v1",
    "spacy-transformers.Tok2VecListener.v1",
    "trf.TransformerLayersListener.v1",
    "trf.ScalarMixListener.v1",
)
"""The registered names whose block
:func:`~trf_core.component.listeners.replace_listener_cfg` replaces."""


def _listener_chain(
    upstream: str, head: ListenerHead, grad_factor: GradFactorLike
) -> ListenerModel:
    listener = TransformerListener(
        upstream, grad_factor, needs_hidden_states=needs_hidden_states(head)
    )
    model: ListenerModel = chain(listener, head)
    model.set_ref("listener", listener)
    return model


def transformer_listener_tok2vec_v1(
    pooling: Pooler,
    grad_factor: float = 1.0,
    upstream: str = "*",
) -> ListenerModel:
    """``spacy-transformers.TransformerListener.v1`` / ``Tok2VecListener.v1``: the last layer."""
    return _listener_chain(upstream, last_layer_head(pooling), grad_factor)


def transformer_layers_listener_v1(
    pooling: Pooler,
    layers: list[int] = [-1],  # noqa: B006 (configs need a plain list default)
    combine: str = "mean",
    grad_factor: float = 1.0,
    upstream: str = "*",
) -> ListenerModel:
    """``trf.TransformerLayersListener.v1``: chosen hidden layers, by mean or concatenation."""
    return _listener_chain(upstream, layers_head(pooling, layers, combine), grad_factor)


def scalar_mix_listener_v1(
    pooling: Pooler,
    grad_factor: float = 1.0,
    upstream: str = "*",
) -> ListenerModel:
    """``trf.ScalarMixListener.v1``: a learned scalar mix of every hidden state."""
    return _listener_chain(upstream, scalar_mix_head(pooling), grad_factor)
