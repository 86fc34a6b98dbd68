"""Contract checks for each plugin kind: the plugin contract's invariants, as plain functions.

The invariants are listed in docs/plugin-guide.md ("The contract"); where the kit sits among
trf-core's layers, and what it may import, is docs/architecture.md.

Each ``check_*`` function takes a plugin (or its registered name), runs it on a fixed set of
hostile docs plus, when hypothesis is installed, generated ones, and raises
:class:`ContractViolation` (an ``AssertionError``) naming the invariant that failed, the input it
failed on and what to do about it, in the style of scikit-learn's ``check_estimator``::

    from trf_core.testing.checks import check_span_getter
    check_span_getter("doc_spans.v1", covers_every_token=True)

The invariant checks they run (``span_getter_*``, ``setter_*``, ``pooler_*``, ``backend_*``) are
public too: :mod:`trf_core.testing.suites` turns each into its own pytest test.

Imports stay cheap: hypothesis is imported only when generated examples are asked for.

One module per plugin kind (``span_getters``, ``annotation_setters``, ``poolers``, ``backends``),
because a plugin author reads only the checks for the kind they write and each kind's invariants
change on their own; ``plugins`` (:func:`check_plugin`) checks a plugin module's hookimpls the way
``import trf_core`` loads them; ``_common`` holds what all of them share (the hostile docs,
:class:`ContractViolation`, the batch runner). Import from this package, not from the modules: their
layout is not part of the API.
"""

from __future__ import annotations

from ._common import BATCH_TOLERANCE as BATCH_TOLERANCE
from ._common import EXAMPLE_TEXTS as EXAMPLE_TEXTS
from ._common import (
    ContractViolation,
    example_docs,
    overlapping_spans,
    run_all,
    run_on_batches,
)
from ._common import has_hypothesis as has_hypothesis
from .annotation_setters import (
    SETTER_CHECKS,
    check_annotation_setter,
    resolve_annotation_setter,
    setter_handles_empty_docs,
    setter_idempotent,
    setter_keeps_trf_data,
)
from .backends import (
    BACKEND_CHECKS,
    INFERENCE_ONLY_CHECKS,
    backend_alignment_invariants,
    backend_aligns_every_token,
    backend_backprop,
    backend_batch_invariance,
    backend_empty_docs,
    backend_empty_docs_inference,
    backend_finite_differences,
    backend_listener_attrs,
    backend_refuses_training,
    backend_returns_batch,
    backend_serialization,
    check_backend,
    resolve_backend,
)
from .backends import BackendFactory as BackendFactory
from .cli_commands import check_cli_commands
from .plugins import check_plugin
from .poolers import (
    POOLER_CHECKS,
    check_pooler,
    generated_pooler_inputs,
    pooler_batch_invariance,
    pooler_empty_rows,
    pooler_finite_differences,
    pooler_inputs,
    pooler_output_shape,
    resolve_pooler,
)
from .span_getters import (
    SPAN_GETTER_CHECKS,
    check_span_getter,
    resolve_span_getter,
    sentencize,
    span_getter_batch_invariance,
    span_getter_covers_every_token,
    span_getter_empty_docs,
    span_getter_one_list_per_doc,
    span_getter_spans_inside_doc,
)

__all__ = [
    "BACKEND_CHECKS",
    "INFERENCE_ONLY_CHECKS",
    "POOLER_CHECKS",
    "SETTER_CHECKS",
    "SPAN_GETTER_CHECKS",
    "ContractViolation",
    "backend_alignment_invariants",
    "backend_aligns_every_token",
    "backend_backprop",
    "backend_batch_invariance",
    "backend_empty_docs",
    "backend_empty_docs_inference",
    "backend_finite_differences",
    "backend_listener_attrs",
    "backend_refuses_training",
    "backend_returns_batch",
    "backend_serialization",
    "check_annotation_setter",
    "check_backend",
    "check_cli_commands",
    "check_plugin",
    "check_pooler",
    "check_span_getter",
    "example_docs",
    "generated_pooler_inputs",
    "overlapping_spans",
    "pooler_batch_invariance",
    "pooler_empty_rows",
    "pooler_finite_differences",
    "pooler_inputs",
    "pooler_output_shape",
    "resolve_annotation_setter",
    "resolve_backend",
    "resolve_pooler",
    "resolve_span_getter",
    "run_all",
    "run_on_batches",
    "sentencize",
    "setter_handles_empty_docs",
    "setter_idempotent",
    "setter_keeps_trf_data",
    "span_getter_batch_invariance",
    "span_getter_covers_every_token",
    "span_getter_empty_docs",
    "span_getter_one_list_per_doc",
    "span_getter_spans_inside_doc",
]
