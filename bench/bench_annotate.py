"""``trf-core annotate`` throughput: local workers and Ray actors next to a bare ``nlp.pipe`` loop.

One run measures, on the same corpus (the EWT test sentences repeated to ``--sentences``) and
the same pipeline, each contender end to end (loading the pipeline in each worker included, as a
user waits for it):

- ``bare``: ``spacy.load`` + ``for doc in nlp.pipe(texts, batch_size)`` in this process, no
  output written (the floor every engine adds its cost to);
- ``local-1``, ``local-2``: ``annotate`` with the local engine, 1 and 2 spawned workers
  (``--n-process 1`` ran in the command's own process until issue 24), JSONL output;
- ``ray-1``, ``ray-2``: the Ray engine with 1 and 2 actors on a local Ray instance started once
  beforehand (``ray.init(num_cpus=CORES)``: its start is not counted, as on an existing cluster).

Before the timed runs, each contender's fixed cost (its seconds on a 4-sentence corpus: loading,
spawning, actor start) is measured apart and shown beside the rates, not subtracted from them.

Torch threads: ``--threads`` (default: the cores) for one worker and for ``bare``; two workers
get half each, so no contender uses more threads than there are cores. Contenders run in turns,
rotating the order across ``--repeats``; the table gives medians, the ratio to ``bare``, the
scaling efficiency of 2 workers (rate(2) / (2 x rate(1))) and, on paper, what N nodes would give
from the per-actor rate.

    python bench/bench_annotate.py [--sentences 2077] [--pipeline DIR] [--skip ray]

The pipeline: ``--pipeline`` if given, else the trained EWT MiniLM pipeline at
``../trained/ewt-minilm`` when present, else ``examples/configs/tagger.cfg`` (MiniLM +
tagger) initialized on a few gold sentences: throughput does not depend on trained weights.
Writes JSON to ``bench/results/annotate.json`` (``--json-out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The same data paths as the throughput benchmark (importing it also sets HF's offline switches).
from bench_throughput import DEFAULT_TEXT, DEFAULT_TRAIN, HERE, REPO

TRAINED = REPO.parent / "trained" / "ewt-minilm"
CONFIG = REPO / "examples" / "configs" / "tagger.cfg"
CONTENDERS = ("bare", "local-1", "local-2", "ray-1", "ray-2")


def corpus(path: Path, sentences: int, out: Path) -> tuple[Path, list[str]]:
    """The text file repeated (cycled) to ``sentences`` lines, written to ``out``."""
    if not path.is_file():
        raise SystemExit(f"no text file at {path}; give one with --text FILE (one text a line)")
    lines = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    texts = [lines[i % len(lines)] for i in range(sentences)]
    out.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return out, texts


def build_pipeline(folder: Path, init_sentences: int) -> Path:
    """examples/configs/tagger.cfg initialized on gold EWT sentences, saved to ``folder``."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    import trf_core  # noqa: F401  (loads the plugins)

    config = spacy.util.load_config(CONFIG)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    docs = []
    for doc in DocBin().from_disk(DEFAULT_TRAIN).get_docs(nlp.vocab):
        docs += [sent.as_doc() for sent in doc.sents]
        if len(docs) >= init_sentences:
            break
    examples = [Example(nlp.make_doc(d.text), d) for d in docs[:init_sentences]]
    nlp.initialize(lambda: examples)
    nlp.to_disk(folder)
    return folder


def bare(pipeline: str, texts: list[str], batch_size: int, threads: int) -> dict[str, float]:
    import spacy
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    nlp = spacy.load(pipeline)
    loaded = time.perf_counter()
    # Words as annotate counts them: tokens that are not whitespace.
    words = sum(
        sum(1 for t in doc if not t.is_space) for doc in nlp.pipe(texts, batch_size=batch_size)
    )
    end = time.perf_counter()
    return {"seconds": end - start, "words": words, "load_seconds": loaded - start,
            "pipe_words_per_s": words / (end - loaded)}  # fmt: skip


def engine(
    pipeline: str, corpus_path: Path, work: Path, name: str, batch_size: int, threads: int,
    shard_size: int,
) -> dict[str, float]:  # fmt: skip
    from trf_core.annotate.run import annotate
    from trf_core.annotate.settings import AnnotateSettings

    kind, workers = name.split("-")
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    settings = AnnotateSettings(
        pipeline=pipeline, input=str(corpus_path), output=str(out), input_format="text",
        output_format="jsonl", batch_size=batch_size, shard_size=shard_size, engine=kind,
        n_process=int(workers), threads_per_worker=max(1, threads // int(workers)),
        progress="none",
    )  # fmt: skip
    start = time.perf_counter()
    summary = annotate(settings)
    seconds = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "words": summary.words}


