"""One annotate run from start to summary: check, scan, fingerprint, resume, dispatch, record."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from .manifest import AnnotateError, Manifest, open_output
from .progress import Progress
from .records import InputScan, ShardTask, file_sha256, scan_input
from .settings import INPUT_FORMATS, OUTPUT_FORMATS, AnnotateSettings
from .shard import ShardResult
from .stopping import Terminated
from .writers import WriteFailed


@dataclass(frozen=True)
class Summary:
    records: int
    docs: int
    words: int
    errors: int
    shards_run: int
    shards_skipped: int
    seconds: float
    errors_files: tuple[str, ...]
    run_words: int = 0  # the words of this run's shards (the others are in ``words``)

    def text(self, output: str) -> str:
        rate = self.run_words / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"annotated {self.records:,} records into {output}: {self.docs:,} docs, "
            f"{self.words:,} words, {self.errors:,} bad records",
            f"this run: {self.shards_run} shards in {self.seconds:.1f}s ({rate:,.0f} words/s); "
            f"{self.shards_skipped} shards were already done",
        ]
        if self.errors:
            lines.append(f"bad records (line, reason) are in: {', '.join(self.errors_files)}")
        return "\n".join(lines)


def guess_input_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "text"


def check_settings(settings: AnnotateSettings) -> None:
    """Refuse options and paths that cannot work, before any pipeline is loaded."""
    if settings.input_format not in INPUT_FORMATS:
        raise AnnotateError(f"--input-format must be one of {', '.join(INPUT_FORMATS)}")
    if settings.output_format not in OUTPUT_FORMATS:
        raise AnnotateError(f"--output-format must be one of {', '.join(OUTPUT_FORMATS)}")
    if settings.engine not in ("local", "ray"):
        raise AnnotateError("--engine must be 'local' or 'ray'")
    for name in ("shard_size", "batch_size", "n_process", "max_worker_deaths"):
        least = 0 if name == "n_process" and settings.engine == "local" else 1
        if getattr(settings, name) < least:
            raise AnnotateError(f"--{name.replace('_', '-')} must be at least {least}")
    if not Path(settings.input).is_file():
        raise AnnotateError(f"input {settings.input} is not a file")
    for path in settings.code:
        if not Path(path).is_file():
            raise AnnotateError(f"--code {path} is not a file")


def pipeline_sha256(pipeline: str) -> str:
    """A hash of every file of the pipeline's folder (or installed package's folder)."""
    folder = Path(pipeline)
    if not folder.exists():
        from spacy.util import get_package_path, is_package

        if not is_package(pipeline):
            raise AnnotateError(
                f"pipeline {pipeline!r} is neither a folder nor an installed pipeline package"
            )
        folder = Path(get_package_path(pipeline))
    digest = hashlib.sha256()
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files):
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
        digest.update(file_sha256(path).encode("ascii"))
    return digest.hexdigest()


def fingerprint(settings: AnnotateSettings, scan: InputScan) -> dict[str, Any]:
    """What makes the output what it is: the data, the pipeline, the code, the output options."""
    import spacy

    from ..version import __version__

    data = {
        "input": {
            "path": str(Path(settings.input).resolve()),
            "bytes": scan.size,
            "sha256": scan.sha256,
            "records": scan.n_records,
        },
        "pipeline": {"name": settings.pipeline, "sha256": pipeline_sha256(settings.pipeline)},
        "code": [file_sha256(Path(path)) for path in settings.code],
        "options": settings.output_options(),
        "versions": {"trf-core": __version__, "spacy": spacy.__version__},
    }
    normalized: dict[str, Any] = json.loads(json.dumps(data))  # as it reads back from the file
    return normalized


def engine_results(
    settings: AnnotateSettings, tasks: Sequence[ShardTask], log: TextIO
) -> Iterator[ShardResult]:
    if settings.engine == "ray":
        from .ray_engine import run_ray

        return run_ray(settings, tasks, log)
    from .local import run_local

    return run_local(settings, tasks, log)


def annotate(settings: AnnotateSettings, log: TextIO | None = None) -> Summary:
    """Run (or continue) the job ``settings`` describes; returns what the whole output holds."""
    log = log or sys.stderr
    check_settings(settings)
    settings = replace(settings, code=tuple(str(Path(p).resolve()) for p in settings.code))
    output = Path(settings.output)
    scan = scan_input(Path(settings.input), settings.input_format, settings.shard_size)
    manifest = open_output(output, fingerprint(settings, scan), len(scan.shards))
    pending = [task for task in scan.shards if not manifest.is_done(output, task.index)]
    for task in pending:
        manifest.shards.pop(task.index, None)
    skipped = len(scan.shards) - len(pending)
    if skipped:
        log.write(f"continuing {output}: {skipped} of {len(scan.shards)} shards already done\n")
    already = sum(int(shard["records"]) for shard in manifest.shards.values())
    progress = Progress(scan.n_records, already, settings.progress, log)
    manifest.complete = False
    try:
        manifest.save(output)
        _record_all(manifest, output, engine_results(settings, pending, log), progress)
        progress.close()
        manifest.complete = True
        manifest.save(output)
    except WriteFailed as err:
        progress.close()
        raise AnnotateError(err.advice()) from None
    except (KeyboardInterrupt, Terminated) as err:
        progress.close()
        how = "SIGTERM" if isinstance(err, Terminated) else "SIGINT (Ctrl-C)"
        log.write(
            f"stopped by {how}: the shards finished so far are kept and the workers are "
            "stopped; rerun the same command to continue\n"
        )
        raise
    finally:
        manifest.close()
    return _summary(manifest, len(pending), skipped, progress)


def _record_all(
    manifest: Manifest, output: Path, results: Iterator[ShardResult], progress: Progress
) -> None:
    """Record each shard as it comes; the engine's workers stop when this ends, however."""
    try:
        for result in results:
            manifest.record(output, result.as_json())
            progress.update(result.records, result.docs, result.words)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _summary(manifest: Manifest, run: int, skipped: int, progress: Progress) -> Summary:
    totals = manifest.totals()
    files = tuple(
        str(shard["errors_file"])
        for _, shard in sorted(manifest.shards.items())
        if shard["errors_file"] is not None
    )
    return Summary(
        totals["records"],
        totals["docs"],
        totals["words"],
        totals["errors"],
        run,
        skipped,
        progress.elapsed,
        files,
        progress.words,
    )


__all__ = ["Summary", "annotate", "fingerprint", "guess_input_format"]
