"""Whole runs in this process (the local engine with one worker): outputs, errors, resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from annotate_helpers import (
    CODE,
    TEXTS,
    good_corpus,
    output_files,
    read_jsonl,
    settings,
    write_jsonl,
)
from spacy.tokens import DocBin

from trf_core.annotate.manifest import MANIFEST, AnnotateError
from trf_core.annotate.run import annotate


def shard_rows(folder: Path, suffix: str = ".jsonl") -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted(folder.glob(f"shard-*{suffix}")):
        if not path.name.endswith(".errors.jsonl"):
            rows += read_jsonl(path)
    return rows


def error_rows(folder: Path) -> list[dict[str, object]]:
    return [row for path in sorted(folder.glob("*.errors.jsonl")) for row in read_jsonl(path)]


def test_rows_equal_a_plain_nlp_pipe_and_carry_the_fields(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=11)
    summary = annotate(settings(toy_pipeline, corpus, tmp_path / "out", batch_size=2))
    nlp = spacy.load(toy_pipeline)
    texts = [TEXTS[i % len(TEXTS)] for i in range(11)]
    expected = list(nlp.pipe(texts, batch_size=2))
    rows = shard_rows(tmp_path / "out")
    assert [row["line"] for row in rows] == list(range(1, 12))
    assert [row["fields"] for row in rows] == [{"id": f"doc{i}", "n": i} for i in range(11)]
    assert [row["tokens"] for row in rows] == [[t.text for t in doc] for doc in expected]
    assert [row["tags"] for row in rows] == [[t.tag_ for t in doc] for doc in expected]
    assert all(set(row) == {"line", "fields", "text", "tokens", "spaces", "tags"} for row in rows)
    words = sum(len(doc) for doc in expected)
    assert (summary.records, summary.docs, summary.words, summary.errors) == (11, 11, words, 0)
    assert summary.shards_run == 4  # shards of 3, 3, 3, 2
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["complete"] is True
    assert manifest["totals"] == {"records": 11, "docs": 11, "words": words, "errors": 0}


def test_every_bad_record_is_in_the_errors_file_with_its_line(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    lines = [
        '{"text": "I like eggs", "id": "a"}',
        "{broken",
        '{"text": "a BOOM here", "id": "b"}',  # the pipeline raises on this one
        '{"text": 3, "id": "c"}',
        '{"text": "\\ud83d alone", "id": "d"}',
        '{"id": "e"}',
        "",
        '{"text": "Eat ham", "id": "f"}',
    ]
    corpus = write_jsonl(tmp_path / "in.jsonl", lines)
    summary = annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    good = shard_rows(tmp_path / "out")
    bad = error_rows(tmp_path / "out")
    assert [row["line"] for row in good] == [1, 8]
    assert [(row["line"], row["id"]) for row in bad] == [
        (2, None), (3, "b"), (4, "c"), (5, "d"), (6, "e"), (7, None)
    ]  # fmt: skip
    reasons = [str(row["reason"]) for row in bad]
    assert "invalid JSON" in reasons[0]
    assert "the pipeline raised ValueError: this component refuses BOOM" in reasons[1]
    assert "lone surrogate" in reasons[3]
    assert (summary.records, summary.docs, summary.errors) == (8, 2, 6)
    assert len(summary.errors_files) == 3  # shards 0, 1 and 2 each hold some


def test_docbin_output_keeps_the_line_and_fields_and_drops_trf_data(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=4)
    for name, keep in (("plain", False), ("with_trf", True)):
        annotate(settings(toy_pipeline, corpus, tmp_path / name, output_format="docbin",
                          trf_data=keep))  # fmt: skip
    nlp = spacy.load(toy_pipeline)
    for name, keep in (("plain", False), ("with_trf", True)):
        docs = []
        for path in sorted((tmp_path / name).glob("shard-*.spacy")):
            docs += list(DocBin().from_disk(path).get_docs(nlp.vocab))
        assert [doc.user_data["annotate"]["line"] for doc in docs] == [1, 2, 3, 4]
        assert docs[3].user_data["annotate"]["fields"] == {"id": "doc3", "n": 3}
        assert [t.tag_ for t in docs[0]] == [t.tag_ for t in nlp(TEXTS[0])]
        assert all((doc._.trf_data is not None) == keep for doc in docs)


def test_text_and_parquet_give_the_same_annotations_as_jsonl(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    text_in = tmp_path / "in.txt"
    text_in.write_text("".join(t + "\n" for t in TEXTS))
    parquet_in = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": TEXTS}), parquet_in)
    annotate(settings(toy_pipeline, text_in, tmp_path / "t", input_format="text"))
    annotate(settings(toy_pipeline, parquet_in, tmp_path / "p", input_format="parquet",
                      output_format="parquet"))  # fmt: skip
    from_text = shard_rows(tmp_path / "t")
    table = pa.concat_tables(
        [pq.read_table(p) for p in sorted((tmp_path / "p").glob("shard-*.parquet"))]
    )
    from_parquet = table.to_pylist()
    for row in from_parquet:
        row["fields"] = json.loads(row["fields"])
    assert [row["text"] for row in from_text] == TEXTS
    assert from_parquet == from_text


def test_a_rerun_after_completion_does_nothing_and_changes_nothing(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=7)
    annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    before = output_files(tmp_path / "out")
    again = annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    assert (again.shards_run, again.shards_skipped, again.docs) == (0, 3, 7)
    assert output_files(tmp_path / "out") == before


def test_a_damaged_or_missing_shard_is_written_again(toy_pipeline: Path, tmp_path: Path) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=7)
    annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    before = output_files(tmp_path / "out")
    (tmp_path / "out" / "shard-000001.jsonl").write_text("truncated")
    (tmp_path / "out" / "shard-000002.jsonl").unlink()
    (tmp_path / "out" / ".shard-000002.jsonl.tmp-999").write_text("left by a killed run")
    again = annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    assert (again.shards_run, again.shards_skipped) == (2, 1)
    assert output_files(tmp_path / "out") == before


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"shard_size": 4}, "options.shard_size was 3, now 4"),
        ({"output_format": "docbin"}, "options.output_format was 'jsonl', now 'docbin'"),
        ({"text_field": "body"}, "options.text_field"),
        ({"input": "edited"}, "input.sha256 was"),
    ],
)
def test_a_rerun_with_other_input_or_options_is_refused(
    toy_pipeline: Path, tmp_path: Path, change: dict[str, object], says: str
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=4)
    annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    before = output_files(tmp_path / "out")
    if change.get("input") == "edited":
        change = {}
        good_corpus(corpus, n=5)  # the same file, one more line
    with pytest.raises(AnnotateError) as info:
        annotate(settings(toy_pipeline, corpus, tmp_path / "out", **change))
    assert "holds the output of a different run" in str(info.value)
    assert says in str(info.value)
    assert output_files(tmp_path / "out") == before


def test_resuming_with_another_worker_count_is_allowed(toy_pipeline: Path, tmp_path: Path) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=4)
    annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    again = annotate(settings(toy_pipeline, corpus, tmp_path / "out", n_process=3, engine="local"))
    assert again.shards_skipped == 2


def test_the_batch_size_changes_no_byte_so_a_resume_may_change_it(tmp_path: Path) -> None:
    """Docbin with ``doc._.trf_data`` and JSONL with vectors: every float the pipeline makes."""
    pytest.importorskip("trf_setters")
    from trf_core.testing.pipelines import build_nlp

    nlp = build_nlp(annotation_setter={"@annotation_setters": "trf.token_vectors.v1"})
    nlp.to_disk(tmp_path / "pipeline")
    lengths = [3, 17, 0, 1, 9, 30, 2, 12]  # docs of very different lengths: padding differs
    words = "we eat green ham and like eggs now".split()
    texts = [" ".join(words[j % len(words)] for j in range(n)) for n in lengths]
    corpus = write_jsonl(tmp_path / "in.jsonl", [json.dumps({"text": t}) for t in texts])
    outputs: dict[str, list[dict[str, bytes]]] = {"docbin": [], "jsonl": []}
    runs = [("docbin", size, {"trf_data": True}) for size in (1, 3, 64)]
    runs += [("jsonl", size, {"vectors": True}) for size in (1, 64)]
    for fmt, size, extra in runs:
        out = tmp_path / f"{fmt}-{size}"
        annotate(settings(tmp_path / "pipeline", corpus, out, batch_size=size, output_format=fmt,
                          shard_size=8, **extra))  # fmt: skip
        outputs[fmt].append(output_files(out))
    for files in outputs.values():
        assert all(other == files[0] for other in files[1:])
    # Resuming with another batch size continues the run rather than refusing it.
    (tmp_path / "jsonl-1" / "shard-000000.jsonl").unlink()
    again = annotate(settings(tmp_path / "pipeline", corpus, tmp_path / "jsonl-1", batch_size=5,
                              shard_size=8, vectors=True))  # fmt: skip
    assert again.shards_run == 1
    assert output_files(tmp_path / "jsonl-1") == output_files(tmp_path / "jsonl-64")


def test_the_summary_of_a_resumed_run_counts_only_this_runs_words(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=9)
    first = annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    assert first.run_words == first.words > 0
    again = annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    assert (again.run_words, again.words) == (0, first.words)
    assert "this run: 0 shards in" in again.text("out") and "(0 words/s)" in again.text("out")
    (tmp_path / "out" / "shard-000001.jsonl").unlink()
    third = annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    rows = read_jsonl(tmp_path / "out" / "shard-000001.jsonl")
    shard_words = sum(len(row["tokens"]) for row in rows if isinstance(row["tokens"], list))
    assert third.run_words == shard_words < third.words


def test_a_text_over_the_pipelines_max_length_is_an_error_record(tmp_path: Path) -> None:
    """spaCy's default max_length (1,000,000 characters: it is not saved with a pipeline)."""
    spacy.blank("en").to_disk(tmp_path / "pipeline")
    lines = [json.dumps({"text": "short one", "id": "a"}),
             json.dumps({"text": "word " * 200_000 + "w", "id": "long"}),
             json.dumps({"text": "x" * 1_000_000, "id": "at the limit"})]  # fmt: skip
    corpus = write_jsonl(tmp_path / "in.jsonl", lines)
    summary = annotate(settings(tmp_path / "pipeline", corpus, tmp_path / "out", code=()))
    assert (summary.docs, summary.errors) == (2, 1)
    (bad,) = error_rows(tmp_path / "out")
    assert (bad["line"], bad["id"]) == (2, "long")
    assert "1,000,001 characters, more than the pipeline's max_length (1,000,000)" in str(
        bad["reason"]
    )


