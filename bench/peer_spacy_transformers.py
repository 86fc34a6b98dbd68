"""The spacy-transformers side of ``bench_throughput.py``: runs in the peer's interpreter.

This script is started by ``bench_throughput.py --peer-python PY`` with that interpreter, in a venv
where spacy-transformers (not trf-core) is installed. It builds the same transformer + tagger
pipeline through spaCy's public config API only, from the config the driver sends
(spacy-transformers' factory and registered architectures, found through entry points; nothing is
imported from trf-core or from spacy_transformers directly), then waits for commands on stdin, one
JSON object a line, so the driver can run it in turns with its own contenders while this process
sits idle:

- ``{"cmd": "pipe"}``: ``nlp.pipe(texts, batch_size)`` over the texts; replies the seconds and
  the bytes of every array in ``doc._.trf_data`` per 1,000 docs.
- ``{"cmd": "train"}``: one ``nlp.update`` per training batch (``train_batch_sizes`` sentences
  each when the spec gives them, else ``batch_size``); replies ``{"seconds": s}``.
- ``{"cmd": "quit"}``.

Everything else (the pipeline config, texts, training docs, threads) comes in one JSON file named on
the command line, written by the driver.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def build(spec: dict[str, Any]) -> Any:
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    nlp = spacy.util.load_model_from_config(spacy.util.Config(spec["config"]), auto_fill=True)
    gold = list(DocBin().from_disk(spec["train_docbin"]).get_docs(nlp.vocab))
    init_docs = list(DocBin().from_disk(spec["init_docbin"]).get_docs(nlp.vocab))
    init_examples = [Example(nlp.make_doc(d.text), d) for d in init_docs]
    optimizer = nlp.initialize(lambda: init_examples)
    train_examples = [Example(nlp.make_doc(d.text), d) for d in gold]
    return nlp, optimizer, train_examples


def trf_data_bytes(data: Any) -> int:
    """Bytes of every array in one doc's ``doc._.trf_data`` (as trf-core's ``nbytes``)."""
    arrays = [*data.tensors, data.align.data, data.align.lengths]
    arrays += [data.wordpieces.input_ids, data.wordpieces.attention_mask]
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays)


def main() -> int:
    spec = json.loads(open(sys.argv[1], encoding="utf8").read())
    import torch

    torch.set_num_threads(int(spec["threads"]))
    nlp, optimizer, train_examples = build(spec)
    texts: list[str] = spec["texts"]
    batch_size = int(spec["batch_size"])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)["cmd"]
        if cmd == "quit":
            break
        if cmd == "pipe":
            # Summing each doc's trf_data bytes as it passes costs microseconds a doc.
            total = n_docs = 0
            start = time.perf_counter()
            for doc in nlp.pipe(texts, batch_size=batch_size):
                total += trf_data_bytes(doc._.trf_data)
                n_docs += 1
            reply: dict[str, Any] = {
                "seconds": time.perf_counter() - start,
                "trf_data_bytes_per_1k_docs": total * 1000 / max(n_docs, 1),
            }
        elif cmd == "train":
            sizes = spec.get("train_batch_sizes") or [batch_size] * len(train_examples)
            start = time.perf_counter()
            i = 0
            for size in sizes:
                if i >= len(train_examples):
                    break
                nlp.update(train_examples[i : i + size], sgd=optimizer)
                i += size
            reply = {"seconds": time.perf_counter() - start}
        else:
            reply = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
