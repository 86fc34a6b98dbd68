"""Run as a script by test_spawn.py: first-party span getters, setters and poolers in SPAWNED
workers, the way macOS/Windows (and Python 3.14's default) run ``nlp.pipe(n_process > 1)``.

A script, not test code, because a spawned child re-imports ``__main__`` to find the functions
it is sent: a pytest module imported with ``--import-mode=importlib`` cannot be found that way.

For every span getter, annotation setter and pooler the three first-party distributions
register (from their plugin hooks, so a new name is checked without editing this file), one
toy pipeline using it is built and initialized here, pickled to one spawned worker, run there,
and its results compared with the same pipeline run here. Last, spaCy's own
``nlp.pipe(n_process=2)`` runs under the spawn start method on a pipeline with a strided span
getter, the token-vectors setter and an attention pooler. Prints one JSON object.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import sys
from typing import Any

TEXTS = [
    "I like green eggs. Eat ham now.",
    "We eat green ham and they like eggs too, every single day of the week.",
    "",
    "One.\n\nTwo paragraphs here.",
]
# Arguments a configure function needs (the others take none).
GETTER_ARGS = {
    "strided_spans.v1": {"window": 4, "stride": 3},
    "spacy-transformers.strided_spans.v1": {"window": 4, "stride": 3},
}


def first_party() -> dict[str, dict[str, Any]]:
    from trf_poolers.plugin import trf_poolers
    from trf_setters.plugin import trf_annotation_setters
    from trf_span_getters.plugin import trf_span_getters

    return {
        "span_getters": trf_span_getters(),
        "annotation_setters": trf_annotation_setters(),
        "poolers": trf_poolers(),
    }


def build(getter: str, setter: str, pooler: str) -> Any:
    import spacy

    import trf_core.testing.pipelines as toy

    transformer = toy.transformer_cfg()
    transformer["model"]["get_spans"] = {"@span_getters": getter, **GETTER_ARGS.get(getter, {})}
    transformer["annotation_setter"] = {"@annotation_setters": setter}
    listener = copy.deepcopy(toy.listener_cfg())
    listener["pooling"] = {"@layers": pooler}
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("transformer", config=transformer)
    nlp.add_pipe("tagger", config=toy.tagger_cfg(listener))
    examples = toy.tagger_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


def results(nlp: Any, n_process: int = 1) -> list[dict[str, Any]]:
    """What a pipeline gives: tags, the spans' bounds, doc and token vectors (rounded)."""
    out = []
    for doc in nlp.pipe(TEXTS, n_process=n_process, batch_size=2):
        data = doc._.trf_data
        vectors = doc.has_vector
        out.append(
            {
                "tags": [t.tag_ for t in doc],
                "n_spans": len(data.tensors[0]) if data is not None and data.tensors else 0,
                "vector": [round(float(v), 4) for v in doc.vector] if vectors else None,
                "tokens": [round(float(t.vector.sum()), 4) for t in doc] if vectors else None,
            }
        )
    return out


def in_child(nlp: Any) -> list[dict[str, Any]]:
    return results(nlp)


def main() -> None:
    import trf_core.testing.pipelines  # noqa: F401  (registers the toy names here)

    names = first_party()
    cases = [(g, "trf.token_vectors.v1", "reduce_mean.v1") for g in names["span_getters"]]
    cases += [("doc_spans.v1", s, "reduce_mean.v1") for s in names["annotation_setters"]]
    cases += [("doc_spans.v1", "trf.token_vectors.v1", p) for p in names["poolers"]]
    report: dict[str, Any] = {"checked": [], "mismatches": [], "failures": []}
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        for case in cases:
            nlp = build(*case)
            here = results(nlp)
            try:
                there = pool.apply(in_child, (nlp,))
            except Exception as err:
                report["failures"].append([*case, f"{type(err).__name__}: {err}"])
                continue
            report["checked"].append(list(case))
            if there != here:
                report["mismatches"].append(list(case))
    multiprocessing.set_start_method("spawn", force=True)
    nlp = build("strided_spans.v1", "trf.token_vectors.v1", "trf.attention_pooling.v1")
    report["nlp_pipe_spawn_equal"] = results(nlp, n_process=2) == results(nlp, n_process=1)
    report["start_method"] = multiprocessing.get_start_method()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
