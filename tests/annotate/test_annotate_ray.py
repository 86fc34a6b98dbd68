"""The Ray engine on a small local cluster this module starts: the local engine's output, byte
for byte, in-process and from the command line connected to the cluster with --ray-address.

Skipped where Ray is not installed; ``nox -s annotate_ray`` installs ``trf-core[ray]`` and runs
these.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from annotate_helpers import CODE, good_corpus, output_files, settings, write_jsonl

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
