"""The ``span_getters`` and ``annotation_setters`` registries, and guards on the ones we borrow.

Both are catalogue registries in spaCy's namespace, attached to ``spacy.util.registry`` so
configs (``@span_getters = "doc_spans.v1"``) and ``spacy.registry.get("span_getters", name)``
find them; catalogue-style entry points (``spacy_span_getters``, ``spacy_annotation_setters``)
and the decorator ``@trf_core.registry.span_getters("name")`` work as with any catalogue
registry.

What catalogue cannot do, a :class:`RegistryGuard` does: refuse names two distributions provide
(:class:`~trf_core.contract.errors.PluginConflictError`), say which distribution to install for a
first-party name, list the plugins that failed to load, and ignore entry points of blocked
distributions. Our own registries consult their guard in ``get``; spaCy's ``architectures`` and
thinc's ``layers`` get the same guard installed on their instance by :func:`guard_registry`.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from types import MethodType
from typing import Any

import catalogue
from spacy.util import registry as spacy_registry
from trf_kernel import Claim, normalize_name

from ..contract.errors import (
    MissingDistributionError,
    PluginConflictError,
    UnknownRegistryNameError,
)
from .load_report import distribution_problem, failed_plugins_text

_TRF_HF = "trf-hf"
_SPAN_GETTERS = "trf-span-getters"
_SETTERS = "trf-setters"
_POOLERS = "trf-poolers"
_ONNX = "trf-onnx"

FIRST_PARTY: dict[tuple[str, str], str] = {
    **{
        ("span_getters", name): _SPAN_GETTERS
        for name in (
            "doc_spans.v1",
            "sent_spans.v1",
            "spacy-transformers.doc_spans.v1",
            "spacy-transformers.sent_spans.v1",
            "spacy-transformers.strided_spans.v1",
            "strided_spans.v1",
        )
    },
    ("annotation_setters", "spacy-transformer.null_annotation_setter.v1"): _SETTERS,
    ("annotation_setters", "spacy-transformers.null_annotation_setter.v1"): _SETTERS,
    **{
        ("architectures", f"spacy-transformers.{arch}.v{version}"): _TRF_HF
        for arch in ("TransformerModel", "Tok2VecTransformer")
        for version in (1, 2, 3)
    },
    ("architectures", "trf.ONNXTransformerModel.v1"): _ONNX,
    **{
        ("layers", f"trf.{pooler}.v1"): _POOLERS
        for pooler in (
            "first_last",
            "attention_pooling",
            "reduce_mean",
            "reduce_sum",
            "reduce_max",
            "reduce_first",
            "reduce_last",
        )
    },
}
"""(registry, name) -> the first-party distribution that provides it."""

FIRST_PARTY_PREFIXES: dict[str, str] = {
    "span_getters": _SPAN_GETTERS,
    "annotation_setters": _SETTERS,
}
"""Registry -> the distribution that provides its ``trf.`` names."""


def first_party_distribution(registry: str, name: str) -> str | None:
    """The first-party distribution that provides ``name`` in ``registry``, if it is ours."""
    if (registry, name) in FIRST_PARTY:
        return FIRST_PARTY[(registry, name)]
    if name.startswith("trf.") and registry in FIRST_PARTY_PREFIXES:
        return FIRST_PARTY_PREFIXES[registry]
    return None


def _install_hint(registry: str, name: str) -> str:
    dist = first_party_distribution(registry, name)
    if dist is None:
        return ""
    return f" {name!r} is provided by the distribution {dist}; {distribution_problem(dist)}."


def unknown_name_error(registry: str, name: str, available: list[str]) -> UnknownRegistryNameError:
    """The error for a name nobody provides: what exists, what to install, what failed."""
    close = difflib.get_close_matches(name, available, n=3)
    message = (
        f"Can't find {name!r} in registry {registry!r}."
        f"{_install_hint(registry, name)}"
        f"{' Did you mean ' + ', '.join(repr(c) for c in close) + '?' if close else ''}"
        f" Available names: {', '.join(available) or 'none'}."
        f"{failed_plugins_text()}"
    )
    dist = first_party_distribution(registry, name)
    if dist is not None:
        return MissingDistributionError(registry, name, dist, message)
    return UnknownRegistryNameError(registry, name, message)


class RegistryGuard:
    """Names a registry must refuse or treat specially, filled in when plugins are loaded."""

    def __init__(self, registry_name: str) -> None:
        self.registry_name = registry_name
        self.conflicts: dict[str, list[Claim]] = {}
        """Name -> the distributions that all provide it."""
        self.missing: dict[str, str] = {}
        """First-party name -> the distribution to install (names nobody provides)."""
        self.blocked_distributions: frozenset[str] = frozenset()
        """Normalized names of distributions whose catalogue entry points are ignored."""

    def clear(self) -> None:
        """Forget everything (before plugins are reloaded)."""
        self.conflicts = {}
        self.missing = {}
        self.blocked_distributions = frozenset()

    def check(self, name: str) -> None:
        """Raise the right error when ``name`` is conflicted or a missing first-party name."""
        if name in self.conflicts:
            raise PluginConflictError(self.registry_name, name, self.conflicts[name])
        if name in self.missing:
            dist = self.missing[name]
            message = (
                f"{name!r} (registry {self.registry_name!r}) is provided by the distribution "
                f"{dist}; {distribution_problem(dist)}.{failed_plugins_text()}"
            )
            raise MissingDistributionError(self.registry_name, name, dist, message)

    def is_blocked(self, entry_point: Any) -> bool:
        """Whether a catalogue entry point belongs to a blocked distribution."""
        if not self.blocked_distributions:
            return False
        dist = getattr(entry_point, "dist", None)
        dist_name = getattr(dist, "name", None) if dist is not None else None
        return dist_name is not None and normalize_name(dist_name) in self.blocked_distributions


def _allowed_entry_point(reg: catalogue.Registry, guard: RegistryGuard, name: str) -> Any:
    """The loaded entry point called ``name`` unless its distribution is blocked; else None."""
    if not reg.entry_points:
        return None
    for entry_point in reg._get_entry_points():
        if entry_point.name == name and not guard.is_blocked(entry_point):
            return entry_point.load()
    return None


def _guarded_lookup(reg: catalogue.Registry, guard: RegistryGuard, name: str) -> Any:
    """catalogue's lookup order (entry points first, then in-process), with the guard applied."""
    guard.check(name)
    found = _allowed_entry_point(reg, guard, name)
    if found is not None:
        return found
    key = (*reg.namespace, name)
    if key in catalogue.REGISTRY:
        return catalogue.REGISTRY[key]
    available = available_names(reg, guard)
    if _is_language_probe(name, available):
        # spaCy asks for "<lang>.<name>" first and falls back to "<name>" on a RegistryError
        # (``spacy package`` does): answer in the error type that fallback expects.
        raise catalogue.RegistryError(f"no language-specific '{name}' in {guard.registry_name}")
    raise unknown_name_error(guard.registry_name, name, available)


