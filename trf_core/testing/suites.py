"""Base test classes a plugin author subclasses: every contract check becomes a pytest test.

In the style of pandas' ``ExtensionTests``: subclass, say which plugin to test, and pytest
collects one test per invariant, reported by its own id (``test_spans_inside_doc``, ...)::

    from trf_core.testing.suites import SpanGetterTests

    class TestMyGetter(SpanGetterTests):
        span_getter_name = "acme.sentences.v1"    # a registered name ...
        span_getter_config = {"max_length": 64}   # ... and its config block's arguments
        covers_every_token = True

Instead of a name, override the fixture (``span_getter``, ``annotation_setter``, ``pooler`` or
``backend``) to return the plugin object itself. Each class's checks are the functions of
:mod:`trf_core.testing.checks`; a failure raises its ``ContractViolation`` message.

Needs pytest (this module defines fixtures); generated examples need hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Ragged

from ..contract.backend import request_hidden_states
from . import checks

__all__ = ["AnnotationSetterTests", "BackendTests", "PoolerTests", "SpanGetterTests"]


def _missing(kind: str, attr: str, fixture: str) -> pytest.UsageError:
    return pytest.UsageError(
        f"this {kind} test class names no plugin: set the class attribute {attr} to its "
        f"registered name, or override the {fixture!r} fixture to return the plugin itself"
    )


class SpanGetterTests:
    """Contract tests for a span getter (``Callable[[list[Doc]], list[list[Span]]]``)."""

    span_getter_name: ClassVar[str | None] = None
    """The registered name (``@span_getters``) to test."""
    span_getter_config: ClassVar[dict[str, Any]] = {}
    """Arguments for the configure function, as a config block would give them."""
    covers_every_token: ClassVar[bool] = False
    """Set for getters that promise every token lies in a span (doc, sentence, strided)."""
    max_examples: ClassVar[int] = 15
    """Generated batches per check, on top of the fixed hostile ones."""

    @pytest.fixture
    def span_getter(self) -> Any:
        """The getter under test, built from :attr:`span_getter_name`."""
        if self.span_getter_name is None:
            raise _missing("span getter", "span_getter_name", "span_getter")
        return checks.resolve_span_getter(self.span_getter_name, self.span_getter_config)

    def prepare_doc(self, doc: Doc) -> Doc:
        """Applied to every test doc; by default adds sentence boundaries (sentencizer)."""
        return checks.sentencize(doc)

    def _run(self, check: Callable[[Any, list[Doc]], None], getter: Any) -> None:
        checks.run_on_batches(
            lambda docs: check(getter, docs),
            max_examples=self.max_examples,
            doc_factory=self.prepare_doc,
        )

    def test_one_list_per_doc(self, span_getter: Any) -> None:
        self._run(checks.span_getter_one_list_per_doc, span_getter)

    def test_spans_inside_doc(self, span_getter: Any) -> None:
        self._run(checks.span_getter_spans_inside_doc, span_getter)

    def test_batch_invariance(self, span_getter: Any) -> None:
        self._run(checks.span_getter_batch_invariance, span_getter)

    def test_empty_docs(self, span_getter: Any) -> None:
        self._run(checks.span_getter_empty_docs, span_getter)

    def test_covers_every_token(self, span_getter: Any) -> None:
        if not self.covers_every_token:
            pytest.skip("not a coverage getter (covers_every_token = False)")
        self._run(checks.span_getter_covers_every_token, span_getter)

    def test_resolves_from_registry(self) -> None:
        if self.span_getter_name is None:
            pytest.skip("no span_getter_name: the getter is not registered")
        import spacy

        configure = spacy.registry.get("span_getters", self.span_getter_name)
        assert callable(configure(**self.span_getter_config))


class AnnotationSetterTests:
    """Contract tests for an annotation setter (``(docs, FullTransformerBatch) -> None``).

    The setter runs on the toy backend's output over overlapping spans, with
    ``doc._.trf_data`` set as the component sets it.
    """

    annotation_setter_name: ClassVar[str | None] = None
    annotation_setter_config: ClassVar[dict[str, Any]] = {}
    max_examples: ClassVar[int] = 10

    @pytest.fixture
    def annotation_setter(self) -> Any:
        """The setter under test, built from :attr:`annotation_setter_name`."""
        if self.annotation_setter_name is None:
            raise _missing("annotation setter", "annotation_setter_name", "annotation_setter")
        return checks.resolve_annotation_setter(
            self.annotation_setter_name, self.annotation_setter_config
        )

    def _run(self, check: Callable[[Any, list[Doc]], None], setter: Any) -> None:
        checks.run_on_batches(lambda docs: check(setter, docs), max_examples=self.max_examples)

    def test_keeps_trf_data(self, annotation_setter: Any) -> None:
        self._run(checks.setter_keeps_trf_data, annotation_setter)

    def test_idempotent(self, annotation_setter: Any) -> None:
        self._run(checks.setter_idempotent, annotation_setter)

    def test_handles_empty_docs(self, annotation_setter: Any) -> None:
        self._run(checks.setter_handles_empty_docs, annotation_setter)

    def test_resolves_from_registry(self) -> None:
        if self.annotation_setter_name is None:
            pytest.skip("no annotation_setter_name: the setter is not registered")
        import spacy

        configure = spacy.registry.get("annotation_setters", self.annotation_setter_name)
        assert callable(configure(**self.annotation_setter_config))


class PoolerTests:
    """Contract tests for a pooler (a thinc ``Model[Ragged, Floats2d]``)."""

    pooler_name: ClassVar[str | None] = None
    """The registered name (``@layers``) to test."""
    pooler_config: ClassVar[dict[str, Any]] = {}
    width: ClassVar[int] = 6
    """The width of the wordpiece rows fed to the pooler."""
    max_examples: ClassVar[int] = 15

    @pytest.fixture
    def pooler(self) -> Model:
        """A fresh pooler, built from :attr:`pooler_name`."""
        if self.pooler_name is None:
            raise _missing("pooler", "pooler_name", "pooler")
        return checks.resolve_pooler(self.pooler_name, self.pooler_config)

    def _inputs(self) -> list[Ragged]:
        return [
            *checks.pooler_inputs(self.width),
            *checks.generated_pooler_inputs(self.max_examples, self.width),
        ]

    def _run(self, check: Callable[[Model, Ragged], None], pooler: Model) -> None:
        for X in self._inputs():
            check(pooler, X)

    def test_output_shape(self, pooler: Model) -> None:
        self._run(checks.pooler_output_shape, pooler)

    def test_empty_rows(self, pooler: Model) -> None:
        self._run(checks.pooler_empty_rows, pooler)

    def test_finite_differences(self, pooler: Model) -> None:
        self._run(checks.pooler_finite_differences, pooler)

    def test_batch_invariance(self, pooler: Model) -> None:
        self._run(checks.pooler_batch_invariance, pooler)

    def test_resolves_from_registry(self) -> None:
        if self.pooler_name is None:
            pytest.skip("no pooler_name: the pooler is not registered")
        from thinc.api import Config, registry

        cfg = Config({"pooler": {"@layers": self.pooler_name, **self.pooler_config}})
        assert isinstance(registry.resolve(cfg)["pooler"], Model)


class BackendTests:
    """Contract tests for a model backend (``Model[list[Doc], FullTransformerBatch]``).

    Set :attr:`backend_name` (an ``@architectures`` name whose configure function takes
    ``get_spans``) with :attr:`backend_config`, or override the ``backend`` fixture. Backends
    built here get the kit's overlapping span getter, so overlap invariants are exercised.
    """

    backend_name: ClassVar[str | None] = None
    backend_config: ClassVar[dict[str, Any]] = {}
    max_examples: ClassVar[int] = 8
    check_hidden_states: ClassVar[bool] = True
    """Also check outputs with ``attrs["output_hidden_states"] = True``."""
    inference_only: ClassVar[bool] = False
    """Set for a backend that cannot train (e.g. ONNX Runtime): ``test_backprop`` then checks
    that a training pass raises ``NotImplementedError`` with a message, finite differences are
    skipped, and empty docs are checked without a training pass."""

    @pytest.fixture
    def backend(self) -> Model:
        """An initialized backend, built from :attr:`backend_name`."""
        if self.backend_name is None:
            raise _missing("backend", "backend_name", "backend")
        return checks.resolve_backend(self.backend_name, self.backend_config)

    def _run(self, check: Callable[[Model, list[Doc]], None], backend: Model) -> None:
        model = checks.resolve_backend(backend)
        checks.run_on_batches(lambda docs: check(model, docs), max_examples=self.max_examples)

    def test_returns_batch(self, backend: Model) -> None:
        self._run(checks.backend_returns_batch, backend)

    def test_returns_batch_with_hidden_states(self, backend: Model) -> None:
        if not self.check_hidden_states:
            pytest.skip("check_hidden_states = False")
        request_hidden_states(backend)
        try:
            self._run(checks.backend_returns_batch, backend)
            self._run(checks.backend_batch_invariance, backend)
        finally:
            request_hidden_states(backend, False)

    def test_aligns_every_token(self, backend: Model) -> None:
        self._run(checks.backend_aligns_every_token, backend)

    def test_alignment_invariants(self, backend: Model) -> None:
        self._run(checks.backend_alignment_invariants, backend)

    def test_batch_invariance(self, backend: Model) -> None:
        self._run(checks.backend_batch_invariance, backend)

    def test_backprop(self, backend: Model) -> None:
        if self.inference_only:
            self._run(checks.backend_refuses_training, backend)
        else:
            self._run(checks.backend_backprop, backend)

    def test_finite_differences(self, backend: Model) -> None:
        if self.inference_only:
            pytest.skip("inference_only = True: no gradients (test_backprop checks the refusal)")
        model = checks.resolve_backend(backend)
        checks.run_on_batches(
            lambda docs: checks.backend_finite_differences(model, docs), max_examples=0
        )

    def test_empty_docs(self, backend: Model) -> None:
        if self.inference_only:
            self._run(checks.backend_empty_docs_inference, backend)
        else:
            self._run(checks.backend_empty_docs, backend)

    def test_listener_attrs(self, backend: Model) -> None:
        checks.backend_listener_attrs(backend, [])

    def test_serialization(self, backend: Model) -> None:
        model = checks.resolve_backend(backend)
        checks.run_on_batches(
            lambda docs: checks.backend_serialization(model, docs), max_examples=0
        )
