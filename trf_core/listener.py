"""Listeners: how downstream components read the transformer's output.

A listener stands in for a token-to-vector network inside a downstream component's model (a
tagger's, a parser's, ...). It does not run the transformer: during ``nlp.update`` the
``transformer`` component runs the batch once and hands every listener the per-doc outputs and a
callback for gradients (:meth:`TransformerListener.receive`); at prediction time the listener
reads ``doc._.trf_data``, which the component set earlier in the pipeline. That is how several
components share one transformer without sharing a model object.

Every listener architecture builds ``chain(TransformerListener, head)``, spacy-transformers'
layout (so its saved pipelines load): the :class:`TransformerListener` node yields each doc's
:class:`~trf_core.data.TransformerData` and passes gradients upstream; the *head*, a
``Model[list[TransformerData], list[Floats2d]]``, picks what to read (the last hidden state,
chosen hidden layers, a learned scalar mix of all of them) and pools each token's wordpiece rows
into one vector. Tokens with no wordpiece get zeros and pass no gradient, whatever the pooler
(:mod:`trf_core.pooling`).

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
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any, Union, cast

from spacy.tokens import Doc
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged

from .data import FullTransformerBatch, ModelOutput, TransformerData, WordpieceBatch
from .extensions import install_extensions
from .pooling import pool_nonempty
from .retention import mark_read
from .types import TensorGradients

__all__ = [
    "GradFactor",
    "TransformerListener",
    "get_batch_id",
    "last_layer_head",
    "layers_head",
    "replace_listener",
    "replace_listener_cfg",
    "scalar_mix_head",
    "scalar_mix_listener_v1",
    "standalone_transformer_listener_v1",
    "tok2vec_from_backend",
    "transformer_layers_listener_v1",
    "transformer_listener_tok2vec_v1",
    "transformer_to_docs",
]

install_extensions()

GradFactorLike = Union[float, int, Iterator[float], Callable[[int], float], "GradFactor"]

LISTENER_ARCHITECTURES = (
    "spacy-transformers.TransformerListener.v1",
    "spacy-transformers.Tok2VecListener.v1",
    "trf.TransformerLayersListener.v1",
    "trf.ScalarMixListener.v1",
)
STANDALONE_ARCHITECTURE = "trf.StandaloneTransformerListener.v1"


class GradFactor:
    """A ``grad_factor``: a constant, or a schedule advanced once per update step.

    thinc 8's schedules are generators, which cannot be copied; copies of a model share this
    object instead (``copy``/``deepcopy`` return it), so copying a listener never fails.
    """

    frozen_schedule = False  # set on a copy whose schedule was pickled as its last value

    def __init__(self, value: GradFactorLike) -> None:
        if isinstance(value, GradFactor):
            value = cast(Any, value).source
        if isinstance(value, bool) or not (
            isinstance(value, (int, float)) or callable(value) or isinstance(value, Iterator)
        ):
            raise TypeError(
                f"grad_factor must be a number or a thinc schedule, got {type(value).__name__}; "
                "use e.g. grad_factor = 1.0, or a [grad_factor] block with @schedules"
            )
        self.source: Any = value
        self.step = 0
        self.last = float(value) if isinstance(value, (int, float)) else 1.0

    def next(self) -> float:
        """The factor for the next update step (advances a schedule by one)."""
        value = self.source
        if self.frozen_schedule:
            self.frozen_schedule = False  # warn once per copy
            warnings.warn(
                f"this listener's grad_factor schedule was pickled (nlp.pipe with n_process > 1, "
                f"or pickle.dumps) and continues at its last value {self.last}; thinc 8 "
                "schedules are generators and cannot travel. To train on with the schedule, "
                "load the pipeline from disk (spacy.load) instead of unpickling it",
                stacklevel=2,
            )
        if isinstance(value, (int, float)):
            self.last = float(value)
        elif isinstance(value, Iterator):
            self.last = float(next(value))
        else:
            self.last = float(value(self.step))
        self.step += 1
        return self.last

    def __getstate__(self) -> dict[str, Any]:
        # A generator cannot be pickled, and spaCy pickles the pipeline for each worker of
        # nlp.pipe(n_process > 1) where processes spawn. Prediction reads only `last`, so the
        # copy keeps that value; `next` says so if the copy is trained on.
        state = dict(self.__dict__)
        if isinstance(self.source, Iterator):
            state["source"] = self.last
            state["frozen_schedule"] = True
        return state

    def __copy__(self) -> GradFactor:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> GradFactor:
        return self

    def __repr__(self) -> str:
        return f"GradFactor({self.source!r})"


def get_batch_id(docs: Iterable[Doc]) -> int:
    """A content hash of a batch, to check a listener got the batch it was sent."""
    return sum(sum(token.orth for token in doc) for doc in docs)


class TransformerListener(Model):
    """Stands in for a tok2vec layer: yields each doc's transformer output, sends gradients back.

    ``upstream_name`` is the transformer component's name, or ``"*"`` for any. The node has no
    weights; ``attrs`` remember the upstream's width and layer count (set by the component), so
    docs the transformer never saw still get outputs of the right shape.
    """

    name = "transformer-listener"
    # What one training step (or initialization) leaves behind: never copied or pickled.
    _STEP_STATE = ("_outputs", "_backprop", "_batch_id", "_init_docs")

    def __init__(
        self,
        upstream_name: str,
        grad_factor: GradFactorLike = 1.0,
        needs_hidden_states: bool = False,
    ) -> None:
        Model.__init__(
            self,
            name=self.name,
            forward=_listener_forward,
            init=_listener_init,
            dims={"nO": None},
            attrs={
                "needs_hidden_states": bool(needs_hidden_states),
                "trf_width": None,
                "trf_n_layers": None,
            },
        )
        self.upstream_name = upstream_name
        self.grad_factor = GradFactor(grad_factor)
        self.upstreams: set[str] = set()
        self._batch_id: int | None = None
        self._outputs: list[TransformerData] | None = None
        self._backprop: Callable[[TensorGradients], Any] | None = None
        self._factor = self.grad_factor.last
        self._init_docs: list[Doc] | None = None
        self._warned = False

    @classmethod
    def get_batch_id(cls, inputs: Iterable[Doc]) -> int:
        return get_batch_id(inputs)

    def receive(
        self,
        batch_id: int,
        outputs: list[TransformerData],
        backprop: Callable[[TensorGradients], Any],
    ) -> None:
        """Store one update step's outputs and gradient callback (called by the transformer)."""
        self._batch_id = batch_id
        self._outputs = outputs
        self._backprop = backprop
        self._factor = self.grad_factor.next()

    def set_upstream_shape(self, width: int, n_layers: int | None) -> None:
        """Learn the transformer's width (and hidden-state count) for docs it never saw."""
        self.attrs["trf_width"] = int(width)
        if not self.has_dim("nO"):
            self.set_dim("nO", int(width))
        if n_layers is not None:
            self.attrs["trf_n_layers"] = int(n_layers)

    def __getstate__(self) -> tuple[dict[str, Any], dict[str, Any]]:
        # A received batch's backprop callback is a closure of that training step: it neither
        # pickles nor means anything in another process (nlp.pipe(n_process > 1) after training).
        # The state is pickle's default (instance dict, slot values), with those dropped.
        state = dict(self.__dict__)
        for key in self._STEP_STATE:
            if key in state:
                state[key] = None
        slots = {name: getattr(self, name) for name in Model.__slots__ if hasattr(self, name)}
        return state, slots

    def __deepcopy__(self, memo: dict[int, Any]) -> TransformerListener:
        # Received batches and callbacks belong to one training step of one pipeline.
        new = cast(TransformerListener, Model.__new__(type(self)))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key in self._STEP_STATE:
                new.__dict__[key] = None
            elif key == "upstreams":
                new.__dict__[key] = set()
            else:
                new.__dict__[key] = copy.deepcopy(value, memo)
        return new


