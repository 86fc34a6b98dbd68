"""Every trainable weight of a pipeline, in one fixed order, under names that survive a restart.

Data parallel training needs the same list of weights on every worker (to all-reduce their
gradients in the same order), a checksum over them (to prove every worker starts equal), and
names that do not depend on thinc's process-local model ids (to store optimizer moments in a
checkpoint and find them again after a restart). :class:`ParamTable` gives all three: it walks
each trained component's model (``Model.walk()`` order is fixed by the config), records the
thinc parameters of every node and the torch parameters of every ``PyTorchShim`` (the
transformer's weights), and names each ``component/node-index/param``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy
from spacy.language import Language
from thinc.api import Model

__all__ = ["ParamTable", "ThincParam", "TorchParam", "trained_components"]


@dataclass(frozen=True)
class ThincParam:
    """One thinc parameter: the node that owns it and its name there."""

    key: str
    node: Model
    name: str

    @property
    def optimizer_key(self) -> tuple[int, str]:
        return (self.node.id, self.name)

    def value(self) -> Any:
        return self.node.get_param(self.name)

    def set_value(self, value: Any) -> None:
        self.node.set_param(self.name, value)

    def grad(self) -> Any | None:
        return self.node.get_grad(self.name) if self.node.has_grad(self.name) else None

    def set_grad(self, grad: Any) -> None:
        self.node.set_grad(self.name, grad)


@dataclass(frozen=True)
class TorchParam:
    """One torch parameter of a thinc ``PyTorchShim`` (the shim's id keys the optimizer)."""

    key: str
    shim: Any
    name: str
    tensor: Any  # torch.nn.Parameter

    @property
    def optimizer_key(self) -> tuple[int, str]:
        return (self.shim.id, self.name)

    def current(self) -> Any:
        """The live parameter: thinc's optimizer step replaces ``.data`` but keeps the object."""
        return self.tensor


def trained_components(nlp: Language, exclude: Iterable[str] = ()) -> list[tuple[str, Any]]:
    """The components spaCy's training loop calls ``finish_update`` on, in pipeline order."""
    skip = set(exclude)
    return [
        (name, proc)
        for name, proc in nlp.pipeline
        if name not in skip
        and getattr(proc, "is_trainable", False)
        and getattr(proc, "model", None) not in (True, False, None)
    ]


def _torch_shim(shim: Any) -> Any | None:
    """The thinc ``PyTorchShim`` that holds the torch module: ``shim`` itself or, for backends
    that wrap one (trf-hf's ``HFBackendShim``), the one its ``inner`` attribute holds."""
    seen = 0
    while shim is not None and seen < 4:
        module = getattr(shim, "_model", None)
        if module is not None and hasattr(module, "named_parameters"):
            return shim
        shim = getattr(shim, "inner", None)
        seen += 1
    return None


def _torch_params(shim: Any) -> Iterator[tuple[str, Any]]:
    for name, param in shim._model.named_parameters():
        if param.requires_grad:
            yield name, param


class ParamTable:
    """The trainable weights of ``nlp``'s trained components, in a fixed order."""

    def __init__(self, nlp: Language, exclude: Iterable[str] = ()) -> None:
        self.thinc: list[ThincParam] = []
        self.torch: list[TorchParam] = []
        self.components = trained_components(nlp, exclude)
        seen_nodes: set[int] = set()
        seen_shims: set[int] = set()
        for comp_name, proc in self.components:
            for index, node in enumerate(proc.model.walk()):
                if node.id in seen_nodes:
                    continue
                seen_nodes.add(node.id)
                for name in node.param_names:
                    if node.has_param(name):
                        self.thinc.append(ThincParam(f"{comp_name}/{index}/{name}", node, name))
                for s_index, outer in enumerate(node.shims):
                    shim = _torch_shim(outer)
                    if shim is None or id(shim) in seen_shims:
                        continue
                    seen_shims.add(id(shim))
                    prefix = f"{comp_name}/{index}/shim{s_index}"
                    for name, tensor in _torch_params(shim):
                        self.torch.append(TorchParam(f"{prefix}/{name}", shim, name, tensor))

    # --- names the optimizer and checkpoints use ----------------------------------------------

    def optimizer_keys(self) -> dict[tuple[int, str], str]:
        """thinc optimizer key (process-local ids) -> stable name."""
        keys: dict[tuple[int, str], str] = {p.optimizer_key: p.key for p in self.thinc}
        keys.update({p.optimizer_key: p.key for p in self.torch})
        return keys

    # --- values -------------------------------------------------------------------------------

    def weights(self) -> dict[str, numpy.ndarray]:
        """Every weight as a numpy array (copied off the GPU where need be), by stable name."""
        out: dict[str, numpy.ndarray] = {}
        for p in self.thinc:
            out[p.key] = _to_numpy(p.value())
        for t in self.torch:
            out[t.key] = t.current().detach().cpu().numpy().copy()
        return out

    def load_weights(self, weights: dict[str, numpy.ndarray]) -> None:
        """Set every weight from :meth:`weights`' output; names must match exactly."""
        mine = [p.key for p in self.thinc] + [t.key for t in self.torch]
        missing = sorted(set(mine) - set(weights))
        extra = sorted(set(weights) - set(mine))
        if missing or extra:
            raise ValueError(
                "the checkpoint's weights do not match this pipeline: "
                f"missing {missing[:5]}, unexpected {extra[:5]}"
            )
        import torch

        for p in self.thinc:
            ops = p.node.ops
            p.set_value(ops.xp.asarray(weights[p.key], dtype=weights[p.key].dtype))
        for t in self.torch:
            with torch.no_grad():
                t.current().data.copy_(torch.from_numpy(weights[t.key]))

    def grad_presence(self) -> dict[str, bool]:
        """Which weights hold a gradient array (thinc and torch keep zeroed ones after a step,
        and the optimizer then still steps them: a resumed run must hold the same)."""
        out = {p.key: p.grad() is not None for p in self.thinc}
        out.update({t.key: t.current().grad is not None for t in self.torch})
        return out

    def restore_grad_presence(self, presence: dict[str, bool]) -> None:
        """Give a zero gradient to each weight that held one when the checkpoint was written."""
        import torch

        for p in self.thinc:
            if presence.get(p.key) and p.grad() is None:
                p.set_grad(p.node.ops.alloc(p.value().shape, dtype=p.value().dtype))
        for t in self.torch:
            param = t.current()
            if presence.get(t.key) and param.grad is None:
                param.grad = torch.zeros_like(param)

    def digests(self) -> dict[str, str]:
        """A sha256 of every trained component's weights (bytes, in table order)."""
        hashes: dict[str, Any] = {name: hashlib.sha256() for name, _ in self.components}
        for key, array in self.weights().items():
            comp = key.split("/", 1)[0]
            hashes[comp].update(key.encode("utf8"))
            hashes[comp].update(numpy.ascontiguousarray(array).tobytes())
        return {name: h.hexdigest() for name, h in hashes.items()}

    def __len__(self) -> int:
        return len(self.thinc) + len(self.torch)


def _to_numpy(array: Any) -> numpy.ndarray:
    if hasattr(array, "get"):  # cupy
        return numpy.asarray(array.get())
    return numpy.array(array, copy=True)
