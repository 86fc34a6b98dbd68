"""Faults injected for real into local runs: records that kill their worker (os._exit, SIGSEGV,
SIGKILL from a --code component), a worker killed from outside, SIGTERM and SIGINT sent to the
command's process alone, and a file size limit (RLIMIT_FSIZE) on the command. Each run ends in
the output of a clean run, the killing records in the errors files."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from annotate_helpers import (
    CODE,
    alive,
    children,
    done_shards,
    output_files,
    read_jsonl,
    settings,
    write_jsonl,
)

from trf_core.annotate.manifest import JOURNAL, MANIFEST, AnnotateError
from trf_core.annotate.run import annotate

# position in the corpus -> (id, the marker annotate_code.py's kill component acts on)
POISON_ONE = {9: ("exit", "KILL:exit3")}
POISON_TWO = {1: ("segv", "KILL:SIGSEGV"), 8: ("kill", "KILL:SIGKILL")}
REASONS = {
    "KILL:exit3": "killed the worker process (exit code 3)",
    "KILL:SIGSEGV": "killed the worker process (signal 11, SIGSEGV)",
    "KILL:SIGKILL": "killed the worker process (signal 9, SIGKILL)",
}


def corpus(path: Path, n: int, poison: dict[int, tuple[str, str]], clean: bool = False) -> Path:
    """``n`` records; at the poison positions a killing record, or (``clean``) a record
    without a text, which never reaches the pipeline: what a run without the poison sees."""
    rows: list[dict[str, object]] = [{"text": f"We eat green ham {i}", "id": i} for i in range(n)]
    for position, (ident, marker) in poison.items():
        rows[position] = {"id": ident} if clean else {"text": f"a {marker} here", "id": ident}
    return write_jsonl(path, [json.dumps(row) for row in rows])


def shard_files(folder: Path) -> dict[str, bytes]:
    """The annotated shards (the manifest differs: it fingerprints another input)."""
    files = output_files(folder).items()
    return {k: v for k, v in files if k.startswith("shard-") and not k.endswith(".errors.jsonl")}


def errors(folder: Path) -> list[tuple[object, object, object]]:
    rows = [r for p in sorted(folder.glob("*.errors.jsonl")) for r in read_jsonl(p)]
    return [(row["line"], row["id"], row["reason"]) for row in rows]


@pytest.mark.parametrize(("n_process", "poison"), [(1, POISON_ONE), (2, POISON_TWO)])
def test_records_that_kill_their_worker_are_isolated_and_the_rest_annotated(
    toy_pipeline: Path, tmp_path: Path, n_process: int, poison: dict[int, tuple[str, str]]
) -> None:
    poisoned = corpus(tmp_path / "in.jsonl", 12, poison)
    clean = corpus(tmp_path / "clean.jsonl", 12, poison, clean=True)
    annotate(settings(toy_pipeline, clean, tmp_path / "clean", shard_size=4))
    log = io.StringIO()
    summary = annotate(
        settings(toy_pipeline, poisoned, tmp_path / "out", shard_size=4, n_process=n_process), log
    )
    for position in poison:  # the command said what it did
        assert (
            f"shard {position // 4}: input line {position + 1} kills the worker" in log.getvalue()
        )
    assert (summary.records, summary.docs, summary.errors) == (12, 12 - len(poison), len(poison))
    # Every other record annotated, with the same bytes (the same line numbers) as a run
    # without the killing records; those are in the errors files, with line, id and reason.
    assert shard_files(tmp_path / "out") == shard_files(tmp_path / "clean")
    expected = [(p + 1, ident, REASONS[marker]) for p, (ident, marker) in sorted(poison.items())]
    assert errors(tmp_path / "out") == expected


def test_a_pipeline_that_every_record_kills_stops_with_one_clear_error(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    poison = {i: (f"k{i}", "KILL:exit3") for i in range(2, 6)}
    poisoned = corpus(tmp_path / "in.jsonl", 6, poison)
    with pytest.raises(AnnotateError) as info:
        annotate(settings(toy_pipeline, poisoned, tmp_path / "out", shard_size=2, n_process=1,
                          max_worker_deaths=2))  # fmt: skip
    message = str(info.value)
    assert "shard 1 (input records 3 to 4) killed its worker process 3 times" in message
    assert "(exit code 3)" in message and "--max-worker-deaths 2" in message
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())  # still valid, resumable
    assert manifest["complete"] is False and done_shards(tmp_path / "out") == 1


# --- the command in a real process -------------------------------------------------------------


def command(pipeline: Path, data: Path, out: Path, *options: str) -> list[str]:
    return [
        sys.executable, "-m", "trf_core", "annotate", str(pipeline), str(data), str(out),
        "--code", str(CODE), "--shard-size", "2", "--batch-size", "2", "--progress", "none",
        *options,
    ]  # fmt: skip


def environment(sleep: float = 0.0) -> dict[str, str]:
    return {**os.environ, "ANNOTATE_TEST_SLEEP": str(sleep)}


def workers_of(victim: subprocess.Popen[bytes], n: int) -> dict[int, str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = {p: c for p, c in children(victim.pid).items() if "spawn_main" in c}
        if len(found) >= n:
            return children(victim.pid)  # the workers and multiprocessing's resource tracker
        time.sleep(0.05)
    raise AssertionError("the workers did not start")


def wait_for_shards(out: Path, victim: subprocess.Popen[bytes], n: int) -> None:
    deadline = time.monotonic() + 120
    while done_shards(out) < n and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.02)
    assert victim.poll() is None, "the run ended before it could be interrupted: slow it down"


@pytest.fixture(scope="module")
def reference(toy_pipeline: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus of 24 records (one the pipeline raises on; shard 2's file over 8 KB, the others
    under) and its uninterrupted output."""
    folder = tmp_path_factory.mktemp("reference")
    rows = [json.dumps({"text": f"We eat green ham {i}", "id": i}) for i in range(23)]
    rows[5] = json.dumps({"text": "ham " * 1500, "id": "big"})
    data = write_jsonl(folder / "in.jsonl", [*rows, '{"text": "BOOM", "id": "boom"}'])
    subprocess.run(command(toy_pipeline, data, folder / "out"), env=environment(), check=True,
                   capture_output=True)  # fmt: skip
    return data, folder / "out"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_command_alone_stops_it_and_every_worker(
    toy_pipeline: Path, tmp_path: Path, reference: tuple[Path, Path], sig: int, code: int
) -> None:
    data, clean = reference
    out = tmp_path / "out"
    # SIGINT at its default in the command, as a terminal gives it: a test runner started in the
    # background inherits SIGINT ignored, which the command then rightly keeps ignoring.
    victim = subprocess.Popen(command(toy_pipeline, data, out, "--n-process", "2"),
                              env=environment(sleep=0.15), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, preexec_fn=_default_sigint)  # fmt: skip
    processes = workers_of(victim, 2)
    wait_for_shards(out, victim, 2)
    sent = time.monotonic()
    victim.send_signal(sig)  # to the main process only, as kill and schedulers send it
    _, stderr = victim.communicate(timeout=30)
    took = time.monotonic() - sent
    assert victim.returncode == code and took < 10
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    assert stderr.decode().strip().splitlines()[-1].startswith(f"stopped by {name}")
    assert "Traceback" not in stderr.decode()
    deadline = time.monotonic() + 10  # the resource tracker ends once its pipes close
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(processes) == {}, "processes were left behind"
    assert len([c for c in processes.values() if "spawn_main" in c]) == 2
    # Nothing half-written counts as done: the rerun completes with the clean run's bytes.
    assert 2 <= done_shards(out) < 12
    subprocess.run(command(toy_pipeline, data, out), env=environment(), check=True,
                   capture_output=True)  # fmt: skip
    assert output_files(out) == output_files(clean)


