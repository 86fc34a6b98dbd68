"""The ``trf-core`` command line (also ``python -m trf_core``).

The core's subcommands live in a table, :data:`COMMANDS`: name -> module path. Installed plugins
add theirs through the ``trf_cli_commands`` hook (:mod:`trf_core.plugins.commands`), the same
way a third party's would: ``trf-core export-onnx`` comes from trf-onnx, ``trf-core train`` from
trf-train. Each command's module defines ``HELP`` (one line), ``configure(parser)`` and
``run(args) -> int`` (the exit code); ``EXTRA_ARGS = True`` hands it the arguments its parser
does not know (``args.extra_args``), as config overrides. A plugin's module that fails to import
breaks only its own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

COMMANDS: dict[str, str] = {
    "plugins": "trf_core.cli.plugins",
    "init-config": "trf_core.cli.init_config",
    "new-plugin": "trf_core.cli.scaffold",
    "annotate": "trf_core.annotate.cli",
}
"""The core's subcommands -> the module implementing each (``HELP``, ``configure``, ``run``)."""


class _Unavailable:
    """Stands in for a plugin command that cannot run: its help and its run say why."""

    EXTRA_ARGS = True

    def __init__(self, reason: str) -> None:
        self.HELP = f"(unavailable: {reason.splitlines()[0]})"
        self.reason = reason

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("extra_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace) -> int:
        print(f"trf-core: {self.reason}", file=sys.stderr)
        return 1


def _plugin_command_modules() -> dict[str, ModuleType | _Unavailable]:
    """name -> module (or a stand-in saying why not) for every command plugins add."""
    from trf_core.plugins.commands import plugin_commands

    claims = plugin_commands(frozenset(COMMANDS))
    out: dict[str, ModuleType | _Unavailable] = {}
    for name, command in claims.commands.items():
        try:
            out[name] = importlib.import_module(command.module)
        except Exception as err:  # a broken plugin breaks its own command only
            out[name] = _Unavailable(
                f"`trf-core {name}` comes from {command.provider()} (plugin {command.plugin}), "
                f"whose module {command.module} failed to import: {type(err).__name__}: {err}"
            )
    for name, reason in claims.refused.items():
        if name not in COMMANDS:
            out[name] = _Unavailable(reason)
    return out


def command_modules() -> dict[str, Any]:
    """Every command's module: the core's, then the installed plugins'."""
    modules: dict[str, Any] = {n: importlib.import_module(m) for n, m in COMMANDS.items()}
    modules.update(_plugin_command_modules())
    return modules


def build_parser(modules: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """The argument parser with the core's commands and every installed plugin's."""
    parser = argparse.ArgumentParser(
        prog="trf-core",
        description="trf-core: pretrained transformers in spaCy pipelines, as plugins.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in (command_modules() if modules is None else modules).items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run, _extra_args=bool(getattr(module, "EXTRA_ARGS", False)))
    return parser


def _missing_first_party(name: str) -> str | None:
    """What to install for a first-party plugin command that is not installed, or None."""
    from trf_core.install_hint import install_command
    from trf_core.plugins.commands import FIRST_PARTY_COMMANDS

    if name not in FIRST_PARTY_COMMANDS:
        return None
    bare, extras = FIRST_PARTY_COMMANDS[name]
    if _installed(bare):
        return (
            f"`trf-core {name}` is provided by the {bare} distribution, which is installed but "
            "whose plugin did not load (blocked by TRF_DISABLE_PLUGINS, or failed: "
            "`trf-core plugins` says why)"
        )
    return (
        f"`trf-core {name}` is provided by the {bare} distribution, which is not installed: "
        + install_command(bare, extras)
    )


def _installed(distribution: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    modules = command_modules()
    parser = build_parser(modules)
    if argv and not argv[0].startswith("-") and argv[0] not in modules:
        hint = _missing_first_party(argv[0])
        if hint is not None:
            print(f"trf-core: {hint}", file=sys.stderr)
            return 2
    args, extra = parser.parse_known_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    if extra and not args._extra_args:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args._extra_args:
        args.extra_args = [*getattr(args, "extra_args", []), *extra]
    return int(run(args))


__all__ = ["COMMANDS", "build_parser", "command_modules", "main"]
