"""``trf.ListenerWithFeatures.v1``: a listener's vectors side by side with token features.

Why: an uncased transformer (all-MiniLM-L6-v2, uncased BERT) lowercases its input, so the
capitalization that marks most names never reaches the listeners. An entity recognizer on such a
model confuses organizations with places and people. Concatenating a small hash embedding of
case-bearing lexical attributes (``SHAPE``, ``PREFIX``, ``SUFFIX`` of the original text) hands
that signal back to one component, without changing the shared transformer or the other
components.

The listener stays a node of the returned model, so the ``transformer`` component finds it as
usual (``find_listeners`` walks the model) and gradients still flow upstream through it.
"""

from __future__ import annotations

from typing import Any

from thinc.api import Model, concatenate

__all__ = ["listener_with_features_v1"]


def listener_with_features_v1(
    listener: Model[Any, Any], features: Model[Any, Any]
) -> Model[Any, Any]:
    """Each token's listener vector followed by its feature vector (``nO`` = sum of both).

    ``listener`` is a listener block (e.g. ``spacy-transformers.TransformerListener.v1``);
    ``features`` any ``Model[list[Doc], list[Floats2d]]``, typically ``spacy.MultiHashEmbed.v2``
    over case-bearing attributes. Both must give one row per token, which both kinds do.
    """
    for role, block in (("listener", listener), ("features", features)):
        if not isinstance(block, Model):
            raise TypeError(
                f"trf.ListenerWithFeatures.v1: '{role}' must be a thinc Model (a config block with "
                f"@architectures or @layers), got {type(block).__name__}. Give it a sub-block "
                f"such as [...tok2vec.{role}] in the config."
            )
    model: Model[Any, Any] = concatenate(listener, features)
    model.set_ref("listener", listener)
    model.set_ref("features", features)
    return model
