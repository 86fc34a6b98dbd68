"""Saving and loading a backend's tokenizer and weights, in ours and spacy-transformers' formats.

On disk a backend is an ordinary Hugging Face model folder: ``config.json``, the tokenizer's files
and ``model.safetensors`` side by side, loadable with no network and without the folder the model
first came from. In bytes it is a msgpack of those files. Pipelines saved by spacy-transformers
1.x keep a thinc msgpack whose shim holds the HF config dict, the tokenizer's files and a
``torch.save`` state dict; :func:`read_legacy` reads that.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import srsly

FORMAT = "trf-hf.v1"
"""Marks our byte format, so it is never mistaken for spacy-transformers'."""


@dataclass
class LoadedModel:
    """A tokenizer and a base transformer, ready to wrap."""

    tokenizer: Any
    transformer: Any


def save_dir(tokenizer: Any, transformer: Any, path: Path) -> None:
    """Write config.json, the tokenizer files and model.safetensors into ``path``."""
    from .loading import quiet

    path.mkdir(parents=True, exist_ok=True)
    with quiet():
        tokenizer.save_pretrained(str(path))
        transformer.save_pretrained(str(path))  # safetensors by default since 4.35


def load_dir(path: Path, tokenizer_config: dict[str, Any]) -> LoadedModel:
    """Load a folder :func:`save_dir` (or ``save_pretrained``) wrote, offline."""
    from .loading import load_config, load_tokenizer, load_transformer

    config = load_config(path, {})
    tokenizer = load_tokenizer(path, _tokenizer_options(tokenizer_config))
    transformer = load_transformer(path, config)
    return LoadedModel(tokenizer=tokenizer, transformer=transformer)


def _tokenizer_options(tokenizer_config: dict[str, Any]) -> dict[str, Any]:
    """Options that choose the tokenizer class, not the ones its saved files already hold."""
    return {k: v for k, v in tokenizer_config.items() if k in ("use_fast",)}


def to_bytes(tokenizer: Any, transformer: Any) -> bytes:
    """Every file of :func:`save_dir` in one msgpack."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        save_dir(tokenizer, transformer, root)
        files = {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }
    return srsly.msgpack_dumps({"format": FORMAT, "files": files})


def empty_bytes() -> bytes:
    """What an unloaded backend serializes to: its settings come from the config."""
    return srsly.msgpack_dumps({"format": FORMAT, "files": {}})


def from_msg(msg: dict[str, Any], tokenizer_config: dict[str, Any]) -> LoadedModel | None:
    """Load our msgpack (or a spacy-transformers shim message); ``None`` when it holds no model."""
    if msg.get("format") == FORMAT:
        files = msg.get("files") or {}
        if not files:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name, data in files.items():
                target = root / name
                if root not in target.resolve().parents:
                    raise ValueError(f"refusing to write {name!r} outside the model folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return load_dir(root, tokenizer_config)
    if "state" in msg and "tokenizer" in msg and "config" in msg:
        return read_legacy(msg)
    raise ValueError(
        "these bytes hold neither a trf-hf model nor a spacy-transformers one (keys: "
        f"{sorted(msg)}); they were not written by trf-hf's to_bytes"
    )


def find_legacy_shim(model_msg: dict[str, Any]) -> dict[str, Any] | None:
    """The HF shim message inside a thinc model msgpack written by spacy-transformers 1.x."""
    for node_shims in model_msg.get("shims") or []:
        for shim_bytes in node_shims:
            shim_msg = srsly.msgpack_loads(shim_bytes)
            if isinstance(shim_msg, dict) and "tokenizer" in shim_msg and "state" in shim_msg:
                return shim_msg
    return None


def read_legacy(msg: dict[str, Any]) -> LoadedModel | None:
    """Rebuild tokenizer and transformer from spacy-transformers' HFShim message.

    The message holds ``config`` (the HF config dict), ``tokenizer`` (file name -> bytes, plus a
    ``kwargs`` entry) and ``state`` (a ``torch.save``d state dict). The state is read with
    ``weights_only=True``: it holds tensors only, and nothing else should run on load.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    from .loading import load_tokenizer, offline

    config_dict = msg.get("config") or {}
    if not config_dict:
        return None
    tok_files = dict(msg.get("tokenizer") or {})
    tok_kwargs = dict(tok_files.pop("kwargs", {}) or {})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        srsly.write_json(root / "config.json", config_dict)
        for name, data in tok_files.items():
            (root / Path(name).name).write_bytes(data)
        with offline():
            config = AutoConfig.from_pretrained(str(root), local_files_only=True)
        tokenizer = load_tokenizer(root, _tokenizer_options(tok_kwargs))
    transformer = AutoModel.from_config(config)
    state = torch.load(io.BytesIO(msg["state"]), map_location="cpu", weights_only=True)
    result = transformer.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        warnings.warn(
            "loading spacy-transformers weights: "
            f"{len(missing)} missing keys ({', '.join(missing[:5])}) and "
            f"{len(result.unexpected_keys)} unexpected keys "
            f"({', '.join(result.unexpected_keys[:5])}); the transformers version that saved "
            "them named some weights differently. Check the outputs, or retrain and save again.",
            stacklevel=2,
        )
    transformer.eval()
    return LoadedModel(tokenizer=tokenizer, transformer=transformer)


def read_legacy_file(path: Path) -> LoadedModel | None:
    """A spacy-transformers 1.x component's ``model`` file (a thinc model msgpack)."""
    model_msg = srsly.msgpack_loads(path.read_bytes())
    shim_msg = find_legacy_shim(model_msg) if isinstance(model_msg, dict) else None
    if shim_msg is None:
        raise ValueError(
            f"{str(path)!r} is a file but not a spacy-transformers model: it holds no Hugging "
            "Face shim. trf-hf reads a folder with config.json, or spacy-transformers' model file"
        )
    return read_legacy(shim_msg)
