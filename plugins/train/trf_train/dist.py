"""Who this worker is and how it talks to the others: a thin face over ``torch.distributed``.

Every engine (the local launcher, torchrun, Ray Train) ends in the same state: a default process
group (gloo on CPU, NCCL on GPU) whose collectives time out after ``collective_timeout`` seconds,
so a dead or stuck peer stops the others instead of hanging them. Beside it sits one gloo group
with a long timeout for the waits that are long by nature (rank 0 evaluating on dev or writing a
checkpoint while the others wait). With one worker there is no group and every collective is the
identity, so a one-worker run is spaCy's own loop.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["COLLECTIVE_TIMEOUT_S", "LONG_WAIT_S", "DistContext", "env_rank_info", "single"]

COLLECTIVE_TIMEOUT_S = 60.0
LONG_WAIT_S = 3 * 3600.0


@dataclass
class DistContext:
    """This worker's rank, the world size, and the process groups (None with one worker)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    host: str = field(default_factory=socket.gethostname)
    device: str = "cpu"
    group: Any = None
    slow_group: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, tensor: Any) -> None:
        """Sum ``tensor`` over every worker, in place."""
        if self.distributed:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=self.group)

    def broadcast_object(self, obj: Any, slow: bool = True) -> Any:
        """Rank 0's ``obj`` on every worker."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self.slow_group if slow else None)
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every worker's ``obj``, in rank order (on every worker)."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.slow_group)
        return out

    def barrier(self) -> None:
        """Wait for every worker, on the long-timeout group (rank 0 may be writing to disk)."""
        if self.distributed:
            import torch.distributed as dist

            dist.barrier(group=self.slow_group)


def single() -> DistContext:
    return DistContext()


def env_rank_info() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) from a launcher's environment (torchrun, SLURM, k8s), or
    None when the process was not started as one worker of several."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    return rank, world, local


def join_group(
    rank: int,
    world_size: int,
    local_rank: int,
    *,
    use_gpu: bool,
    collective_timeout: float = COLLECTIVE_TIMEOUT_S,
    already_initialized: bool = False,
) -> DistContext:
    """Join (or adopt, when a launcher such as Ray Train made it) the default process group."""
    import torch
    import torch.distributed as dist

    device = f"cuda:{torch.cuda.current_device()}" if use_gpu else "cpu"
    ctx = DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)
    if world_size == 1 and not already_initialized:
        return ctx
    if not already_initialized and not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
            raise RuntimeError(
                f"RANK={rank} and WORLD_SIZE={world_size} are set but MASTER_ADDR / MASTER_PORT "
                "are not: set them to rank 0's address and a free port (torchrun does this)"
            )
        dist.init_process_group(
            backend="nccl" if use_gpu else "gloo",
            init_method="env://",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=collective_timeout),
        )
    ctx.group = None  # the default group
    ctx.slow_group = dist.new_group(backend="gloo", timeout=timedelta(seconds=LONG_WAIT_S))
    return ctx


def leave_group(ctx: DistContext) -> None:
    if ctx.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
