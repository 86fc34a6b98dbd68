"""``trf-core annotate PIPELINE INPUT OUTPUT``: the command line of :mod:`trf_core.annotate`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from .isolation import DEFAULT_MAX_WORKER_DEATHS
from .manifest import AnnotateError
from .settings import INPUT_FORMATS, OUTPUT_FORMATS, AnnotateSettings

HELP = "annotate a corpus with a pipeline: sharded, resumable, on local processes or Ray"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="a pipeline folder or an installed pipeline package")
    parser.add_argument("input", type=Path, help="JSONL, plain text (one doc a line) or Parquet")
    parser.add_argument("output", type=Path, help="the output folder (created; resumable)")
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        help="default: from the extension (.jsonl/.ndjson/.json, .parquet/.pq, else text)",
    )
    parser.add_argument(
        "--output-format", choices=OUTPUT_FORMATS, default="jsonl", help="default: jsonl"
    )
    parser.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    parser.add_argument("--shard-size", type=int, default=1000, help="records per output shard")
    parser.add_argument("--batch-size", type=int, default=64, help="docs per nlp.pipe batch")
    parser.add_argument(
        "--trf-data", action="store_true", help="keep doc._.trf_data in DocBin output"
    )
    parser.add_argument(
        "--vectors", action="store_true", help="JSONL/Parquet: add doc and token vectors"
    )
    parser.add_argument(
        "--code",
        action="append",
        default=[],
        help="a Python file to import in every worker first (custom components); repeatable",
    )
    _where_options(parser)


def _where_options(parser: argparse.ArgumentParser) -> None:
    """Where and how the shards run: none of these changes the output."""
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument(
        "--n-process",
        type=int,
        default=1,
        help="local worker processes (0: annotate in this process, which a record that crashes "
        "the pipeline then ends), or Ray actors",
    )
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        default=0,
        help="torch/BLAS threads per worker (default: the cores divided by --n-process)",
    )
    parser.add_argument("--gpu", type=int, default=-1, help="GPU id to run on (-1: CPU)")
    parser.add_argument(
        "--ray-address", default=None, help="an existing cluster ('auto', 'ray://host:10001')"
    )
    parser.add_argument(
        "--ray-num-cpus", type=float, default=0.0, help="CPUs per actor (default: its threads)"
    )
    parser.add_argument(
        "--ray-num-gpus", type=float, default=1.0, help="GPUs per actor with --gpu (default 1)"
    )
    parser.add_argument(
        "--max-worker-deaths",
        type=int,
        default=DEFAULT_MAX_WORKER_DEATHS,
        help="per shard: how many times its records may kill a worker (each is retried, then "
        "bisected to the record that kills, set aside as an error) before the run stops "
        f"(default {DEFAULT_MAX_WORKER_DEATHS})",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "bar", "log", "none"),
        default="auto",
        help="auto: a live line on a terminal, log lines otherwise",
    )


def settings_from(args: argparse.Namespace) -> AnnotateSettings:
    """The settings from the parsed options (each option's dest is the field's name)."""
    from .run import guess_input_format

    values = {f.name: getattr(args, f.name) for f in fields(AnnotateSettings)}
    values.update(
        input=str(args.input),
        output=str(args.output),
        input_format=args.input_format or guess_input_format(args.input),
        code=tuple(args.code),
    )
    return AnnotateSettings(**values)


def run(args: argparse.Namespace) -> int:
    from .run import annotate
    from .stopping import Terminated, stop_on_signals

    settings = settings_from(args)
    try:
        with stop_on_signals():
            summary = annotate(settings)
    except AnnotateError as err:
        print(f"trf-core annotate: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130  # annotate() said so in one line
    except Terminated:
        return 143
    print(summary.text(settings.output))
    return 0


__all__ = ["HELP", "configure", "run", "settings_from"]
