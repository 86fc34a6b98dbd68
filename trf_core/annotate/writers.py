"""Turning a shard's annotated docs into the bytes of one output file, and writing it safely.

Three formats: a spaCy ``DocBin`` (``.spacy``; the record's line and carried fields in
``doc.user_data["annotate"]``, ``doc._.trf_data`` only when asked for), JSONL with one object
per doc, and Parquet with the same columns. Which annotation columns exist is decided once per
pipeline, from what its components declare they assign, so every shard (and every doc, empty
ones included) has the same keys. The bytes depend only on the docs: a shard written twice, by
two engines or two runs, is the same file.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from .records import Record

USER_DATA_KEY = "annotate"

# Component "assigns" metadata -> the columns that show it.
_COLUMNS_BY_ASSIGN = {
    "token.tag": ("tags",),
    "token.pos": ("pos",),
    "token.morph": ("morph",),
    "token.lemma": ("lemmas",),
    "token.dep": ("heads", "deps"),
    "token.head": ("heads", "deps"),
    "token.is_sent_start": ("sents",),
    "doc.sents": ("sents",),
    "doc.ents": ("ents",),
    "doc.cats": ("cats",),
}
COLUMN_ORDER = ("sents", "tags", "pos", "morph", "lemmas", "heads", "deps", "ents", "cats")


def annotation_columns(nlp: Language, vectors: bool = False) -> tuple[str, ...]:
    """The annotation columns this pipeline fills (besides the tokens, always there)."""
    found: set[str] = set()
    for name in nlp.pipe_names:
        for assigned in nlp.get_pipe_meta(name).assigns:
            found.update(_COLUMNS_BY_ASSIGN.get(assigned, ()))
    columns = tuple(c for c in COLUMN_ORDER if c in found)
    return (*columns, "vector", "token_vectors") if vectors else columns


def doc_to_row(doc: Doc, record: Record, columns: Sequence[str]) -> dict[str, Any]:
    """One doc's annotations as plain JSON-able values (token offsets index ``tokens``)."""
    row: dict[str, Any] = {
        "line": record.line,
        "fields": record.fields,
        "text": doc.text,
        "tokens": [token.text for token in doc],
        "spaces": [bool(token.whitespace_) for token in doc],
    }
    for column in columns:
        row[column] = _COLUMN_GETTERS[column](doc)
    return row


def _sents(doc: Doc) -> list[list[int]]:
    if not len(doc):
        return []
    return [[sent.start, sent.end] for sent in doc.sents]


def _ents(doc: Doc) -> list[dict[str, Any]]:
    return [
        {"start": e.start, "end": e.end, "start_char": e.start_char, "end_char": e.end_char,
         "label": e.label_}
        for e in doc.ents
    ]  # fmt: skip


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values.tolist()]


_COLUMN_GETTERS: dict[str, Any] = {
    "sents": _sents,
    "tags": lambda doc: [t.tag_ for t in doc],
    "pos": lambda doc: [t.pos_ for t in doc],
    "morph": lambda doc: [str(t.morph) for t in doc],
    "lemmas": lambda doc: [t.lemma_ for t in doc],
    "heads": lambda doc: [t.head.i for t in doc],
    "deps": lambda doc: [t.dep_ for t in doc],
    "ents": _ents,
    "cats": lambda doc: {label: float(score) for label, score in sorted(doc.cats.items())},
    "vector": lambda doc: _floats(doc.vector) if doc.has_vector else None,
    "token_vectors": lambda doc: [_floats(t.vector) for t in doc] if doc.has_vector else None,
}


def shard_bytes(
    docs: Sequence[tuple[Doc, Record]], output_format: str, columns: Sequence[str], trf_data: bool
) -> bytes:
    """The whole output file of one shard."""
    if output_format == "docbin":
        return _docbin_bytes(docs, trf_data)
    rows = [doc_to_row(doc, record, columns) for doc, record in docs]
    if output_format == "jsonl":
        return "".join(json_line(row) for row in rows).encode("utf-8")
    return _parquet_bytes(rows, columns)


def json_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, default=str) + "\n"


def _docbin_bytes(docs: Sequence[tuple[Doc, Record]], trf_data: bool) -> bytes:
    docbin = DocBin(store_user_data=True)
    for doc, record in docs:
        if not trf_data:
            for key in [k for k in doc.user_data if _is_trf_data(k)]:
                del doc.user_data[key]
        # As JSON would hold them: a Parquet timestamp or decimal must not stop msgpack.
        fields = json.loads(json.dumps(record.fields, default=str))
        doc.user_data[USER_DATA_KEY] = {"line": record.line, "fields": fields}
        docbin.add(doc)
    return docbin.to_bytes()


def _is_trf_data(key: Any) -> bool:
    """The ``user_data`` key spaCy stores ``doc._.trf_data`` under."""
    return isinstance(key, tuple) and key[:2] == ("._.", "trf_data")


def _parquet_bytes(rows: list[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """Parquet with the carried fields as one JSON string column (their types vary by record)."""
    from .records import _parquet

    pq = _parquet()
    import pyarrow as pa

    names = ["line", "fields", "text", "tokens", "spaces", *columns]
    data = {name: [row[name] for row in rows] for name in names}
    for name in ("fields", "ents", "cats"):
        if name in data:  # records of varying keys and types: JSON strings
            data[name] = [json.dumps(v, ensure_ascii=False, default=str) for v in data[name]]
    if rows:
        table = pa.table(data)
    else:
        table = pa.table({name: pa.array([], pa.string()) for name in names})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class WriteFailed(Exception):
    """A file of the output could not be written (disk full, a file size limit, permissions)."""

    def advice(self) -> str:
        """The message with what to do: the finished shards stay, the run resumes."""
        return (
            f"{self}. The shards finished before it are kept and the manifest is valid: free "
            "space or lift the limit, then rerun the same command to continue"
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, flush to disk, then rename over ``path``.

    A reader (or a resumed run) sees either no file or the whole file, never a partial one. A
    failed write leaves no temporary file behind and raises :class:`WriteFailed` naming ``path``.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise WriteFailed(f"could not write {path}: {err.strerror or err}") from err


__all__ = [
    "WriteFailed",
    "annotation_columns",
    "doc_to_row",
    "json_line",
    "shard_bytes",
    "write_atomic",
]
