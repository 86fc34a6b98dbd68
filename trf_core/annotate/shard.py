"""Annotating one shard: read its records, run the pipeline, write its output and errors files.

Both engines call :func:`annotate_shard`, in a worker that already holds the pipeline; what it
writes depends only on the shard's records and the output options, never on the engine or the
worker. A batch the pipeline raises on is retried one doc at a time, so one bad doc costs an
errors-file entry, not its batch or the job. A text longer than the pipeline's ``max_length``
is an errors-file entry too, before it reaches the pipeline (spaCy would refuse it, and a
transformer given a giant document can run out of memory first). Records that kill the worker
outright are found by :mod:`.isolation` and handed in as ``killers``: they are set aside the same
way, so the shard's files hold what a run without them would write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from .isolation import Piece
from .records import BadRecord, Record, ShardTask, read_shard
from .settings import AnnotateSettings
from .writers import json_line, shard_bytes, write_atomic


@dataclass
class ShardResult:
    """What a finished shard reports back (plain values: it crosses processes and Ray)."""

    index: int
    file: str
    sha256: str
    records: int
    docs: int
    words: int
    errors: int
    errors_file: str | None

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def shard_name(index: int, suffix: str) -> str:
    return f"shard-{index:06d}{suffix}"


def errors_name(index: int) -> str:
    return f"shard-{index:06d}.errors.jsonl"


def run_piece(
    nlp: Language, columns: Sequence[str], settings: AnnotateSettings, piece: Piece
) -> ShardResult | None:
    """What a worker does with a piece: annotate and write a shard, or run a probe (None)."""
    if piece.probe:
        probe_records(nlp, settings, piece)
        return None
    return annotate_shard(nlp, columns, settings, piece.task, dict(piece.killers))


def probe_records(nlp: Language, settings: AnnotateSettings, piece: Piece) -> None:
    """Run the pipeline over some records of a shard and keep nothing: does the worker live?

    Exceptions are the ordinary per-record failures :func:`annotate_shard` handles; only a
    death of this process counts, so they are ignored here.
    """
    items = read_shard(Path(settings.input), settings.input_format, piece.task, settings.text_field)
    chosen = range(len(items)) if piece.positions is None else piece.positions
    records = [items[p] for p in chosen]
    texts = [r.text for r in records if isinstance(r, Record) and not _too_long(nlp, r)]
    try:
        for _ in nlp.pipe(texts, batch_size=settings.batch_size):
            pass
    except Exception:
        for text in texts:
            try:
                nlp(text)
            except Exception:
                continue


def _too_long(nlp: Language, record: Record) -> BadRecord | None:
    if len(record.text) <= nlp.max_length:
        return None
    reason = (
        f"the text has {len(record.text):,} characters, more than the pipeline's max_length "
        f"({nlp.max_length:,}): split it into smaller documents, or raise nlp.max_length if "
        "the pipeline has the memory for it"
    )
    return BadRecord(record.line, reason, record.fields.get("id"), record.text[:200])


def annotate_shard(
    nlp: Language,
    columns: Sequence[str],
    settings: AnnotateSettings,
    task: ShardTask,
    killers: dict[int, str] | None = None,
) -> ShardResult:
    """Annotate shard ``task`` and write its files into the output folder.

    ``killers`` maps record positions in the shard (0-based) to the reason they go to the
    errors file instead of the pipeline (they killed a worker).
    """
    killers = killers or {}
    items = read_shard(Path(settings.input), settings.input_format, task, settings.text_field)
    bad = [item for item in items if isinstance(item, BadRecord)]
    records: list[Record] = []
    for position, item in enumerate(items):
        if not isinstance(item, Record):
            continue
        set_aside = _too_long(nlp, item)
        if position in killers:
            raw = item.text[:200]
            set_aside = BadRecord(item.line, killers[position], item.fields.get("id"), raw)
        if set_aside is None:
            records.append(item)
        else:
            bad.append(set_aside)
    done: list[tuple[Doc, Record]] = []
    for doc_or_error, record in _annotate(nlp, records, settings.batch_size):
        if isinstance(doc_or_error, Doc):
            done.append((doc_or_error, record))
        else:
            bad.append(doc_or_error)
    bad.sort(key=lambda item: item.line)
    out = Path(settings.output)
    data = shard_bytes(done, settings.output_format, columns, settings.trf_data)
    name = shard_name(task.index, settings.suffix)
    errors = None
    if bad:
        errors = errors_name(task.index)
        lines = "".join(json_line(item.as_json()) for item in bad)
        write_atomic(out / errors, lines.encode("utf-8"))
    write_atomic(out / name, data)
    words = sum(1 for doc, _ in done for token in doc if not token.is_space)
    return ShardResult(
        index=task.index,
        file=name,
        sha256=hashlib.sha256(data).hexdigest(),
        records=task.count,
        docs=len(done),
        words=words,
        errors=len(bad),
        errors_file=errors,
    )


def _annotate(
    nlp: Language, records: list[Record], batch_size: int
) -> Iterator[tuple[Doc | BadRecord, Record]]:
    """Each record with its doc, or with the reason the pipeline failed on it.

    The whole shard goes through one ``nlp.pipe(texts, batch_size=...)``, as a plain loop would
    send it (components that buffer and regroup docs, like the transformer, see the same
    stream). Only when that raises are the records retried batch by batch, and a failing batch
    doc by doc, to find the docs at fault.
    """
    try:
        docs = list(nlp.pipe([r.text for r in records], batch_size=batch_size))
    except Exception:
        for start in range(0, len(records), batch_size):
            yield from _batch_or_one_by_one(nlp, records[start : start + batch_size], batch_size)
        return
    yield from zip(docs, records)


def _batch_or_one_by_one(
    nlp: Language, batch: list[Record], batch_size: int
) -> Iterator[tuple[Doc | BadRecord, Record]]:
    try:
        docs = list(nlp.pipe([r.text for r in batch], batch_size=batch_size))
    except Exception:
        yield from _one_by_one(nlp, batch)
        return
    yield from zip(docs, batch)


def _one_by_one(nlp: Language, batch: list[Record]) -> Iterator[tuple[Doc | BadRecord, Record]]:
    for record in batch:
        try:
            yield nlp(record.text), record
        except Exception as err:
            reason = f"the pipeline raised {type(err).__name__}: {err}"
            yield BadRecord(record.line, reason, record.fields.get("id"), record.text[:200]), record


__all__ = [
    "ShardResult",
    "annotate_shard",
    "errors_name",
    "probe_records",
    "run_piece",
    "shard_name",
]
