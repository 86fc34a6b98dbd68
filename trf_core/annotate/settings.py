"""What one annotate run is asked to do, as a plain (picklable) dataclass.

The settings travel to every worker (spawned process or Ray actor), so they hold only strings,
numbers and booleans. :meth:`AnnotateSettings.output_options` names the options that change
what is written: those go into the manifest's fingerprint; the others (engine, worker count,
GPU, the batch size: tests/annotate/test_annotate_run.py shows the files do not change with it)
only change where and how fast shards run, so a resumed run may change them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

INPUT_FORMATS = ("jsonl", "text", "parquet")
OUTPUT_FORMATS = ("docbin", "jsonl", "parquet")
SUFFIXES = {"docbin": ".spacy", "jsonl": ".jsonl", "parquet": ".parquet"}


@dataclass(frozen=True)
class AnnotateSettings:
    pipeline: str
    input: str
    output: str
    input_format: str = "jsonl"
    output_format: str = "jsonl"
    text_field: str = "text"
    shard_size: int = 1000
    batch_size: int = 64
    trf_data: bool = False
    vectors: bool = False
    code: tuple[str, ...] = ()
    # Where and how fast: not part of the fingerprint.
    engine: str = "local"
    n_process: int = 1
    threads_per_worker: int = 0  # 0: the cores divided among the workers
    gpu: int = -1  # GPU id, -1 for CPU
    ray_address: str | None = None
    ray_num_cpus: float = 0.0  # 0: threads_per_worker
    ray_num_gpus: float = 1.0  # per actor, when gpu >= 0
    progress: str = "auto"  # auto | bar | log | none
    max_worker_deaths: int = 50  # per shard, retries and bisection probes included

    def output_options(self) -> dict[str, Any]:
        """The options that change the output files (the fingerprint's part besides the data)."""
        keys = (
            "input_format",
            "output_format",
            "text_field",
            "shard_size",
            "trf_data",
            "vectors",
        )
        data = asdict(self)
        return {key: data[key] for key in keys}

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.output_format]
