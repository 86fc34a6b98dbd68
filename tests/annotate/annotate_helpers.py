"""Helpers of the annotate tests (a module of its own: conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

from trf_core.annotate.manifest import JOURNAL, MANIFEST, read_journal
from trf_core.annotate.settings import AnnotateSettings

CODE = Path(__file__).with_name("annotate_code.py")

TEXTS = [
    "I like green eggs",
    "Eat ham now",
    "We eat green ham",
    "They like eggs",
    "Green eggs and ham",
    "",
    "I eat",
]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def good_corpus(path: Path, n: int = 20) -> Path:
    rows = [{"text": TEXTS[i % len(TEXTS)], "id": f"doc{i}", "n": i} for i in range(n)]
    return write_jsonl(path, [json.dumps(row) for row in rows])


def settings(pipeline: Path, input: Path, output: Path, /, **options: object) -> AnnotateSettings:
    """Small shards, no progress output, the test components, in this process (``n_process=0``:
    no worker start per run; the tests of workers say ``n_process``); ``options`` override."""
    values: dict[str, object] = {
        "n_process": 0,
        "pipeline": str(pipeline),
        "input": str(input),
        "output": str(output),
        "progress": "none",
        "code": (str(CODE),),
        "shard_size": 3,
    }
    values.update(options)
    return AnnotateSettings(**values)  # type: ignore[arg-type]


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def output_files(folder: Path) -> dict[str, bytes]:
    """Every file of an output folder (hidden temporaries included) by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def done_shards(out: Path) -> int:
    """How many shards an output folder counts as done (its manifest and journal together)."""
    try:
        shards = {int(s["index"]) for s in json.loads((out / MANIFEST).read_text())["shards"]}
    except (OSError, ValueError):
        shards = set()
    return len(shards | set(read_journal(out / JOURNAL)))


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def alive(pids: dict[int, str]) -> dict[int, str]:
    """Those of ``pids`` still running the same command line (not a zombie, not a reused pid)."""
    left = {}
    for pid, cmdline in pids.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            now = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if now == cmdline and state != "Z":
            left[pid] = cmdline
    return left
