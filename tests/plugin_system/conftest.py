"""Session-wide throwaway plugin distributions for the plugin-system tests.

Built once per session (a few seconds of pip); each test then runs its checks in a fresh
interpreter with ``PYTHONPATH`` pointing at the distributions it wants, so entry points,
``sys.modules`` and registries are as real and as clean as in a user's process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from plugsys_dists import ALL
from plugsys_factory import build_all


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Distribution name -> the folder it is installed in (add it to PYTHONPATH to install)."""
    pytest.importorskip("hatchling")
    return build_all(ALL, tmp_path_factory.mktemp("plugin_dists"))


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A neutral working directory for subprocesses (not the repo, so nothing leaks in)."""
    return tmp_path_factory.mktemp("cwd")
