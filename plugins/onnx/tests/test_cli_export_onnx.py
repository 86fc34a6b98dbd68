"""``trf-core export-onnx``, which trf-onnx adds to the core's command line through the
``trf_cli_commands`` hook: listed, and clear errors when what it needs is missing.

The conversion itself is tested in test_onnx_export.py (it needs torch).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest
from trf_onnx import cli_export as cli_export_onnx

from trf_core.cli.main import build_parser, main


def test_the_command_is_listed() -> None:
    help_text = build_parser().format_help()
    assert "export-onnx" in help_text


def test_missing_trf_onnx_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name == "torch":  # present or not (the onnx session has none): not the point here
            return object()
        return None if name in ("trf_hf", "onnx") else real(name, *args)

    monkeypatch.setattr(cli_export_onnx.importlib.util, "find_spec", find_spec)
    assert main(["export-onnx", "in", "out", "--quantize", "int8"]) == 1
    err = capsys.readouterr().err
    assert "trf-hf, onnx not installed" in err
    assert "pip install 'trf-onnx[export]'" in err


def test_unknown_quantization_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export-onnx", "in", "out", "--quantize", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err


def test_building_the_cli_loads_no_exporter() -> None:
    """Plugin modules load with trf_core (cheap by design); the exporter and runtimes do not."""
    heavy = ("trf_onnx.export", "trf_hf.backend", "onnx", "onnxruntime", "transformers")
    code = (
        "import sys, trf_core.cli.main, trf_onnx.cli_export\n"
        "trf_core.cli.main.build_parser()\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_command_meets_the_kits_contract() -> None:
    import trf_onnx.plugin

    from trf_core.testing import check_cli_commands

    assert check_cli_commands(trf_onnx.plugin) == {"export-onnx": cli_export_onnx}
