"""The pytest11 plugin: fixtures, the gpu marker, and suites reporting each invariant by id.

pytest runs once, in a subprocess, on a folder of small test files written as a plugin author
would write them, so the plugin is loaded through its entry point, not imported by hand.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from trf_core.testing.pytest_plugin import cuda_available

AUTHOR_TESTS = {
    "test_fixtures.py": """
import pytest

def test_fixtures(trf_nlp, trf_make_docs, trf_toy_backend):
    docs = trf_make_docs("Hello there.", "")
    assert [len(doc) for doc in docs] == [3, 0]
    assert docs[0].vocab is trf_nlp.vocab
    batch = trf_toy_backend.predict(docs)
    assert batch.doc_lengths == [3, 0]

@pytest.mark.gpu
def test_needs_gpu():
    pass
""",
    "test_leaky.py": """
import pytest
import spacy
from trf_core.testing.suites import SpanGetterTests

_other = spacy.blank("en")

class TestLeakyGetter(SpanGetterTests):
    max_examples = 5

    @pytest.fixture
    def span_getter(self):
        # Spans of a copy of the doc: "outside" the doc they are returned for.
        return lambda docs: [[_other.make_doc(d.text)[:]] if len(d) else [] for d in docs]
""",
    "test_nothing.py": """
from trf_core.testing.suites import PoolerTests

class TestNothing(PoolerTests):
    pass
""",
}


@pytest.fixture(scope="module")
def author_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    folder = tmp_path_factory.mktemp("author")
    for name, source in AUTHOR_TESTS.items():
        (folder / name).write_text(source, encoding="utf8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--strict-markers"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_fixtures_work(author_run: tuple[int, str]) -> None:
    _, output = author_run
    assert "PASSED test_fixtures.py::test_fixtures" in output, output[-3000:]


def test_gpu_marker_is_declared_and_skips_without_a_gpu(author_run: tuple[int, str]) -> None:
    _, output = author_run
    assert "not found in `markers`" not in output  # --strict-markers accepted it
    has_gpu, reason = cuda_available()
    if has_gpu:
        assert "PASSED test_fixtures.py::test_needs_gpu" in output
    else:
        assert f"needs a CUDA GPU: {reason}" in output, output[-3000:]


def test_a_broken_plugin_fails_by_invariant_id(author_run: tuple[int, str]) -> None:
    code, output = author_run
    assert code == 1, output[-3000:]
    assert "FAILED test_leaky.py::TestLeakyGetter::test_spans_inside_doc" in output
    assert "PASSED test_leaky.py::TestLeakyGetter::test_one_list_per_doc" in output
    assert "every span lies inside the doc it was returned for" in output


def test_a_class_naming_no_plugin_says_what_to_set(author_run: tuple[int, str]) -> None:
    _, output = author_run
    assert "TestNothing::test_output_shape" in output
    assert "set the class attribute pooler_name" in output
