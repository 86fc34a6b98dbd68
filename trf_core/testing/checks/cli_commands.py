"""The contract of a plugin's ``trf-core`` subcommands (the ``trf_cli_commands`` hook).

:func:`check_cli_commands` takes the plugin module (what the entry point names) and checks what
``trf-core`` relies on: the hook returns command name -> module path; names are lowercase words
joined by hyphens; each module imports and defines a one-line ``HELP`` string, a
``configure(parser)`` that adds its arguments to an ``argparse`` parser, and a callable
``run(args)``; ``EXTRA_ARGS``, when set, is a bool.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from trf_core.plugins.commands import CLI_HOOK, NAME

from ._common import ContractViolation

__all__ = ["check_cli_commands"]

KIND = "cli command"


def _violation(invariant: str, where: str, detail: str, fix: str) -> ContractViolation:
    return ContractViolation(KIND, invariant, where, detail, fix)


def _command_module(name: str, path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as err:
        raise _violation(
            "each command's module imports",
            f"command {name!r} -> {path!r}",
            f"{type(err).__name__}: {err}",
            "return the import path of a module of your distribution",
        ) from err


def _check_module(name: str, module: Any) -> None:
    where = f"command {name!r} ({module.__name__})"
    help_text = getattr(module, "HELP", None)
    if not isinstance(help_text, str) or not help_text.strip() or "\n" in help_text.strip():
        raise _violation(
            "a command's module defines HELP, one line of text",
            where,
            f"HELP is {help_text!r}",
            "set HELP = 'what the command does' at the module's top level",
        )
    for attr in ("configure", "run"):
        if not callable(getattr(module, attr, None)):
            raise _violation(
                f"a command's module defines {attr}()",
                where,
                f"{attr} is {getattr(module, attr, None)!r}",
                "define configure(parser) (adds arguments) and run(args) -> int (exit code)",
            )
    extra = getattr(module, "EXTRA_ARGS", False)
    if not isinstance(extra, bool):
        raise _violation("EXTRA_ARGS is a bool", where, f"EXTRA_ARGS is {extra!r}", "use True")
    parser = argparse.ArgumentParser(prog=f"trf-core {name}")
    try:
        module.configure(parser)
    except Exception as err:
        raise _violation(
            "configure(parser) adds the command's arguments to an argparse parser",
            where,
            f"{type(err).__name__}: {err}",
            "call only parser.add_argument (and friends) in configure",
        ) from err


def check_cli_commands(plugin: ModuleType | Any) -> dict[str, ModuleType]:
    """Check the commands ``plugin`` (a plugin module) adds; return name -> command module.

    Raises:
        ContractViolation: naming the rule broken, the command, what happened and what to do.
    """
    hook = getattr(plugin, CLI_HOOK, None)
    if hook is None:
        raise _violation(
            f"the plugin implements {CLI_HOOK}",
            repr(plugin),
            f"no function {CLI_HOOK}",
            "mark a function `trf_cli_commands` with @trf_core.hookimpl",
        )
    commands = hook()
    if not isinstance(commands, dict) or not commands:
        raise _violation(
            f"{CLI_HOOK} returns a non-empty dict of command name -> module path",
            repr(plugin),
            f"it returned {commands!r}",
            'return {"my-command": "my_dist.cli"}',
        )
    modules: dict[str, ModuleType] = {}
    for name, path in commands.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise _violation(
                "command names are lowercase words joined by '-'",
                f"command {name!r}",
                "not a valid name",
                "rename it, e.g. 'my-command'",
            )
        if not isinstance(path, str) or not path:
            raise _violation(
                "each command maps to a module's import path",
                f"command {name!r}",
                f"the value is {path!r}",
                "give the module's dotted path, e.g. 'my_dist.cli'",
            )
        module = _command_module(name, path)
        _check_module(name, module)
        modules[name] = module
    return modules
