"""Who imports whom among the plugin machinery, and what requirements records."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trf_core
from trf_core.plugins import requirements

PACKAGE = Path(trf_core.__file__).parent / "plugins"


def _trf_core_imports(module: str) -> set[str]:
    """The ``trf_core.plugins`` modules ``module`` imports, anywhere in its body (lazy ones too)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "trf_core.plugins."
        ):
            found.add((node.module or "").split(".")[2])
    return found


def test_the_registry_does_not_import_the_loader_and_the_load_report_is_a_leaf() -> None:
    assert "loader" not in _trf_core_imports("registry")
    assert _trf_core_imports("load_report") == set()
    assert "load_report" in _trf_core_imports("loader")
    assert "load_report" in _trf_core_imports("registry")


def test_requirements_does_not_import_the_cli() -> None:
    code = (
        "import sys, trf_core.plugins.requirements\n"
        "assert not [m for m in sys.modules if m.startswith('trf_core.cli')], sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_requirements_list_only_names_with_one_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    references: list[dict[str, Any]] = [
        {"status": "ok", "distribution": "Acme_Two"},
        {"status": "ok", "distribution": "spacy"},
        # A conflict's display names every claimant; a lone one must not become a requirement.
        {"status": "conflict", "distribution": "acme-one"},
        {"status": "missing", "distribution": None, "install": "trf-hf"},
    ]
    monkeypatch.setattr(requirements, "config_providers", lambda config: references)
    assert requirements.config_distributions({"components": {}}) == ["acme-two"]
