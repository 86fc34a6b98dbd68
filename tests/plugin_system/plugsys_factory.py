"""Build real, throwaway plugin distributions: a pyproject and a module, installed with pip.

The entry points are real (pip writes ``entry_points.txt`` into a ``.dist-info`` folder), so
the code under test discovers them exactly as it discovers any installed plugin. Each
distribution gets its own target folder, so a test picks a set of them through ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FakeDistribution:
    """A distribution to build: name, version, one package module, its entry points."""

    name: str
    version: str
    module_source: str
    entry_points: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Group -> entry-point name -> value."""

    @property
    def package(self) -> str:
        return self.name.replace("-", "_")


def _pyproject(dist: FakeDistribution) -> str:
    lines = [
        "[build-system]",
        'requires = ["hatchling"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f'name = "{dist.name}"',
        f'version = "{dist.version}"',
        "",
    ]
    for group, entries in dist.entry_points.items():
        lines.append(f"[project.entry-points.{group}]")
        lines.extend(f'"{name}" = "{value}"' for name, value in entries.items())
        lines.append("")
    lines += ["[tool.hatch.build.targets.wheel]", f'packages = ["{dist.package}"]', ""]
    return "\n".join(lines)


def build_distribution(dist: FakeDistribution, workdir: Path) -> Path:
    """Write the project under ``workdir/src`` and pip-install it into ``workdir/site``."""
    src = workdir / "src"
    package = src / dist.package
    package.mkdir(parents=True)
    (src / "pyproject.toml").write_text(_pyproject(dist))
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(textwrap.dedent(dist.module_source))
    site = workdir / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    return site


def build_all(dists: Sequence[FakeDistribution], root: Path) -> dict[str, Path]:
    """Build every distribution (a few at a time); distribution name -> its site folder."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        sites = pool.map(lambda d: build_distribution(d, root / d.name), dists)
        return {dist.name: site for dist, site in zip(dists, sites)}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: ours minus any TRF_* switches, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRF_")}
    env.pop("PYTHONPATH", None)
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONWARNINGS"] = "default"
    env.update(extra)
    return env


def run_python(
    code: str, sites: Sequence[Path], *, env: Mapping[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that sees the given plugin sites."""
    full_env = clean_env(**dict(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(str(s) for s in sites)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_json(
    code: str, sites: Sequence[Path], *, env: Mapping[str, str] | None = None, cwd: Path
) -> Any:
    """Run ``code``, which prints one JSON document as its last stdout line, and parse it."""
    proc = run_python(code, sites, env=env, cwd=cwd)
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
