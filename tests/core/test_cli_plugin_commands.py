"""The core's command line without the plugins that add commands: a first-party command says
which distribution to install and how; others are argparse's usual error."""

from __future__ import annotations

import pytest

from trf_core.cli import main as cli_main


@pytest.fixture
def no_plugin_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "_plugin_command_modules", lambda: {})


@pytest.mark.parametrize(
    ("command", "install"),
    [
        ("train", "pip install trf-train (not yet on PyPI: from a clone of trf-core, run "
                  "pip install -e plugins/train in its folder"),
        ("export-onnx", "pip install 'trf-onnx[export]' (not yet on PyPI: from a clone of "
                        "trf-core, run pip install -e 'plugins/onnx[export]' in its folder"),
    ],
)  # fmt: skip
def test_a_missing_first_party_command_says_what_to_install(
    no_plugin_commands: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    install: str,
) -> None:
    monkeypatch.setattr(cli_main, "_installed", lambda dist: False)
    assert cli_main.main([command, "x.cfg", "--output", "out"]) == 2
    err = capsys.readouterr().err
    assert "which is not installed" in err and install in err


def test_an_installed_but_blocked_plugin_is_said_so(
    no_plugin_commands: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_main, "_installed", lambda dist: dist == "trf-train")
    assert cli_main.main(["train", "x.cfg"]) == 2
    err = capsys.readouterr().err
    assert "trf-train distribution, which is installed but whose plugin did not load" in err


def test_core_commands_stay_without_plugins(
    no_plugin_commands: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli_main.main(["no-such-command"])
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err
    assert set(cli_main.command_modules()) == set(cli_main.COMMANDS)


def test_a_core_command_refuses_unknown_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main.main(["plugins", "--paths.train", "x"])
    assert "unrecognized arguments: --paths.train x" in capsys.readouterr().err
