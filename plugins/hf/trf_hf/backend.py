"""The Hugging Face backend: a thinc ``Model[list[Doc], FullTransformerBatch]``.

The model is cheap to build: nothing is loaded until ``initialize`` (or first use, or a load from
disk/bytes), so configs resolve without touching torch. All state that must survive ``copy()``
and thinc's own serialization (tokenizer, weights) lives in one shim, :class:`HFBackendShim`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy
import srsly
from spacy.tokens import Doc
from thinc.api import Model, get_torch_default_device
from thinc.shims import Shim
from thinc.types import ArgsKwargs, Ragged

from trf_core.component.listeners import listener_attrs
from trf_core.component.piece_cache import PieceCache
from trf_core.component.wordpiece_backend import (
    PIECE_CACHE,
    count_pieces,
    doc_spans,
    empty_batch,
    plan_spans,
    window_size,
)
from trf_core.contract import backend as contract
from trf_core.contract.data import FullTransformerBatch, ModelOutput
from trf_core.contract.types import BackendModel, SpanGetter

from . import serialize
from .loading import (
    configured_revision,
    load_config,
    load_tokenizer,
    load_transformer,
    resolve_model_dir,
)
from .trainable import ALL_LAYERS, check_trainable_layers, freeze_below_top_layers


class HFBackendShim(Shim):  # type: ignore[misc]
    """Holds the tokenizer and the torch model (once loaded) and serializes them.

    A thin owner around thinc's PyTorch shim (``inner``), which does the training plumbing:
    autograd, the optimizer step, mixed precision and gradient scaling.
    """

    def __init__(
        self,
        name: str,
        tokenizer_config: dict[str, Any],
        transformer_config: dict[str, Any],
        mixed_precision: bool,
        grad_scaler_config: dict[str, Any],
        trainable_layers: int = ALL_LAYERS,
    ) -> None:
        super().__init__(None, config=None, optimizer=None)
        self.trainable_layers = trainable_layers
        self.name = name
        self.tokenizer_config = dict(tokenizer_config)
        self.transformer_config = dict(transformer_config)
        self.mixed_precision = mixed_precision
        self.grad_scaler_config = dict(grad_scaler_config)
        self.tokenizer: Any = None
        self.inner: Any = None

    @property
    def loaded(self) -> bool:
        return self.inner is not None

    @property
    def transformer(self) -> Any:
        self.ensure_loaded()
        return self.inner._model.transformer

    def ensure_loaded(self) -> None:
        """Load tokenizer and weights from ``name`` unless something is loaded already."""
        if self.loaded:
            return
        revision = configured_revision(self.tokenizer_config, self.transformer_config)
        path = resolve_model_dir(self.name, revision=revision)
        tokenizer = load_tokenizer(path, self.tokenizer_config)
        config = load_config(path, self.transformer_config)
        self.install(tokenizer, load_transformer(path, config))

    def install(self, tokenizer: Any, transformer: Any) -> None:
        """Wrap a tokenizer and base model, on the device thinc's current ops use."""
        from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler

        from .runner import HFShim, SpanRunner

        device = get_torch_default_device()
        mixed_precision = self.mixed_precision
        if mixed_precision and device.type != "cuda":
            warnings.warn(
                "mixed_precision = true needs a CUDA GPU (call spacy.require_gpu() before "
                "loading); running in full precision on the CPU",
                stacklevel=2,
            )
            mixed_precision = False
        scaler_config = dict(self.grad_scaler_config)
        scaler_config["enabled"] = bool(scaler_config.get("enabled", True)) and mixed_precision
        freeze_below_top_layers(transformer, self.trainable_layers)
        self.tokenizer = tokenizer
        self.inner = HFShim(
            SpanRunner(transformer),
            mixed_precision=mixed_precision,
            grad_scaler=PyTorchGradScaler(**scaler_config),
            device=device,
        )
        # One id for the optimizer's keys, whatever inner shim instance holds the weights.
        self.inner.id = self.id

    # thinc's plumbing, delegated -------------------------------------------------------------
    def __call__(self, inputs: ArgsKwargs, is_train: bool) -> Any:
        return self.inner(inputs, is_train)

    def finish_update(self, optimizer: Any) -> None:
        if self.inner is not None:
            self.inner.finish_update(optimizer)

    def use_params(self, params: Any) -> Any:
        if self.inner is None:
            import contextlib

            return contextlib.nullcontext()
        return self.inner.use_params(params)

    def to_device(self, device_type: str, device_id: int) -> None:
        if self.inner is not None:
            self.inner.to_device(device_type, device_id)

    @property
    def device(self) -> Any:
        return self.inner.device

    # serialization ---------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        if not self.loaded:
            return serialize.empty_bytes()
        return serialize.to_bytes(self.tokenizer, self.transformer)

    def from_bytes(self, data: bytes) -> HFBackendShim:
        msg = srsly.msgpack_loads(data)
        if isinstance(msg, dict) and "shims" in msg and "nodes" in msg:
            shim_msg = serialize.find_legacy_shim(msg)
            loaded = None if shim_msg is None else serialize.read_legacy(shim_msg)
        else:
            loaded = serialize.from_msg(msg, self.tokenizer_config)
        if loaded is not None:
            self.install(loaded.tokenizer, loaded.transformer)
        return self

    def loaded_bytes(self) -> bytes:
        """The model's bytes, loading it from ``name`` first if nothing is loaded yet."""
        self.ensure_loaded()
        return self.to_bytes()

    def to_disk_dir(self, path: Path) -> None:
        self.ensure_loaded()
        serialize.save_dir(self.tokenizer, self.transformer, Path(path))

    def from_disk_dir(self, path: Path) -> None:
        path = Path(path)  # the contract passes a Path; strings are welcome too
        if path.is_file():
            loaded = serialize.read_legacy_file(path)
        elif (path / "config.json").is_file():
            loaded = serialize.load_dir(path, self.tokenizer_config)
        elif (path / "model").is_file():
            loaded = serialize.read_legacy_file(path / "model")
        else:
            raise FileNotFoundError(
                f"no trf-hf model at {str(path)!r}: expected a folder with config.json, tokenizer "
                "files and model.safetensors (what trf_to_disk writes), or spacy-transformers' "
                "`model` file"
            )
        if loaded is not None:
            self.install(loaded.tokenizer, loaded.transformer)


