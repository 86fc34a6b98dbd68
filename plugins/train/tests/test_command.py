"""``trf-core train`` reaches trf-core's command line through the plugin hook."""

from __future__ import annotations

import pytest
import trf_train.command
import trf_train.plugin

from trf_core.cli.main import build_parser
from trf_core.testing import check_cli_commands


def test_the_command_meets_the_kits_contract() -> None:
    assert check_cli_commands(trf_train.plugin) == {"train": trf_train.command}


def test_trf_core_lists_and_parses_train(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert "train a pipeline on one or several workers" in parser.format_help()
    args, extra = parser.parse_known_args(
        ["train", "c.cfg", "--output", "o", "-w", "2", "--paths.train", "t.spacy"]
    )
    assert (str(args.config), args.workers, extra) == ("c.cfg", 2, ["--paths.train", "t.spacy"])
