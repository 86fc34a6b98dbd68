"""examples/build_ewt_ud_uner.py on a small synthetic pair of source files: UNER tags land in the
CoNLL-U MISC column of the sentence with the same ``sent_id``, re-tokenized sentences keep their
entities (exact or widened to whole UD words), and spaCy's converter reads the result."""

from __future__ import annotations

from pathlib import Path

import spacy
from example_scripts import load_example
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


BUILD = load_example("build_ewt_ud_uner")


def row(i: str, form: str, tag: str, head: int, dep: str, misc: str = "_") -> str:
    return "\t".join([i, form, form.lower(), "X", tag, "_", str(head), dep, "_", misc])


UD = "\n".join(
    [
        "# newdoc id = doc1",
        "# sent_id = s1",
        "# text = Maria works at Acme Corp in Boston.",
        row("1", "Maria", "NNP", 2, "nsubj"),
        row("2", "works", "VBZ", 0, "root"),
        row("3", "at", "IN", 5, "case"),
        row("4", "Acme", "NNP", 5, "compound"),
        row("5", "Corp", "NNP", 2, "obl"),
        row("6", "in", "IN", 7, "case"),
        row("7", "Boston", "NNP", 2, "obl", "SpaceAfter=No"),
        row("8", ".", ".", 2, "punct"),
        "",
        "# sent_id = s2",
        "# text = I don't like New York-based Globex.",
        "1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_",
        "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
        row("2", "do", "VBP", 4, "aux"),
        row("3", "n't", "RB", 4, "advmod"),
        row("4", "like", "VB", 0, "root"),
        row("5", "New", "NNP", 6, "compound"),
        row("6", "York-based", "JJ", 7, "amod"),
        row("6.1", "based", "VBN", 0, "_"),
        row("7", "Globex", "NNP", 4, "obj", "SpaceAfter=No"),
        row("8", ".", ".", 4, "punct"),
        "",
        "# sent_id = s3",
        "# text = Nothing here.",
        row("1", "Nothing", "NN", 0, "root"),
        row("2", "here", "RB", 1, "advmod", "SpaceAfter=No"),
        row("3", ".", ".", 1, "punct"),
        "",
    ]
)


def uner_rows(tokens: list[tuple[str, str]]) -> list[str]:
    return [f"{i}\t{form}\t{tag}\t-\t-" for i, (form, tag) in enumerate(tokens, 1)]


UNER = "\n".join(
    [
        "# sent_id = s1",
        "# text = Maria works at Acme Corp in Boston.",
        *uner_rows([("Maria", "B-PER"), ("works", "O"), ("at", "O"), ("Acme", "B-ORG"),
                    ("Corp", "I-ORG"), ("in", "O"), ("Boston", "B-LOC"), (".", "O")]),
        "",
        "# sent_id = s2",
        "# text = I don't like New York-based Globex.",
        *uner_rows([("I", "O"), ("don't", "O"), ("like", "O"), ("New", "B-LOC"), ("York", "I-LOC"),
                    ("-", "O"), ("based", "O"), ("Globex", "B-ORG"), (".", "O")]),
        "",
        "# sent_id = s9",
        *uner_rows([("Gone", "B-PER")]),
        "",
    ]
)  # fmt: skip


def write_sources(tmp_path: Path) -> tuple[Path, Path]:
    ud, uner = tmp_path / "UD_English-EWT", tmp_path / "UNER_English-EWT"
    ud.mkdir()
    uner.mkdir()
    (ud / "en_ewt-ud-dev.conllu").write_text(UD, encoding="utf8")
    (uner / "en_ewt-ud-dev.iob2").write_text(UNER, encoding="utf8")
    return ud, uner


