"""The import rules of docs/architecture.md, checked on the source (every import, lazy ones too).

Each module of ``trf_core`` belongs to one layer (its first package below ``trf_core``); a layer
may import only the layers the table allows. Plugin distributions import trf-core's layers for
plugin authors and never a private name or the command line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "trf_core"

# layer -> the trf_core layers it may import (besides itself). "(top)" is trf_core/__init__.py
# and __main__.py, the public surface, which may import anything and nothing may import.
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "contract": set(),
    "plugins": {"contract"},
    "component": {"contract", "plugins"},
    "testing": {"contract", "plugins", "component"},
    "annotate": {"version"},
    "cli": {"contract", "plugins", "component", "annotate", "testing", "version"},
    "(top)": {"version", "contract", "plugins", "component", "annotate", "testing", "cli"},
}
PLUGIN_LAYERS = {"(top)", "contract", "component", "plugins", "testing", "version"}
PLUGIN_SOURCES = [
    *sorted(ROOT.glob("plugins/*/trf_*")),
    *sorted(ROOT.glob("contrib_*/trf_*")),
]
# What a trf_core layer never imports: the plugin distributions, the model libraries.
FORBIDDEN_IN_CORE = re.compile(
    r"^(trf_hf|trf_onnx|trf_poolers|trf_setters|trf_span_getters|torch|transformers)\b"
)
# The places the core reaches a plugin or torch on purpose, at call time, behind a check.
CORE_EXCEPTIONS = {
    ("cli.export_onnx", "trf_onnx.export"),  # `trf-core export-onnx`, after checking it is there
    ("annotate.worker", "torch"),  # limits torch's threads in a worker, where torch is installed
    ("testing.pytest_plugin", "torch"),  # the gpu marker asks torch for a device, if installed
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str, list[str]]]:
    """``(line, absolute module, imported names)`` for every import in ``path`` (or ``source``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    text = path.read_text(encoding="utf8") if source is None else source
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            if node.module is None:  # `from . import x`: x may be a module
                found += [(node.lineno, f"{module}.{n}", []) for n in names]
            else:
                found.append((node.lineno, module, names))
    return found


def _layer_violations(path: Path, source: str | None = None) -> list[str]:
    here = _layer(_module_name(path))
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module} ({_layer(module)})"
        for line, module, _ in _imports(path, source)
        if module.split(".")[0] == "trf_core"
        and _layer(module) != here
        and _layer(module) not in ALLOWED[here]
    ]


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "(top)"
    return parts[1]


def _core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_every_trf_core_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer(_module_name(p)) for p in _core_files()} - set(ALLOWED)
    assert not unknown, f"add {unknown} to docs/architecture.md and ALLOWED"


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(CORE)))
def test_each_layer_imports_only_the_layers_below_it(path: Path) -> None:
    here = _layer(_module_name(path))
    wrong = _layer_violations(path)
    assert not wrong, f"layer {here!r} may import only {sorted(ALLOWED[here])}: {wrong}"


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(CORE)))
def test_the_core_imports_no_plugin_and_no_torch(path: Path) -> None:
    here = _module_name(path).partition(".")[2]
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for line, module, _ in _imports(path)
        if FORBIDDEN_IN_CORE.match(module) and (here, module) not in CORE_EXCEPTIONS
    ]
    assert not wrong


def test_the_kernel_imports_nothing_of_trf_core() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "core" / "trf_kernel").rglob("*.py"))
        for line, module, _ in _imports(path)
        if module.split(".")[0] == "trf_core"
    ]
    assert not wrong


@pytest.mark.parametrize("package", PLUGIN_SOURCES, ids=lambda p: p.name)
def test_plugins_import_only_trf_cores_public_layers_and_names(package: Path) -> None:
    wrong = []
    for path in sorted(package.rglob("*.py")):
        for line, module, names in _imports(path):
            if module.split(".")[0] != "trf_core":
                continue
            private = [n for n in [*module.split("."), *names] if n.startswith("_")]
            if _layer(module) not in PLUGIN_LAYERS or private:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} {names}")
    assert not wrong, "plugins import trf-core's public layers and names only"


def test_an_upward_import_is_reported() -> None:
    """The checker itself, on source that is never written: contract -> component is refused,
    lazy or not, relative or absolute; contract -> contract is fine."""
    probe = CORE / "contract" / "probe.py"
    source = (
        "from . import data\n"
        "from ..component import transformer\n"
        "def f():\n"
        "    import trf_core.cli.main\n"
    )
    wrong = _layer_violations(probe, source)
    assert [w.split(" imports ")[1] for w in wrong] == [
        "trf_core.component (component)",
        "trf_core.cli.main (cli)",
    ]
