"""Fine-tune only the top layers of a transformer: ``trainable_layers`` of ``TransformerModel.v3``.

Why: fine-tuning every weight means a backward pass through every layer, and a gradient and
optimizer state for every weight (half of a small model's weights are its embedding table). With
only the top ``N`` layers trainable, torch records no graph below them, so the backward pass, the
gradients and the optimizer stop there, while the forward pass is unchanged; the lower layers and
the embeddings, the most general part of a pretrained model, keep their pretrained weights. (On
2 CPU cores the quickstart's steps got only about 10% faster: see docs/configuration.md.)

Which parameters count as "below": the model's layer stack is its longest ``torch.nn.ModuleList``
(``encoder.layer`` in BERT and RoBERTa, ``transformer.layer`` in DistilBERT, ``layers`` in
others); every parameter that ``named_parameters()`` yields before the first trainable layer (the
embeddings, the layers below) is frozen, every one after it (the top layers, a final layer norm, a
pooler) stays trainable.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALL_LAYERS", "check_trainable_layers", "freeze_below_top_layers", "layer_stack"]

ALL_LAYERS = -1
"""``trainable_layers`` that trains every weight (the default)."""


def check_trainable_layers(value: Any) -> int:
    """The setting as an int, or a ValueError that says what it accepts."""
    if isinstance(value, bool) or not isinstance(value, int) or value < ALL_LAYERS:
        raise ValueError(
            f"trainable_layers must be -1 (train every weight, the default) or the number of "
            f"top layers to fine-tune (0 or more), got {value!r}"
        )
    return value


def layer_stack(transformer: Any) -> Any:
    """The model's stack of layers: its longest ``ModuleList`` (None if it has none)."""
    import torch

    stacks = [m for m in transformer.modules() if isinstance(m, torch.nn.ModuleList)]
    return max(stacks, key=len, default=None)


def freeze_below_top_layers(transformer: Any, trainable_layers: int) -> None:
    """Set ``requires_grad`` so that only the top ``trainable_layers`` layers (and what comes
    after them) learn; ``ALL_LAYERS`` makes every parameter trainable again."""
    parameters = list(transformer.named_parameters())
    if trainable_layers == ALL_LAYERS:
        for _, parameter in parameters:
            parameter.requires_grad_(True)
        return
    stack = layer_stack(transformer)
    model_name = type(transformer).__name__
    if stack is None or len(stack) == 0:
        raise ValueError(
            f"trainable_layers = {trainable_layers}: {model_name} has no stack of layers "
            "(torch.nn.ModuleList) to count from the top; use -1 to train every weight"
        )
    if trainable_layers > len(stack):
        raise ValueError(
            f"trainable_layers = {trainable_layers}, but {model_name} has {len(stack)} layers; "
            f"give at most {len(stack)} (or -1 to train every weight)"
        )
    ids = [id(parameter) for _, parameter in parameters]
    if trainable_layers > 0:
        first_top = next(iter(stack[len(stack) - trainable_layers].parameters()))
        start = ids.index(id(first_top))
    else:  # no layer learns: only what follows the whole stack (a pooler, a final norm)
        in_stack = {id(parameter) for parameter in stack.parameters()}
        start = 1 + max(i for i, pid in enumerate(ids) if pid in in_stack)
    for i, (_, parameter) in enumerate(parameters):
        parameter.requires_grad_(i >= start)
