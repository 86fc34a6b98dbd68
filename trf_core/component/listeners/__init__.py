"""Listeners: how downstream components read the transformer's output.

A listener stands in for a token-to-vector network inside a downstream component's model (a
tagger's, a parser's, ...). It does not run the transformer: during ``nlp.update`` the
``transformer`` component runs the batch once and hands every listener the per-doc outputs and a
callback for gradients (:meth:`TransformerListener.receive`); at prediction time the listener
reads ``doc._.trf_data``, which the component set earlier in the pipeline. That is how several
components share one transformer without sharing a model object.

Every listener architecture builds ``chain(TransformerListener, head)``, spacy-transformers'
layout (so its saved pipelines load): the :class:`TransformerListener` node yields each doc's
:class:`~trf_core.contract.data.TransformerData` and passes gradients upstream; the *head*, a
``Model[list[TransformerData], list[Floats2d]]``, picks what to read (the last hidden state,
chosen hidden layers, a learned scalar mix of all of them) and pools each token's wordpiece rows
into one vector. Tokens with no wordpiece get zeros and pass no gradient, whatever the pooler
(:mod:`trf_core.component.pooling`).

The gradient a listener sends upstream is scaled by its ``grad_factor`` (a float, or a thinc
schedule advanced once per update step); the head's own weights (a scalar mix) always learn.

Registered architectures:

- ``spacy-transformers.TransformerListener.v1`` and ``spacy-transformers.Tok2VecListener.v1``
  (``pooling``, ``grad_factor``, ``upstream``): the last hidden state.
- ``trf.TransformerLayersListener.v1`` (adds ``layers``, ``combine``): chosen hidden layers,
  indexed like Python lists over the backend's ``hidden_states`` (0 is the embedding output,
  ``-1`` the last layer), combined by ``"mean"`` (the output keeps the transformer's width) or
  ``"concat"`` (width times the number of layers).
- ``trf.ScalarMixListener.v1``: a learned softmax-weighted sum of every hidden state times a
  learned scale (ELMo's scalar mix), starting as the plain mean.
- ``trf.StandaloneTransformerListener.v1`` (``backend``, ``listener``): what
  ``nlp.replace_listeners`` turns a listener into, a component-owned copy of the transformer
  read through the listener's own head.

Listeners that read hidden layers carry ``attrs["needs_hidden_states"] = True``; the transformer
component then asks its backend for them.

The modules, one role each: :mod:`~trf_core.component.listeners.grad_factor` (``GradFactor``),
:mod:`~trf_core.component.listeners.node` (``TransformerListener``),
:mod:`~trf_core.component.listeners.selection` and :mod:`~trf_core.component.listeners.heads` (what
a head reads, and the head itself), :mod:`~trf_core.component.listeners.architectures` (the
registered listeners) and :mod:`~trf_core.component.listeners.standalone` (``replace_listeners`` and
a component's own copy). This package re-exports every name; ``trf_core`` the public ones.
"""

from __future__ import annotations

from .architectures import (
    LISTENER_ARCHITECTURES,
    scalar_mix_listener_v1,
    transformer_layers_listener_v1,
    transformer_listener_tok2vec_v1,
)
from .grad_factor import GradFactor, GradFactorLike, scale_gradients
from .heads import last_layer_head, layers_head, scalar_mix_head
from .node import TransformerListener, get_batch_id
from .standalone import (
    STANDALONE_ARCHITECTURE,
    listener_attrs,
    replace_listener,
    replace_listener_cfg,
    standalone_transformer_listener_v1,
    tok2vec_from_backend,
    transformer_to_docs,
)

__all__ = [
    "LISTENER_ARCHITECTURES",
    "STANDALONE_ARCHITECTURE",
    "GradFactor",
    "GradFactorLike",
    "TransformerListener",
    "get_batch_id",
    "last_layer_head",
    "layers_head",
    "listener_attrs",
    "replace_listener",
    "replace_listener_cfg",
    "scalar_mix_head",
    "scalar_mix_listener_v1",
    "scale_gradients",
    "standalone_transformer_listener_v1",
    "tok2vec_from_backend",
    "transformer_layers_listener_v1",
    "transformer_listener_tok2vec_v1",
    "transformer_to_docs",
]
