"""Examples of align_batch and align_by_strings, with expected rows worked out by hand."""

from __future__ import annotations

import importlib.util
import sys

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.vocab import Vocab

from trf_core.contract.align import align_batch, align_by_strings

# align_by_strings needs the optional spacy-alignments package (trf-core[alignments]).
needs_spacy_alignments = pytest.mark.skipif(
    importlib.util.find_spec("spacy_alignments") is None,
    reason="spacy-alignments is not installed (pip install 'trf-core[alignments]')",
)

SPECIAL = (-1, -1)


def _doc(words: list[str], spaces: list[bool]) -> Doc:
    return Doc(Vocab(), words=words, spaces=spaces)


def _rows(align: object) -> list[list[int]]:
    """Each token's rows, as lists."""
    data = numpy.asarray(align.dataXd).ravel().tolist()  # type: ignore[attr-defined]
    out, i = [], 0
    for n in numpy.asarray(align.lengths).tolist():  # type: ignore[attr-defined]
        out.append(data[i : i + n])
        i += n
    return out


def _offsets(*rows: tuple[int, int]) -> numpy.ndarray:
    return numpy.asarray(rows, dtype="int32").reshape((-1, 2))


def test_piece_across_two_tokens_and_whitespace_token() -> None:
    # "Don't  stop" -> Do | n't | " " | stop ; text "Don't  stop"
    doc = _doc(["Do", "n't", " ", "stop"], [False, True, False, False])
    assert doc.text == "Don't  stop"
    # [CLS] "don" "'t" "sto" "p" [SEP]: "don" covers "Do" and the "n" of "n't".
    offsets = _offsets(SPECIAL, (0, 3), (3, 5), (7, 10), (10, 11), SPECIAL)
    align = align_batch([[doc[:]]], [offsets], max_length=8, doc_lengths=[len(doc)])
    assert _rows(align) == [[1], [1, 2], [], [3, 4]]
    assert align.dataXd.dtype == numpy.int32
    assert align.lengths.dtype == numpy.int32


def test_piece_including_leading_space_aligns_to_the_word_only() -> None:
    # A byte-level BPE without trimmed offsets reports "Ġstop" as (4, 9), space included.
    doc = _doc(["go", "stop", "now"], [True, True, False])
    offsets = _offsets(SPECIAL, (0, 2), (2, 7), (7, 11), SPECIAL)
    align = align_batch([[doc[:]]], [offsets], max_length=5, doc_lengths=[3])
    assert _rows(align) == [[1], [2], [3]]


def test_overlapping_spans_give_rows_in_both_in_ascending_order() -> None:
    doc = _doc(["a", "b", "c"], [True, True, False])  # "a b c"
    first = _offsets(SPECIAL, (0, 1), (2, 3), SPECIAL)
    second = _offsets(SPECIAL, (2, 3), (4, 5), SPECIAL)
    align = align_batch([[doc[0:2], doc[1:3]]], [first, second], max_length=6, doc_lengths=[3])
    # span 1 starts at row 6: its "b" piece is row 7, its "c" piece row 8.
    assert _rows(align) == [[1], [2, 7], [8]]


def test_lowercasing_normalising_tokenizer_offsets_refer_to_original_text() -> None:
    # "İstanbul" lower-cases to 9 characters; an uncased tokenizer still reports offsets of the
    # original 8. "Café" with a combining accent is 5 code points.
    doc = _doc(["İstanbul", "Cafe\u0301", "😀👍🏽"], [True, True, False])
    assert doc.text == "İstanbul Cafe\u0301 😀👍🏽"
    offsets = _offsets(SPECIAL, (0, 3), (3, 8), (9, 14), (15, 16), (16, 18), SPECIAL)
    align = align_batch([[doc[:]]], [offsets], max_length=7, doc_lengths=[3])
    assert _rows(align) == [[1, 2], [3], [4, 5]]


def test_docs_without_spans_and_empty_docs_align_to_nothing() -> None:
    # Doc 0 is empty, doc 1 has two tokens but no spans: only doc 2 reaches the model.
    seen = Doc(Vocab(), words=["hi"])
    align = align_batch(
        [[], [], [seen[:]]],
        [_offsets(SPECIAL, (0, 2), SPECIAL)],
        max_length=3,
        doc_lengths=[0, 2, 1],
    )
    assert _rows(align) == [[], [], [1]]
    nothing = align_batch([[], []], [], max_length=0, doc_lengths=[0, 3])
    assert _rows(nothing) == [[], [], []]


