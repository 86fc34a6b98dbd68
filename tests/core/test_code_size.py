"""Size limits for trf_core's code, checked on the source: no class over 300 lines, no function
over 60 (docstrings and comments count). A class that outgrows them is split by concern, as
the ``transformer`` component is (component/listening, prediction, training, serialization)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import trf_core

CORE = Path(trf_core.__file__).parent  # the installed package: the sources, or a wheel's files
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 60


def _too_long(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        size = (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "lineno") else 0
        if isinstance(node, ast.ClassDef) and size > MAX_CLASS_LINES:
            found.append(f"{where}:{node.lineno} class {node.name} has {size} lines")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and size > MAX_FUNCTION_LINES:
            found.append(f"{where}:{node.lineno} function {node.name} has {size} lines")
    return found


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_no_class_over_300_lines_and_no_function_over_60(path: Path) -> None:
    assert not _too_long(path.read_text(encoding="utf8"), str(path.relative_to(CORE)))


def test_the_limits_are_enforced() -> None:
    """The checker itself, on generated source: one line over each limit is reported."""
    body = "\n".join("    x = 1" for _ in range(MAX_FUNCTION_LINES))
    long_function = f"def f():\n{body}\n"
    methods = "\n".join(f"    def m{i}(self):\n        pass" for i in range(MAX_CLASS_LINES // 2))
    long_class = f"class C:\n{methods}\n"
    assert [r.split(" has ")[0] for r in _too_long(long_function, "g")] == ["g:1 function f"]
    assert [r.split(" has ")[0] for r in _too_long(long_class, "g")] == ["g:1 class C"]
    assert _too_long("def f():\n    return 1\n", "g") == []