def _listener_init(
    model: TransformerListener, X: list[Doc] | None = None, Y: Any = None
) -> TransformerListener:
    # A chain initialises a layer, then calls its predict on the same docs to shape the next
    # layer: the transformer never saw those docs, and that is expected, not worth a warning.
    model._init_docs = X
    return model


def _listener_forward(
    model: TransformerListener, docs: list[Doc], is_train: bool
) -> tuple[list[TransformerData], Callable[[TensorGradients], list[Any]]]:
    upstream: Callable[[TensorGradients], Any] | None = None
    factor = 0.0
    if is_train and model._batch_id is not None and model._batch_id == get_batch_id(docs):
        data = list(model._outputs or [])
        upstream = model._backprop
        factor = model._factor
    else:
        if is_train and model._batch_id is not None and any(d._.trf_data is None for d in docs):
            raise ValueError(
                "the transformer listener got a batch of docs that differs from the one its "
                "transformer component sent it during this update, and the docs carry no "
                "doc._.trf_data to fall back on. Update the transformer and its listening "
                "components together (nlp.update), or let the transformer annotate the docs "
                "first (training.annotating_components)."
            )
        data = _read_docs(model, docs)
    if len(data) != len(docs):
        raise ValueError(
            f"the transformer listener has outputs for {len(data)} docs but was given "
            f"{len(docs)}; the listener must be called with the batch its transformer saw"
        )
    # Docs the backend gave no spans (empty, whitespace) carry no arrays; give them the
    # upstream's shape so a batch of only such docs still yields vectors of the right width.
    data = [d if d.model_output else _empty_output(model, len(doc)) for doc, d in zip(docs, data)]
    for doc, doc_data in zip(docs, data):
        n_aligned = int(doc_data.align.lengths.shape[0])
        if n_aligned != len(doc):
            raise ValueError(
                f"the transformer output aligns {n_aligned} tokens, but the doc has {len(doc)}: "
                "doc._.trf_data belongs to another tokenization of the text"
            )

    def backprop(d_tensors: TensorGradients) -> list[Any]:
        if upstream is not None:
            upstream(_scale(d_tensors, factor))
        return []

    return data, backprop


