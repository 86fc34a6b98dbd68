"""A tiny tagger pipeline to train in tests: a 2-layer width-32 BERT built here, a tagged corpus
written from its vocabulary, and the example tagger config pointed at both (dropout 0)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from thinc.api import Config

for _needed in ("torch", "trf_hf", "trf_span_getters", "trf_setters"):
    pytest.importorskip(_needed)

ROOT = Path(__file__).resolve().parents[3]
TAGGER_CFG = ROOT / "examples" / "configs" / "tagger.cfg"

# word -> tag: a learnable toy grammar over words the tiny BERT's vocabulary knows
LEXICON = {
    "the": "DT", "a": "DT", "an": "DT",
    "quick": "JJ", "brown": "JJ", "lazy": "JJ", "green": "JJ", "colorless": "JJ",
    "fox": "NN", "dog": "NN", "idea": "NN", "model": "NN", "text": "NN", "document": "NN",
    "jumps": "VB", "sleep": "VB", "run": "VB", "split": "VB", "visit": "VB", "rain": "VB",
    "over": "IN", "in": "IN", "on": "IN", "of": "IN", "to": "IN",
    "furiously": "RB", "and": "CC", ".": ".",
}  # fmt: skip


def tagged_docs(n: int, seed: int) -> list[Doc]:
    """``n`` docs of 2 to 12 words (tags from :data:`LEXICON`), reproducible from ``seed``."""
    vocab = spacy.blank("en").vocab
    rng = random.Random(seed)
    words_all = sorted(LEXICON)
    docs = []
    for _ in range(n):
        words = [rng.choice(words_all) for _ in range(rng.randint(2, 12))]
        docs.append(Doc(vocab, words=words, tags=[LEXICON[w] for w in words]))
    return docs


def write_corpus(folder: Path, n_train: int = 48, n_dev: int = 8) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    train, dev = folder / "train.spacy", folder / "dev.spacy"
    DocBin(docs=tagged_docs(n_train, 1)).to_disk(train)
    DocBin(docs=tagged_docs(n_dev, 2)).to_disk(dev)
    return train, dev


def make_model(folder: Path) -> Path:
    from hf_models import make_bert

    return make_bert(folder, max_positions=32, layers=2, seed=0)


def tagger_config(
    model: Path,
    train: Path,
    dev: Path,
    *,
    max_steps: int = 19,
    eval_frequency: int = 10,
    listener: str = "spacy-transformers.TransformerListener.v1",
    grad_factor: float = 1.0,
    frozen: bool = False,
    code_callback: str | None = None,
) -> Config:
    """The example tagger config on the tiny model and corpus: dropout 0, a warmup schedule."""
    cfg = Config().from_disk(TAGGER_CFG, interpolate=False)
    cfg["paths"]["train"] = str(train)
    cfg["paths"]["dev"] = str(dev)
    cfg["components"]["transformer"]["model"]["name"] = str(model)
    cfg["components"]["transformer"]["frozen"] = frozen
    cfg["components"]["transformer"]["max_batch_items"] = 256
    cfg["components"]["tagger"]["model"]["tok2vec"]["@architectures"] = listener
    cfg["components"]["tagger"]["model"]["tok2vec"]["grad_factor"] = grad_factor
    training = cfg["training"]
    training.update(
        {"dropout": 0.0, "max_steps": max_steps, "eval_frequency": eval_frequency,
         "patience": 0}
    )  # fmt: skip
    training["batcher"] = {
        "@batchers": "spacy.batch_by_words.v1",
        "size": 40,
        "tolerance": 0.2,
        "discard_oversize": False,
        "get_length": None,
    }
    training["optimizer"]["learn_rate"] = {
        "@schedules": "warmup_linear.v1",
        "warmup_steps": 4,
        "total_steps": 40,
        "initial_rate": 0.002,
    }
    if code_callback is not None:
        training["before_update"] = {"@callbacks": code_callback}
    return cfg


def write_config(path: Path, cfg: Config) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.to_disk(path)
    return path


def params_of(nlp: Any) -> dict[str, numpy.ndarray]:
    """Every weight of every component, by component / node index / name (torch ones too)."""
    out: dict[str, numpy.ndarray] = {}
    for comp, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if model in (None, True, False):
            continue
        for i, node in enumerate(model.walk()):
            for name in node.param_names:
                if node.has_param(name):
                    out[f"{comp}/{i}/{name}"] = numpy.asarray(node.get_param(name)).copy()
            for s, shim in enumerate(node.shims):
                module = getattr(shim, "_model", None)
                if module is not None and hasattr(module, "state_dict"):
                    for name, tensor in module.state_dict().items():
                        out[f"{comp}/{i}/shim{s}/{name}"] = tensor.detach().cpu().numpy().copy()
    return out


def model_weights(folder: Path) -> dict[str, numpy.ndarray]:
    return params_of(spacy.load(folder))


def relative_differences(
    a: dict[str, numpy.ndarray], b: dict[str, numpy.ndarray]
) -> dict[str, float]:
    """Per weight: max|a - b| / max|b| (a weight of zeros compares absolutely)."""
    assert sorted(a) == sorted(b)
    out = {}
    for key in a:
        scale = float(numpy.abs(b[key]).max()) if b[key].size else 0.0
        diff = float(numpy.abs(a[key].astype("float64") - b[key]).max()) if b[key].size else 0.0
        out[key] = diff / scale if scale > 0 else diff
    return out


def max_relative_difference(a: dict[str, numpy.ndarray], b: dict[str, numpy.ndarray]) -> float:
    """The largest of :func:`relative_differences`."""
    return max(relative_differences(a, b).values())


def component_relative_l2(
    a: dict[str, numpy.ndarray], b: dict[str, numpy.ndarray]
) -> dict[str, float]:
    """Per component: ||a - b|| / ||b|| over all its weights together."""
    diff: dict[str, float] = {}
    norm: dict[str, float] = {}
    for key in b:
        comp = key.split("/", 1)[0]
        d = a[key].astype("float64") - b[key]
        diff[comp] = diff.get(comp, 0.0) + float((d * d).sum())
        norm[comp] = norm.get(comp, 0.0) + float((b[key].astype("float64") ** 2).sum())
    return {c: (diff[c] / norm[c]) ** 0.5 if norm[c] else diff[c] ** 0.5 for c in diff}


def step_losses(output: Path) -> list[dict[str, float]]:
    lines = (output / "training-steps.jsonl").read_text().splitlines()
    return [json.loads(line)["losses"] for line in lines]


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --- running trainings -----------------------------------------------------------------------

CALLBACKS = Path(__file__).resolve().parent / "train_callbacks.py"


def _group_worker(index: int, jobs: list[Any], workers: int, ports: list[int]) -> None:
    import os

    from trf_train.worker import run_worker

    for job, port in zip(jobs, ports):
        os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
        os.environ.update({"RANK": str(index), "WORLD_SIZE": str(workers)})
        run_worker(job, index, workers, index)


def train_in_one_group(jobs: list[Any], workers: int) -> None:
    """Run several trainings one after another in the same ``workers`` spawned processes (one
    process group per job): the same code path as ``--workers N``, without paying each job's
    interpreter start and imports again."""
    import torch.multiprocessing as mp
    from trf_train.engines.local import free_port

    ports = [free_port() for _ in jobs]
    mp.start_processes(
        _group_worker, args=(jobs, workers, ports), nprocs=workers, join=True,
        start_method="spawn",
    )  # fmt: skip
