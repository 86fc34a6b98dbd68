"""trf-core's conformance kit run against the HF backend (the tiny BERT, windows on).

RoBERTa's byte-level BPE is covered by the alignment property test; one model keeps this fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from thinc.api import Model
from trf_hf import TransformerModel

suites = pytest.importorskip("trf_core.testing.suites")
checks = pytest.importorskip("trf_core.testing.checks")


class TestHFBackendConformance(suites.BackendTests):  # type: ignore[misc,name-defined]
    """Every backend invariant of the kit; a small window makes windowing part of each check."""

    max_examples = 4

    @pytest.fixture
    def backend(self, bert_dir: Path) -> Model:
        def factory(get_spans: Any) -> Model:
            return TransformerModel(str(bert_dir), get_spans=get_spans, window=16, stride=8)

        return checks.resolve_backend(factory)
