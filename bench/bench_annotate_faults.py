"""``trf-core annotate`` under faults and at size (issue 24): what a poison record costs, what the
driver's memory does over a large input, what running in a worker process costs.

Three measurements, each running the real command (``python -m trf_core annotate``) in a
subprocess, on a blank English pipeline plus a sentencizer and one component from a ``--code``
file this script writes, which ends its process (``os._exit(1)``) on a text holding ``POISON``:

- ``poison``: the EWT test sentences cycled to ``--records`` records, annotated with
  ``--n-process 2`` twice: as they are, and with one record in the middle replaced by a poison
  record (found by retry and bisection in fresh workers, set aside as an error). Wall seconds
  and words/s of each.
- ``memory``: a JSONL file of ``--gb`` gigabytes of short texts (written once, kept at
  ``--big-input``), annotated with ``--n-process 2``; the driver's (main process's) RSS is
  sampled every second from /proc: its peak, and its peaks over the first and the last quarter
  of the run (equal when memory does not grow with the shards done).
- ``startup``: the whole command on a 10-record corpus with ``--n-process 1`` (which annotates
  in a spawned worker process), repeated ``--repeats`` times; with ``--baseline-src DIR`` (a
  checkout of the code before, whose ``--n-process 1`` ran in the command's own process) the
  same command with ``PYTHONPATH=DIR`` in turns with it: the difference is what the worker
  process costs a run.

    python bench/bench_annotate_faults.py poison [--records 40000]
    python bench/bench_annotate_faults.py memory [--gb 2]
    python bench/bench_annotate_faults.py startup [--baseline-src ../main]

Prints one JSON object per measurement (and appends it to ``bench/results/annotate_faults.jsonl``).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
REPO = HERE.parent
EWT_TEXT = REPO.parent / "shared" / "data" / "ewt-text" / "test.txt"
RESULTS = HERE / "results" / "annotate_faults.jsonl"

CODE = """
import os
from spacy.language import Language

@Language.component("bench_poison")
def poison(doc):
    if "POISON" in doc.text:
        os._exit(1)
    return doc
