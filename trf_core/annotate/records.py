"""Reading the input: one pass that cuts it into shards, then each shard read on its own.

A record is one line (JSONL, plain text) or one row (Parquet); records are numbered from 1 in
file order, and shard ``k`` holds records ``k * shard_size + 1`` onwards. The cut depends only
on the input and the shard size, so a resumed run, another engine or another worker count sees
the same shards. A line that cannot become a text (bad UTF-8, bad JSON, no text field, a text
that is not a string or holds a lone surrogate) becomes a :class:`BadRecord` with the reason,
never an exception: the shard carries it to the errors file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..install_hint import install_command

_HASH_CHUNK = 1 << 20
_RAW_PREVIEW = 200


@dataclass(frozen=True)
class ShardTask:
    """Shard ``index``: ``count`` records from record number ``first`` (0-based position).

    ``byte_start``/``byte_end`` locate the shard's lines in a line-based input, so a worker
    reads only its own part of the file (-1 for Parquet, which is read by row groups).
    """

    index: int
    first: int
    count: int
    byte_start: int = -1
    byte_end: int = -1


@dataclass
class Record:
    line: int
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class BadRecord:
    line: int
    reason: str
    id: Any = None
    raw: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.id, "reason": self.reason, "raw": self.raw}


@dataclass(frozen=True)
class InputScan:
    n_records: int
    size: int
    sha256: str
    shards: tuple[ShardTask, ...]


def scan_input(path: Path, input_format: str, shard_size: int) -> InputScan:
    """Count the records, hash the bytes and cut the input into shards (one read of the file)."""
    if input_format == "parquet":
        return _scan_parquet(path, shard_size)
    digest = hashlib.sha256()
    shards: list[ShardTask] = []
    offset = start = count = 0
    with path.open("rb") as handle:
        for raw in handle:
            digest.update(raw)
            count += 1
            offset += len(raw)
            if count == shard_size:
                shards.append(_line_shard(len(shards), shard_size, count, start, offset))
                start, count = offset, 0
    if count:
        shards.append(_line_shard(len(shards), shard_size, count, start, offset))
    n_records = sum(task.count for task in shards)
    return InputScan(n_records, offset, digest.hexdigest(), tuple(shards))


def _line_shard(index: int, shard_size: int, count: int, start: int, end: int) -> ShardTask:
    return ShardTask(index, index * shard_size, count, start, end)


def _scan_parquet(path: Path, shard_size: int) -> InputScan:
    pq = _parquet()
    n_rows = pq.ParquetFile(path).metadata.num_rows
    shards = tuple(
        ShardTask(k, first, min(shard_size, n_rows - first))
        for k, first in enumerate(range(0, n_rows, shard_size))
    )
    return InputScan(n_rows, path.stat().st_size, file_sha256(path), shards)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_shard(
    path: Path, input_format: str, task: ShardTask, text_field: str
) -> list[Record | BadRecord]:
    """The shard's records, in file order; unreadable ones as :class:`BadRecord`."""
    if input_format == "parquet":
        return [
            parse_row(task.first + 1 + i, row, text_field)
            for i, row in enumerate(_parquet_rows(path, task))
        ]
    with path.open("rb") as handle:
        handle.seek(task.byte_start)
        data = handle.read(task.byte_end - task.byte_start)
    lines = data.split(b"\n")  # as the scan cut it: at b"\n" only, not at a lone b"\r"
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) != task.count:
        raise RuntimeError(
            f"{path} changed while being annotated: shard {task.index} should hold {task.count} "
            f"lines from byte {task.byte_start}, found {len(lines)}; start again in a new folder"
        )
    parse = parse_json_line if input_format == "jsonl" else parse_text_line
    return [parse(task.first + 1 + i, raw, text_field) for i, raw in enumerate(lines)]


def parse_text_line(line: int, raw: bytes, text_field: str = "text") -> Record | BadRecord:
    """A plain-text line: the whole line (without its line break) is the text."""
    text = _decode(line, raw)
    if isinstance(text, BadRecord):
        return text
    return Record(line, text.rstrip("\r\n"))


def parse_json_line(line: int, raw: bytes, text_field: str) -> Record | BadRecord:
    """A JSONL line: an object with a string ``text_field``; its other fields are carried."""
    text = _decode(line, raw)
    if isinstance(text, BadRecord):
        return text
    preview = text[:_RAW_PREVIEW]
    if not text.strip():
        return BadRecord(line, "blank line: expected one JSON object per line", raw=preview)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        return BadRecord(line, f"invalid JSON: {err}", raw=preview)
    if not isinstance(obj, dict):
        reason = f"a JSON {type(obj).__name__}, not an object with a {text_field!r} field"
        return BadRecord(line, reason, raw=preview)
    return parse_row(line, obj, text_field, preview)


def parse_row(line: int, row: dict[str, Any], text_field: str, raw: str = "") -> Record | BadRecord:
    """A record given as a mapping (a parsed JSON object or a Parquet row)."""
    ident = row.get("id")
    raw = raw or _preview(row)
    if text_field not in row:
        names = ", ".join(sorted(map(str, row))) or "none"
        reason = f"no {text_field!r} field (fields: {names}); set --text-field"
        return BadRecord(line, reason, ident, raw)
    text = row[text_field]
    if not isinstance(text, str):
        kind = "null" if text is None else type(text).__name__
        return BadRecord(line, f"{text_field!r} is {kind}, not a string", ident, raw)
    fields = {k: v for k, v in row.items() if k != text_field}
    problem = _unencodable(text, text_field) or _unencodable(fields, "a carried field")
    if problem:
        return BadRecord(line, problem, _safe(ident), raw.encode("utf-8", "replace").decode())
    return Record(line, text, fields)


def _decode(line: int, raw: bytes) -> str | BadRecord:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        preview = raw[:_RAW_PREVIEW].decode("utf-8", "replace")
        return BadRecord(line, f"not valid UTF-8 ({err.reason} at byte {err.start})", raw=preview)


def _unencodable(value: Any, what: str) -> str:
    """Why ``value`` cannot be written as UTF-8 (a lone surrogate, as JSON's \\ud800 gives)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        char = f"U+{ord(text[err.start]):04X}"
        where = f" at character {err.start}" if isinstance(value, str) else ""
        return f"{what} holds a lone surrogate ({char}{where}), which UTF-8 cannot store"
    return ""


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode()
    return value


def _preview(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str)[:_RAW_PREVIEW]


def _parquet_rows(path: Path, task: ShardTask) -> list[dict[str, Any]]:
    """The shard's rows, reading only the row groups that hold them."""
    pq = _parquet()
    parquet = pq.ParquetFile(path)
    wanted: list[int] = []
    group_start = skip = 0
    end = task.first + task.count
    for group in range(parquet.metadata.num_row_groups):
        n = parquet.metadata.row_group(group).num_rows
        if group_start < end and group_start + n > task.first:
            if not wanted:
                skip = task.first - group_start
            wanted.append(group)
        group_start += n
    table = parquet.read_row_groups(wanted) if wanted else None
    if table is None:
        return []
    rows: list[dict[str, Any]] = table.slice(skip, task.count).to_pylist()
    return rows


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError(
            "Parquet input or output needs pyarrow: pip install pyarrow, or "
            + install_command("trf-core", "parquet")
        ) from err
    return pq


__all__ = [
    "BadRecord",
    "InputScan",
    "Record",
    "ShardTask",
    "file_sha256",
    "read_shard",
    "scan_input",
]
