"""`nlp.initialize()` works for span getters that need sentence boundaries.

At initialization no earlier component (a sentencizer, say) has run on the sample docs, and
spaCy's own dummy example ("x y z") has no boundaries at all; the component must still
initialize, and then read real sentences at run time.
"""

from __future__ import annotations

import spacy
from spacy.tokens import Doc, Span

import trf_core

SEEN: list[int] = []


@trf_core.registry.span_getters("test_init.sents_strict.v1")
def configure_strict_sentences() -> object:
    def get_sents(docs: list[Doc]) -> list[list[Span]]:
        for doc in docs:
            assert doc.has_annotation("SENT_START") or len(doc) == 0, "no sentence boundaries"
        out = [list(doc.sents) for doc in docs]
        SEEN.extend(len(spans) for spans in out)
        return out

    return get_sents


def _nlp() -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {
                "@architectures": "trf.ToyTransformer.v1",
                "get_spans": {"@span_getters": "test_init.sents_strict.v1"},
            },
            "annotation_setter": {"@annotation_setters": "test_init.null.v1"},
        },
    )
    return nlp


@trf_core.registry.annotation_setters("test_init.null.v1")
def configure_null() -> object:
    return lambda docs, batch: None


def test_initialize_without_examples_then_reads_real_sentences() -> None:
    nlp = _nlp()
    nlp.initialize()  # spaCy's dummy example: no boundaries, no sentencizer run
    SEEN.clear()
    doc = nlp("Hello there. How are you? Fine.")
    assert SEEN == [3]
    assert doc._.trf_data.tensors[0].shape[0] == 3


def test_initialize_with_unsegmented_examples() -> None:
    from spacy.training import Example

    nlp = _nlp()
    docs = [nlp.make_doc("One sentence here. And another one.")]
    nlp.initialize(lambda: [Example(d, d) for d in docs])
    assert not docs[0].has_annotation("SENT_START")  # the user's docs are left as they were
    assert nlp("Yes it is. No it is not.")._.trf_data.tensors[0].shape[0] == 2
