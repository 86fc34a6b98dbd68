"""A Hugging Face Hub cache laid out on the spot, as huggingface_hub writes it, for offline tests.

The layout (huggingface_hub's cache docs, "cache-system")::

    <cache>/models--ORG--NAME/
        blobs/<file hash>                      the files' contents
        refs/main                              the commit hash a branch or tag points at
        snapshots/<commit>/<file name>         relative symlinks into blobs/

Shared by trf-hf's tests and the integration tests (which put this folder on ``sys.path``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


def repo_folder(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def fake_commit(source: Path, salt: str = "") -> str:
    """A 40-hex commit id derived from the files (the Hub's are git commit hashes)."""
    digest = hashlib.sha1(salt.encode())
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(source)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def lay_out_snapshot(
    cache: Path,
    repo_id: str,
    source: Path,
    refs: Iterable[str] = ("main",),
    commit: str | None = None,
    only: Iterable[str] | None = None,
) -> Path:
    """Store ``source``'s files as one commit of ``repo_id`` in ``cache``; the snapshot folder.

    ``refs`` are the branches or tags pointing at that commit; ``only`` keeps just those file
    names (to lay out a partial snapshot, as an interrupted or selective download leaves).
    """
    repo = repo_folder(cache, repo_id)
    commit = commit or fake_commit(source, salt=repo_id)
    snapshot = repo / "snapshots" / commit
    keep = None if only is None else set(only)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = file.relative_to(source)
        if keep is not None and str(relative) not in keep:
            continue
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            blob.write_bytes(data)
        link = snapshot / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    snapshot.mkdir(parents=True, exist_ok=True)
    for ref in refs:
        ref_file = repo / "refs" / ref
        ref_file.parent.mkdir(parents=True, exist_ok=True)
        ref_file.write_text(commit)  # huggingface_hub writes the bare hash, no newline
    return snapshot
