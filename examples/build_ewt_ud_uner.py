"""Build the quickstart's corpus ``ewt-ud-uner`` from its two public sources.

UD English EWT (https://github.com/UniversalDependencies/UD_English-EWT, tag r2.16) gives the
words, tags, morphology and dependencies; Universal NER's English EWT
(https://github.com/UniversalNER/UNER_English-EWT) gives PER / LOC / ORG entities over the same
sentences. This script writes each UNER tag into the CoNLL-U MISC column as ``NE=B-PER``,
``NE=I-ORG``, ... (sentences matched by ``sent_id``), saves ``en_ewt-ud-uner-<split>.conllu`` and
converts it with ``spacy convert --converter conllu --n-sents 10`` to
``en_ewt-ud-uner-<split>.spacy``, the files ``examples/main_job.py`` reads.

    python examples/build_ewt_ud_uner.py --ud UD_English-EWT --uner UNER_English-EWT --output DIR

UD r2.16 re-tokenized a few sentences after UNER was annotated. Where a sentence's UNER tokens
differ from its UD words, each entity is carried over by character position (the texts without
whitespace): an entity whose edges fall on UD word edges keeps exactly its words; one whose edge
falls inside a UD word is widened to the whole word. A UD sentence without UNER annotation gets no
entities. The script prints how many sentences took each path.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "dev", "test")


@dataclass
class UnerSentence:
    """One sentence of a UNER ``.iob2`` file: its tokens and their BIO tags."""

    tokens: list[str]
    tags: list[str]


@dataclass
class Report:
    """What happened to the sentences and entities of one split."""

    identical: int = 0
    projected: int = 0
    without_uner: list[str] = field(default_factory=list)
    uner_only: list[str] = field(default_factory=list)
    exact: int = 0
    widened: int = 0
    lost: list[str] = field(default_factory=list)
    entities: Counter[str] = field(default_factory=Counter)

    def lines(self, split: str) -> list[str]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.entities.items())) or "none"
        out = [
            f"{split}: {self.identical} sentences with identical tokens, {self.projected} "
            f"re-tokenized (entities carried by character position: {self.exact} exact, "
            f"{self.widened} widened to whole UD words), {len(self.without_uner)} without UNER "
            f"annotation (no entities); entities: {counts}"
        ]
        if self.uner_only:
            out.append(f"  {len(self.uner_only)} UNER sentences have no UD sentence: "
                       + ", ".join(self.uner_only[:5]))  # fmt: skip
        if self.lost:
            out.append(f"  {len(self.lost)} entities could not be placed: "
                       + "; ".join(self.lost[:5]))  # fmt: skip
        return out


def read_uner(path: Path) -> dict[str, UnerSentence]:
    """``sent_id`` -> sentence; token lines: ``ID FORM TAG ...`` (tabs) or ``FORM TAG``."""
    sentences: dict[str, UnerSentence] = {}
    sent_id: str | None = None
    current = UnerSentence([], [])

    def close() -> None:
        nonlocal current
        if current.tokens:
            if sent_id is None:
                raise ValueError(f"{path}: a sentence without a '# sent_id = ...' line "
                                 f"(first token {current.tokens[0]!r})")  # fmt: skip
            sentences[sent_id] = current
        current = UnerSentence([], [])

    for number, raw in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
        line = raw.rstrip("\n")
        if not line.strip():
            close()
            sent_id = None
        elif line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep and key.strip() == "sent_id":
                close()
                sent_id = value.strip()
        else:
            cols = line.split("\t")
            if len(cols) >= 3 and cols[0].isdigit():
                form, tag = cols[1], cols[2]
            elif len(cols) >= 2:
                form, tag = cols[0], cols[-1]
            else:
                raise ValueError(f"{path}:{number}: expected 'ID<TAB>FORM<TAB>TAG', got {line!r}")
            current.tokens.append(form)
            current.tags.append(tag if tag[:2] in ("B-", "I-") else "O")
    close()
    return sentences


def bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """``(first, last + 1, label)`` per entity; an ``I-`` that continues nothing starts one."""
    spans: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        prefix, label = tag[:2], tag[2:]
        if prefix == "I-" and spans and spans[-1][1] == i and spans[-1][2] == label:
            spans[-1] = (spans[-1][0], i + 1, label)
        else:
            spans.append((i, i + 1, label))
    return spans


def char_offsets(tokens: list[str]) -> list[tuple[int, int]]:
    """Each token's span in the tokens joined without whitespace."""
    offsets, pos = [], 0
    for token in tokens:
        length = len("".join(token.split()))
        offsets.append((pos, pos + length))
        pos += length
    return offsets


