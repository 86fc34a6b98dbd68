"""The one hook between backward and the optimizer step: sum every worker's gradients.

After each worker ran ``nlp.update`` on its share of the global batch, its gradients sit where
thinc and torch left them (thinc's parameter server, the torch parameters' ``.grad``). This
module sums them over the workers in a few flat buckets (one all-reduce per bucket, not one per
weight) and writes the sums back, so every worker's optimizer sees the gradient one process
would have computed on the whole batch.

Which weights hold a gradient differs between workers (a worker with an empty share ran no
backward pass), and it matters: thinc's optimizer steps every weight that holds a gradient,
zero or not (weight decay). So one small float64 vector goes first: per weight "does it hold
a gradient here", per component "did its backward pass run here" (trf-core's transformer only
steps when one did), and the step's losses. After that reduction every worker agrees on which
weights get a gradient, and only those travel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy
from spacy.language import Language

from .params import ParamTable

__all__ = ["BUCKET_BYTES", "GradientSync", "SyncStats"]

BUCKET_BYTES = 25 * 1024 * 1024

# trf-core's Transformer applies its optimizer step only when a backward pass ran on this
# worker (so a frozen transformer or grad_factor 0 never moves). The flag must agree everywhere.
_PENDING_FLAG = "_gradient_to_apply"


@dataclass
class SyncStats:
    """What the last step's synchronisation cost (the benchmark reports these)."""

    bytes: int = 0
    seconds: float = 0.0  # all of it: waiting for the slowest worker, packing, transfer
    wait_seconds: float = 0.0  # the first (tiny) collective: mostly waiting for the others
    collectives: int = 0


class GradientSync:
    """Sums gradients and step losses over the workers of ``ctx``."""

    def __init__(
        self,
        nlp: Language,
        table: ParamTable,
        ctx: Any,
        bucket_bytes: int = BUCKET_BYTES,
    ) -> None:
        self.table = table
        self.ctx = ctx
        self.bucket_bytes = bucket_bytes
        self.loss_names = list(nlp.pipe_names)
        self.flagged = [proc for _, proc in table.components if hasattr(proc, _PENDING_FLAG)]
        self.stats = SyncStats()

    def __call__(self, step_losses: dict[str, float]) -> dict[str, float]:
        """Sum gradients in place; return the losses summed over workers."""
        if not self.ctx.distributed:
            return step_losses
        import torch

        started = time.perf_counter()
        stats = SyncStats()
        thinc_grads = [p.grad() for p in self.table.thinc]
        torch_grads = [t.current().grad for t in self.table.torch]
        presence = [g is not None for g in thinc_grads] + [g is not None for g in torch_grads]
        flags = [bool(getattr(proc, _PENDING_FLAG)) for proc in self.flagged]
        losses = [float(step_losses.get(n, 0.0)) for n in self.loss_names]
        has_loss = [n in step_losses for n in self.loss_names]
        # on the group's device: NCCL reduces CUDA tensors only
        meta = torch.tensor(
            presence + flags + losses + has_loss, dtype=torch.float64, device=self.ctx.device
        )
        self.ctx.all_reduce_sum(meta)
        stats.wait_seconds = time.perf_counter() - started
        stats.bytes += meta.numel() * meta.element_size()
        stats.collectives += 1
        values = meta.tolist()
        n_p, n_f, n_l = len(presence), len(flags), len(losses)
        global_presence = [v > 0 for v in values[:n_p]]
        for proc, v in zip(self.flagged, values[n_p : n_p + n_f]):
            setattr(proc, _PENDING_FLAG, v > 0)
        loss_values = values[n_p + n_f : n_p + n_f + n_l]
        loss_present = values[n_p + n_f + n_l :]
        summed = {n: v for n, v, h in zip(self.loss_names, loss_values, loss_present) if h > 0}

        entries: list[tuple[Any, Any, Any]] = []  # (param entry, local grad or None, shape)
        for p, g, present in zip(self.table.thinc, thinc_grads, global_presence):
            if present:
                entries.append((p, g, p.value().shape))
        for t, g, present in zip(
            self.table.torch, torch_grads, global_presence[len(thinc_grads) :]
        ):
            if present:
                entries.append((t, g, tuple(t.current().shape)))
        for bucket in self._buckets(entries):
            flat = self._pack(bucket)
            self.ctx.all_reduce_sum(flat)
            stats.bytes += flat.numel() * flat.element_size()
            stats.collectives += 1
            self._unpack(bucket, flat)
        stats.seconds = time.perf_counter() - started
        self.stats = stats
        return summed

    def _buckets(self, entries: list[tuple[Any, Any, Any]]) -> list[list[tuple[Any, Any, Any]]]:
        """Consecutive entries of one device, no bucket over ``bucket_bytes`` (unless one
        weight alone is larger)."""
        buckets: list[list[tuple[Any, Any, Any]]] = []
        current: list[tuple[Any, Any, Any]] = []
        size = 0
        device = None
        for entry in entries:
            nbytes = int(numpy.prod(entry[2], dtype=numpy.int64)) * 4
            dev = self._device_of(entry[0])
            if current and (size + nbytes > self.bucket_bytes or dev != device):
                buckets.append(current)
                current, size = [], 0
            current.append(entry)
            size += nbytes
            device = dev
        if current:
            buckets.append(current)
        return buckets

    def _device_of(self, param: Any) -> str:
        if hasattr(param, "tensor"):
            return str(param.current().device)
        return "cpu" if isinstance(param.value(), numpy.ndarray) else self.ctx.device

    def _pack(self, bucket: list[tuple[Any, Any, Any]]) -> Any:
        import torch
        from thinc.api import xp2torch

        sizes = [int(numpy.prod(shape, dtype=numpy.int64)) for _, _, shape in bucket]
        device = self._device_of(bucket[0][0])
        flat = torch.zeros(sum(sizes), dtype=torch.float32, device=device)
        offset = 0
        for (param, grad, _), n in zip(bucket, sizes):
            if grad is not None:
                src = grad if hasattr(param, "tensor") else _as_torch(grad, xp2torch)
                flat[offset : offset + n].copy_(src.reshape(-1))
            offset += n
        return flat

    def _unpack(self, bucket: list[tuple[Any, Any, Any]], flat: Any) -> None:
        from thinc.api import torch2xp

        offset = 0
        for param, _, shape in bucket:
            n = int(numpy.prod(shape, dtype=numpy.int64))
            piece = flat[offset : offset + n].view(shape)
            offset += n
            if hasattr(param, "tensor"):
                live = param.current()
                if live.grad is None:
                    live.grad = piece.clone().to(live.dtype)
                else:
                    live.grad.copy_(piece)
            else:
                value = param.value()
                if isinstance(value, numpy.ndarray):
                    param.set_grad(piece.numpy().astype(value.dtype, copy=True))
                else:
                    param.set_grad(torch2xp(piece.clone()).astype(value.dtype))


def _as_torch(array: Any, xp2torch: Any) -> Any:
    import torch

    if isinstance(array, numpy.ndarray):
        return torch.from_numpy(numpy.ascontiguousarray(array))
    return xp2torch(array)
