"""The hooks a trf-core plugin may implement.

A plugin is a distribution with an entry point in the group ``trf_core`` whose value is a module
(or object) holding functions marked with :data:`hookimpl`. Each registration hook returns a mapping
of registry name -> configure function; the core registers every name into the registry that
configs resolve through, so a plugin never touches spaCy's or thinc's registries itself.

Plugin modules must stay cheap to import: do heavy imports (torch, transformers) inside the
configure functions, not at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "trf_core"
"""The pluggy project name, which is also the entry-point group plugins declare."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

ConfigureFunction = Callable[..., Any]
"""A function registered under a name; configs call it with their block's arguments."""


@hookspec
def trf_span_getters() -> dict[str, ConfigureFunction]:
    """Span getters, resolved from configs as ``@span_getters = "NAME"``.

    Each configure function returns a ``Callable[[list[Doc]], list[list[Span]]]``.

    Example::

        from trf_core import hookimpl

        @hookimpl
        def trf_span_getters():
            def configure_whole_docs():
                return lambda docs: [[doc[:]] for doc in docs]
            return {"acme.whole_docs.v1": configure_whole_docs}
    """
    raise NotImplementedError


@hookspec
def trf_annotation_setters() -> dict[str, ConfigureFunction]:
    """Annotation setters, resolved from configs as ``@annotation_setters = "NAME"``.

    Each configure function returns a ``Callable[[list[Doc], FullTransformerBatch], None]``.

    Example::

        @hookimpl
        def trf_annotation_setters():
            def configure_count_spans():
                def count_spans(docs, batch):
                    for doc, spans in zip(docs, batch.spans):
                        doc.user_data["acme.n_spans"] = len(spans)
                return count_spans
            return {"acme.count_spans.v1": configure_count_spans}
    """
    raise NotImplementedError


@hookspec
def trf_poolers() -> dict[str, ConfigureFunction]:
    """Poolers, resolved as ``@layers = "NAME"``: each returns a thinc ``Model[Ragged, Floats2d]``.

    Example::

        @hookimpl
        def trf_poolers():
            def configure_sum_pooling():
                from thinc.api import reduce_sum
                return reduce_sum()
            return {"acme.sum_pooling.v1": configure_sum_pooling}
    """
    raise NotImplementedError


@hookspec
def trf_model_backends() -> dict[str, ConfigureFunction]:
    """Model backends, resolved as ``@architectures = "NAME"``.

    Each returns a thinc ``Model[list[Doc], FullTransformerBatch]`` carrying the
    ``replace_listener`` / ``replace_listener_cfg`` attributes spaCy's ``replace_listeners`` uses.

    Example::

        @hookimpl
        def trf_model_backends():
            def configure_my_backend(name: str, get_spans):
                from acme_backend.model import build   # heavy imports inside
                return build(name, get_spans)
            return {"acme.MyBackend.v1": configure_my_backend}
    """
    raise NotImplementedError


@hookspec
def trf_cli_commands() -> dict[str, str]:
    """Subcommands of ``trf-core`` (and ``python -m trf_core``) that this plugin adds.

    Returns command name -> the import path of the module implementing it. The module is
    imported only when ``trf-core`` builds its parser (keep its top level cheap too) and defines
    ``HELP`` (one line), ``configure(parser)`` (adds arguments to an ``argparse`` parser) and
    ``run(args) -> int`` (the exit code). A module that sets ``EXTRA_ARGS = True`` also receives
    the arguments its parser does not know, as ``args.extra_args`` (a list of strings), e.g. to
    read spaCy-style config overrides (``--paths.train X``). Names are lowercase words joined by
    hyphens; a name the core already has, or that another plugin also adds, is not added (the
    listing and running it say which distributions claim it).

    Example::

        @hookimpl
        def trf_cli_commands():
            return {"acme-report": "acme_spans.cli_report"}
    """
    raise NotImplementedError


REGISTRATION_HOOKS: dict[str, str] = {
    "trf_span_getters": "span_getters",
    "trf_annotation_setters": "annotation_setters",
    "trf_poolers": "layers",
    "trf_model_backends": "architectures",
}
"""Each registration hook and the spaCy registry its names are registered into."""
