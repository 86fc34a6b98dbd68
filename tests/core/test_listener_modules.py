"""``trf_core.listener`` still answers for every listener name after the split into
``trf_core.listeners``: entry points, imports, and models pickled before the split."""

from __future__ import annotations

import pickle
import re
from importlib.metadata import entry_points

from spacy.language import Language
from spacy.training import Example

import trf_core.listener
import trf_core.listeners
from trf_core.testing.pipelines import build_nlp, listener_cfg, tagger_examples

_NULL_SETTER = {"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"}


def test_every_listeners_name_is_importable_from_the_old_module() -> None:
    for name in trf_core.listeners.__all__:
        assert getattr(trf_core.listener, name) is getattr(trf_core.listeners, name)


def test_the_entry_points_naming_the_old_module_load_the_listener_functions() -> None:
    named = [
        ep for ep in entry_points(group="spacy_architectures") if "trf_core.listener:" in ep.value
    ]
    assert len(named) == 5
    for ep in named:
        assert ep.load() is getattr(trf_core.listeners, ep.value.split(":")[1])


def test_a_pipeline_pickled_before_the_split_loads_and_predicts_the_same() -> None:
    # Before the split, every listener layer, head and GradFactor lived in trf_core.listener and
    # pickles named them there. Write such a pickle by pointing today's globals at the old
    # module (protocol 2 spells a global as "c<module>\n<name>\n").
    mix = listener_cfg("trf.ScalarMixListener.v1")
    nlp = build_nlp({"t1": listener_cfg(), "t2": mix}, annotation_setter=_NULL_SETTER)
    nlp.update(_examples(nlp), sgd=nlp.create_optimizer())
    data = pickle.dumps(nlp, protocol=2)
    old, n = re.subn(rb"ctrf_core\.listeners(\.\w+)?\n", b"ctrf_core.listener\n", data)
    assert n >= 4  # the node, a head's forward, GradFactor, ...
    assert b"trf_core.listeners" not in old
    copy = pickle.loads(old)
    for text in ("green eggs and ham", "a"):
        assert [t.tag_ for t in copy(text)] == [t.tag_ for t in nlp(text)]


def _examples(nlp: Language) -> list[Example]:
    return tagger_examples(nlp)
