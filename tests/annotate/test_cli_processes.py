"""The command in real processes: SIGKILL and resume, spawned workers, threads, imports."""

from __future__ import annotations

import importlib.util
import json
import os
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
    good_corpus,
    output_files,
    settings,
    write_jsonl,
)

from trf_core.annotate.manifest import MANIFEST
from trf_core.annotate.run import annotate

HERE = Path(__file__).parent


def command(pipeline: Path, corpus: Path, out: Path, *options: str) -> list[str]:
    return [
        sys.executable, "-m", "trf_core", "annotate", str(pipeline), str(corpus), str(out),
        "--code", str(CODE), "--shard-size", "2", "--batch-size", "2", *options,
    ]  # fmt: skip


def environment(sleep: float = 0.0) -> dict[str, str]:
    return {**os.environ, "ANNOTATE_TEST_SLEEP": str(sleep), "PYTHONHASHSEED": "random"}


def test_sigkill_midway_then_rerun_gives_the_uninterrupted_output(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = write_jsonl(
        tmp_path / "in.jsonl",
        [json.dumps({"text": f"We eat green ham {i}", "id": i}) for i in range(24)]
        + ["not json", '{"text": "BOOM"}'],
    )
    reference = tmp_path / "reference"
    run = subprocess.run(command(toy_pipeline, corpus, reference), env=environment(), check=True,
                         capture_output=True, text=True)  # fmt: skip
    assert "26 records" in run.stdout and "2 bad records" in run.stdout

    out = tmp_path / "out"
    victim = subprocess.Popen(command(toy_pipeline, corpus, out), env=environment(sleep=0.1),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while done_shards(out) < 3 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.02)
    workers = children(victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = done_shards(out)
    # Its worker sees the command gone and ends itself (SIGKILL leaves no time to stop it).
    assert any("spawn_main" in cmdline for cmdline in workers.values())
    deadline = time.monotonic() + 10
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(workers) == {}
    assert 3 <= killed_at < 13, "the run was not killed midway: make the test components slower"
    assert not json.loads((out / MANIFEST).read_text())["complete"]

    rerun = subprocess.run(command(toy_pipeline, corpus, out), env=environment(), check=True,
                           capture_output=True, text=True)  # fmt: skip
    assert f"{killed_at} of 13 shards already done" in rerun.stderr
    assert output_files(out) == output_files(reference)  # byte for byte, manifest included


def test_spawned_workers_write_what_the_command_writes_in_process(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    """Byte-equal shards; and ``--threads-per-worker`` reached torch in each worker first."""
    import spacy
    from spacy.tokens import DocBin

    corpus = good_corpus(tmp_path / "in.jsonl", n=9)
    one, two = tmp_path / "one", tmp_path / "two"
    for out, workers in ((one, "0"), (two, "2")):
        subprocess.run(
            command(toy_pipeline, corpus, out, "--n-process", workers, "--output-format", "docbin",
                    "--threads-per-worker", "1"),
            env={**environment(), "OMP_NUM_THREADS": "3"}, check=True, capture_output=True,
        )  # fmt: skip
    assert output_files(two) == output_files(one)
    vocab = spacy.blank("en").vocab
    threads = {
        doc.user_data["threads"]
        for path in sorted(two.glob("shard-*.spacy"))
        for doc in DocBin().from_disk(path).get_docs(vocab)
    }
    # annotate_code.py's component records torch.get_num_threads() (-1 without torch).
    assert threads == ({-1} if importlib.util.find_spec("torch") is None else {1})


def test_spawned_workers_run_every_first_party_getter_setter_and_pooler() -> None:
    pytest.importorskip("trf_span_getters")
    pytest.importorskip("trf_setters")
    pytest.importorskip("trf_poolers")
    done = subprocess.run([sys.executable, str(HERE / "spawn_check.py")], env=environment(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["failures"] == []
    assert report["mismatches"] == []
    # 9 span getter names, 4 setter names, 7 poolers (one case per name).
    assert len(report["checked"]) >= 20
    assert report["start_method"] == "spawn" and report["nlp_pipe_spawn_equal"] is True


def test_the_command_refuses_a_changed_run_with_exit_code_2(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=3)
    annotate(settings(toy_pipeline, corpus, tmp_path / "out", shard_size=2, batch_size=2))
    again = subprocess.run(
        [*command(toy_pipeline, corpus, tmp_path / "out"), "--vectors"],
        env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 2
    assert "options.vectors was False, now True" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_annotate_modules_import_neither_ray_nor_torch_themselves() -> None:
    probe = (
        "import sys\n"
        "import trf_core.cli.main as cli\n"
        "cli.build_parser()\n"
        "import trf_core.annotate.run, trf_core.annotate.local, trf_core.annotate.shard\n"
        "print(sorted(m for m in ('ray', 'torch') if sys.modules.get(m) is not None))\n"
    )
    # thinc imports torch when it is installed (thinc's import, not ours): hide it from thinc.
    block = "import sys; sys.modules['torch'] = None\n"
    done = subprocess.run([sys.executable, "-c", block + probe], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert "'ray'" not in done.stdout
