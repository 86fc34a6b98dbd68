"""The ``trf-core`` command line (also ``python -m trf_core``).

Subcommands live in a table, :data:`COMMANDS`: name -> module path. Each module defines
``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int`` (the exit code). Adding a
command is one line in the table, and a command's module is imported only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "plugins": "trf_core.cli.plugins",
    "init-config": "trf_core.cli.init_config",
    "new-plugin": "trf_core.cli.scaffold",
    "annotate": "trf_core.annotate.cli",
    "export-onnx": "trf_core.cli.export_onnx",
}
"""Subcommand -> the module implementing it (``HELP``, ``configure``, ``run``)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="trf-core",
        description="trf-core: pretrained transformers in spaCy pipelines, as plugins.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    return int(run(args))


__all__ = ["COMMANDS", "build_parser", "main"]
