"""Loads a trained transformer pipeline from a folder and annotates an example.

Run by main_job.py in a fresh process with the network off.
"""

from __future__ import annotations

import sys
import warnings

import spacy

# token.similarity on doc.tensor is what the token-vectors setter is for: spaCy's W007 ("no word
# vectors loaded") does not apply.
warnings.filterwarnings("ignore", message=r".*\[W007\]")

TEXTS = [
    "Maria Lopez flew from Boston to Paris to meet the Reuters team on Monday.",
    "The budget report was sent to Siemens last week.",
]


def main(path: str) -> None:
    nlp = spacy.load(path)
    print(f"Loaded {path}: pipeline {nlp.pipe_names}")
    docs = list(nlp.pipe(TEXTS))
    for doc in docs:
        print(f"\n{doc.text}")
        print(f"{'token':<12}{'tag':<6}{'pos':<7}{'dep':<12}{'head':<10}morph")
        for token in doc:
            print(
                f"{token.text:<12}{token.tag_:<6}{token.pos_:<7}{token.dep_:<12}"
                f"{token.head.text:<10}{token.morph}"
            )
        print("entities:", [(ent.text, ent.label_) for ent in doc.ents] or "none")
    first, second = docs
    print(
        f"\nsimilarity (transformer token vectors): "
        f"{first[0].text!r} ~ {second[0].text!r}: {first[0].similarity(second[0]):.3f}; "
        f"doc ~ doc: {first.similarity(second):.3f}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
