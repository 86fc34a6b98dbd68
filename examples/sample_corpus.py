"""A small annotated English corpus the project writes itself, for machines without the EWT data.

Sentences come from a few templates whose every slot has a known tag, head and label, so the
annotation is complete (tags, POS, dependencies, entities) and consistent. It is enough to show the
whole train -> evaluate -> package path working; it says nothing about accuracy.
"""

from __future__ import annotations

import random
from pathlib import Path

import spacy
from spacy.tokens import Doc, DocBin

PEOPLE = ["Maria", "John", "Aisha", "Kenji", "Olga", "Pedro", "Li", "Fatima"]
PLACES = ["Paris", "Boston", "Lagos", "Osaka", "Lima", "Oslo", "Cairo", "Delhi"]
ORGS = ["Google", "Siemens", "Oxfam", "Toyota", "Reuters", "Nokia"]
VERBS_PAST = ["visited", "left", "liked", "saw"]
NOUNS = ["report", "letter", "plan", "budget"]

# Each token: (text-or-slot, tag, pos, head offset from the token, dep, entity label or "")
Template = list[tuple[str, str, str, int, str, str]]

# Universal features for each tag the templates use (empty: no features).
TAG_MORPH = {
    "NNP": "Number=Sing",
    "NN": "Number=Sing",
    "VBD": "Mood=Ind|Tense=Past|VerbForm=Fin",
    "VBZ": "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin",
    "VBN": "Tense=Past|VerbForm=Part|Voice=Pass",
    "VB": "VerbForm=Inf",
    "DT": "Definite=Def|PronType=Art",
    "RB": "",
    "IN": "",
    ".": "",
}

TEMPLATES: list[Template] = [
    [
        ("{PER}", "NNP", "PROPN", 1, "nsubj", "PER"),
        ("{VERB}", "VBD", "VERB", 0, "ROOT", ""),
        ("{LOC}", "NNP", "PROPN", -1, "obj", "LOC"),
        ("yesterday", "NN", "NOUN", -2, "obl:tmod", ""),
        (".", ".", "PUNCT", -3, "punct", ""),
    ],
    [
        ("{PER}", "NNP", "PROPN", 1, "nsubj", "PER"),
        ("works", "VBZ", "VERB", 0, "ROOT", ""),
        ("for", "IN", "ADP", 1, "case", ""),
        ("{ORG}", "NNP", "PROPN", -2, "obl", "ORG"),
        ("in", "IN", "ADP", 1, "case", ""),
        ("{LOC}", "NNP", "PROPN", -4, "obl", "LOC"),
        (".", ".", "PUNCT", -5, "punct", ""),
    ],
    [
        ("The", "DT", "DET", 1, "det", ""),
        ("{NOUN}", "NN", "NOUN", 3, "nsubj:pass", ""),
        ("was", "VBD", "AUX", 2, "aux", ""),
        ("not", "RB", "PART", 1, "advmod", ""),
        ("sent", "VBN", "VERB", 0, "ROOT", ""),
        ("to", "IN", "ADP", 1, "case", ""),
        ("{ORG}", "NNP", "PROPN", -2, "obl", "ORG"),
        (".", ".", "PUNCT", -3, "punct", ""),
    ],
    [
        ("Did", "VBD", "AUX", 2, "aux", ""),
        ("{PER}", "NNP", "PROPN", 1, "nsubj", "PER"),
        ("read", "VB", "VERB", 0, "ROOT", ""),
        ("the", "DT", "DET", 1, "det", ""),
        ("{NOUN}", "NN", "NOUN", -2, "obj", ""),
        ("?", ".", "PUNCT", -3, "punct", ""),
    ],
]


def _fill(slot: str, rng: random.Random) -> str:
    choices = {
        "{PER}": PEOPLE,
        "{LOC}": PLACES,
        "{ORG}": ORGS,
        "{VERB}": VERBS_PAST,
        "{NOUN}": NOUNS,
    }
    return rng.choice(choices[slot]) if slot in choices else slot


def make_docs(n: int, seed: int) -> list[Doc]:
    """``n`` annotated docs, drawn from the templates with a seeded generator."""
    nlp = spacy.blank("en")
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        template = rng.choice(TEMPLATES)
        words = [_fill(slot, rng) for slot, *_ in template]
        ents = [("B-" + ent) if ent else "O" for _slot, _tag, _pos, _head, _dep, ent in template]
        docs.append(
            Doc(
                nlp.vocab,
                words=words,
                spaces=[i < len(words) - 2 for i in range(len(words))],
                tags=[t[1] for t in template],
                morphs=[TAG_MORPH[t[1]] for t in template],
                pos=[t[2] for t in template],
                heads=[i + t[3] for i, t in enumerate(template)],
                deps=[t[4] for t in template],
                ents=ents,
                sent_starts=[True] + [False] * (len(words) - 1),
            )
        )
    return docs


def write_sample_corpus(folder: Path) -> dict[str, Path]:
    """Writes train / dev / test DocBins into ``folder`` and returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, (n, seed) in {"train": (400, 1), "dev": (60, 2), "test": (60, 3)}.items():
        path = folder / f"sample-{split}.spacy"
        DocBin(docs=make_docs(n, seed), store_user_data=False).to_disk(path)
        paths[split] = path
    return paths
