"""Fixtures for the annotate tests: a toy pipeline saved to disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from spacy.util import import_file

# The suite runs with --import-mode=importlib, which leaves sys.path alone: make this folder's
# helper module importable by the tests (and the code file's components known here).
sys.path.insert(0, str(Path(__file__).parent))

from annotate_helpers import CODE

import_file("annotate_code", str(CODE))


@pytest.fixture(scope="session")
def toy_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy transformer + tagger, plus the components of annotate_code.py."""
    from trf_core.testing.pipelines import build_nlp

    nlp = build_nlp()
    for name in (
        "annotate_test_boom",
        "annotate_test_slow",
        "annotate_test_threads",
        "annotate_test_kill",
    ):
        nlp.add_pipe(name)
    path = tmp_path_factory.mktemp("pipeline") / "toy"
    nlp.to_disk(path)
    return path
