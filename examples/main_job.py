"""The main job, end to end: train a tagger, morphologizer, parser and NER sharing one MiniLM
transformer with ``spacy train``, evaluate it, then load the saved pipeline in a fresh process
with the network switched off and annotate an example.

    python examples/main_job.py                  # EWT from ../shared/data when present
    python examples/main_job.py --max-steps 50   # shorter
    python examples/main_job.py --sample         # the project's own small sample corpus

Steps are capped so the demo finishes in minutes on 2 CPU cores; the accuracy numbers of a short
run are a demo, not a result (the README's accuracy table says how it was trained).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = HERE / "configs" / "shared_minilm.cfg"
EWT = ROOT.parent / "shared" / "data" / "ewt-ud-uner"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def find_corpus(use_sample: bool, output: Path) -> dict[str, Path]:
    names = {s: EWT / f"en_ewt-ud-uner-{s}.spacy" for s in ("train", "dev", "test")}
    if not use_sample and all(p.exists() for p in names.values()):
        print(f"Corpus: UD English EWT + UNER from {EWT}")
        return names
    sys.path.insert(0, str(HERE))
    from sample_corpus import write_sample_corpus

    print(
        "Corpus: the EWT data was not found (or --sample was given); writing the project's own "
        f"small template corpus to {output / 'corpus'}. Its scores say nothing about accuracy."
    )
    return write_sample_corpus(output / "corpus")


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    print("\n$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, **OFFLINE_ENV, **(env or {})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "training" / "main_job")
    parser.add_argument("--max-steps", type=int, default=120)
    parser.add_argument("--eval-frequency", type=int, default=60)
    parser.add_argument("--dev-limit", type=int, default=200, help="dev docs scored while training")
    parser.add_argument("--test-limit", type=int, default=500, help="test docs for the evaluation")
    parser.add_argument("--sample", action="store_true", help="use the project's sample corpus")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    corpus = find_corpus(args.sample, args.output)

    run(
        [
            sys.executable, "-m", "spacy", "train", str(CONFIG),
            "--output", str(args.output),
            "--paths.train", str(corpus["train"]),
            "--paths.dev", str(corpus["dev"]),
            "--training.max_steps", str(args.max_steps),
            "--training.eval_frequency", str(args.eval_frequency),
            "--corpora.dev.limit", str(args.dev_limit),
            # the learning-rate schedule follows the step cap
            "--training.optimizer.learn_rate.warmup_steps", str(max(1, args.max_steps // 5)),
            "--training.optimizer.learn_rate.total_steps", str(args.max_steps),
        ]
    )  # fmt: skip
    model = args.output / "model-best"
    test_subset = args.output / "test-subset.spacy"
    run([sys.executable, str(HERE / "limit_corpus.py"), str(corpus["test"]), str(test_subset),
         str(args.test_limit)])  # fmt: skip
    run([sys.executable, "-m", "spacy", "evaluate", str(model), str(test_subset)])
    # A fresh process with sockets disabled: the saved pipeline must need nothing but its folder.
    run(
        [sys.executable, str(HERE / "use_pipeline.py"), str(model)],
        env={
            "PYTHONPATH": os.pathsep.join([str(HERE / "offline"), os.environ.get("PYTHONPATH", "")])
        },
    )


if __name__ == "__main__":
    main()
