"""The output folder's ``manifest.json`` and its journal: the fingerprint, the finished shards.

Together they are the single source of truth for resumption: a shard counts as done only once
its file was renamed into place *and* a line naming it (with the file's SHA-256) was appended
to ``manifest.journal.jsonl`` and flushed to disk after it. Appending costs the same at the
millionth shard as at the first (rewriting the whole manifest after each shard did not). A
crash between the rename and the append leaves a finished file nothing names: the resumed run
writes it again, identically; a crash during the append leaves a torn last line, which is
ignored for the same reason. At the start and at the end of a run the journal is folded into
``manifest.json`` (replaced atomically, then the journal removed), so a finished output is the
manifest and the shards, as before: manifests written before the journal existed read as they
are. Only the main process writes either file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .records import file_sha256
from .writers import WriteFailed, write_atomic

MANIFEST = "manifest.json"
JOURNAL = "manifest.journal.jsonl"
FORMAT = 1


class AnnotateError(ValueError):
    """A problem with the command's input, options or output folder, said in words."""


class ShardRecords(MutableMapping[int, dict[str, Any]]):
    """The finished shards' records by index, each kept as its JSON text.

    A shard's record as text takes about 280 bytes, as a dict about a kilobyte: the driver of a
    run of 100,000 shards holds some 28 MB of them instead of 100. Reading one decodes it.
    """

    def __init__(self, records: Mapping[int, dict[str, Any]] | None = None) -> None:
        self._texts: dict[int, str] = {}
        self.update(records or {})

    def __getitem__(self, index: int) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self._texts[index])
        return record

    def __setitem__(self, index: int, record: dict[str, Any]) -> None:
        self._texts[index] = json.dumps(record)

    def __delitem__(self, index: int) -> None:
        del self._texts[index]

    def __iter__(self) -> Iterator[int]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def text(self, index: int) -> str:
        return self._texts[index]


@dataclass
class Manifest:
    fingerprint: dict[str, Any]
    n_shards: int
    shards: MutableMapping[int, dict[str, Any]] = field(default_factory=ShardRecords)
    complete: bool = False
    _journal: IO[bytes] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.shards, ShardRecords):
            self.shards = ShardRecords(self.shards)

    def save(self, folder: Path) -> None:
        """Write ``manifest.json`` with every shard known, then drop the journal it now holds."""
        self.close()
        if self.complete:  # no writer is left; a worker killed mid-write left its temporary
            remove_temporaries(folder)
        data = {
            "format": FORMAT,
            "complete": self.complete,
            "n_shards": self.n_shards,
            "totals": self.totals(),
            "fingerprint": self.fingerprint,
            "shards": [self.shards[k] for k in sorted(self.shards)],
        }
        write_atomic(folder / MANIFEST, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
        (folder / JOURNAL).unlink(missing_ok=True)

    def record(self, folder: Path, shard: dict[str, Any]) -> None:
        """Count ``shard`` as done: one line appended to the journal and flushed to disk."""
        path = folder / JOURNAL
        index = int(shard["index"])
        self.shards[index] = shard
        assert isinstance(self.shards, ShardRecords)
        line = (self.shards.text(index) + "\n").encode("utf-8")
        try:
            if self._journal is None:
                self._journal = path.open("ab")
            self._journal.write(line)
            self._journal.flush()
            os.fsync(self._journal.fileno())
        except OSError as err:
            self.close()
            del self.shards[index]
            raise WriteFailed(f"could not write {path}: {err.strerror or err}") from err

    def close(self) -> None:
        if self._journal is not None:
            journal, self._journal = self._journal, None
            try:
                journal.close()
            except OSError:
                pass

    def totals(self) -> dict[str, int]:
        keys = ("records", "docs", "words", "errors")
        return {key: sum(int(shard[key]) for shard in self.shards.values()) for key in keys}

    def is_done(self, folder: Path, index: int) -> bool:
        """Whether shard ``index`` is recorded and its file(s) on disk still match the record."""
        shard = self.shards.get(index)
        if shard is None:
            return False
        path = folder / shard["file"]
        if not path.is_file() or file_sha256(path) != shard["sha256"]:
            return False
        return shard["errors_file"] is None or (folder / shard["errors_file"]).is_file()


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
        shards.update(read_journal(folder / JOURNAL))
    except (ValueError, KeyError, TypeError) as err:
        raise AnnotateError(f"{path} is not a manifest this command can read ({err})") from err
    if old != fingerprint:
        difference = describe_difference(old, fingerprint)
        raise AnnotateError(
            f"{folder} holds the output of a different run: {difference}. "
            "Rerun with the same pipeline, input and options to continue it, or give a new "
            "output folder"
        )
    remove_temporaries(folder)
    return Manifest(old, n_shards, ShardRecords(shards), bool(data.get("complete")))


def remove_temporaries(folder: Path) -> None:
    """Drop the half-written files of writers that died (``.NAME.tmp-PID``): never a result."""
    for stale in folder.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)


def read_journal(path: Path) -> dict[int, dict[str, Any]]:
    """The shards a journal records; a line cut short by a crash (the last one) is skipped."""
    shards: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return shards
    with path.open("rb") as handle:
        for line in handle:
            try:
                shard = json.loads(line)
                shards[int(shard["index"])] = shard
            except (ValueError, KeyError, TypeError):
                continue  # torn by a crash mid-append: that shard is simply written again
    return shards


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


__all__ = [
    "JOURNAL",
    "MANIFEST",
    "AnnotateError",
    "Manifest",
    "ShardRecords",
    "describe_difference",
    "open_output",
    "read_journal",
]