def test_a_worker_killed_from_outside_is_replaced_and_its_shard_redone(
    toy_pipeline: Path, tmp_path: Path, reference: tuple[Path, Path]
) -> None:
    data, clean = reference
    out = tmp_path / "out"
    victim = subprocess.Popen(command(toy_pipeline, data, out, "--n-process", "2"),
                              env=environment(sleep=0.1), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
    workers = [p for p, c in workers_of(victim, 2).items() if "spawn_main" in c]
    wait_for_shards(out, victim, 1)
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = victim.communicate(timeout=240)
    assert victim.returncode == 0, stderr.decode()[-2000:]
    assert output_files(out) == output_files(clean)  # no record blamed: the retry went through


def test_a_shard_that_cannot_be_written_stops_the_run_naming_it_and_a_rerun_completes(
    toy_pipeline: Path, tmp_path: Path, reference: tuple[Path, Path]
) -> None:
    data, clean = reference
    limit = 8192  # shard 2's file is larger, the manifest and the shards before it smaller

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = tmp_path / "out"
    failed = subprocess.run(command(toy_pipeline, data, out), env=environment(),
                            capture_output=True, text=True, preexec_fn=limit_file_size)  # fmt: skip
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert f"could not write {out / 'shard-000002.jsonl'}: File too large" in failed.stderr
    assert "rerun the same command to continue" in failed.stderr
    assert "Traceback" not in failed.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["complete"] is False and done_shards(out) == 2
    assert (out / JOURNAL).exists() and not list(out.glob(".*tmp*"))
    rerun = subprocess.run(command(toy_pipeline, data, out), env=environment(),
                           capture_output=True, text=True)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "2 of 12 shards already done" in rerun.stderr
    assert output_files(out) == output_files(clean)