def _read_docs(model: TransformerListener, docs: list[Doc]) -> list[TransformerData]:
    """Each doc's ``doc._.trf_data``; docs the transformer never saw read as empty output."""
    missing = [doc for doc in docs if doc._.trf_data is None]
    if missing and any(len(doc) for doc in missing):
        if not model.upstreams:
            raise ValueError(
                f"a transformer listener (upstream {model.upstream_name!r}) has no transformer "
                "component to listen to, and the docs carry no doc._.trf_data. Add a "
                "'transformer' component before the component that uses this listener, e.g. "
                "nlp.add_pipe('transformer', first=True), or give that component its own "
                "transformer with nlp.replace_listeners."
            )
        if not model._warned and docs is not model._init_docs:
            model._warned = True
            warnings.warn(
                f"a transformer listener got docs without doc._.trf_data (is the transformer "
                f"component {', '.join(sorted(model.upstreams))!r} disabled?); it returns zero "
                "vectors for them. Enable the transformer component to get real vectors.",
                UserWarning,
                stacklevel=4,
            )
    data: list[TransformerData] = []
    for doc in docs:
        value = doc._.trf_data
        if value is None:
            data.append(_empty_output(model, len(doc)))
        elif not isinstance(value, TransformerData):
            raise TypeError(
                f"doc._.trf_data holds a {type(value).__name__}, not a TransformerData; "
                "something other than the transformer component wrote it"
            )
        else:
            data.append(value)
        mark_read(doc, model.id)
    return data


