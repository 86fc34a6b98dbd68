"""Writes the first N docs of a DocBin to a new DocBin (a quick evaluation subset)."""

from __future__ import annotations

import sys
from itertools import islice

import spacy
from spacy.tokens import DocBin


def main(source: str, target: str, limit: int) -> None:
    nlp = spacy.blank("en")
    docs = list(islice(DocBin().from_disk(source).get_docs(nlp.vocab), limit))
    DocBin(docs=docs).to_disk(target)
    print(f"{len(docs)} docs from {source} -> {target}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
