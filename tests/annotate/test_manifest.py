"""The manifest and its journal: recording a shard appends one line, whatever came before."""

from __future__ import annotations

import json
from pathlib import Path

from trf_core.annotate.manifest import JOURNAL, MANIFEST, Manifest, open_output


def shard(index: int) -> dict[str, object]:
    return {"index": index, "file": f"shard-{index:06d}.jsonl", "sha256": "0" * 64,
            "records": 10, "docs": 9, "words": 40, "errors": 1, "errors_file": None}  # fmt: skip


def test_recording_appends_a_line_and_never_rewrites_the_manifest(tmp_path: Path) -> None:
    fingerprint = {"input": {"sha256": "abc"}}
    manifest = open_output(tmp_path / "out", fingerprint, n_shards=3000)
    manifest.save(tmp_path / "out")
    written = (tmp_path / "out" / MANIFEST).stat()
    journal = tmp_path / "out" / JOURNAL
    sizes = []
    for index in range(3000):
        manifest.record(tmp_path / "out", shard(index))
        if index in (9, 2999):
            sizes.append(journal.stat().st_size)
    manifest.close()
    after = (tmp_path / "out" / MANIFEST).stat()
    assert (after.st_ino, after.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)

    # The journal holds one line per shard and nothing else: the 10th shard and the 3,000th
    # each cost one appended line.
    def lines(n: int) -> int:
        return sum(len(json.dumps(shard(i))) + 1 for i in range(n))

    assert sizes == [lines(10), lines(3000)]
    again = open_output(tmp_path / "out", fingerprint, n_shards=3000)
    assert sorted(again.shards) == list(range(3000))
    # Folding the journal in: the manifest lists every shard, the journal is gone.
    again.complete = True
    again.save(tmp_path / "out")
    data = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert len(data["shards"]) == 3000 and data["totals"]["words"] == 3000 * 40
    assert not journal.exists()


def test_a_manifest_written_before_the_journal_existed_reads_as_it_is(tmp_path: Path) -> None:
    """Issue 14's format: every finished shard in manifest.json, no journal."""
    fingerprint = {"input": {"sha256": "abc"}}
    old = Manifest(fingerprint, 4, {0: shard(0), 2: shard(2)})
    (tmp_path / "out").mkdir()
    old.save(tmp_path / "out")
    read = open_output(tmp_path / "out", fingerprint, n_shards=4)
    assert read.shards == {0: shard(0), 2: shard(2)} and not read.complete


def test_a_complete_run_leaves_no_temporary_of_a_writer_that_died(tmp_path: Path) -> None:
    """A worker killed mid-write leaves ``.NAME.tmp-PID``; the finished run must not keep it."""
    leftover = tmp_path / ".shard-000001.jsonl.tmp-4242"
    leftover.write_bytes(b'{"line": 3, "te')
    running = Manifest({"input": "x"}, n_shards=1)
    running.save(tmp_path)
    assert leftover.exists()  # while the run goes on, a writer may still own it
    running.complete = True
    running.save(tmp_path)
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]
