"""What a head reads from a doc's outputs: the last hidden state, chosen layers, a scalar mix.

A selector takes the head model and a doc's :class:`~trf_core.contract.data.ModelOutput` and returns
the array to pool, shaped ``(spans, pieces, width)``, with a backprop that maps that array's
gradient to gradients of the doc's flat ``tensors`` (index -> gradient). The head picks its selector
by name (``attrs["select"]``); the scalar mix keeps its weights as the head's params.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from thinc.api import Model

from ...contract.data import ModelOutput

__all__ = ["SELECTORS", "Selector", "SelectorBackprop"]

SelectorBackprop = Callable[[Any], dict[int, Any]]
"""Maps the gradient of the selected array to ``{tensor index: gradient}``."""

Selector = Callable[[Model, ModelOutput], tuple[Any, SelectorBackprop]]
"""Picks (or computes) the array a head pools from one doc's outputs."""


def _slots(output: ModelOutput) -> tuple[dict[str, list[int]], int]:
    """Where each output lives in the flat ``tensors`` list, and how long that list is."""
    slots: dict[str, list[int]] = {}
    i = 0
    for key, value in output.items():
        if value is None:
            continue
        n = len(value) if isinstance(value, (tuple, list)) else 1
        slots[key] = list(range(i, i + n))
        i += n
    return slots, i


def _hidden_states(model: Model, output: ModelOutput) -> Sequence[Any]:
    states = output.get("hidden_states")
    if not states:
        raise ValueError(
            f"the listener layer {model.name!r} reads hidden layers, but the transformer's output "
            f"has only {', '.join(output) or 'nothing'}. The transformer component asks its model "
            "for hidden states when a listener needs them: check the listener's upstream names "
            "that component, or set model.attrs['output_hidden_states'] = True on the backend."
        )
    return cast(Sequence[Any], states)


def _select_last(model: Model, output: ModelOutput) -> tuple[Any, SelectorBackprop]:
    slots, _ = _slots(output)
    key = "last_hidden_state" if "last_hidden_state" in slots else next(iter(slots))
    index = slots[key][0]
    return output[key], lambda d: {index: d}


def _select_layers(model: Model, output: ModelOutput) -> tuple[Any, SelectorBackprop]:
    states = _hidden_states(model, output)
    slots, _ = _slots(output)
    n = len(states)
    chosen = []
    for layer in model.attrs["layers"]:
        if not -n <= layer < n:
            raise ValueError(
                f"the listener reads layer {layer}, but the transformer has {n} hidden states "
                f"(embeddings + {n - 1} layers): use indices from {-n} to {n - 1}"
            )
        chosen.append(layer % n)
    indices = [slots["hidden_states"][i] for i in chosen]
    xp = model.ops.xp
    if model.attrs["combine"] == "concat":
        feats = xp.concatenate([states[i] for i in chosen], axis=-1)
        width = int(states[0].shape[-1])

        def bp_concat(d: Any) -> dict[int, Any]:
            grads: dict[int, Any] = {}
            for k, index in enumerate(indices):
                part = d[..., k * width : (k + 1) * width]
                grads[index] = part + grads[index] if index in grads else part
            return grads

        return feats, bp_concat
    feats = sum(states[i] for i in chosen) / len(chosen)

    def bp_mean(d: Any) -> dict[int, Any]:
        grads: dict[int, Any] = {}
        share = d / len(chosen)
        for index in indices:
            grads[index] = share + grads[index] if index in grads else share
        return grads

    return feats, bp_mean


def _select_mix(model: Model, output: ModelOutput) -> tuple[Any, SelectorBackprop]:
    states = _hidden_states(model, output)
    slots, _ = _slots(output)
    _ensure_mix_params(model, len(states))
    xp = model.ops.xp
    weights = model.get_param("mix_weights")
    scale = model.get_param("mix_scale")
    shifted = xp.exp(weights - weights.max())
    probs = shifted / shifted.sum()
    mixed = sum(float(probs[i]) * states[i] for i in range(len(states)))
    gamma = float(scale[0])
    indices = slots["hidden_states"]

    def bp_mix(d: Any) -> dict[int, Any]:
        dots = xp.asarray([float((states[i] * d).sum()) for i in range(len(states))])
        d_scale = float((probs * dots).sum())
        d_probs = gamma * dots
        d_weights = probs * (d_probs - float((probs * d_probs).sum()))
        model.inc_grad("mix_weights", d_weights.astype(weights.dtype))
        model.inc_grad("mix_scale", xp.asarray([d_scale], dtype=scale.dtype))
        return {index: (gamma * float(probs[i])) * d for i, index in enumerate(indices)}

    return gamma * mixed, bp_mix


def _ensure_mix_params(model: Model, n_layers: int) -> None:
    if model.has_param("mix_weights"):
        have = int(model.get_param("mix_weights").shape[0])
        if have != n_layers:
            raise ValueError(
                f"the scalar mix was built for {have} hidden states, but the transformer gives "
                f"{n_layers}; a trained scalar mix only works with the transformer it was "
                "trained with"
            )
        return
    model.set_dim("nL", n_layers)
    model.set_param("mix_weights", model.ops.alloc1f(n_layers))
    model.set_param("mix_scale", model.ops.asarray1f([1.0]))


SELECTORS: dict[str, Selector] = {
    "last": _select_last,
    "layers": _select_layers,
    "mix": _select_mix,
}
"""Selector name (a head's ``attrs["select"]``) -> selector."""
