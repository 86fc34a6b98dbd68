"""Plugins add ``trf-core`` subcommands through the ``trf_cli_commands`` hook, run for real in
fresh interpreters with throwaway distributions installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plugsys_dists import CLI_BAD_NAME, CLI_CLASH, CLI_COMMANDS, GOOD
from plugsys_factory import clean_env


def trf_core(args: list[str], sites: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env(PYTHONPATH=":".join(str(s) for s in sites))
    return subprocess.run(
        [sys.executable, "-m", "trf_core", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_plugin_command_runs_with_its_extra_arguments(
    sites: dict[str, Path], workdir: Path
) -> None:
    used = [sites[CLI_COMMANDS.name]]
    done = trf_core(["kt-hello", "world", "--paths.train", "x.spacy"], used, workdir)
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == "hello world ['--paths.train', 'x.spacy']"
    listed = trf_core(["--help"], used, workdir).stdout
    assert "kt-hello" in listed and "say hello (a plugin's command)" in listed


def test_a_plugin_cannot_replace_a_core_command(sites: dict[str, Path], workdir: Path) -> None:
    done = trf_core(["plugins", "--json"], [sites[CLI_COMMANDS.name]], workdir)
    assert done.returncode == 0, done.stderr
    names = {p["name"] for p in json.loads(done.stdout)["plugins"]}
    assert "kt_cli" in names  # the core's listing ran, not the plugin's hello


def test_a_command_whose_module_fails_breaks_only_itself(
    sites: dict[str, Path], workdir: Path
) -> None:
    used = [sites[CLI_COMMANDS.name], sites[GOOD.name]]
    done = trf_core(["kt-missing", "anything", "--x", "1"], used, workdir)
    assert done.returncode == 1
    assert "kt-cli 0.2.0" in done.stderr and "kt_cli.nowhere" in done.stderr
    assert "ModuleNotFoundError" in done.stderr
    assert trf_core(["kt-hello", "again"], used, workdir).returncode == 3


def test_two_plugins_adding_one_name_get_neither(sites: dict[str, Path], workdir: Path) -> None:
    used = [sites[CLI_COMMANDS.name], sites[CLI_CLASH.name]]
    done = trf_core(["kt-hello", "world"], used, workdir)
    assert done.returncode == 1
    assert "added by several distributions: kt-cli 0.2.0, kt-cli-clash 0.3.0" in done.stderr
    assert trf_core(["kt-other"], used, workdir).returncode == 0  # the unclaimed one works


def test_a_malformed_answer_fails_that_plugin_alone(sites: dict[str, Path], workdir: Path) -> None:
    used = [sites[CLI_BAD_NAME.name], sites[CLI_COMMANDS.name]]
    done = trf_core(["kt-hello", "world"], used, workdir)
    assert done.returncode == 3, done.stderr
    assert "kt_cli_bad" in done.stderr and "is no command name" in done.stderr