def build_hf_backend(
    name: str,
    get_spans: SpanGetter,
    tokenizer_config: dict[str, Any] | None = None,
    transformer_config: dict[str, Any] | None = None,
    mixed_precision: bool = False,
    grad_scaler_config: dict[str, Any] | None = None,
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
    trainable_layers: int = ALL_LAYERS,
) -> BackendModel:
    """The backend model; nothing is loaded until initialize, first use or a load."""
    tokenizer_config = dict(tokenizer_config or {})
    transformer_config = dict(transformer_config or {})
    if window < 0 or stride < 0:
        raise ValueError(
            f"window ({window}) and stride ({stride}) count wordpieces and must be >= 0 "
            "(0 means: the model's maximum input length, and three quarters of a window)"
        )
    shim = HFBackendShim(
        str(name),
        tokenizer_config,
        transformer_config,
        mixed_precision,
        dict(grad_scaler_config or {}),
        check_trainable_layers(trainable_layers),
    )
    model: BackendModel = Model(
        "trf-hf",
        _forward,
        init=_init,
        shims=[shim],
        attrs={
            "name": str(name),
            "get_spans": get_spans,
            "window": int(window),
            "stride": int(stride),
            "truncate": bool(truncate),
            contract.OUTPUT_HIDDEN_STATES: bool(
                transformer_config.get("output_hidden_states", False)
            ),
            contract.OUTPUT_ATTENTIONS: bool(transformer_config.get("output_attentions", False)),
            # functions of the model: a copy reads its own shim, with nothing to re-bind
            **contract.serialization_attrs(
                _hf_shim,
                to_bytes="loaded_bytes",
                from_bytes="from_bytes",
                to_disk="to_disk_dir",
                from_disk="from_disk_dir",
            ),
            contract.COUNT_PIECES: _count_pieces,
            PIECE_CACHE: PieceCache(),
            **listener_attrs(),
        },
    )
    return model


def _hf_shim(model: BackendModel) -> HFBackendShim:
    """The model's own shim (a copy's is its own: ``Model.copy()`` copies shims)."""
    return cast(HFBackendShim, model.shims[0])


def _count_pieces(model: BackendModel, docs: list[Doc]) -> list[int]:
    """Each doc's wordpieces (all its spans'), for grouping docs in ``pipe``.

    A fast tokenizer counts exactly, in one batched call, cheaply next to the model itself;
    grouping by a guess from token counts pads batches more than grouping by exact counts.
    Slow tokenizers, or a backend not loaded yet, get the guess.
    """
    shim = _hf_shim(model)
    return count_pieces(shim.tokenizer, model.attrs["get_spans"], docs, model.attrs[PIECE_CACHE])


def get_shim(model: BackendModel) -> HFBackendShim:
    """The backend's shim, with tokenizer and weights loaded."""
    shim = _hf_shim(model)
    shim.ensure_loaded()
    return shim


def _init(model: BackendModel, X: Any = None, Y: Any = None) -> None:
    """Load tokenizer and weights (unless a load from disk or bytes already did)."""
    get_shim(model)


def max_input_length(tokenizer: Any, config: Any) -> int:
    """The most pieces one model input may hold, specials included."""
    limits: list[int] = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        offset = 0
        model_type = str(getattr(config, "model_type", ""))
        if "roberta" in model_type or model_type in ("camembert", "longformer", "mpnet"):
            offset = int(getattr(config, "pad_token_id", 1) or 0) + 1  # positions start past pad
        limits.append(positions - offset)
    if not limits:
        raise ValueError(
            "cannot tell the model's maximum input length (no tokenizer model_max_length or "
            "config max_position_embeddings); set `window` in the model's config block"
        )
    return min(limits)