def measure_startup(
    names: list[str], pipeline: str, work: Path, args: argparse.Namespace, threads: int
) -> dict[str, float]:
    """Each contender's seconds on a 4-sentence corpus: its fixed cost (loading, spawning)."""
    tiny_path, tiny = corpus(args.text, 4, work / "tiny.txt")
    out = {}
    for name in names:
        if name == "bare":
            out[name] = bare(pipeline, tiny, args.batch_size, threads)["seconds"]
        else:
            out[name] = engine(pipeline, tiny_path, work, name, args.batch_size, threads, 2)[
                "seconds"
            ]
    return out


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="one text a line")
    parser.add_argument("--sentences", type=int, default=2077, help="corpus size (repeats text)")
    parser.add_argument("--pipeline", default=None, help="a pipeline folder or package")
    parser.add_argument("--init-sentences", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--shard-size", type=int, default=250)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: cores)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip", action="append", default=[], help="a contender or 'ray'")
    parser.add_argument("--json-out", type=Path, default=HERE / "results" / "annotate.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from trf_core.annotate.worker import cores

    threads = args.threads or cores()
    names = [n for n in CONTENDERS if n not in args.skip and n.split("-")[0] not in args.skip]
    work = Path(tempfile.mkdtemp(prefix="trf-bench-annotate-"))
    try:
        corpus_path, texts = corpus(args.text, args.sentences, work / "corpus.txt")
        if args.pipeline:
            pipeline = args.pipeline
        elif TRAINED.is_dir():
            pipeline = str(TRAINED)
        else:
            pipeline = str(build_pipeline(work / "pipeline", args.init_sentences))
        if any(n.startswith("ray") for n in names):
            import ray

            # Ray starts its workers with a raised niceness (nice 19 here, from this nice-5
            # driver): on a shared machine the actors would get only leftover CPU time, unlike
            # the local workers. Same priority for every contender.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=threads, include_dashboard=False, log_to_driver=False)
        startup = measure_startup(names, pipeline, work, args, threads)
        runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        loads: list[str] = [load_average()]
        for repeat in range(args.repeats):
            order = names[repeat % len(names) :] + names[: repeat % len(names)]
            for name in order:
                if name == "bare":
                    result = bare(pipeline, texts, args.batch_size, threads)
                else:
                    result = engine(pipeline, corpus_path, work, name, args.batch_size, threads,
                                    args.shard_size)  # fmt: skip
                result["load_average"] = load_average()  # type: ignore[assignment]
                runs[name].append(result)
                loads.append(load_average())
                print(f"{name}: {result['words'] / result['seconds']:,.0f} words/s "
                      f"({result['seconds']:.1f}s; load {load_average()})", flush=True)  # fmt: skip
        report = summarize(runs, threads, pipeline, args, loads)
        # Measured apart, under whatever load there was then: context, not a correction.
        report["startup_seconds"] = startup
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(report)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def summarize(
    runs: dict[str, list[dict[str, float]]], threads: int, pipeline: str,
    args: argparse.Namespace, loads: list[str],
) -> dict[str, Any]:  # fmt: skip
    rates = {
        name: statistics.median(r["words"] / r["seconds"] for r in results)
        for name, results in runs.items()
    }
    report: dict[str, Any] = {
        "machine": {
            "cores": threads,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "pipeline": pipeline,
        "sentences": args.sentences,
        "words": next(iter(runs.values()))[0]["words"] if runs else 0,
        "batch_size": args.batch_size,
        "shard_size": args.shard_size,
        "load_averages": loads,
        "words_per_s": rates,
        "runs": runs,
    }
    if "bare" in runs:
        report["bare_pipe_only_words_per_s"] = statistics.median(
            r["pipe_words_per_s"] for r in runs["bare"]
        )
    efficiency: dict[str, float] = {}
    for kind in ("local", "ray"):
        one, two = rates.get(f"{kind}-1"), rates.get(f"{kind}-2")
        if one and two:
            efficiency[kind] = two / (2 * one)
    report["scaling_efficiency_2_workers"] = efficiency
    if "ray-2" in rates:
        per_actor = rates["ray-2"] / 2
        report["per_actor_words_per_s"] = per_actor
        actors_per_node = threads / max(1, threads // 2)
        report["on_paper_words_per_s_per_node"] = per_actor * actors_per_node
    return report


def print_table(report: dict[str, Any]) -> None:
    rates: dict[str, float] = report["words_per_s"]
    base = rates.get("bare")
    cores, loads = report["machine"]["cores"], report["load_averages"]
    print(f"\n{report['words']:,} words ({report['sentences']:,} sentences), {cores} cores")
    print(f"load averages (1/5/15 min) before and after each contender: {loads}")
    startup = report["startup_seconds"]
    print(f"{'contender':<10} {'words/s':>9} {'x bare':>7} {'startup s':>10}")
    for name, rate in rates.items():
        ratio = f"{rate / base:.2f}" if base else "-"
        print(f"{name:<10} {rate:>9,.0f} {ratio:>7} {startup[name]:>10.1f}")
    for kind, value in report["scaling_efficiency_2_workers"].items():
        print(f"scaling efficiency, 2 {kind} workers: {value:.2f} (1.00 = perfect)")


if __name__ == "__main__":
    raise SystemExit(main())
