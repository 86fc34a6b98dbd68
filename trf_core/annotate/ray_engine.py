"""The Ray engine: the same pieces of work as the local engine, run through Ray actors.

Each actor (:class:`ShardActor`) holds one pipeline process: a worker of the local engine
(:class:`.local.LocalPool`, one spawned process that loads the pipeline once and runs the pieces
with :func:`.shard.run_piece`), so the files are the same as the local engine's, byte for byte.
The process, not the actor, runs the pipeline so that a record that kills it (a segfault, the
OOM killer, ``os._exit``) leaves the actor alive to say how it died (signal or exit code, which
Ray does not report for an actor) and to start a fresh process. The driver runs
:func:`.supervise.supervise` over a :class:`RayPool`: a death is charged to its piece and the
shard retried and bisected exactly as on local processes; an actor that dies itself
(``ray.kill``, its node lost) is replaced by a new actor; an error in an actor or its process
comes back to the driver with its traceback. Actors are plain Ray actors, not Ray Data: Ray
Data retries a failed task on its own, the same record again, and never says which.

Input, output and the pipeline must be at the same path on every node (a shared file system),
or the pipeline an installed package. The driver reads the input itself, to cut it into shards
and keep each record's line number, rather than through ``ray.data.read_json``, which would
stop the whole job at one invalid line. This module is imported only when ``--engine ray``
runs: ``import trf_core`` never imports ray.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, TextIO

from ..install_hint import install_command
from .isolation import Piece, death_reason
from .local import LocalPool
from .manifest import AnnotateError
from .records import ShardTask
from .settings import AnnotateSettings
from .shard import ShardResult
from .supervise import Event, supervise
from .worker import threads_for


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise AnnotateError(
            f"--engine ray needs Ray, on every node of the cluster: "
            f"{install_command('trf-core', 'ray')} ({err})"
        ) from err
    return ray


class ShardActor:
    """A Ray actor: one pipeline process, started by :meth:`load`, fed one piece at a time.

    Both methods answer ``(kind, value)``: ``("ready", pid)``, ``("done", result)``,
    ``("died", reason)`` (the process died; the next call starts a fresh one) or
    ``("failed", message)``.
    """

    def __init__(self, settings: AnnotateSettings, threads: int) -> None:
        gpu = 0 if settings.gpu >= 0 else -1  # Ray shows each actor only its own GPU(s)
        self.pool = LocalPool(replace(settings, gpu=gpu), threads)
        self.worker: Any = None

    def _process(self) -> tuple[str, Any] | None:
        """Start the pipeline process unless it runs; what went wrong, if anything did."""
        if self.worker is not None:
            return None
        worker = self.pool.start()
        (event,) = self.pool.wait()
        if event.kind != "ready":
            return event.kind, event.reason
        self.worker = worker
        return None

    def load(self) -> tuple[str, Any]:
        return self._process() or ("ready", os.getpid())

    def run(self, piece: Piece) -> tuple[str, Any]:
        problem = self._process()
        if problem is not None:
            return problem
        self.pool.submit(self.worker, piece)
        (event,) = self.pool.wait()
        if event.kind == "died":
            self.worker = None
        return event.kind, event.result if event.kind == "done" else event.reason


class _Actor:
    """A handle with identity (the driver's key for an actor) and the pid it reported."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.pid: int | None = None


class RayPool:
    """Ray actors started on demand; implements ``supervise.WorkerPool``."""

    def __init__(self, ray: Any, settings: AnnotateSettings, threads: int) -> None:
        self.ray = ray
        resources: dict[str, float] = {"num_cpus": settings.ray_num_cpus or float(threads)}
        if settings.gpu >= 0:
            resources["num_gpus"] = settings.ray_num_gpus
        # A dead actor stays dead (max_restarts=0): the driver starts a fresh one and decides
        # what it runs; Ray retrying the same piece on its own would hit the same record.
        self.actor_class = ray.remote(max_restarts=0, max_task_retries=0, **resources)(ShardActor)
        self.settings = settings
        self.threads = threads
        self.calls: dict[Any, tuple[_Actor, str]] = {}
        self.actors: list[_Actor] = []
        self.started = 0
        self.prefix = f"trf-core-annotate-{uuid.uuid4().hex[:8]}"

    def start(self) -> _Actor:
        # Named, so `ray list actors` (and ray.get_actor) show which run an actor belongs to.
        self.started += 1
        options = self.actor_class.options(name=f"{self.prefix}-{self.started}")
        actor = _Actor(options.remote(self.settings, self.threads))
        self.calls[actor.handle.load.remote()] = (actor, "load")
        self.actors.append(actor)
        return actor

    def submit(self, actor: _Actor, piece: Piece) -> None:
        self.calls[actor.handle.run.remote(piece)] = (actor, "run")

    def wait(self) -> list[Event[_Actor]]:
        ready, _ = self.ray.wait(list(self.calls), num_returns=1)
        events = []
        for ref in ready:
            actor, call = self.calls.pop(ref)
            events.append(self._event(actor, call, ref))
        return events

    def _event(self, actor: _Actor, call: str, ref: Any) -> Event[_Actor]:
        exceptions = self.ray.exceptions
        try:
            kind, value = self.ray.get(ref)
        except exceptions.RayActorError as err:
            self._forget(actor)
            return Event(actor, "died", reason=death_reason(None, _first_line(err)))
        except exceptions.RayTaskError as err:
            where = "loading the pipeline" if call == "load" else "on a shard"
            return Event(actor, "failed", reason=f"a Ray actor failed {where}:\n{err}")
        if kind == "ready":
            actor.pid = int(value)
            return Event(actor, "ready")
        if kind == "done":
            return Event(actor, "done", result=value)
        if kind == "died" and call == "load":
            self.retire(actor)  # its pipeline does not load: the driver counts that, in a row
            return Event(actor, "died", reason=str(value))
        return Event(actor, kind, reason=str(value), usable=kind == "died")

    def retire(self, actor: _Actor) -> None:
        self._forget(actor)
        self.ray.kill(actor.handle)

    def _forget(self, actor: _Actor) -> None:
        if actor in self.actors:
            self.actors.remove(actor)

    def stop(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor.handle)
        self.actors = []
        self.calls = {}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"Ray: {text[0]}" if text else "Ray: the actor died"


def run_ray(
    settings: AnnotateSettings, tasks: Sequence[ShardTask], log: TextIO | None = None
) -> Iterator[ShardResult]:
    """Each finished shard's result, as the actors finish them."""
    if not tasks:
        return
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        # Actor output (a component's prints, Ray's own reports) reaches this command's output.
        ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=True)
    threads = threads_for(settings.n_process, settings.threads_per_worker)
    pool = RayPool(ray, settings, threads)
    try:
        yield from supervise(pool, tasks, settings.n_process, settings.max_worker_deaths, log)
    finally:
        pool.stop()
        if started:
            ray.shutdown()


__all__ = ["RayPool", "ShardActor", "run_ray"]
