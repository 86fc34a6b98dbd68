"""Every first-party plugin passes the same conformance suites third-party plugins use.

The classes below are what a plugin author writes; here they also prove the kit accepts
correct plugins (the violations tests prove it rejects broken ones).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from trf_core.component.transformer import null_annotation_setter
from trf_core.testing.suites import (
    AnnotationSetterTests,
    BackendTests,
    PoolerTests,
    SpanGetterTests,
)

needs_span_getters = pytest.mark.skipif(
    importlib.util.find_spec("trf_span_getters") is None, reason="trf-span-getters not installed"
)
needs_setters = pytest.mark.skipif(
    importlib.util.find_spec("trf_setters") is None, reason="trf-setters not installed"
)
needs_poolers = pytest.mark.skipif(
    importlib.util.find_spec("trf_poolers") is None, reason="trf-poolers not installed"
)


@needs_span_getters
class TestDocSpans(SpanGetterTests):
    span_getter_name = "doc_spans.v1"
    covers_every_token = True


@needs_span_getters
class TestSentSpans(SpanGetterTests):
    span_getter_name = "sent_spans.v1"
    covers_every_token = True


@needs_span_getters
class TestStridedSpans(SpanGetterTests):
    span_getter_name = "spacy-transformers.strided_spans.v1"
    span_getter_config = {"window": 6, "stride": 4}
    covers_every_token = True


@needs_poolers
class TestReduceMean(PoolerTests):
    pooler_name = "trf.reduce_mean.v1"


@needs_poolers
class TestReduceMax(PoolerTests):
    pooler_name = "trf.reduce_max.v1"


@needs_poolers
class TestAttentionPooling(PoolerTests):
    pooler_name = "trf.attention_pooling.v1"


class TestNullAnnotationSetter(AnnotationSetterTests):
    """The component's default setter, given as an object (the fixture override route)."""

    @pytest.fixture
    def annotation_setter(self) -> Any:
        return null_annotation_setter


@needs_setters
class TestNullSetterByName(AnnotationSetterTests):
    annotation_setter_name = "spacy-transformers.null_annotation_setter.v1"


@needs_setters
class TestTokenVectors(AnnotationSetterTests):
    annotation_setter_name = "trf.token_vectors.v1"


@needs_setters
class TestDocEmbedding(AnnotationSetterTests):
    annotation_setter_name = "trf.doc_embedding.v1"


class TestToyBackend(BackendTests):
    backend_name = "trf.ToyTransformer.v1"
    backend_config = {"width": 8, "depth": 2, "max_length": 8}
