"""The README's ``trf-core annotate`` examples run as written (the Ray cluster ones aside)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### Annotating corpora at scale", 1)[1].split("\n### ", 1)[0]
COMMANDS = [
    line
    for line in re.findall(r"^trf-core annotate .*$", SECTION, flags=re.MULTILINE)
    if "--engine ray" not in line and not line.rstrip().endswith("\\")
]


def test_the_section_has_examples() -> None:
    assert len(COMMANDS) >= 4


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``./my_pipeline`` (a toy transformer on first-party names + a tagger) and the corpora."""
    pytest.importorskip("trf_span_getters")
    pytest.importorskip("trf_setters")
    import spacy

    from trf_core.testing.pipelines import TAGGED, tagger_cfg, tagger_examples, transformer_cfg

    work = tmp_path_factory.mktemp("readme")
    # First-party names only, so the saved pipeline loads with no --code file.
    config = transformer_cfg(
        annotation_setter={"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"}
    )
    config["model"]["get_spans"] = {"@span_getters": "doc_spans.v1"}
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=config)
    nlp.add_pipe("tagger", config=tagger_cfg())
    examples = tagger_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.to_disk(work / "my_pipeline")
    texts = [text for text, _ in TAGGED]
    (work / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    (work / "corpus.txt").write_text("".join(t + "\n" for t in texts))
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": texts}), work / "corpus.parquet")
    except ImportError:
        pass
    return work


@pytest.mark.parametrize("command", COMMANDS)
def test_a_readme_command_runs(workdir: Path, command: str, tmp_path: Path) -> None:
    if "parquet" in command:
        pytest.importorskip("pyarrow")
    argv = shlex.split(command, comments=True)
    out = tmp_path / "out"
    target = next(i for i, arg in enumerate(argv) if arg.startswith("out"))  # out/, out-2/, ...
    argv[target] = str(out)
    done = subprocess.run([sys.executable, "-m", "trf_core", *argv[1:]], cwd=workdir,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "annotated 4 records" in done.stdout and "0 bad records" in done.stdout
    assert len(list(out.glob("shard-*"))) >= 1
