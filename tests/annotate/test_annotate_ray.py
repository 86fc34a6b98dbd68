"""The Ray engine on a small local cluster this module starts: the local engine's output, byte
for byte, in-process and from the command line connected to the cluster with --ray-address.

Skipped where Ray is not installed; ``nox -s annotate_ray`` installs ``trf-core[ray]`` and runs
these.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from annotate_helpers import CODE, done_shards, good_corpus, output_files, settings, write_jsonl

from trf_core.annotate.run import annotate

pytest.importorskip(
    "ray.data",
    reason="Ray Data is not installed: pip install 'trf-core[ray]' (nox -s annotate_ray)",
)
ray: Any = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A two-CPU Ray instance on this machine; yields its address."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def corpus_with_bad_records(path: Path) -> Path:
    good_corpus(path, n=10)
    lines = path.read_text().splitlines()
    lines[3] = "{not json"
    lines[6] = '{"text": "BOOM goes the pipeline", "id": "boom"}'
    return write_jsonl(path, lines)


def test_ray_actors_write_what_the_local_engine_writes(
    cluster: str, toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = corpus_with_bad_records(tmp_path / "in.jsonl")
    local = annotate(settings(toy_pipeline, corpus, tmp_path / "local"))
    on_ray = annotate(settings(toy_pipeline, corpus, tmp_path / "ray", engine="ray", n_process=2,
                               ray_num_cpus=1.0))  # fmt: skip
    assert (on_ray.docs, on_ray.errors, on_ray.shards_run) == (8, 2, 4)
    assert on_ray.docs == local.docs and on_ray.words == local.words
    assert output_files(tmp_path / "ray") == output_files(tmp_path / "local")


def test_the_command_runs_on_an_existing_cluster(
    cluster: str, toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = corpus_with_bad_records(tmp_path / "in.jsonl")
    annotate(settings(toy_pipeline, corpus, tmp_path / "local", output_format="docbin"))
    done = subprocess.run(
        [sys.executable, "-m", "trf_core", "annotate", str(toy_pipeline), str(corpus),
         str(tmp_path / "ray"), "--code", str(CODE), "--shard-size", "3", "--progress", "none",
         "--output-format", "docbin", "--engine", "ray", "--ray-address", cluster,
         "--ray-num-cpus", "1"],
        env={**os.environ, "ANNOTATE_TEST_SLEEP": "0"}, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 bad records" in done.stdout
    assert output_files(tmp_path / "ray") == output_files(tmp_path / "local")


def test_actors_that_die_are_replaced_and_the_killing_records_isolated(
    cluster: str, toy_pipeline: Path, tmp_path: Path
) -> None:
    """Records that kill their actor (SIGSEGV, os._exit); then ray.kill of an actor midway."""
    from test_worker_faults import REASONS, corpus, errors, shard_files

    poison = {1: ("segv", "KILL:SIGSEGV"), 8: ("exit", "KILL:exit3")}
    poisoned = corpus(tmp_path / "in.jsonl", 12, poison)
    clean = corpus(tmp_path / "clean.jsonl", 12, poison, clean=True)
    annotate(settings(toy_pipeline, clean, tmp_path / "clean", shard_size=4))
    summary = annotate(settings(toy_pipeline, poisoned, tmp_path / "ray", shard_size=4,
                                engine="ray", n_process=2, ray_num_cpus=1.0))  # fmt: skip
    assert (summary.docs, summary.errors) == (10, 2)
    assert shard_files(tmp_path / "ray") == shard_files(tmp_path / "clean")
    # The errors files too are the local engine's: the actor saw how its pipeline process died.
    expected = [(2, "segv", REASONS["KILL:SIGSEGV"]), (9, "exit", REASONS["KILL:exit3"])]
    assert errors(tmp_path / "ray") == expected

    # ray.kill of a busy actor while the run goes: replaced, its shard redone, nothing lost.
    rows = [json.dumps({"text": f"SLOW ham {i}", "id": i}) for i in range(12)]
    slow = write_jsonl(tmp_path / "slow.jsonl", rows)
    annotate(settings(toy_pipeline, slow, tmp_path / "slow-local", shard_size=2))
    killed: list[str] = []

    def kill_one_actor() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            names = [n["name"] if isinstance(n, dict) else n
                     for n in ray.util.list_named_actors(all_namespaces=False)]  # fmt: skip
            ours = sorted(n for n in names if n.startswith("trf-core-annotate-"))
            if len(ours) >= 2 and done_shards(tmp_path / "slow-ray") >= 1:
                try:
                    ray.kill(ray.get_actor(ours[0]))
                except ValueError:  # gone meanwhile (retired at the end): try another
                    continue
                killed.append(ours[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_actor)
    killer.start()
    annotate(settings(toy_pipeline, slow, tmp_path / "slow-ray", shard_size=2, engine="ray",
                      n_process=2, ray_num_cpus=1.0))  # fmt: skip
    killer.join()
    assert killed, "no actor was killed: the run ended first"
    assert output_files(tmp_path / "slow-ray") == output_files(tmp_path / "slow-local")


def test_an_actor_error_reaches_the_driver_with_its_traceback(
    cluster: str, toy_pipeline: Path, tmp_path: Path
) -> None:
    from trf_core.annotate.manifest import AnnotateError

    broken = tmp_path / "broken.py"
    broken.write_text(CODE.read_text() + "\nraise RuntimeError('this code file is broken')\n")
    corpus = good_corpus(tmp_path / "in.jsonl", n=4)
    with pytest.raises(AnnotateError) as info:
        annotate(settings(toy_pipeline, corpus, tmp_path / "ray", engine="ray", n_process=1,
                          ray_num_cpus=1.0, code=(str(broken),)))  # fmt: skip
    message = str(info.value)
    assert "failed loading the pipeline" in message
    assert "RuntimeError: this code file is broken" in message and "broken.py" in message
