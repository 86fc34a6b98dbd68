"""Does trf-core train exactly as spacy-transformers? Losses of ``nlp.update`` steps side by side.

Two trainings of one config differ by chance (dropout masks, the parser's random oracle cuts),
so comparing accuracies needs several seeds. This removes the chance instead: the transformer's
dropout is set to 0, the parser and NER train without oracle cuts, ``drop = 0``, and both
libraries run ``nlp.update`` with an optimizer on the same EWT docs from the same seed. Equal
losses at every step (each component's, and the transformer's sum of squared gradients) mean
equal forward passes, equal gradients and equal optimizer steps.

    python bench/update_equivalence.py --peer-python /tmp/st-venv/bin/python

The configs are the ones ``bench/accuracy_ewt.py`` writes (written here when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIGS = HERE / "results" / "accuracy"
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "ewt-ud-uner"
DEFAULT_TRAIN = DEFAULT_DATA / "en_ewt-ud-uner-train.spacy"


def worker(config_path: str, train: str, n_docs: int, steps: int) -> list[dict[str, float]]:
    """Run in each library's interpreter: the losses of ``steps`` updates, chance removed."""
    from spacy.tokens import DocBin
    from spacy.training import Example
    from spacy.util import fix_random_seed, load_config, load_model_from_config

    config = load_config(config_path, overrides={"paths.train": train, "paths.dev": train})
    transformer_config = config["components"]["transformer"]["model"]["transformer_config"]
    transformer_config["hidden_dropout_prob"] = 0.0
    transformer_config["attention_probs_dropout_prob"] = 0.0
    config["training"]["optimizer"]["learn_rate"] = 3e-4  # a constant: steps move the weights
    for name in ("parser", "ner"):  # the oracle cut draws from Python's random
        config["components"][name]["update_with_oracle_cut_size"] = 0
    fix_random_seed(0)
    nlp = load_model_from_config(config, auto_fill=True)
    docs = list(DocBin().from_disk(train).get_docs(nlp.vocab))[:n_docs]
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    out: list[dict[str, float]] = []
    for _ in range(steps):
        losses: dict[str, Any] = {}
        nlp.update(examples, drop=0.0, sgd=optimizer, losses=losses)
        out.append({name: float(value) for name, value in losses.items()})
    return out


def run(python: str, config: Path, args: argparse.Namespace) -> list[dict[str, float]]:
    command = [python, __file__, "--worker", str(config), "--train", str(args.train)]
    command += ["--docs", str(args.docs), "--steps", str(args.steps)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=Path, default=DEFAULT_CONFIGS)
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    parser.add_argument("--docs", type=int, default=6, help="EWT train docs (10 sentences each)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--peer-python", help="python of a spacy-transformers venv")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, str(args.train), args.docs, args.steps)))
        return
    if not args.peer_python:
        raise SystemExit("give --peer-python: the python of a venv with spacy-transformers 1.4")
    if not (args.configs / "config_trf_core.cfg").exists():  # accuracy_ewt.py not run yet
        sys.path.insert(0, str(HERE))
        from accuracy_ewt import DEFAULT_CONFIG, default_model_dir, write_configs

        args.configs.mkdir(parents=True, exist_ok=True)
        write_configs(DEFAULT_CONFIG, default_model_dir(), args.configs)
    ours = run(sys.executable, args.configs / "config_trf_core.cfg", args)
    theirs = run(args.peer_python, args.configs / "config_spacy_transformers.cfg", args)
    print("| step | component | trf-core loss | spacy-transformers loss | relative difference |")
    print("|---:|---|---:|---:|---:|")
    worst = 0.0
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for name in a:
            diff = abs(a[name] - b[name]) / max(abs(b[name]), 1e-12)
            worst = max(worst, diff)
            print(f"| {step} | {name} | {a[name]:.4f} | {b[name]:.4f} | {diff:.1e} |")
    print(f"\nlargest relative difference: {worst:.1e}")


if __name__ == "__main__":
    main()
