"""docs/plugin-guide.md is correct: its plugin, built only from the guide, works end to end.

Code blocks starting with ``# file: PATH`` are written to a fresh folder, which is pip-installed
(into a ``--target`` folder on ``PYTHONPATH`` of subprocesses). The plugin's own tests must pass,
``python -m trf_core plugins`` must list it, and every other Python block of the guide runs
(in that folder, so the guide's ``config.cfg`` resolves with the plugin installed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from thinc.api import Config

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugin-guide.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
_FILE = re.compile(r"^# file: (\S+)\n")


_PIP_INSTALL = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
_LISTING = [sys.executable, "-m", "trf_core", "plugins", "--json"]


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf8"))]


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRF_")}
    env["PYTHONPATH"] = str(site)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _run(args: list[str], cwd: Path, site: Path) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=_env(site), capture_output=True, text=True, timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def guide_plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The guide's plugin folder, written from its file blocks, and where it is installed."""
    root = tmp_path_factory.mktemp("guide")
    folder = root / "acme-windows"
    for _, code in _blocks():
        match = _FILE.match(code)
        if match:
            path = folder / match.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf8")
    site = root / "site"
    _run(
        [*_PIP_INSTALL, "--target", str(site), str(folder)],
        cwd=root,
        site=site,
    )
    return folder, site


def test_the_guide_has_the_blocks_a_plugin_needs() -> None:
    files = {m.group(1) for _, code in _blocks() if (m := _FILE.match(code))}
    assert {"pyproject.toml", "acme_windows/plugin.py", "config.cfg"} <= files
    assert any(f.startswith("tests/") for f in files)


def test_every_toml_and_ini_block_parses() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    for lang, code in _blocks():
        if lang == "toml":
            tomllib.loads(code)
        elif lang == "ini":
            Config().from_str(code, interpolate=False)


@pytest.mark.slow
def test_the_guides_plugin_passes_its_tests(guide_plugin: tuple[Path, Path]) -> None:
    folder, site = guide_plugin
    output = _run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests"], folder, site
    )
    assert "TestOverlappingWindows::test_spans_inside_doc" in output
    assert "TestOverlappingWindows::test_covers_every_token" in output
    assert "test_neighbouring_windows_share_the_overlap" in output
    assert " failed" not in output and " error" not in output


@pytest.mark.slow
def test_the_guides_plugin_is_listed(guide_plugin: tuple[Path, Path]) -> None:
    folder, site = guide_plugin
    listing = json.loads(
        _run([sys.executable, "-m", "trf_core", "plugins", "--json"], folder, site)
    )
    (plugin,) = [p for p in listing["plugins"] if p["name"] == "acme_windows"]
    assert plugin["status"] == "ok"
    assert plugin["distribution"] == "acme-windows"
    assert plugin["provides"] == {"span_getters": ["acme_windows.overlapping.v1"]}


@pytest.mark.slow
def test_every_other_python_block_runs(guide_plugin: tuple[Path, Path]) -> None:
    folder, site = guide_plugin
    snippets = [code for lang, code in _blocks() if lang == "python" and not _FILE.match(code)]
    assert len(snippets) >= 3
    for i, code in enumerate(snippets):
        (folder / f"snippet_{i}.py").write_text(code, encoding="utf8")
    # One process runs them all, each in a fresh namespace, as separate scripts would.
    driver = folder / "run_snippets.py"
    driver.write_text(
        "import runpy, sys\n"
        f"for i in range({len(snippets)}):\n"
        "    runpy.run_path(f'snippet_{i}.py', run_name='__main__')\n"
        "    print(f'snippet {i} ok')\n",
        encoding="utf8",
    )
    output = _run([sys.executable, driver.name], folder, site)
    assert f"snippet {len(snippets) - 1} ok" in output
