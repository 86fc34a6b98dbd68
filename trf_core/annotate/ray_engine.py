"""The Ray engine: the same shards, annotated by Ray Data actors on one machine or a cluster.

The dataset holds one row per pending shard (its place in the input); ``map_batches`` runs a
stateful callable class, :class:`ShardAnnotator`, that loads the pipeline once per actor and,
for each row, reads that shard, annotates it and writes its files with
:func:`.shard.annotate_shard`, the function the local engine runs. The rows that come back are
the shard results, which the driver records in the manifest. Input, output and the pipeline
must therefore be at the same path on every node (a shared file system), or the pipeline an
installed package.

Why not ``ray.data.read_json``: one invalid line would fail the whole read, and the records'
line numbers and the shard cut (what makes a rerun exactly-once) would be lost; the shard rows
keep both. This module is imported only when ``--engine ray`` runs: ``import trf_core`` never
imports ray.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from ..install_hint import install_command
from .manifest import AnnotateError
from .records import ShardTask
from .settings import AnnotateSettings
from .shard import ShardResult, annotate_shard
from .worker import limit_threads, load_pipeline, threads_for
from .writers import annotation_columns

_TASK_FIELDS = ("index", "first", "count", "byte_start", "byte_end")


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise AnnotateError(
            f"--engine ray needs Ray Data, on every node of the cluster: "
            f"{install_command('trf-core', 'ray')} ({err})"
        ) from err
    return ray


class ShardAnnotator:
    """A Ray actor's state: one pipeline, loaded in ``__init__``, used for every shard it gets."""

    def __init__(self, settings: AnnotateSettings, threads: int) -> None:
        limit_threads(threads)
        self.settings = settings
        self.nlp = load_pipeline(settings.pipeline, settings.code, 0 if settings.gpu >= 0 else -1)
        self.columns = annotation_columns(self.nlp, settings.vectors)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        results = []
        for i in range(len(batch["index"])):
            task = ShardTask(**{name: int(batch[name][i]) for name in _TASK_FIELDS})
            results.append(annotate_shard(self.nlp, self.columns, self.settings, task).as_json())
        return {key: [result[key] for result in results] for key in results[0]}


def run_ray(settings: AnnotateSettings, tasks: Sequence[ShardTask]) -> Iterator[ShardResult]:
    """Each finished shard's result, as the actors finish them."""
    if not tasks:
        return
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False)
    threads = threads_for(settings.n_process, settings.threads_per_worker)
    resources: dict[str, float] = {"num_cpus": settings.ray_num_cpus or float(threads)}
    if settings.gpu >= 0:
        resources["num_gpus"] = settings.ray_num_gpus
    dataset = ray.data.from_items(
        [asdict(task) for task in tasks], override_num_blocks=len(tasks)
    ).map_batches(
        ShardAnnotator,
        fn_constructor_args=(settings, threads),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=max(1, settings.n_process)),
        **resources,
    )
    for row in dataset.iter_rows():
        yield ShardResult(**{key: _plain(value) for key, value in row.items()})


def _plain(value: Any) -> Any:
    """numpy scalars (as Ray Data hands back) to Python values; a missing file name to None."""
    if hasattr(value, "item"):
        value = value.item()
    return None if value != value else value  # NaN for a null errors_file


__all__ = ["ShardAnnotator", "run_ray"]
