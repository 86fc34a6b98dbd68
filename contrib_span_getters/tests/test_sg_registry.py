"""The entry point works: after ``import trf_core`` every name resolves through spaCy's registry."""

from __future__ import annotations

import subprocess
import sys

import pytest
import spacy
from spacy.tokens import Doc
from spacy.vocab import Vocab

import trf_core  # noqa: F401  (loads the plugins)

NAMES = [
    "doc_spans.v1",
    "spacy-transformers.doc_spans.v1",
    "sent_spans.v1",
    "spacy-transformers.sent_spans.v1",
    "strided_spans.v1",
    "spacy-transformers.strided_spans.v1",
    "trf.sent_context_spans.v1",
    "trf.packed_sent_spans.v1",
    "trf.paragraph_spans.v1",
]


@pytest.mark.parametrize("name", NAMES)
def test_name_resolves_through_spacy_registry(name: str) -> None:
    configure = spacy.registry.get("span_getters", name)
    assert callable(configure)


def test_config_block_builds_the_old_strided_getter() -> None:
    block = {"get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 4}}
    block["get_spans"]["stride"] = 3
    get_spans = spacy.registry.resolve(block)["get_spans"]
    doc = Doc(Vocab(), words=list("56789a"))
    assert [s.text for s in get_spans([doc])[0]] == ["5 6 7 8", "8 9 a"]


def test_config_block_with_defaults_and_sentences() -> None:
    get_spans = spacy.registry.resolve({"g": {"@span_getters": "trf.sent_context_spans.v1"}})["g"]
    doc = Doc(Vocab(), words=["a", "b", "c"], sent_starts=[True, True, True])
    assert [(s.start, s.end) for s in get_spans([doc])[0]] == [(0, 2), (0, 3), (1, 3)]


def test_sentence_getter_in_a_real_pipeline() -> None:
    """With a sentencizer before it, sent_spans.v1 reads the sentences spaCy found."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    get_spans = spacy.registry.resolve({"g": {"@span_getters": "sent_spans.v1"}})["g"]
    doc = nlp("Hello there. This is two! And three?")
    assert [s.text for s in get_spans([doc])[0]] == ["Hello there.", "This is two!", "And three?"]
    with pytest.raises(ValueError, match="sentencizer"):
        get_spans([nlp.make_doc("No sentences set. None at all.")])


SETTINGS = {
    "strided_spans.v1": {"window": 3, "stride": 2},
    "spacy-transformers.strided_spans.v1": {"window": 3, "stride": 2},
    "trf.sent_context_spans.v1": {"context": 1},
    "trf.packed_sent_spans.v1": {"max_tokens": 4},
    "trf.paragraph_spans.v1": {"min_newlines": 2},
}


@pytest.mark.parametrize("name", NAMES)
def test_every_getter_pickles_and_gives_the_same_spans(name: str) -> None:
    """spaCy pickles the pipeline for nlp.pipe(n_process > 1) where workers spawn."""
    import pickle

    getter = spacy.registry.resolve({"g": {"@span_getters": name, **SETTINGS.get(name, {})}})["g"]
    copy = pickle.loads(pickle.dumps(getter))
    words = ["One", "two", ".", "\n\n", "Three", "four", "five", "!"]
    doc = Doc(
        Vocab(), words=words, sent_starts=[True, False, False, True, True, False, False, False]
    )
    bounds = [[(s.start, s.end) for s in spans] for spans in getter([doc])]
    assert [[(s.start, s.end) for s in spans] for spans in copy([doc])] == bounds
    assert bounds[0]  # the getter found spans, so equality above means something


def test_importing_the_plugin_package_before_the_core_still_registers() -> None:
    """The package must not import trf_core at import time: the core loads it while importing."""
    code = (
        "import trf_span_getters, sys\n"
        "assert 'trf_core' not in sys.modules\n"
        "import spacy, trf_core\n"
        "spacy.registry.get('span_getters', 'trf.paragraph_spans.v1')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