def test_finished_shards_are_appended_to_a_journal_folded_in_at_the_end(
    toy_pipeline: Path, tmp_path: Path
) -> None:
    """While a run goes, each finished shard is one more journal line (the manifest is not
    rewritten); a torn last line, as a crash mid-append leaves, costs only that shard."""
    from trf_core.annotate.manifest import JOURNAL

    corpus = good_corpus(tmp_path / "in.jsonl", n=9)
    annotate(settings(toy_pipeline, corpus, tmp_path / "ref"))
    out = tmp_path / "out"
    annotate(settings(toy_pipeline, corpus, out))
    manifest = json.loads((out / MANIFEST).read_text())
    assert not (out / JOURNAL).exists() and len(manifest["shards"]) == 3
    # As a run killed after two shards, the second one's line cut short, leaves the folder:
    lines = [json.dumps(shard) for shard in manifest["shards"][:2]]
    (out / JOURNAL).write_text(lines[0] + "\n" + lines[1][:25])
    manifest.update(complete=False, shards=[])
    (out / MANIFEST).write_text(json.dumps(manifest))
    again = annotate(settings(toy_pipeline, corpus, out))
    assert (again.shards_skipped, again.shards_run) == (1, 2)
    assert output_files(out) == output_files(tmp_path / "ref")


