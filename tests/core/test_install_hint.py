"""Install hints in error messages: a first-party distribution's hint says how to install it from a
clone (the folder that really holds it), since the distributions are not on PyPI yet."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import tomllib

from trf_core.install_hint import CLONE_FOLDERS, install_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("distribution", sorted(CLONE_FOLDERS))
def test_each_folder_holds_its_distribution(distribution: str) -> None:
    pyproject = ROOT / CLONE_FOLDERS[distribution] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["name"] == distribution


def test_every_first_party_distribution_has_a_folder() -> None:
    names = {
        tomllib.loads(p.read_text())["project"]["name"]
        for p in ROOT.glob("*/pyproject.toml")
        if not p.parent.name.startswith((".", "tests"))
    } | {
        tomllib.loads(p.read_text())["project"]["name"]
        for p in ROOT.glob("plugins/*/pyproject.toml")
    }
    names.add(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"])
    assert names <= set(CLONE_FOLDERS)


def test_the_clone_command_names_an_installable_folder_with_its_extras() -> None:
    hint = install_command("trf_onnx", "export")
    assert hint.startswith("pip install 'trf_onnx[export]'")
    clone = hint.split("pip install -e ", 1)[1].split(" in its folder")[0]
    (target,) = shlex.split(clone)
    folder, _, extras = target.partition("[")
    assert (ROOT / folder / "pyproject.toml").is_file() and extras == "export]"
    assert "examples/install.sh" in hint and (ROOT / "examples" / "install.sh").is_file()


def test_a_third_party_distribution_gets_the_plain_command() -> None:
    assert install_command("spacy-alignments") == "pip install spacy-alignments"
    assert install_command("pyarrow", "x") == "pip install 'pyarrow[x]'"