def _empty_output(model: TransformerListener, n_tokens: int) -> TransformerData:
    """Output for a doc the transformer never saw: no rows, but the upstream's shape."""
    xp = model.ops.xp
    data = TransformerData.empty(n_tokens, xp)
    width = model.attrs.get("trf_width")
    if width is None and model.has_dim("nO"):
        width = model.get_dim("nO")  # e.g. a pipeline saved by spacy-transformers
    if width is None:
        return data
    output = ModelOutput()
    output["last_hidden_state"] = model.ops.alloc3f(0, 0, int(width))
    n_layers = model.attrs.get("trf_n_layers")
    if n_layers:
        output["hidden_states"] = tuple(
            model.ops.alloc3f(0, 0, int(width)) for _ in range(n_layers)
        )
    return TransformerData(
        wordpieces=WordpieceBatch.empty(xp), model_output=output, align=data.align
    )


def _scale(d_tensors: TensorGradients, factor: float) -> TensorGradients:
    if factor == 0:
        return [[None] * len(doc_grads) for doc_grads in d_tensors]
    if factor == 1:
        return d_tensors
    return [[None if g is None else g * factor for g in doc_grads] for doc_grads in d_tensors]


# --- heads: what a listener reads from each doc's outputs --------------------------------


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


def _select_last(model: Model, output: ModelOutput) -> tuple[Any, Callable[[Any], dict[int, Any]]]:
    slots, _ = _slots(output)
    key = "last_hidden_state" if "last_hidden_state" in slots else next(iter(slots))
    index = slots[key][0]
    return output[key], lambda d: {index: d}


def _select_layers(
    model: Model, output: ModelOutput
) -> tuple[Any, Callable[[Any], dict[int, Any]]]:
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


def _select_mix(model: Model, output: ModelOutput) -> tuple[Any, Callable[[Any], dict[int, Any]]]:
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


_SELECTORS = {"last": _select_last, "layers": _select_layers, "mix": _select_mix}


def _make_head(
    select: str,
    pooling: Model[Ragged, Floats2d],
    *,
    attrs: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    dims: dict[str, int | None] | None = None,
) -> Model[list[TransformerData], list[Floats2d]]:
    all_attrs: dict[str, Any] = {"select": select, "needs_hidden_states": select != "last"}
    all_attrs.update(attrs or {})
    return Model(
        f"trf-head-{select}",
        _head_forward,
        init=_head_init,
        layers=[pooling],
        attrs=all_attrs,
        params=params or {},
        # nI: the width of the rows read (the transformer's, times the layers concatenated);
        # nO: the pooled vectors' width (a pooler may change it).
        dims={"nI": None, "nO": None, **(dims or {})},
    )


def last_layer_head(
    pooling: Model[Ragged, Floats2d],
) -> Model[list[TransformerData], list[Floats2d]]:
    """Pool each token's rows of the last hidden state."""
    return _make_head("last", pooling)


def layers_head(
    pooling: Model[Ragged, Floats2d], layers: Sequence[int], combine: str = "mean"
) -> Model[list[TransformerData], list[Floats2d]]:
    """Pool each token's rows of the chosen hidden layers, combined by mean or concatenation."""
    layers = [int(layer) for layer in layers]
    if not layers:
        raise ValueError("layers is empty: name at least one hidden layer, e.g. layers = [-1]")
    if combine not in ("mean", "concat"):
        raise ValueError(
            f"combine={combine!r}: use 'mean' (keeps the width) or 'concat' (width x layers)"
        )
    return _make_head("layers", pooling, attrs={"layers": layers, "combine": combine})


def scalar_mix_head(
    pooling: Model[Ragged, Floats2d],
) -> Model[list[TransformerData], list[Floats2d]]:
    """Pool a learned softmax-weighted mix (times a learned scale) of every hidden state."""
    return _make_head(
        "mix", pooling, params={"mix_weights": None, "mix_scale": None}, dims={"nL": None}
    )


def _head_init(model: Model, X: Any = None, Y: Any = None) -> Model:
    model.layers[0].initialize()
    return model