def test_a_folder_that_is_not_an_output_is_refused(toy_pipeline: Path, tmp_path: Path) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("precious")
    with pytest.raises(AnnotateError, match=r"holds no manifest\.json"):
        annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"pipeline": "no_such_pipeline_pkg"}, "neither a folder nor an installed"),
        ({"input": "missing.jsonl"}, "input missing.jsonl is not a file"),
        ({"shard_size": 0}, "--shard-size must be at least 1"),
        ({"code": ("missing.py",)}, "--code missing.py is not a file"),
    ],
)
def test_bad_arguments_get_clear_errors(
    toy_pipeline: Path, tmp_path: Path, change: dict[str, object], says: str
) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=2)
    with pytest.raises(AnnotateError, match=says):
        annotate(settings(toy_pipeline, corpus, tmp_path / "out", **change))


def test_the_code_file_is_part_of_the_fingerprint(toy_pipeline: Path, tmp_path: Path) -> None:
    corpus = good_corpus(tmp_path / "in.jsonl", n=2)
    annotate(settings(toy_pipeline, corpus, tmp_path / "out"))
    code = tmp_path / "code.py"
    code.write_text(CODE.read_text() + "\n# changed\n")
    with pytest.raises(AnnotateError, match="code"):
        annotate(settings(toy_pipeline, corpus, tmp_path / "out", code=(str(code),)))


def test_vectors_are_the_docs_and_tokens_vectors(tmp_path: Path) -> None:
    pytest.importorskip("trf_setters")
    from trf_core.testing.pipelines import build_nlp

    nlp = build_nlp(annotation_setter={"@annotation_setters": "trf.token_vectors.v1"})
    nlp.to_disk(tmp_path / "pipeline")
    corpus = good_corpus(tmp_path / "in.jsonl", n=7)
    annotate(settings(tmp_path / "pipeline", corpus, tmp_path / "out", vectors=True))
    rows = shard_rows(tmp_path / "out")
    texts = [TEXTS[i % len(TEXTS)] for i in range(7)]
    docs = [doc for start in (0, 3, 6) for doc in nlp.pipe(texts[start : start + 3])]  # the shards
    for row, doc in zip(rows, docs):
        if len(doc):
            assert row["vector"] == [float(v) for v in doc.vector]
            assert row["token_vectors"] == [[float(v) for v in t.vector] for t in doc]
        else:
            assert row["vector"] is None and row["token_vectors"] is None
    assert sum(row["vector"] is not None for row in rows) == 6


def test_parquet_fields_of_any_type_reach_a_docbin(toy_pipeline: Path, tmp_path: Path) -> None:
    import datetime

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    pq.write_table(pa.table({"text": ["Eat ham now"], "when": [when]}), tmp_path / "in.parquet")
    summary = annotate(settings(toy_pipeline, tmp_path / "in.parquet", tmp_path / "out",
                                input_format="parquet", output_format="docbin"))  # fmt: skip
    assert (summary.docs, summary.errors) == (1, 0)
    nlp = spacy.load(toy_pipeline)
    (doc,) = DocBin().from_disk(tmp_path / "out" / "shard-000000.spacy").get_docs(nlp.vocab)
    assert doc.user_data["annotate"] == {"line": 1, "fields": {"when": str(when)}}
