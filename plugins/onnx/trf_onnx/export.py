"""Convert a pipeline trained with trf-hf into one that runs on ONNX Runtime without torch.

Export time needs what training needed (trf-hf: torch, transformers) plus the ``onnx`` package
(``pip install trf-onnx[export]``); the pipeline it writes needs only trf-onnx and onnxruntime.
For each ``transformer`` component with a trf-hf model, the encoder is traced with every hidden
state as an output (so listeners that mix layers keep working), optionally quantized to int8
with ONNX Runtime's dynamic quantization, and saved with its tokenizer in the component's
folder; the component's model block in ``config.cfg`` is rewritten to
``trf.ONNXTransformerModel.v1`` with the same span getter and window settings. Everything else
(listeners, heads, vocab) is saved unchanged.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import files as onnx_files
from .fusion import eager_attention
from .fusion import fuse as fuse_graph
from .runtime import LAST, POOLED, hidden_state_name

QUANTIZE_CHOICES = ("int8",)
ARCHITECTURE = "trf.ONNXTransformerModel.v1"
DEFAULT_OPSET = 17


class ExportError(ValueError):
    """The pipeline cannot be exported as asked; the message says why and what to do."""


@dataclass
class ExportResult:
    """What was exported: the output folder and each converted component's ONNX file."""

    output: Path
    components: dict[str, Path] = field(default_factory=dict)
    quantize: str | None = None


def export_pipeline(
    source: str | Path,
    output: str | Path,
    quantize: str | None = None,
    opset: int = DEFAULT_OPSET,
    fuse: bool = False,
) -> ExportResult:
    """Load the pipeline at ``source``, convert its trf-hf transformers, save it to ``output``.

    fuse: rewrite each encoder with ONNX Runtime's transformer fusions (:mod:`trf_onnx.fusion`).
    """
    import spacy

    if quantize is not None and quantize not in QUANTIZE_CHOICES:
        raise ExportError(
            f"--quantize {quantize!r} is not supported; choose one of {list(QUANTIZE_CHOICES)}, "
            "or leave it out for fp32"
        )
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ExportError(
            f"{str(output)!r} already exists and is not an empty folder; export into a new folder"
        )
    nlp = spacy.load(source)
    targets = [name for name in nlp.pipe_names if _is_hf_transformer(nlp, name)]
    if not targets:
        raise ExportError(
            f"the pipeline at {str(source)!r} has no `transformer` component with a trf-hf model "
            f"(components: {nlp.pipe_names}); only trf-hf transformers can be exported to ONNX"
        )
    result = ExportResult(output=output, quantize=quantize)
    with tempfile.TemporaryDirectory(prefix="trf-onnx-export-") as tmp:
        exported = {}
        for name in targets:
            folder = Path(tmp) / name
            backend = _component_model(nlp, name)
            export_encoder(backend, folder, quantize=quantize, opset=opset, fuse=fuse)
            exported[name] = folder
        _replace_requirements(nlp)
        nlp.to_disk(output)
        for name, folder in exported.items():
            target = output / name / "model"
            shutil.rmtree(target)
            shutil.copytree(folder, target)
            result.components[name] = target / onnx_files.MODEL_FILE
    config = nlp.config.copy()
    for name in targets:
        block = config["components"][name]["model"]
        attrs = _component_model(nlp, name).attrs
        config["components"][name]["model"] = _onnx_block(block, attrs, output / name / "model")
    _refuse_torch_references(config, targets)
    config.to_disk(output / "config.cfg")
    return result


def _component_model(nlp: Any, name: str) -> Any:
    return getattr(nlp.get_pipe(name), "model", None)


def _is_hf_transformer(nlp: Any, name: str) -> bool:
    factory = nlp.get_pipe_meta(name).factory
    model = _component_model(nlp, name)
    return factory == "transformer" and getattr(model, "name", None) == "trf-hf"


