"""Reading the input: the shard cut, line numbers, and every kind of bad record with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trf_core.annotate.records import (
    BadRecord,
    Record,
    parse_json_line,
    parse_text_line,
    read_shard,
    scan_input,
)

# Lines without b"\n" (the record separator) but with anything else: lone \r, invalid UTF-8.
LINES = st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30)


@settings(max_examples=60, deadline=None)
@given(lines=LINES, shard_size=st.integers(1, 7), final_newline=st.booleans())
def test_the_shards_cover_every_line_once_in_order(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    shard_size: int,
    final_newline: bool,
) -> None:
    path = tmp_path_factory.mktemp("scan") / "in.txt"
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path.write_bytes(data)
    # A file read by lines ends where its last line does: a trailing empty line is no record.
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    scan = scan_input(path, "text", shard_size)
    assert scan.n_records == len(expected)
    assert scan.size == len(data)
    assert all(task.count <= shard_size for task in scan.shards)
    got = [item for task in scan.shards for item in read_shard(path, "text", task, "text")]
    assert [item.line for item in got] == list(range(1, len(expected) + 1))
    for item, raw in zip(got, expected):
        if isinstance(item, Record):
            assert item.text == raw.decode("utf-8").rstrip("\r")
        else:
            assert "not valid UTF-8" in item.reason
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")


def test_the_scan_hash_changes_with_one_byte(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("a\nb\n")
    first = scan_input(path, "text", 10).sha256
    path.write_text("a\nc\n")
    assert scan_input(path, "text", 10).sha256 != first


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b"   ", "blank line"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"id": 7}', "no 'text' field (fields: id)"),
        (b'{"text": 5}', "'text' is int, not a string"),
        (b'{"text": null}', "'text' is null, not a string"),
        (b'{"text": ["a"]}', "'text' is list, not a string"),
        (b'{"text": "a \\ud800 b"}', "text holds a lone surrogate (U+D800 at character 2)"),
        (b'{"text": "ok", "tag": "\\udfff"}', "a carried field holds a lone surrogate (U+DFFF"),
        (b'{"text": "caf\xe9"}', "not valid UTF-8"),
    ],
)
def test_bad_json_lines_say_why(raw: bytes, reason: str) -> None:
    item = parse_json_line(12, raw, "text")
    assert isinstance(item, BadRecord)
    assert item.line == 12
    assert reason in item.reason
    json.dumps(item.as_json()).encode("utf-8")  # the errors file can always hold it


def test_a_bad_record_keeps_its_id() -> None:
    item = parse_json_line(3, b'{"id": "doc-9", "text": 1.5}', "text")
    assert isinstance(item, BadRecord)
    assert item.id == "doc-9"


def test_a_good_json_line_carries_its_other_fields() -> None:
    item = parse_json_line(1, b'{"body": "Hi there", "id": 4, "meta": {"a": [1]}}\n', "body")
    assert item == Record(1, "Hi there", {"id": 4, "meta": {"a": [1]}})


def test_a_text_line_is_the_whole_line() -> None:
    assert parse_text_line(2, b'  {"text": "x"}  \r\n') == Record(2, '  {"text": "x"}  ')


def test_parquet_shards_read_across_row_groups(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    texts = [f"doc {i}" if i != 5 else None for i in range(23)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": texts, "id": list(range(23))}), path, row_group_size=4)
    scan = scan_input(path, "parquet", 6)
    assert [task.count for task in scan.shards] == [6, 6, 6, 5]
    got = [item for task in scan.shards for item in read_shard(path, "parquet", task, "text")]
    assert [item.line for item in got] == list(range(1, 24))
    for i, item in enumerate(got):
        if i == 5:
            assert isinstance(item, BadRecord) and item.id == 5 and "null" in item.reason
        else:
            assert item == Record(i + 1, f"doc {i}", {"id": i})
