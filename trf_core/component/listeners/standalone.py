"""Standalone listeners: a component's own copy of the transformer, read through a head.

``nlp.replace_listeners`` turns a listener into such a copy (spaCy calls
:func:`replace_listener` and :func:`replace_listener_cfg`, which every backend carries in its
attrs, see :mod:`trf_core.contract.backend`); ``trf.StandaloneTransformerListener.v1`` builds it
again from the config that writes, and trf-hf's ``Tok2VecTransformer`` builds one directly
(:func:`tok2vec_from_backend`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from spacy.tokens import Doc
from thinc.api import Model, chain

from ...contract import backend as contract
from ...contract.data import TransformerData
from ...contract.types import BackendModel, DocData, ListenerModel, Pooler, TensorGradients
from .architectures import LISTENER_ARCHITECTURES
from .grad_factor import GradFactor, GradFactorLike, scale_gradients
from .heads import last_layer_head
from .node import TransformerListener

__all__ = [
    "STANDALONE_ARCHITECTURE",
    "listener_attrs",
    "replace_listener",
    "replace_listener_cfg",
    "standalone_transformer_listener_v1",
    "tok2vec_from_backend",
    "transformer_to_docs",
]

STANDALONE_ARCHITECTURE = "trf.StandaloneTransformerListener.v1"
"""What :func:`replace_listener_cfg` writes at a replaced listener's place in the config."""


def transformer_to_docs(
    backend: BackendModel,
    grad_factor: GradFactorLike = 1.0,
    needs_hidden_states: bool = False,
) -> Model[list[Doc], DocData]:
    """Run ``backend`` and yield each doc's output: a listener with its own transformer.

    The backward pass scales the gradient by ``grad_factor`` and skips the backend entirely when
    no gradient is left (grad_factor 0), so not even weight decay moves its weights.
    """
    # Only this head reads the backend's output: hidden states exactly when it needs them (a
    # copy taken from a shared transformer may carry the flag for another component's sake).
    contract.request_hidden_states(backend, needs_hidden_states)
    return Model(
        "trf-transformer-to-docs",
        _to_docs_forward,
        init=_to_docs_init,
        layers=[backend],
        attrs={"grad_factor": GradFactor(grad_factor)},
    )


def _to_docs_init(model: Model, X: list[Doc] | None = None, Y: Any = None) -> Model:
    model.layers[0].initialize(X=X)
    return model


def _to_docs_forward(
    model: Model, docs: list[Doc], is_train: bool
) -> tuple[list[TransformerData], Callable[[TensorGradients], list[Any]]]:
    backend = model.layers[0]
    batch, bp_batch = backend(docs, is_train)
    if batch.doc_lengths is None:
        batch.doc_lengths = [len(doc) for doc in docs]
    grad_factor: GradFactor = model.attrs["grad_factor"]
    factor = grad_factor.next() if is_train else grad_factor.last

    def backprop(d_tensors: TensorGradients) -> list[Any]:
        scaled = scale_gradients(d_tensors, factor)
        if any(g is not None for doc_grads in scaled for g in doc_grads):
            bp_batch(scaled)
        return []

    return batch.doc_data, backprop


def tok2vec_from_backend(
    backend: BackendModel,
    pooling: Pooler,
    grad_factor: GradFactorLike,
) -> ListenerModel:
    """Token vectors straight from a backend, pooled from its last hidden state.

    What ``Tok2VecTransformer`` builds: ``chain(transformer_to_docs(backend), head(pooling))``.
    """
    return chain(transformer_to_docs(backend, grad_factor), last_layer_head(pooling))


def standalone_transformer_listener_v1(
    backend: BackendModel,
    listener: ListenerModel,
) -> ListenerModel:
    """``trf.StandaloneTransformerListener.v1``: ``listener``'s head over its own ``backend``.

    This is what ``nlp.replace_listeners`` writes into a component's config, so a pipeline whose
    listeners were replaced loads again from its config, with the same layout.
    """
    node = listener.maybe_get_ref("listener") if listener.has_ref("listener") else None
    if not isinstance(node, TransformerListener) or len(listener.layers) != 2:
        raise TypeError(
            "trf.StandaloneTransformerListener.v1 needs a transformer listener block in "
            f"'listener' (one of {', '.join(LISTENER_ARCHITECTURES)}), got {listener.name!r}"
        )
    head = listener.layers[1]
    return chain(_replacement(backend, node), head)


def _replacement(backend: BackendModel, listener: TransformerListener) -> Model[list[Doc], DocData]:
    return transformer_to_docs(
        backend, listener.grad_factor, contract.needs_hidden_states(listener)
    )


def replace_listener(
    model: BackendModel,
    listener: Model | None = None,
    transformer: Any = None,
) -> Model[list[Doc], DocData]:
    """spaCy's ``replace_listener`` callback: the listener node becomes a copy of its transformer.

    spaCy passes the backend's copy, the listener node and the transformer component. Only the
    node is replaced; the head after it (and any weights it learned) stays, so predictions do not
    change.
    """
    if isinstance(listener, TransformerListener):
        return _replacement(model, listener)
    return transformer_to_docs(model)


def replace_listener_cfg(
    tok2vec_model_name: dict[str, Any], listener_cfg: dict[str, Any]
) -> dict[str, Any]:
    """spaCy's ``replace_listener_cfg`` callback: the config :func:`replace_listener` builds.

    ``tok2vec_model_name`` is the transformer component's ``model`` block, ``listener_cfg`` the
    listener's block.
    """
    name = listener_cfg.get("@architectures")
    if name not in LISTENER_ARCHITECTURES:
        raise ValueError(
            f"replace_listeners found {name!r} at the listener's place in the config, but can "
            f"only replace transformer listeners ({', '.join(LISTENER_ARCHITECTURES)})"
        )
    return {
        "@architectures": STANDALONE_ARCHITECTURE,
        "backend": copy.deepcopy(dict(tok2vec_model_name)),
        "listener": copy.deepcopy(dict(listener_cfg)),
    }


def listener_attrs() -> dict[str, Any]:
    """The ``replace_listener`` / ``replace_listener_cfg`` attrs every backend sets.

    ``model.attrs.update(listener_attrs())`` in a backend's constructor: spaCy's
    ``nlp.replace_listeners`` calls them to turn a listener into a standalone copy.
    """
    return {
        contract.REPLACE_LISTENER: replace_listener,
        contract.REPLACE_LISTENER_CFG: replace_listener_cfg,
    }
