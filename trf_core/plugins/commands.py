"""The ``trf-core`` subcommands installed plugins add, through the ``trf_cli_commands`` hook.

A plugin's hook returns command name -> module path; this module collects them from every loaded
plugin, one plugin at a time (a raising hook or a malformed answer fails that plugin alone, as
for the registration hooks), and settles clashes: a core command keeps its name, and a name two
plugins add belongs to neither (running it names both). The modules themselves are imported by
the CLI when it builds its parser.

The first-party commands that live in plugin distributions are listed in
:data:`FIRST_PARTY_COMMANDS`, so that running one without its distribution says what to install.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .loader import load_plugins

__all__ = [
    "CLI_HOOK",
    "FIRST_PARTY_COMMANDS",
    "CommandClaims",
    "PluginCommand",
    "plugin_commands",
]

CLI_HOOK = "trf_cli_commands"
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

FIRST_PARTY_COMMANDS: dict[str, tuple[str, str]] = {
    "export-onnx": ("trf-onnx", "export"),
    "train": ("trf-train", ""),
}
"""Command -> (the distribution to install, the extras it needs for the command)."""


@dataclass(frozen=True)
class PluginCommand:
    """One command a plugin adds: its module and who provides it."""

    name: str
    module: str
    plugin: str
    distribution: str
    version: str | None

    def provider(self) -> str:
        return f"{self.distribution} {self.version or ''}".strip()


@dataclass
class CommandClaims:
    """The commands to add, and the names refused (name -> why)."""

    commands: dict[str, PluginCommand] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def _check(value: Any) -> str | None:
    expected = f"hook {CLI_HOOK} must return a dict of command name -> module path"
    if not isinstance(value, Mapping):
        return f"{expected}, but it returned {type(value).__name__}"
    for name, module in value.items():
        if not isinstance(name, str) or not NAME.match(name):
            return f"{expected}; {name!r} is no command name (lowercase words joined by '-')"
        if not isinstance(module, str) or not module:
            return f"{expected}; the value for {name!r} is a {type(module).__name__}"
    return None


def plugin_commands(core_commands: frozenset[str] = frozenset()) -> CommandClaims:
    """Every loaded plugin's commands, minus the names the core has or two plugins claim."""
    kernel = load_plugins().kernel
    claimed: dict[str, list[PluginCommand]] = {}
    for record in kernel.records:
        if not record.loaded or CLI_HOOK not in record.hooks:
            continue
        called, value = kernel.call_hook(record, CLI_HOOK)
        if not called:
            continue
        problem = _check(value)
        if problem is not None:
            kernel.fail(record, TypeError(problem), f"calling hook {CLI_HOOK}")
            continue
        dist = record.distribution or record.name
        for name, module in value.items():
            command = PluginCommand(name, module, record.name, dist, record.version)
            claimed.setdefault(name, []).append(command)
    claims = CommandClaims()
    for name, commands in claimed.items():
        providers = ", ".join(c.provider() for c in commands)
        if name in core_commands:
            claims.refused[name] = f"`{name}` is a trf-core command; {providers} cannot replace it"
        elif len(commands) > 1:
            claims.refused[name] = (
                f"`trf-core {name}` is added by several distributions: {providers}; uninstall "
                f"one, or block its plugin with TRF_DISABLE_PLUGINS"
            )
        else:
            claims.commands[name] = commands[0]
    return claims
