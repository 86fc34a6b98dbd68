"""``trf-core export-onnx``: convert a pipeline trained with trf-hf to run on ONNX Runtime.

trf-onnx adds the command to ``trf-core`` through the ``trf_cli_commands`` hook
(:mod:`trf_onnx.plugin`). This module only parses the arguments and imports the exporter
(:mod:`trf_onnx.export`, which needs trf-hf, torch and onnx) when the command runs, so listing
``trf-core``'s commands stays cheap and a missing export dependency gets an error saying what to
install.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from trf_core.install_hint import install_command

HELP = "convert a pipeline trained with trf-hf into one that runs on ONNX Runtime, without torch"

INSTALL_HINT = (
    "exporting to ONNX needs trf-onnx with its export extra (trf-hf, torch and onnx, at export "
    "time only): " + install_command("trf-onnx", "export")
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", type=Path, help="the trained pipeline's folder (spacy.load)")
    parser.add_argument("output", type=Path, help="a new folder for the converted pipeline")
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        default=None,
        help="quantize the encoder's weights (ONNX Runtime dynamic quantization); default: fp32",
    )
    parser.add_argument(
        "--fuse",
        action="store_true",
        help="rewrite the encoder with ONNX Runtime's transformer fusions (fused attention, "
        "layer norms, GELU), kept only when its outputs verify; off by default: it did not "
        "measure faster on the project's 2-core test machine",
    )


def missing_distributions() -> list[str]:
    """What the export needs and cannot import, as ``pip`` names."""
    needed = {"trf_hf": "trf-hf", "torch": "torch", "onnx": "onnx"}
    return [dist for module, dist in needed.items() if importlib.util.find_spec(module) is None]


def run(args: argparse.Namespace) -> int:
    missing = missing_distributions()
    if missing:
        print(f"error: {', '.join(missing)} not installed; {INSTALL_HINT}", file=sys.stderr)
        return 1
    from trf_onnx.export import ExportError, export_pipeline

    try:
        result = export_pipeline(
            args.pipeline, args.output, quantize=args.quantize, fuse=bool(args.fuse)
        )
    except (ExportError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    precision = args.quantize or "fp32"
    for name, path in result.components.items():
        size = path.stat().st_size / 2**20
        print(f"{name}: {path} ({precision}, {size:.1f} MiB)")
    print(f"saved the ONNX pipeline to {result.output}; it loads with spacy.load, without torch")
    return 0
