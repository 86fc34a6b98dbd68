"""Hugging Face Hub ids: a snapshot from the local cache, or a download when the network is allowed.

Only the mechanics live here (where the cache is, whether downloads are allowed, which files a
model needs); :mod:`trf_hf.loading` decides the order of the lookups and words the errors.

huggingface_hub reads ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``HF_HOME`` once, when it is first
imported, into its ``constants`` module (in the 0.x and later lines alike). A pipeline that sets
them later (a test's ``monkeypatch.setenv``, a notebook cell, ``os.environ`` in a script) would be
ignored, so this module reads the environment on every call and hands huggingface_hub the cache
folder and ``local_files_only`` explicitly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_REVISION = "main"

_TRUE = {"1", "on", "yes", "true"}
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# A repo id as the Hub accepts it: ``name`` or ``org/name``, letters, digits, ``-``, ``_``, ``.``.
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?$")

# Every pattern starts with a literal file name, so none matches a file in a subfolder (such as a
# sentence-transformers repo's ``2_Dense/model.safetensors`` or its ``onnx/`` exports).
CONFIG_AND_TOKENIZER = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "model-*.safetensors")
TORCH_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*.bin")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def looks_like_repo_id(text: str) -> bool:
    """Whether ``text`` could name a Hub model (``roberta-base``, ``org/name``)."""
    return (
        len(text) <= 96
        and _REPO_ID.match(text) is not None
        and "--" not in text
        and ".." not in text
        and not text.endswith(".")
    )


def cache_dir() -> Path:
    """The hub cache folder the environment names now, as huggingface_hub would compute it."""
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(key)
        if value:
            return Path(value).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def offline_switches() -> list[str]:
    """The offline variables set now (``HF_HUB_OFFLINE=1``, ...); empty: downloads are allowed."""
    return [
        f"{key}={os.environ[key]}"
        for key in OFFLINE_VARIABLES
        if os.environ.get(key, "").strip().lower() in _TRUE
    ]


def has_weights(path: Path) -> bool:
    return any((path / name).is_file() for name in _WEIGHT_FILES)


def cached_snapshot(repo_id: str, revision: str, cache: Path) -> tuple[Path | None, str]:
    """The cached snapshot folder of ``repo_id`` at ``revision`` (a commit, branch or tag).

    Returns the folder, or ``None`` and why not (worded to follow the id). huggingface_hub maps a
    branch or tag to its commit through ``refs/<revision>``, and refuses a snapshot that its
    cached file listing shows incomplete.
    """
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=str(cache),
            local_files_only=True,
            allow_patterns=[*CONFIG_AND_TOKENIZER, *SAFETENSORS_WEIGHTS],
        )
    except FileNotFoundError as err:  # LocalEntryNotFoundError, IncompleteSnapshotError
        if type(err).__name__ == "IncompleteSnapshotError":  # huggingface_hub >= 1.x only
            return None, f"is only partly in the Hugging Face cache ({err})"
        return None, "is not in the Hugging Face cache"
    except (OSError, ValueError) as err:  # a repo id the Hub would refuse, an unreadable cache
        return None, f"is not in the Hugging Face cache ({type(err).__name__}: {err})"
    path = Path(folder)
    missing = [name for name in ("config.json",) if not (path / name).is_file()]
    if not has_weights(path):
        missing.append("model.safetensors or pytorch_model.bin")
    if missing:
        return None, f"has a cached snapshot {str(path)!r} that lacks {' and '.join(missing)}"
    return path, ""


def download_snapshot(repo_id: str, revision: str, cache: Path) -> Path:
    """Download the files a model needs into the cache: config, tokenizer files and weights.

    safetensors weights are preferred; the pickled ``pytorch_model*.bin`` are fetched only for a
    repo that has no safetensors. Files already cached are not fetched again.
    """
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id,
        revision=revision,
        cache_dir=str(cache),
        allow_patterns=[*CONFIG_AND_TOKENIZER, *SAFETENSORS_WEIGHTS],
    )
    path = Path(folder)
    if not has_weights(path):
        path = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=str(cache),
                allow_patterns=[*CONFIG_AND_TOKENIZER, *TORCH_WEIGHTS],
            )
        )
    return path