def test_builds_the_merged_conllu_and_spacy_files(tmp_path: Path, capsys) -> None:
    ud, uner = write_sources(tmp_path)
    out = tmp_path / "out"
    assert BUILD.main(["--ud", str(ud), "--uner", str(uner), "--output", str(out),
                       "--splits", "dev"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "1 sentences with identical tokens, 1 re-tokenized" in printed
    assert "1 exact, 1 widened" in printed and "1 without UNER" in printed
    assert "1 UNER sentences have no UD sentence: s9" in printed

    merged = (out / "en_ewt-ud-uner-dev.conllu").read_text(encoding="utf8")
    misc = {line.split("\t")[1]: line.split("\t")[9] for line in merged.splitlines()
            if line and not line.startswith("#")}  # fmt: skip
    assert misc["Boston"] == "SpaceAfter=No|NE=B-LOC"
    assert misc["Corp"] == "NE=I-ORG" and misc["works"] == "_"
    assert misc["York-based"] == "NE=I-LOC" and misc["based"] == "_"  # the empty node untouched

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out / "en_ewt-ud-uner-dev.spacy").get_docs(nlp.vocab))
    assert len(docs) == 1  # three sentences, --n-sents 10
    doc = docs[0]
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Maria", "PER"), ("Acme Corp", "ORG"), ("Boston", "LOC"),
        ("New York-based", "LOC"), ("Globex", "ORG"),
    ]  # fmt: skip
    assert [t.text for t in doc][8:11] == ["I", "do", "n't"]  # UD words, not the UNER tokens
    assert doc[1].tag_ == "VBZ" and doc[1].dep_ == "ROOT" and doc[0].head.text == "works"
    assert len(list(doc.sents)) == 3


def test_a_missing_source_file_is_named(tmp_path: Path) -> None:
    ud, uner = write_sources(tmp_path)
    try:
        BUILD.main(["--ud", str(ud), "--uner", str(uner), "--output", str(tmp_path / "o")])
    except SystemExit as err:
        assert "*-train.conllu" in str(err) and str(ud) in str(err)
    else:
        raise AssertionError("no error for the missing train file")


# Entity-free filler and entity words; the UD side re-tokenizes the same characters.
WORD = st.text(alphabet="abcXYZ-.'", min_size=1, max_size=6)


@settings(deadline=None, max_examples=200)
@given(
    st.lists(st.tuples(WORD, st.sampled_from(["O", "B-PER", "I-PER", "B-ORG"])), min_size=1,
             max_size=12),
    st.lists(st.integers(0, 60), max_size=6),
)  # fmt: skip
def test_re_tokenized_entities_cover_their_characters(
    tokens: list[tuple[str, str]], cuts: list[int]
) -> None:
    """However UD cuts the same characters into words, an entity that shares no UD word with
    another lands exactly on the UD words its characters touch (widened to whole words), with its
    label; the others are reported, never silently dropped."""
    forms = [f for f, _ in tokens]
    text = "".join(forms)
    edges = sorted({c for c in cuts if 0 < c < len(text)})
    words = [text[a:b] for a, b in zip([0, *edges], [*edges, len(text)])]
    uner = BUILD.UnerSentence(forms, [t for _, t in tokens])
    report = BUILD.Report()
    tags = BUILD.project(uner, words, report, "s")
    offsets, word_offsets = BUILD.char_offsets(forms), BUILD.char_offsets(words)
    wanted = BUILD.bio_spans(uner.tags)
    placed = BUILD.bio_spans(tags)
    if report.projected:
        assert len(placed) == report.exact + report.widened
    assert len(placed) + len(report.lost) == len(wanted)
    touched = [
        {i for i, (a, b) in enumerate(word_offsets)
         if a < offsets[end - 1][1] and offsets[first][0] < b}
        for first, end, _ in wanted
    ]  # fmt: skip
    for n, (_, _, label) in enumerate(wanted):
        if any(touched[n] & other for m, other in enumerate(touched) if m != n):
            continue
        assert (min(touched[n]), max(touched[n]) + 1, label) in placed
