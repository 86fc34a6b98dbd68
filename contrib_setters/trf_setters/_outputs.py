"""Reading one layer of a batch's output, and pooling its rows per token.

Shared by the setters so they agree on what "layer" means: ``None`` is the last hidden state
(``tensors[0]``); an int indexes ``model_output.hidden_states`` (embeddings output first, then
each layer; negative counts from the end), which the backend only returns when asked.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy
from spacy.tokens import Doc
from thinc.api import get_array_module
from thinc.backends import get_array_ops
from thinc.types import Ragged


def check_layer_setting(layer: int | None, setter: str) -> None:
    """Refuse a ``layer`` that is neither null nor a whole number, when the config is read."""
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise ValueError(
            f"{setter}: layer must be null (the last hidden state) or an index into the "
            f"hidden layers (0 = embeddings, -1 = last), got {layer!r}"
        )


def check_batch(docs: Sequence[Doc], batch: Any, layer: int | None, setter: str) -> None:
    """Fail early, saying what to change, when the batch cannot give what the setter needs."""
    if len(docs) != len(batch.spans):
        raise ValueError(
            f"{setter} got {len(docs)} docs but a batch for {len(batch.spans)}; call it with the "
            "docs the batch was computed from"
        )
    if layer is None or not len(batch.model_output):
        return
    hidden = batch.model_output.get("hidden_states")
    if not hidden:
        raise ValueError(
            f"{setter} reads hidden layer {layer}, but the transformer's output has no "
            f"hidden_states (it holds: {', '.join(batch.model_output) or 'nothing'}). Make the "
            "backend return them (model.attrs['output_hidden_states'] = True, or a listener "
            "that needs them), or set layer = null to use the last hidden state."
        )
    if not -len(hidden) <= layer < len(hidden):
        raise ValueError(
            f"{setter} reads hidden layer {layer}, but the transformer has {len(hidden)} "
            f"(0 = embeddings to {len(hidden) - 1} = last; negative counts from the end)"
        )


def batch_width(batch: Any, known: int = 0) -> int:
    """The batch's hidden width; ``known`` (a width seen before) when the transformer saw
    nothing in this batch (only empty docs), so such docs still get vectors of the right width."""
    state = batch.model_output.get("last_hidden_state")
    return int(state.shape[-1]) if state is not None else known


def layer_of(model_output: Mapping[str, Any], layer: int | None) -> Any:
    """One doc's ``(n_spans, n_pieces, width)`` array of the layer, or None if it has no spans."""
    if not len(model_output):
        return None
    if layer is None:
        return model_output["last_hidden_state"]
    return model_output["hidden_states"][layer]


def token_means(layer_array: Any, align: Ragged, width: int) -> Any:
    """Each token's mean row, float32, ``(n_tokens, width)``; zeros for a token with no row."""
    xp = numpy if layer_array is None else get_array_module(layer_array)
    lengths = xp.asarray(align.lengths, dtype="int32")
    out = xp.zeros((len(lengths), width), dtype="float32")
    keep = xp.nonzero(lengths > 0)[0]
    if layer_array is None or not len(keep):
        return out
    index = xp.asarray(align.dataXd, dtype="int64").reshape((-1,))
    rows = layer_array.reshape((-1, layer_array.shape[-1]))[index].astype("float32")
    out[keep] = get_array_ops(rows).reduce_mean(rows, lengths[keep])
    return out


def forget_cached_vector(doc: Doc) -> None:
    """Drop spaCy's cached ``doc.vector`` / ``vector_norm`` so they follow the new annotation."""
    cached: Any = doc  # spaCy's stubs type these as arrays; None is what resets the cache
    cached.vector = None
    cached.vector_norm = None