def _window_size(model: BackendModel, shim: HFBackendShim) -> int:
    limit = max_input_length(shim.tokenizer, shim.transformer.config)
    return window_size(int(model.attrs["window"]), limit)


def _forward(
    model: BackendModel, docs: list[Doc], is_train: bool
) -> tuple[FullTransformerBatch, Callable[[Any], list[Any]]]:
    shim = get_shim(model)
    spans = doc_spans(model.attrs["get_spans"], docs)
    doc_lengths = [len(doc) for doc in docs]
    flat_spans = [span for doc_spans in spans for span in doc_spans]
    if not flat_spans:
        return _empty_batch(model, shim, spans, doc_lengths), lambda d_docs: []
    window = _window_size(model, shim)
    cache = model.attrs[PIECE_CACHE]
    plan = plan_spans("trf-hf", shim.tokenizer, flat_spans, window, model.attrs, cache)
    inputs = _torch_inputs(model, shim, plan)
    output, torch_backprop = shim(inputs, is_train)
    model_output, torch_tensors = _model_output(model, output)
    batch = FullTransformerBatch(
        spans=spans,
        wordpieces=plan.wordpieces.map_arrays(model.ops.asarray2i),
        model_output=model_output,
        align=_align(shim, spans, plan, doc_lengths),
        doc_lengths=doc_lengths,
    )

    def backprop(d_docs: list[list[Any]]) -> list[Any]:
        grads = batch.unsplit_by_doc(d_docs)
        pairs = [
            (tensor, _to_torch(grad, tensor))
            for tensor, grad in zip(torch_tensors, grads)
            if grad is not None and tensor.requires_grad
        ]
        if pairs:
            tensors, grad_tensors = (list(side) for side in zip(*pairs))
            torch_backprop(ArgsKwargs(args=(tensors,), kwargs={"grad_tensors": grad_tensors}))
        return []

    return batch, backprop


def _model_output(model: BackendModel, output: dict[str, Any]) -> tuple[ModelOutput, list[Any]]:
    """The torch outputs as thinc arrays, and the torch tensors in ``tensors`` order."""
    model_output = ModelOutput()
    torch_tensors: list[Any] = []
    for key, value in output.items():
        if isinstance(value, tuple):
            model_output[key] = tuple(_to_xp(model, t) for t in value)
            torch_tensors.extend(value)
        else:
            model_output[key] = _to_xp(model, value)
            torch_tensors.append(value)
    return model_output, torch_tensors


def _torch_inputs(model: BackendModel, shim: HFBackendShim, plan: Any) -> ArgsKwargs:
    import torch

    device = shim.device

    def tensor(array: numpy.ndarray) -> Any:
        return torch.from_numpy(numpy.ascontiguousarray(array, dtype="int64")).to(device)

    return ArgsKwargs(
        args=(),
        kwargs={
            "input_ids": tensor(plan.window_ids),
            "attention_mask": tensor(plan.window_mask),
            "token_type_ids": (
                None if plan.window_type_ids is None else tensor(plan.window_type_ids)
            ),
            "gather": tensor(plan.gather),
            "window_span": tensor(plan.window_span),
            "window_columns": tensor(plan.window_columns),
            "n_spans": plan.n_spans,
            "span_width": plan.span_width,
            "output_hidden_states": contract.wants_hidden_states(model),
            "output_attentions": bool(model.attrs.get(contract.OUTPUT_ATTENTIONS, False)),
        },
    )


def _to_xp(model: BackendModel, tensor: Any) -> Any:
    """One conversion per output: float32, on thinc's current device (no copy on CPU)."""
    from thinc.api import torch2xp

    if tensor.dtype != _float32():
        tensor = tensor.float()
    return torch2xp(tensor.detach(), ops=model.ops)


def _float32() -> Any:
    import torch

    return torch.float32


def _to_torch(grad: Any, like: Any) -> Any:
    from thinc.api import xp2torch

    return xp2torch(grad, device=like.device).to(like.dtype)


def _align(
    shim: HFBackendShim, spans: list[list[Any]], plan: Any, doc_lengths: list[int]
) -> Ragged:
    from trf_core.contract.align import align_batch, align_by_strings

    if plan.offsets is not None:
        return align_batch(spans, plan.offsets, plan.span_width, doc_lengths)
    specials = list(getattr(shim.tokenizer, "all_special_tokens", []) or [])
    return align_by_strings(
        spans, plan.wordpieces.strings, plan.span_width, doc_lengths, special_tokens=specials
    )


def _empty_batch(
    model: BackendModel,
    shim: HFBackendShim,
    spans: list[list[Any]],
    doc_lengths: list[int],
) -> FullTransformerBatch:
    """A batch whose docs hold no spans: no rows, every token aligned to nothing."""
    config = shim.transformer.config
    n_states = int(config.num_hidden_layers) + 1 if contract.wants_hidden_states(model) else None
    has_pooler = getattr(shim.transformer, "pooler", None) is not None
    return empty_batch(model.ops, spans, doc_lengths, int(config.hidden_size), has_pooler, n_states)
