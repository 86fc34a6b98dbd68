"""The ONNX backend passes trf-core's backend conformance suite, as an inference-only backend.

On the toy export (no torch needed), once with spans that fit one window and once with a window
so small that most spans run in several overlapping windows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from thinc.api import Model

from trf_core.testing.checks import overlapping_spans, resolve_backend
from trf_core.testing.suites import BackendTests


def _backend(path: Path, **settings: int) -> Model:
    from spacy.util import registry

    configure = registry.architectures.get("trf.ONNXTransformerModel.v1")
    return resolve_backend(configure(str(path), get_spans=overlapping_spans, **settings))


class TestONNXTransformerModel(BackendTests):
    inference_only = True
    max_examples = 4

    @pytest.fixture
    def backend(self, toy_export: Path) -> Model:
        return _backend(toy_export)


class TestONNXTransformerModelWindowed(BackendTests):
    inference_only = True
    max_examples = 4

    @pytest.fixture
    def backend(self, toy_export: Path) -> Model:
        return _backend(toy_export, window=5, stride=2)