def test_second_doc_rows_are_counted_after_the_first_docs_spans() -> None:
    vocab = Vocab()
    one = Doc(vocab, words=["ab"])
    two = Doc(vocab, words=["cd", "ef"])
    align = align_batch(
        [[one[:]], [two[:]]],
        [_offsets(SPECIAL, (0, 2)), _offsets(SPECIAL, (0, 2), (3, 5))],
        max_length=3,
        doc_lengths=[1, 2],
    )
    assert _rows(align) == [[1], [4], [5]]


def test_piece_reaching_past_its_span_is_clipped_to_the_span() -> None:
    doc = _doc(["ab", "cd"], [False, False])  # "abcd"
    offsets = _offsets((0, 4))  # a broken tokenizer claims the whole text for span "ab"
    align = align_batch([[doc[0:1]]], [offsets], max_length=1, doc_lengths=[2])
    assert _rows(align) == [[0], []]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"doc_lengths": [3, 1]}, "doc_lengths for 2"),
        ({"piece_offsets": []}, "piece offsets for 0 spans"),
        ({"piece_offsets": [numpy.zeros((2,), dtype="int32")]}, "expected (n_pieces, 2)"),
        ({"max_length": 1}, "more than max_length=1"),
        ({"doc_lengths": [5]}, "doc 0 has 3 tokens but doc_lengths says 5"),
    ],
)
def test_inconsistent_input_gets_a_clear_error(kwargs: dict, message: str) -> None:
    doc = _doc(["a", "b", "c"], [True, True, False])
    args = {
        "spans": [[doc[:]]],
        "piece_offsets": [_offsets((0, 1), (2, 3))],
        "max_length": 4,
        "doc_lengths": [3],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        align_batch(**args)


def test_spans_of_another_doc_are_refused() -> None:
    vocab = Vocab()
    one, two = Doc(vocab, words=["a"]), Doc(vocab, words=["b"])
    with pytest.raises(ValueError, match="different Doc objects"):
        align_batch([[one[:], two[:]]], [_offsets((0, 1)), _offsets((0, 1))], 2, doc_lengths=[1])


@needs_spacy_alignments
def test_align_by_strings_matches_wordpieces_to_tokens() -> None:
    doc = _doc(["Hello", "wonderful", " ", "World"], [True, True, False, False])
    pieces = ["[CLS]", "hello", "wonder", "##ful", "world", "[SEP]"]
    align = align_by_strings(
        [[doc[:]]], [pieces], max_length=8, doc_lengths=[4], special_tokens={"[CLS]", "[SEP]"}
    )
    assert _rows(align) == [[1], [2, 3], [], [4]]


@needs_spacy_alignments
def test_align_by_strings_counts_rows_per_span() -> None:
    doc = _doc(["ab", "cd"], [True, False])
    align = align_by_strings(
        [[doc[0:1], doc[0:2]]],
        [["<s>", "ab", "</s>"], ["<s>", "ab", "cd", "</s>"]],
        max_length=4,
        doc_lengths=[2],
        special_tokens=("<s>", "</s>"),
    )
    assert _rows(align) == [[1, 5], [6]]


def test_align_by_strings_without_spacy_alignments_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "spacy_alignments", None)  # import fails, as uninstalled
    doc = _doc(["ab"], [False])
    with pytest.raises(ImportError, match="pip install spacy-alignments"):
        align_by_strings([[doc[:]]], [["ab"]], max_length=2, doc_lengths=[1], special_tokens=())


@pytest.mark.parametrize("with_lexical_attrs", [True, False])
def test_whitespace_token_under_a_piece_aligns_to_nothing(with_lexical_attrs: bool) -> None:
    # A bare Vocab reports is_space False for every token; alignment must not rely on it.
    vocab = spacy.blank("en").vocab if with_lexical_attrs else Vocab()
    doc = Doc(vocab, words=["go", "\n\n", "now"], spaces=[True, False, False])
    assert doc.text == "go \n\nnow"
    # One piece swallowing the newlines with the word after them, as some BPEs report it.
    offsets = _offsets(SPECIAL, (0, 2), (2, 8), SPECIAL)
    align = align_batch([[doc[:]]], [offsets], max_length=4, doc_lengths=[3])
    assert _rows(align) == [[1], [], [2]]
