"""What an exported ONNX backend is on disk and in bytes.

A folder with three files: ``model.onnx`` (the encoder, fp32 or int8), ``tokenizer.json`` (a
``tokenizers`` tokenizer) and ``trf_onnx.json`` (what the backend must know without torch or
transformers: width, layer count, maximum input length, output and input names, the tokenizer's
pad id and model inputs). In bytes, a msgpack of the same files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import srsly

FORMAT = "trf-onnx.v1"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "trf_onnx.json"
FILES = (MODEL_FILE, TOKENIZER_FILE, META_FILE)


@dataclass
class ExportMeta:
    """The facts about an exported encoder the backend reads instead of a transformers config."""

    hidden_size: int
    num_hidden_layers: int
    max_length: int
    has_pooler: bool
    has_hidden_states: bool
    input_names: list[str]
    pad_token_id: int | None
    model_input_names: list[str]
    special_tokens: list[str] = field(default_factory=list)
    quantize: str | None = None
    source: str = ""
    format: str = FORMAT
    fusions: dict[str, int] = field(default_factory=dict)
    """ONNX Runtime's fused operators in the graph (:mod:`trf_onnx.fusion`), by type."""

    @classmethod
    def from_json(cls, text: str) -> ExportMeta:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(
                f"{META_FILE} says format {data.get('format')!r}, but this trf-onnx reads "
                f"{FORMAT!r}; export the pipeline again with this version"
            )
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def check_dir(path: Path) -> None:
    """A clear error unless ``path`` is a folder holding every file of an exported backend."""
    missing = [name for name in FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"no trf-onnx model at {str(path)!r}: missing {', '.join(missing)}. A trf-onnx "
            f"backend folder holds {', '.join(FILES)}; create one with `trf-core export-onnx "
            "PIPELINE OUTPUT` from a pipeline trained with trf-hf"
        )


def files_to_bytes(files: dict[str, bytes]) -> bytes:
    return srsly.msgpack_dumps({"format": FORMAT, "files": files})


def files_from_bytes(data: bytes) -> dict[str, bytes]:
    """The files in ``data``; empty when the backend that wrote it held no model."""
    msg: Any = srsly.msgpack_loads(data)
    if not isinstance(msg, dict) or msg.get("format") != FORMAT:
        keys = sorted(msg) if isinstance(msg, dict) else type(msg).__name__
        raise ValueError(
            f"these bytes do not hold a trf-onnx model (found {keys}); they were not written by "
            "trf-onnx's to_bytes. A trf-hf model is converted with `trf-core export-onnx`"
        )
    files = dict(msg.get("files") or {})
    unknown = sorted(set(files) - set(FILES))
    if unknown:
        raise ValueError(f"unexpected files in trf-onnx bytes: {unknown}; expected {FILES}")
    return files
