"""trf-train on this machine: 1 worker with 2 torch threads against 2 workers with 1 thread each.

Both train the quickstart's config (``examples/configs/shared_minilm.cfg``: MiniLM shared by
tagger, morphologizer, parser and NER) on UD English EWT + UNER from ``../shared/data`` for the
same steps of the same global batches (the config's batcher, seed 0), in turns (A B A B ...) so
a change in machine load hits both. Each run is ``python -m trf_train`` in a fresh process;
figures come from rank 0's ``training-steps.jsonl`` after ``--warmup`` steps:

- words/s: words of the global batches / step time;
- time per step (median);
- bytes all-reduced per step (the gradient buckets plus the small presence/loss vector);
- the share of step time in the all-reduce, and of that the part spent waiting for the slower
  worker (the first, tiny collective absorbs the imbalance between shares).

Prints a table and writes ``bench/results/train_distributed.json``. Run it under
``flock /work/cpu-heavy.lock`` on a shared machine; the load average is recorded before and
after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ewt-ud-uner"
CONFIG = ROOT / "examples" / "configs" / "shared_minilm.cfg"
RESULTS = ROOT / "bench" / "results" / "train_distributed.json"

# Links for the on-paper scaling (bytes per second a ring all-reduce moves per GPU): NCCL's
# all-reduce bus bandwidth on 8 A100s over NVLink 3 is about 200 GB/s (H100, NVLink 4: about
# twice that); 25 Gb/s Ethernet is 3.125 GB/s on the wire, about 2.8 GB/s after TCP and NCCL.
LINKS = {"NVLink (8 GPUs, one machine)": 200e9, "25 Gb/s Ethernet (8 machines)": 2.8e9}


def on_paper(bytes_per_step: float, gpus: int = 8) -> list[str]:
    """The all-reduce time per step for ``gpus`` workers over each link (ring: each worker sends
    and receives 2 (N-1) / N of the buffer), and the speedup over one GPU for a step whose
    compute takes t on one GPU (t / N on each of N; the all-reduce runs after the backward
    pass, not overlapped with it)."""
    moved = 2 * (gpus - 1) / gpus * bytes_per_step
    lines = []
    for name, rate in LINKS.items():
        comm = moved / rate
        speedups = ", ".join(
            f"t = {t * 1000:.0f} ms: {t / (t / gpus + comm):.1f}x" for t in (0.1, 0.4, 1.6)
        )
        lines.append(f"{name}: {comm * 1000:.1f} ms per step; speedup on {gpus}: {speedups}")
    return lines


SETUPS = {"1 worker x 2 threads": (1, 2), "2 workers x 1 thread": (2, 1)}


def run_once(
    args: argparse.Namespace, workers: int, threads: int, output: Path
) -> list[dict[str, Any]]:
    steps = args.steps
    command = [
        sys.executable, "-m", "trf_train", str(args.config), "--output", str(output),
        "--workers", str(workers), "--threads", str(threads),
        "--paths.train", str(args.train), "--paths.dev", str(args.dev),
        "--training.max_steps", str(steps - 1), "--training.eval_frequency", "1000000",
        "--corpora.dev.limit", "10",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    return [json.loads(line) for line in (output / "training-steps.jsonl").open()]


def summarize(records: list[dict[str, Any]], warmup: int) -> dict[str, float]:
    words_before = records[warmup - 1]["words"] if warmup else 0
    used = records[warmup:]
    seconds = sum(r["step_seconds"] for r in used)
    sync = sum(r["allreduce_seconds"] for r in used)
    wait = sum(r.get("allreduce_wait_seconds", 0.0) for r in used)
    return {
        "steps": len(used),
        "words_per_s": (used[-1]["words"] - words_before) / seconds,
        "median_step_s": statistics.median(r["step_seconds"] for r in used),
        "allreduce_bytes_per_step": statistics.mean(r["allreduce_bytes"] for r in used),
        "allreduce_share": sync / seconds,
        "wait_share": wait / seconds,
        "transfer_share": (sync - wait) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=16, help="steps per run (incl. warmup)")
    parser.add_argument("--warmup", type=int, default=3, help="first steps left out")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each setup")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--train", type=Path, default=DATA / "en_ewt-ud-uner-train.spacy")
    parser.add_argument("--dev", type=Path, default=DATA / "en_ewt-ud-uner-dev.spacy")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON written")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory(prefix="trf-bench-train-") as tmp:
        for turn in range(args.rounds):
            for name, (workers, threads) in SETUPS.items():
                load_before = os.getloadavg()[0]
                out = Path(tmp) / f"{turn}-{workers}"
                records = run_once(args, workers, threads, out)
                summary = summarize(records, args.warmup)
                summary["load_before"], summary["load_after"] = load_before, os.getloadavg()[0]
                runs[name].append(summary)
                print(f"turn {turn} {name}: {summary}", flush=True)
    print()
    print("| setup | words/s | s/step (median) | MB all-reduced/step | all-reduce share "
          "(wait + transfer) | load avg |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, results in runs.items():
        best = max(results, key=lambda r: r["words_per_s"])
        loads = [r["load_before"] for r in results] + [r["load_after"] for r in results]
        print(
            f"| {name} | {best['words_per_s']:.0f} | {best['median_step_s']:.2f} | "
            f"{best['allreduce_bytes_per_step'] / 1e6:.1f} | {best['allreduce_share']:.0%} "
            f"({best['wait_share']:.0%} + {best['transfer_share']:.0%}) | "
            f"{min(loads):.1f}-{max(loads):.1f} |"
        )
    measured = max(r["allreduce_bytes_per_step"] for r in runs["2 workers x 1 thread"])
    print(f"\non paper, from {measured / 1e6:.1f} MB all-reduced per step:")
    for line in on_paper(measured):
        print(f"  {line}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args), "runs": runs}, indent=2, default=str))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
