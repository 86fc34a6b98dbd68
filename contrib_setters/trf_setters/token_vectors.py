"""Transformer token vectors as ``doc.tensor``, so ``token.vector``, ``doc.vector`` and
``similarity`` work on a transformer pipeline without static vectors.

Each token gets the mean of its wordpiece rows (of every span it lies in) from one layer; a
token with no wordpiece (whitespace) gets zeros. spaCy reads ``doc.tensor`` for vectors only
when the vocab has no static vectors; with static vectors those win.
"""

from typing import Any

from spacy.tokens import Doc

from ._outputs import (
    batch_width,
    check_batch,
    check_layer_setting,
    forget_cached_vector,
    layer_of,
    token_means,
)

NAME = "trf.token_vectors.v1"


class TokenVectorSetter:
    """The annotation setter ``trf.token_vectors.v1`` builds (a class so it pickles).

    ``needs_hidden_states`` tells a component that the backend must return hidden layers.
    """

    def __init__(self, layer: int | None = None) -> None:
        check_layer_setting(layer, NAME)
        self.layer = layer
        self.needs_hidden_states = layer is not None
        self.width = 0
        """The last hidden width seen: what docs of an all-empty batch get."""

    def __call__(self, docs: list[Doc], batch: Any) -> None:
        check_batch(docs, batch, self.layer, NAME)
        width = self.width = batch_width(batch, self.width)
        for doc, data in zip(docs, batch.doc_data):
            array = layer_of(data.model_output, self.layer)
            doc.tensor = token_means(array, data.align, width)
            forget_cached_vector(doc)

    def __repr__(self) -> str:
        return f"TokenVectorSetter(layer={self.layer!r})"


def configure_token_vectors(layer: int | None = None) -> TokenVectorSetter:
    """``trf.token_vectors.v1``: ``layer = null`` (last hidden state) or a hidden-layer index."""
    return TokenVectorSetter(layer)