def project(uner: UnerSentence, words: list[str], report: Report, sent_id: str) -> list[str]:
    """UNER's entities as BIO tags over the UD words (see the module docstring)."""
    if uner.tokens == words:
        report.identical += 1
        tags = ["O"] * len(words)
        for first, end, label in bio_spans(uner.tags):  # an orphan I- becomes B-
            tags[first:end] = [f"B-{label}"] + [f"I-{label}"] * (end - first - 1)
        return tags
    report.projected += 1
    source = "".join("".join(t.split()) for t in uner.tokens)
    target = "".join("".join(w.split()) for w in words)
    # Texts equal up to tokenization give the identity; an edited character is bridged by the
    # matching blocks around it.
    matcher = difflib.SequenceMatcher(None, source, target, autojunk=False)
    to_target: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            to_target[block.a + k] = block.b + k
    src_offsets, word_offsets = char_offsets(uner.tokens), char_offsets(words)
    tags = ["O"] * len(words)
    for first, end, label in bio_spans(uner.tags):
        chars = [to_target[c] for c in range(src_offsets[first][0], src_offsets[end - 1][1])
                 if c in to_target]  # fmt: skip
        text = " ".join(uner.tokens[first:end])
        if not chars:
            report.lost.append(f"{sent_id}: {label} {text!r}")
            continue
        start, stop = min(chars), max(chars) + 1
        hit = [i for i, (a, b) in enumerate(word_offsets) if a < stop and start < b]
        if any(tags[i] != "O" for i in hit):
            report.lost.append(f"{sent_id}: {label} {text!r} overlaps another entity")
            continue
        edges_fit = word_offsets[hit[0]][0] == start and word_offsets[hit[-1]][1] == stop
        report.exact += edges_fit
        report.widened += not edges_fit
        for n, i in enumerate(hit):
            tags[i] = ("B-" if n == 0 else "I-") + label
    return tags


def with_ne(misc: str, tag: str) -> str:
    """The MISC column with ``NE=<tag>`` set (any earlier ``NE=`` replaced)."""
    fields = [f for f in misc.split("|") if f and f != "_" and not f.startswith("NE=")]
    if tag != "O":
        fields.append(f"NE={tag}")
    return "|".join(fields) or "_"


def merge(conllu: str, uner: dict[str, UnerSentence], report: Report) -> str:
    """The CoNLL-U text with each sentence's UNER tags in MISC."""
    out: list[str] = []
    seen: set[str] = set()
    for block in conllu.strip("\n").split("\n\n"):
        lines = block.split("\n")
        sent_id = next((line.split("=", 1)[1].strip() for line in lines
                        if line.startswith("# sent_id")), None)  # fmt: skip
        # word lines: integer IDs (not "3-4" multi-word ranges, not "8.1" empty nodes)
        word_rows = [
            i for i, line in enumerate(lines)
            if line and not line.startswith("#") and line.split("\t")[0].isdigit()
        ]  # fmt: skip
        words = [lines[i].split("\t")[1] for i in word_rows]
        if sent_id is not None and sent_id in uner:
            seen.add(sent_id)
            tags = project(uner[sent_id], words, report, sent_id)
        else:
            report.without_uner.append(sent_id or f"(sentence {len(out) + 1})")
            tags = ["O"] * len(words)
        for row, tag in zip(word_rows, tags):
            cols = lines[row].split("\t")
            if len(cols) != 10:
                raise ValueError(f"sentence {sent_id}: a CoNLL-U word line needs 10 columns, "
                                 f"got {len(cols)}: {lines[row]!r}")  # fmt: skip
            cols[9] = with_ne(cols[9], tag)
            lines[row] = "\t".join(cols)
            if tag != "O" and tag.startswith("B-"):
                report.entities[tag[2:]] += 1
        out.append("\n".join(lines))
    report.uner_only = [s for s in uner if s not in seen]
    return "\n\n".join(out) + "\n\n"


def find(folder: Path, split: str, suffix: str) -> Path:
    """The split's file in a clone of the source repository (``*-<split>.<suffix>``)."""
    matches = sorted(folder.glob(f"*-{split}{suffix}"))
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "none"
        raise SystemExit(
            f"{folder}: expected one file named '*-{split}{suffix}' "
            f"(e.g. en_ewt-ud-{split}{suffix}), found {found}. Give the folder of a clone of the "
            "source repository."
        )
    return matches[0]


def build_split(ud: Path, uner: Path, output: Path, split: str, convert: bool) -> Report:
    report = Report()
    merged = merge(
        find(ud, split, ".conllu").read_text(encoding="utf8"),
        read_uner(find(uner, split, ".iob2")),
        report,
    )
    target = output / f"en_ewt-ud-uner-{split}.conllu"
    target.write_text(merged, encoding="utf8")
    if convert:
        subprocess.run(
            [sys.executable, "-m", "spacy", "convert", str(target), str(output),
             "--converter", "conllu", "--n-sents", "10"],
            check=True,
        )  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ud", type=Path, required=True, help="UD_English-EWT folder (r2.16)")
    parser.add_argument("--uner", type=Path, required=True, help="UNER_English-EWT folder")
    parser.add_argument("--output", type=Path, required=True, help="where the files go")
    parser.add_argument("--splits", default=",".join(SPLITS), help="default: train,dev,test")
    parser.add_argument(
        "--no-convert", action="store_true", help="write the merged .conllu files only"
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    for split in (s.strip() for s in args.splits.split(",") if s.strip()):
        report = build_split(args.ud, args.uner, args.output, split, not args.no_convert)
        print("\n".join(report.lines(split)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