def _is_language_probe(name: str, available: list[str]) -> bool:
    """``name`` is a language code, a dot, and a name that exists: spaCy's lang-specific probe."""
    lang, dot, rest = name.partition(".")
    return bool(dot) and lang.isalpha() and lang.islower() and len(lang) <= 3 and rest in available


def available_names(reg: catalogue.Registry, guard: RegistryGuard | None = None) -> list[str]:
    """Every name ``reg`` can resolve, without importing any entry point."""
    names = {key[-1] for key in catalogue.REGISTRY if key[:-1] == tuple(reg.namespace)}
    if reg.entry_points:
        names.update(
            ep.name for ep in reg._get_entry_points() if guard is None or not guard.is_blocked(ep)
        )
    return sorted(names)


class PluginAwareRegistry(catalogue.Registry):
    """A catalogue registry whose ``get`` refuses conflicts and explains unknown names.

    Its errors are not ``catalogue.RegistryError`` subclasses, so spaCy's ``registry.get``
    passes them through with their message intact.
    """

    def __init__(self, registry_name: str, namespace: tuple[str, ...]) -> None:
        super().__init__(namespace, entry_points=True)
        self.guard = RegistryGuard(registry_name)

    def get(self, name: str) -> Any:
        """The function registered as ``name``.

        Raises:
            PluginConflictError: two distributions provide ``name``.
            UnknownRegistryNameError: nobody provides it (the message lists what exists).
        """
        return _guarded_lookup(self, self.guard, name)

    def get_entry_point(self, name: str, default: Any = None) -> Any:
        """Like catalogue's, but ignoring entry points of blocked distributions."""
        found = _allowed_entry_point(self, self.guard, name)
        return default if found is None else found

    def get_entry_points(self) -> dict[str, Any]:
        """Every loadable entry point; one that fails to import is skipped with a warning."""
        result: dict[str, Any] = {}
        for entry_point in self._get_entry_points():
            if self.guard.is_blocked(entry_point):
                continue
            try:
                result[entry_point.name] = entry_point.load()
            except Exception as exc:
                warnings.warn(
                    f"Entry point {entry_point.name} = {entry_point.value} "
                    f"(group {entry_point.group}) failed to import: {exc}",
                    stacklevel=2,
                )
        return result

    def available(self) -> list[str]:
        """Every name this registry can resolve, without importing entry points."""
        return available_names(self, self.guard)