"""


def make_pipeline(folder: Path) -> tuple[Path, Path]:
    import spacy
    from spacy.util import import_file

    code = folder / "poison.py"
    code.write_text(CODE)
    import_file("bench_poison_code", str(code))
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("bench_poison")
    nlp.to_disk(folder / "pipeline")
    return folder / "pipeline", code


def command(pipeline: Path, code: Path, data: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "trf_core", "annotate", str(pipeline), str(data), str(out),
            "--code", str(code), "--progress", "none", *options]  # fmt: skip


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def words_per_second(stdout: str) -> float:
    found = re.search(r"\(([\d,]+) words/s\)", stdout)
    return float(found.group(1).replace(",", "")) if found else float("nan")


def texts() -> list[str]:
    return [line for line in EWT_TEXT.read_text("utf-8").splitlines() if line.strip()]


def bench_poison(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    pipeline, code = make_pipeline(work)
    rows = [{"text": t, "id": i} for i, t in zip(range(args.records), itertools.cycle(texts()))]
    clean = work / "clean.jsonl"
    clean.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows[len(rows) // 2] = {"text": "a POISON record", "id": "poison"}
    poisoned = work / "poisoned.jsonl"
    poisoned.write_text("".join(json.dumps(r) + "\n" for r in rows))
    options = ("--n-process", "2", "--shard-size", str(args.shard_size))
    report: dict[str, Any] = {"measure": "poison", "records": args.records, "runs": {}}
    for name, data in (("clean", clean), ("one poison record", poisoned)):
        seconds, stdout = run(command(pipeline, code, data, work / name, *options))
        report["runs"][name] = {
            "seconds": round(seconds, 2),
            "words_per_s": words_per_second(stdout),
        }
        shutil.rmtree(work / name)
    return report


def write_big_input(path: Path, gigabytes: float, payload_bytes: int) -> None:
    """Records of a short text (an EWT sentence, at most 80 characters) and a ``payload`` field
    of ``payload_bytes`` (carried through to the output).

    Few records and words per byte, so the workers' share of the run (tokenizing, writing the
    rows) stays small on a small machine: what is measured is the driver, whose work is per
    byte (the scan) and per shard (dispatch, the journal), not per record.
    """
    if path.exists() and path.stat().st_size >= gigabytes * 1e9 * 0.99:
        return
    sentences = texts()
    target = int(gigabytes * 1e9)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        for i in itertools.count():
            digest = hashlib.sha256(str(i).encode()).hexdigest()
            payload = (digest * (payload_bytes // len(digest) + 1))[:payload_bytes]
            text = sentences[i % len(sentences)][:80]
            line = json.dumps({"text": text, "id": i, "payload": payload}) + "\n"
            handle.write(line)
            written += len(line)
            if written >= target:
                break


def sample_rss(pid: int, samples: list[tuple[float, int]], stop: threading.Event) -> None:
    start = time.monotonic()
    while not stop.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        found = re.search(r"VmRSS:\s+(\d+)", status)
        if found is None:  # exited (a zombie has no memory left)
            return
        samples.append((time.monotonic() - start, int(found.group(1)) * 1024))
        stop.wait(1.0)


def bench_memory(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    pipeline, code = make_pipeline(work)
    data = Path(args.big_input)
    write_big_input(data, args.gb, args.payload_bytes)
    out = work / "big-out"
    cmd = command(pipeline, code, data, out, "--n-process", "2", "--shard-size",
                  str(args.big_shard_size))  # fmt: skip
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = threading.Thread(target=sample_rss, args=(process.pid, samples, stop))
    sampler.start()
    stdout, stderr = process.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(stderr[-3000:])
    shutil.rmtree(out)
    quarter = max(1, -(-len(samples) // 4))
    mb = 1 / 2**20
    probe = "import resource, trf_core.annotate.run; print(resource.getrusage(0).ru_maxrss)"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return {
        "driver_rss_after_imports_mb": round(int(imported.stdout) * 1024 * mb, 1),
        "measure": "memory",
        "input_bytes": data.stat().st_size,
        "seconds": round(seconds, 1),
        "summary": stdout.strip().splitlines(),
        "driver_rss_peak_mb": round(max(r for _, r in samples) * mb, 1),
        # The first quarter includes the start (imports, the scan): constant means the second,
        # third and fourth quarters' peaks are the same.
        "driver_rss_peak_by_quarter_mb": [
            round(max(r for _, r in samples[q * quarter : (q + 1) * quarter] or [(0, 0)]) * mb, 1)
            for q in range(4)
        ],
        "samples": len(samples),
    }


def bench_startup(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    pipeline, code = make_pipeline(work)
    data = work / "small.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts()[:10]))
    contenders: dict[str, dict[str, str] | None] = {"worker process (this code)": None}
    if args.baseline_src:
        baseline = {**os.environ, "PYTHONPATH": str(Path(args.baseline_src).resolve())}
        contenders["in process (baseline)"] = baseline
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(args.repeats):
        for name, env in contenders.items():
            out = work / f"startup-{i}-{len(times[name])}"
            seconds, _ = run(command(pipeline, code, data, out, "--n-process", "1"), env)
            times[name].append(seconds)
            shutil.rmtree(out)
    return {
        "measure": "startup",
        "median_seconds": {name: round(statistics.median(t), 2) for name, t in times.items()},
        "all_seconds": {name: [round(s, 2) for s in t] for name, t in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=("poison", "memory", "startup"))
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument(
        "--big-input", default=str(Path(tempfile.gettempdir()) / "annotate-big.jsonl")
    )
    parser.add_argument("--big-shard-size", type=int, default=50)
    parser.add_argument("--payload-bytes", type=int, default=50_000)
    parser.add_argument("--baseline-src", default="")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure = {"poison": bench_poison, "memory": bench_memory, "startup": bench_startup}
        report = measure[args.measure](args, Path(tmp))
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as handle:
        handle.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
