"""Every type the contract names, named once, so modules and plugins agree on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

from spacy.tokens import Doc, Span
from thinc.api import Model
from thinc.types import Floats2d, Floats3d, FloatsXd, Ints1d, Ints2d, Ragged

from .data import FullTransformerBatch, TransformerData

SpanGetter = Callable[[list[Doc]], list[list[Span]]]
"""Splits each doc of a batch into the (possibly overlapping) spans the transformer reads."""

AnnotationSetter = Callable[[list[Doc], FullTransformerBatch], None]
"""Writes whatever a user wants from the batch output onto the docs."""

Pooler = Model[Ragged, Floats2d]
"""Reduces each token's wordpiece rows to one vector."""

BackendModel = Model[list[Doc], FullTransformerBatch]
"""The model a ``transformer`` component wraps: docs in, the batch's outputs out."""

BackendBackprop = Callable[[list[list[Union[FloatsXd, None]]]], Any]
"""A backend's backprop: per doc, one gradient (or None) for each of that doc's ``tensors``."""

ListenerModel = Model[list[Doc], list[Floats2d]]
"""A listener: token vectors for each doc, read from the upstream transformer."""

ListenerHead = Model[list[TransformerData], list[Floats2d]]
"""A listener's head: picks what to read from each doc's outputs and pools it per token."""

TensorGradients = list[list[Union[FloatsXd, None]]]
"""Per doc, a gradient (or None) for each of its ``TransformerData.tensors``."""

DocData = list[TransformerData]

__all__ = [
    "AnnotationSetter",
    "BackendBackprop",
    "BackendModel",
    "DocData",
    "Floats2d",
    "Floats3d",
    "FloatsXd",
    "Ints1d",
    "Ints2d",
    "ListenerHead",
    "ListenerModel",
    "Pooler",
    "Ragged",
    "SpanGetter",
    "TensorGradients",
]
