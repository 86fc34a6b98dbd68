"""check_cli_commands: the conformance kit's check of a plugin's trf-core subcommands."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from trf_core.testing import ContractViolation, check_cli_commands


def command_module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    defaults: dict[str, Any] = {
        "HELP": "do a thing",
        "configure": lambda parser: parser.add_argument("path"),
        "run": lambda args: 0,
    }
    for key, value in {**defaults, **attrs}.items():
        if value is not None:
            setattr(module, key, value)
    return module


def plugin(commands: Any) -> types.ModuleType:
    module = types.ModuleType("kt_cli_plugin")
    module.trf_cli_commands = lambda: commands  # type: ignore[attr-defined]
    return module


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(name: str, **attrs: Any) -> str:
        monkeypatch.setitem(sys.modules, name, command_module(name, **attrs))
        return name

    return install


def test_a_good_command_passes(installed: Any) -> None:
    path = installed("kt_cmd_good", EXTRA_ARGS=True)
    assert check_cli_commands(plugin({"kt-do": path})) == {"kt-do": sys.modules[path]}


@pytest.mark.parametrize(
    ("commands", "invariant"),
    [
        ({"Do It": "kt_cmd_good"}, "lowercase words joined by '-'"),
        ({}, "non-empty dict"),
        ({"kt-do": "kt_no_such_module_anywhere"}, "each command's module imports"),
        ({"kt-do": 3}, "maps to a module's import path"),
    ],
)
def test_bad_hook_answers_are_named(installed: Any, commands: Any, invariant: str) -> None:
    installed("kt_cmd_good")
    with pytest.raises(ContractViolation, match=invariant):
        check_cli_commands(plugin(commands))


@pytest.mark.parametrize(
    ("attrs", "invariant"),
    [
        ({"HELP": None}, "defines HELP"),
        ({"HELP": "two\nlines"}, "defines HELP"),
        ({"run": None}, r"defines run\(\)"),
        ({"configure": "nope"}, r"defines configure\(\)"),
        ({"configure": lambda parser: parser.add_argument("--x", "--x", type=1)}, "argparse"),
        ({"EXTRA_ARGS": "yes"}, "EXTRA_ARGS is a bool"),
    ],
)
def test_bad_command_modules_are_named(
    installed: Any, attrs: dict[str, Any], invariant: str
) -> None:
    path = installed("kt_cmd_bad", **attrs)
    with pytest.raises(ContractViolation, match=invariant):
        check_cli_commands(plugin({"kt-do": path}))


def test_a_plugin_without_the_hook_is_named() -> None:
    with pytest.raises(ContractViolation, match="implements trf_cli_commands"):
        check_cli_commands(types.ModuleType("kt_nothing"))
