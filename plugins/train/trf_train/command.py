"""``trf-core train``: the command trf-train adds to trf-core's command line.

The arguments are :mod:`trf_train.cli`'s; the ones the parser does not know are spaCy-style
config overrides (``--paths.train X``), which trf-core hands over as ``args.extra_args``.
"""

from __future__ import annotations

import argparse

from .cli import add_arguments
from .cli import run as run_cli

HELP = "train a pipeline on one or several workers (processes, GPUs, machines), as spacy train"
EXTRA_ARGS = True


def configure(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_cli(args, args.extra_args)
