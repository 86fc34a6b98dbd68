"""The output folder's ``manifest.json``: the run's fingerprint and every finished shard.

The manifest is the single source of truth for resumption: a shard counts as done only once
its file was renamed into place *and* the manifest naming it (with the file's SHA-256) was
renamed into place after it. A crash between the two leaves a finished file the manifest does
not know: the resumed run writes it again, identically. Only the main process writes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .writers import write_atomic

MANIFEST = "manifest.json"
FORMAT = 1


class AnnotateError(ValueError):
    """A problem with the command's input, options or output folder, said in words."""


@dataclass
class Manifest:
    fingerprint: dict[str, Any]
    n_shards: int
    shards: dict[int, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False

    def save(self, folder: Path) -> None:
        data = {
            "format": FORMAT,
            "complete": self.complete,
            "n_shards": self.n_shards,
            "totals": self.totals(),
            "fingerprint": self.fingerprint,
            "shards": [self.shards[k] for k in sorted(self.shards)],
        }
        write_atomic(folder / MANIFEST, (json.dumps(data, indent=1) + "\n").encode("utf-8"))

    def totals(self) -> dict[str, int]:
        keys = ("records", "docs", "words", "errors")
        return {key: sum(int(shard[key]) for shard in self.shards.values()) for key in keys}

    def is_done(self, folder: Path, index: int) -> bool:
        """Whether shard ``index`` is recorded and its file(s) on disk still match the record."""
        shard = self.shards.get(index)
        if shard is None:
            return False
        path = folder / shard["file"]
        if not path.is_file() or _sha256(path) != shard["sha256"]:
            return False
        return shard["errors_file"] is None or (folder / shard["errors_file"]).is_file()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_output(folder: Path, fingerprint: dict[str, Any], n_shards: int) -> Manifest:
    """The manifest to continue (same fingerprint) or a fresh one; refuses anything else.

    Leftover temporary files of an interrupted run are removed: they were never renamed, so
    nothing refers to them.
    """
    path = folder / MANIFEST
    if not path.exists():
        if folder.exists() and any(folder.iterdir()):
            raise AnnotateError(
                f"{folder} is not empty and holds no {MANIFEST}: it is not the output of an "
                "earlier annotate run; give an empty or new folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return Manifest(fingerprint, n_shards)
    try:
        data = json.loads(path.read_text("utf-8"))
        old = data["fingerprint"]
        shards = {int(shard["index"]): shard for shard in data["shards"]}
    except (ValueError, KeyError, TypeError) as err:
        raise AnnotateError(f"{path} is not a manifest this command can read ({err})") from err
    if old != fingerprint:
        difference = describe_difference(old, fingerprint)
        raise AnnotateError(
            f"{folder} holds the output of a different run: {difference}. "
            "Rerun with the same pipeline, input and options to continue it, or give a new "
            "output folder"
        )
    for stale in folder.glob(".*.tmp-*"):
        stale.unlink()
    return Manifest(old, n_shards, shards, bool(data.get("complete")))


def describe_difference(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> str:
    """Which fingerprint entries differ, as ``key: was X, now Y`` phrases."""
    parts = []
    for key in sorted(set(old) | set(new)):
        before, now = old.get(key), new.get(key)
        if before == now:
            continue
        if isinstance(before, dict) and isinstance(now, dict):
            parts.append(describe_difference(before, now, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key} was {before!r}, now {now!r}")
    return "; ".join(parts)


__all__ = ["MANIFEST", "AnnotateError", "Manifest", "describe_difference", "open_output"]