def guard_registry(reg: catalogue.Registry, registry_name: str) -> RegistryGuard:
    """The guard of ``reg``, installing one on a spaCy/thinc registry instance on first use.

    spaCy's and thinc's registries are plain catalogue instances owned by those libraries; the
    guard is installed as instance attributes ``get`` and ``get_entry_point`` (every holder of
    the object sees them, ``name in registry`` included; names without a guard entry resolve
    exactly as before, and unknown names still raise catalogue's ``RegistryError``, which
    spaCy's ``registry.get`` relies on for its spacy-legacy fallback).
    """
    if isinstance(reg, PluginAwareRegistry):
        return reg.guard
    guard: RegistryGuard | None = getattr(reg, "_trf_guard", None)
    if guard is None:
        guard = RegistryGuard(registry_name)
        original: Callable[[str], Any] = reg.get

        def guarded_get(self: catalogue.Registry, name: str) -> Any:
            assert guard is not None
            guard.check(name)
            return original(name)  # catalogue's get, which calls the guarded get_entry_point

        def guarded_get_entry_point(
            self: catalogue.Registry, name: str, default: Any = None
        ) -> Any:
            assert guard is not None
            found = _allowed_entry_point(self, guard, name)
            return default if found is None else found

        reg._trf_guard = guard  # type: ignore[attr-defined]
        reg.get = MethodType(guarded_get, reg)  # type: ignore[method-assign]
        reg.get_entry_point = MethodType(guarded_get_entry_point, reg)  # type: ignore[method-assign]
    return guard


def get_registry(registry_name: str) -> catalogue.Registry:
    """The catalogue registry configs reference as ``@registry_name`` (ours, spaCy's, thinc's)."""
    reg = getattr(spacy_registry, registry_name, None)
    if not isinstance(reg, catalogue.Registry):
        raise UnknownRegistryNameError(
            registry_name,
            registry_name,
            f"There is no registry called {registry_name!r}; registries are: "
            f"{', '.join(spacy_registry.get_registry_names())}.",
        )
    return reg


span_getters = PluginAwareRegistry("span_getters", ("spacy", "span_getters"))
"""Span getters: ``@span_getters = "NAME"``; each returns a ``SpanGetter``."""

annotation_setters = PluginAwareRegistry("annotation_setters", ("spacy", "annotation_setters"))
"""Annotation setters: ``@annotation_setters = "NAME"``; each returns an ``AnnotationSetter``."""

spacy_registry.span_getters = span_getters  # type: ignore[attr-defined]
spacy_registry.annotation_setters = annotation_setters  # type: ignore[attr-defined]

__all__ = [
    "FIRST_PARTY",
    "PluginAwareRegistry",
    "RegistryGuard",
    "annotation_setters",
    "available_names",
    "first_party_distribution",
    "get_registry",
    "guard_registry",
    "span_getters",
    "unknown_name_error",
]