def _onnx_block(block: dict[str, Any], attrs: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The rewritten model block: same span getter and window settings, the ONNX backend."""
    settings = dict(block.get("transformer_config") or {})
    if settings.get("output_attentions"):
        raise ExportError(
            "this transformer is configured with output_attentions = true, which the ONNX "
            "backend does not support (it exports hidden states only); remove it and export again"
        )
    return {
        "@architectures": ARCHITECTURE,
        "name": str(folder.resolve()),
        "get_spans": block["get_spans"],
        "window": int(attrs.get("window", 0)),
        "stride": int(attrs.get("stride", 0)),
        "truncate": bool(attrs.get("truncate", False)),
    }


def _refuse_torch_references(config: Any, converted: list[str]) -> None:
    """An error if anything left in the config still needs trf-hf (e.g. a Tok2VecTransformer)."""
    from trf_hf import ARCHITECTURES as HF_ARCHITECTURES

    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("@architectures") in HF_ARCHITECTURES:
                found.append(f"{where} ({node['@architectures']})")
            for key, value in node.items():
                walk(value, f"{where}.{key}")

    walk(dict(config.get("components", {})), "components")
    if found:
        raise ExportError(
            "only the `transformer` components' models are converted "
            f"({', '.join(converted)}), but these blocks still use trf-hf and would need torch: "
            f"{'; '.join(found)}. Share the transformer through a listener instead, or keep "
            "this pipeline on trf-hf"
        )


def _replace_requirements(nlp: Any) -> None:
    """meta.json's requirements: trf-onnx instead of trf-hf, for ``spacy package``."""
    from trf_core.plugins.requirements import minor_version_range

    kept = [
        r
        for r in nlp.meta.get("requirements") or []
        if not r.replace("_", "-").startswith("trf-hf")
    ]
    onnx = minor_version_range("trf-onnx")
    nlp.meta["requirements"] = kept + ([onnx] if onnx else [])


def export_encoder(
    backend: Any,
    folder: Path,
    quantize: str | None = None,
    opset: int = DEFAULT_OPSET,
    fuse: bool = False,
) -> onnx_files.ExportMeta:
    """Write model.onnx, tokenizer.json and trf_onnx.json for a trf-hf backend into ``folder``."""
    import torch
    from trf_hf.backend import get_shim, max_input_length

    shim = get_shim(backend)
    tokenizer, transformer = shim.tokenizer, shim.transformer
    if not getattr(tokenizer, "is_fast", False):
        raise ExportError(
            f"the tokenizer of {backend.attrs.get('name')!r} is a slow (Python) tokenizer; the "
            "ONNX backend runs the `tokenizers` library. Train with a fast tokenizer "
            "(tokenizer_config use_fast = true) to export"
        )
    config = transformer.config
    input_names = ["input_ids", "attention_mask"]
    if "token_type_ids" in list(tokenizer.model_input_names or ()):
        input_names.append("token_type_ids")
    has_pooler = getattr(transformer, "pooler", None) is not None
    n_layers = int(config.num_hidden_layers)
    output_names = [LAST] + ([POOLED] if has_pooler else [])
    output_names += [hidden_state_name(i) for i in range(n_layers + 1)]
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.backend_tokenizer.save(str(folder / onnx_files.TOKENIZER_FILE))
    max_length = max_input_length(tokenizer, config)
    wrapper = _Encoder(transformer, has_pooler).eval()
    example = _example_inputs(tokenizer, input_names, min(8, max_length))
    dynamic_axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in input_names}
    for n in output_names:
        dynamic_axes[n] = {0: "batch"} if n == POOLED else {0: "batch", 1: "sequence"}
    fp32_path = folder / ("fp32.onnx" if quantize else onnx_files.MODEL_FILE)
    # Tracing warns about shape checks it records as constants; the ones transformers makes
    # hold for every input (the tests compare with trf-hf on many lengths and paddings).
    # The fuser only knows the pattern eager attention traces to.
    attention = eager_attention(transformer) if fuse else contextlib.nullcontext()
    with torch.no_grad(), warnings.catch_warnings(), attention:
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*aten::index.*", category=UserWarning)
        torch.onnx.export(
            wrapper,
            tuple(example),
            str(fp32_path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    feed = {name: array.numpy() for name, array in zip(input_names, example)}
    fusions = fuse_graph(fp32_path, config, feed) if fuse else {}
    if quantize == "int8":
        _quantize_int8(fp32_path, folder / onnx_files.MODEL_FILE)
        fp32_path.unlink()
    meta = onnx_files.ExportMeta(
        hidden_size=int(config.hidden_size),
        num_hidden_layers=n_layers,
        max_length=int(max_length),
        has_pooler=has_pooler,
        has_hidden_states=True,
        input_names=input_names,
        pad_token_id=tokenizer.pad_token_id,
        model_input_names=list(tokenizer.model_input_names or ()),
        special_tokens=list(getattr(tokenizer, "all_special_tokens", []) or []),
        quantize=quantize,
        source=str(backend.attrs.get("name", "")),
        fusions=fusions,
    )
    (folder / onnx_files.META_FILE).write_text(meta.to_json(), encoding="utf8")
    return meta


def _quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8: the weights of every MatMul and fused attention (the embeddings stay fp32).

    Each output column of a weight gets its own scale (``per_channel``): one scale per matrix
    let its widest column set the step for all, and all-MiniLM-L6-v2's last hidden states came
    out at a mean cosine of 0.951 to fp32 (0.766 at worst, 300 EWT sentences), against 0.990
    (0.954) per column, at the same speed (bench/README.md).

    The fused operators come from ONNX Runtime's own domain, which ONNX shape inference does not
    type; their outputs are float, which ``DefaultTensorType`` tells the quantizer.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _example_inputs(tokenizer: Any, input_names: list[str], length: int) -> list[Any]:
    """Two rows, the second padded, so tracing keeps the attention mask's general path."""
    import torch

    pad = int(tokenizer.pad_token_id or 0)
    ids = torch.full((2, length), pad, dtype=torch.long)
    ids[0, :] = torch.arange(length) % 7 + 5
    ids[1, : length // 2] = torch.arange(length // 2) % 5 + 5
    mask = (ids != pad).long()
    mask[0, :] = 1
    inputs = [ids, mask]
    if "token_type_ids" in input_names:
        inputs.append(torch.zeros_like(ids))
    return inputs


def _encoder_class() -> Any:
    import torch

    class Encoder(torch.nn.Module):  # type: ignore[misc]
        """The base model with a flat tuple of outputs: last, pooled, every hidden state."""

        def __init__(self, transformer: Any, has_pooler: bool) -> None:
            super().__init__()
            self.transformer = transformer
            self.has_pooler = has_pooler
            params = inspect.signature(transformer.forward).parameters
            self.takes_types = "token_type_ids" in params

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            kwargs: dict[str, Any] = {"output_hidden_states": True, "return_dict": True}
            if token_type_ids is not None and self.takes_types:
                kwargs["token_type_ids"] = token_type_ids
            out = self.transformer(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            result = [out.last_hidden_state]
            if self.has_pooler:
                result.append(out.pooler_output)
            result.extend(out.hidden_states)
            return tuple(result)

    return Encoder


def _Encoder(transformer: Any, has_pooler: bool) -> Any:
    return _encoder_class()(transformer, has_pooler)