def _head_forward(
    model: Model[list[TransformerData], list[Floats2d]],
    data: list[TransformerData],
    is_train: bool,
) -> tuple[list[Floats2d], Callable[[list[Floats2d]], TensorGradients]]:
    ops = model.ops
    xp = ops.xp
    select = _SELECTORS[model.attrs["select"]]
    feats: list[Any] = []
    feat_bps: list[Callable[[Any], dict[int, Any]] | None] = []
    for doc_data in data:
        if not doc_data.model_output:
            feats.append(None)
            feat_bps.append(None)
            continue
        value, bp = select(model, doc_data.model_output)
        feats.append(value)
        feat_bps.append(bp)
    width = _check_width(model, {int(f.shape[-1]) for f in feats if f is not None})
    rows: list[Any] = []
    lengths: list[Any] = []
    n_tokens: list[int] = []
    for doc_data, feat in zip(data, feats):
        n_tokens.append(int(doc_data.align.lengths.shape[0]))
        lengths.append(xp.asarray(doc_data.align.lengths, dtype="int32").reshape((-1,)))
        if feat is None or feat.size == 0:
            rows.append(ops.alloc2f(0, width))
        else:
            rows.append(feat.reshape((-1, width))[_row_indices(doc_data, xp)])
    all_rows = xp.concatenate(rows, axis=0) if rows else ops.alloc2f(0, width)
    all_lengths = xp.concatenate(lengths) if lengths else xp.zeros((0,), dtype="int32")
    pooled, bp_pooled = pool_nonempty(
        model.layers[0], Ragged(all_rows.astype("float32"), all_lengths), is_train
    )
    if not model.has_dim("nO"):
        model.set_dim("nO", int(pooled.shape[1]))
    outputs = [pooled[start:end] for start, end in pairwise(_cumsum(n_tokens))]
    row_splits = _cumsum([int(r.shape[0]) for r in rows])

    def backprop(d_outputs: list[Floats2d]) -> TensorGradients:
        if len(d_outputs) != len(data):
            raise ValueError(
                f"got gradients for {len(d_outputs)} docs, but the listener returned {len(data)}"
            )
        d_pooled = (
            xp.concatenate(d_outputs, axis=0) if d_outputs else ops.alloc2f(0, pooled.shape[1])
        )
        d_rows = bp_pooled(d_pooled).dataXd
        grads: TensorGradients = []
        for i, (doc_data, feat, bp) in enumerate(zip(data, feats, feat_bps)):
            doc_grads: list[Any] = [None] * len(doc_data.tensors)
            if feat is not None and bp is not None and feat.size:
                d_flat = ops.alloc2f(int(feat.size // width), width, dtype=feat.dtype)
                ops.scatter_add(
                    d_flat,
                    _row_indices(doc_data, xp),
                    cast(Any, d_rows[row_splits[i] : row_splits[i + 1]]).astype(feat.dtype),
                )
                for index, grad in bp(d_flat.reshape(feat.shape)).items():
                    doc_grads[index] = grad
            grads.append(doc_grads)
        return grads

    return outputs, backprop


def _check_width(model: Model, widths: set[int]) -> int:
    """The width of the rows the head reads: from the batch's outputs, else as learned before."""
    if len(widths) > 1:
        raise ValueError(f"the docs of one batch have outputs of different widths: {widths}")
    if widths:
        width = widths.pop()
        if not model.has_dim("nI"):
            model.set_dim("nI", width)
        elif model.get_dim("nI") != width:
            raise ValueError(
                f"the listener expects vectors of width {model.get_dim('nI')} but the "
                f"transformer gives {width}; was the listener trained with another transformer?"
            )
    elif not model.has_dim("nI"):
        raise ValueError(
            "the listener does not know the transformer's width yet, and no doc in this batch "
            "has transformer output to learn it from. Initialize the pipeline (nlp.initialize()) "
            "so the transformer component can tell its listeners."
        )
    return int(model.get_dim("nI"))


def _row_indices(doc_data: TransformerData, xp: Any) -> Any:
    """A doc's aligned row indices as a flat int array (a Ragged may hold them as a column)."""
    return xp.asarray(doc_data.align.dataXd, dtype="int64").reshape((-1,))


def _cumsum(counts: Sequence[int]) -> list[int]:
    out = [0]
    for count in counts:
        out.append(out[-1] + count)
    return out


# --- registered architectures ---------------------------------------------------------------


def _listener_chain(
    upstream: str, head: Model[list[TransformerData], list[Floats2d]], grad_factor: GradFactorLike
) -> Model[list[Doc], list[Floats2d]]:
    listener = TransformerListener(
        upstream, grad_factor, needs_hidden_states=bool(head.attrs.get("needs_hidden_states"))
    )
    model: Model[list[Doc], list[Floats2d]] = chain(listener, head)
    model.set_ref("listener", listener)
    return model


def transformer_listener_tok2vec_v1(
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    upstream: str = "*",
) -> Model[list[Doc], list[Floats2d]]:
    """``spacy-transformers.TransformerListener.v1`` / ``Tok2VecListener.v1``: the last layer."""
    return _listener_chain(upstream, last_layer_head(pooling), grad_factor)


def transformer_layers_listener_v1(
    pooling: Model[Ragged, Floats2d],
    layers: list[int] = [-1],  # noqa: B006 (configs need a plain list default)
    combine: str = "mean",
    grad_factor: float = 1.0,
    upstream: str = "*",
) -> Model[list[Doc], list[Floats2d]]:
    """``trf.TransformerLayersListener.v1``: chosen hidden layers, by mean or concatenation."""
    return _listener_chain(upstream, layers_head(pooling, layers, combine), grad_factor)


def scalar_mix_listener_v1(
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    upstream: str = "*",
) -> Model[list[Doc], list[Floats2d]]:
    """``trf.ScalarMixListener.v1``: a learned scalar mix of every hidden state."""
    return _listener_chain(upstream, scalar_mix_head(pooling), grad_factor)


# --- standalone copies: replace_listeners and Tok2VecTransformer ---------------------------


def transformer_to_docs(
    backend: Model[list[Doc], FullTransformerBatch],
    grad_factor: GradFactorLike = 1.0,
    needs_hidden_states: bool = False,
) -> Model[list[Doc], list[TransformerData]]:
    """Run ``backend`` and yield each doc's output: a listener with its own transformer.

    The backward pass scales the gradient by ``grad_factor`` and skips the backend entirely when
    no gradient is left (grad_factor 0), so not even weight decay moves its weights.
    """
    # Only this head reads the backend's output: hidden states exactly when it needs them (a
    # copy taken from a shared transformer may carry the flag for another component's sake).
    backend.attrs["output_hidden_states"] = bool(needs_hidden_states)
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
        scaled = _scale(d_tensors, factor)
        if any(g is not None for doc_grads in scaled for g in doc_grads):
            bp_batch(scaled)
        return []

    return batch.doc_data, backprop


def tok2vec_from_backend(
    backend: Model[list[Doc], FullTransformerBatch],
    pooling: Model[Ragged, Floats2d],
    grad_factor: GradFactorLike,
) -> Model[list[Doc], list[Floats2d]]:
    """Token vectors straight from a backend, pooled from its last hidden state.

    What ``Tok2VecTransformer`` builds: ``chain(transformer_to_docs(backend), head(pooling))``.
    """
    return chain(transformer_to_docs(backend, grad_factor), last_layer_head(pooling))


def standalone_transformer_listener_v1(
    backend: Model[list[Doc], FullTransformerBatch],
    listener: Model[list[Doc], list[Floats2d]],
) -> Model[list[Doc], list[Floats2d]]:
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


def _replacement(
    backend: Model[list[Doc], FullTransformerBatch], listener: TransformerListener
) -> Model[list[Doc], list[TransformerData]]:
    return transformer_to_docs(
        backend, listener.grad_factor, bool(listener.attrs.get("needs_hidden_states"))
    )


def replace_listener(
    model: Model[list[Doc], FullTransformerBatch],
    listener: Model | None = None,
    transformer: Any = None,
) -> Model[list[Doc], list[TransformerData]]:
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
