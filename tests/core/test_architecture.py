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
import trf_kernel

import trf_core

ROOT = Path(__file__).resolve().parents[2]
# The installed packages (the sources in a dev install, the wheels' files in `nox -s wheels`).
CORE = Path(trf_core.__file__).parent
KERNEL = Path(trf_kernel.__file__).parent

# layer -> the trf_core layers it may import (besides itself). "(top)" is trf_core/__init__.py
# and __main__.py, the public surface, which may import anything and nothing may import.
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "install_hint": set(),
    "contract": {"install_hint"},
    "plugins": {"contract", "install_hint"},
    "component": {"contract", "plugins", "install_hint"},
    "testing": {"contract", "plugins", "component", "install_hint"},
    "annotate": {"version", "install_hint"},
    "cli": {"contract", "plugins", "component", "annotate", "testing", "version", "install_hint"},
    "(top)": {
        "version",
        "install_hint",
        "contract",
        "plugins",
        "component",
        "annotate",
        "testing",
        "cli",
    },
}
PLUGIN_LAYERS = {"(top)", "contract", "component", "plugins", "testing", "version", "install_hint"}
PLUGIN_SOURCES = [
    *sorted(ROOT.glob("plugins/*/trf_*")),
    *sorted(ROOT.glob("contrib_*/trf_*")),
]
# What a trf_core layer never imports: the plugin distributions, the model libraries.
FORBIDDEN_IN_CORE = re.compile(
    r"^(trf_hf|trf_onnx|trf_poolers|trf_setters|trf_span_getters|trf_train|torch|transformers)\b"
)
# The places the core reaches a plugin or torch on purpose, at call time, behind a check.
CORE_EXCEPTIONS = {
    ("annotate.worker", "torch"),  # limits torch's threads in a worker, where torch is installed
    ("testing.pytest_plugin", "torch"),  # the gpu marker asks torch for a device, if installed
}


def _module_name(path: Path) -> str:
    """The dotted module name, from the package folders (those with an ``__init__.py``) above."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
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
        f"{_shown(path)}:{line} imports {module} ({_layer(module)})"
        for line, module, _ in _imports(path, source)
        if module.split(".")[0] == "trf_core"
        and _layer(module) != here
        and _layer(module) not in ALLOWED[here]
    ]


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


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
        f"{_shown(path)}:{line} imports {module}"
        for line, module, _ in _imports(path)
        if FORBIDDEN_IN_CORE.match(module) and (here, module) not in CORE_EXCEPTIONS
    ]
    assert not wrong


def test_the_kernel_imports_nothing_of_trf_core() -> None:
    wrong = [
        f"{_shown(path)}:{line} imports {module}"
        for path in sorted(KERNEL.rglob("*.py"))
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
                wrong.append(f"{_shown(path)}:{line} imports {module} {names}")
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


def _import_graph() -> dict[str, set[str]]:
    """trf_core module -> the trf_core modules it imports (``from pkg import mod`` -> mod)."""
    modules = {_module_name(path): path for path in _core_files()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, module, names in _imports(path):
            targets = [f"{module}.{n}" if f"{module}.{n}" in modules else module for n in names]
            graph[name].update(t for t in targets or [module] if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_among_trf_core_modules() -> None:
    """Lazy imports count too: a circle through a function-level import is still a circle."""
    assert _cycles(_import_graph()) == []


def test_a_circle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
