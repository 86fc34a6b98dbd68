"""Load trf-core plugins and bridge their hooks into the registries configs resolve through.

The kernel (``trf_kernel``) discovers and imports plugins in isolation; this module knows what
trf-core's hooks mean. Each plugin's registration hooks are called on their own, so a hook that
raises or returns nonsense fails only that plugin. Every name a plugin provides is claimed in a
claim table, together with names declared the catalogue way (entry-point groups
``spacy_span_getters``, ``spacy_annotation_setters``, ``thinc_layers``, ``spacy_architectures``)
and names spaCy or thinc already have. A name with two distributions behind it is a conflict:
recorded, shown by ``python -m trf_core plugins``, and raised as
:class:`~trf_core.contract.errors.PluginConflictError` only when someone resolves that name.

Loading happens once, when ``trf_core`` is imported; :func:`load_plugins` is idempotent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import catalogue
from spacy.util import registry as spacy_registry
from trf_kernel import (
    BLOCKED,
    CONFLICT,
    OK,
    Claim,
    ClaimTable,
    PluginKernel,
    PluginRecord,
    distribution_of,
    normalize_name,
)

from ..contract.errors import PluginConflictError, SpacyTransformersInstalledError
from . import hookspecs, load_report
from .load_report import DISABLE_ENV, STRICT_ENV, distribution_problem, failed_plugin_records
from .registry import FIRST_PARTY, get_registry, guard_registry

GROUP = hookspecs.PROJECT_NAME
"""The entry-point group plugins declare (``trf_core``)."""

CATALOGUE_GROUPS: dict[str, str] = {
    "span_getters": "spacy_span_getters",
    "annotation_setters": "spacy_annotation_setters",
    "layers": "thinc_layers",
    "architectures": "spacy_architectures",
}
"""Registry -> the catalogue-style entry-point group that also provides names for it."""

KNOWN_PACKAGES: dict[str, str] = {
    "spacy": "spacy",
    "thinc": "thinc",
    "spacy_legacy": "spacy-legacy",
    "trf_core": "trf-core",
}
"""Top-level package -> distribution, for the packages we can name without a metadata scan."""


@dataclass
class Provided:
    """One name a plugin's hook returned."""

    registry: str
    name: str
    func: Callable[..., Any]
    record: PluginRecord
    hook: str


@dataclass
class PluginState:
    """Everything one round of plugin loading did, so it can be listed and undone."""

    kernel: PluginKernel
    claims: ClaimTable = field(default_factory=ClaimTable)
    provided: list[Provided] = field(default_factory=list)
    registered: dict[tuple[str, ...], Any] = field(default_factory=dict)
    """catalogue key -> the function we registered there."""
    replaced: dict[tuple[str, ...], Any] = field(default_factory=dict)
    """catalogue key -> what was registered there before us (restored on reload)."""
    placeholders: dict[tuple[str, str], str] = field(default_factory=dict)
    """(registry, name) -> distribution to install, for first-party names nobody provides."""
    blocked_distributions: frozenset[str] = frozenset()
    guarded: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[PluginRecord]:
        return self.kernel.records

    def conflicts(self) -> dict[tuple[str, str], list[Claim]]:
        """(registry, name) -> the distributions that all provide it."""
        return self.claims.conflicts()


_STATE: PluginState | None = None


def load_plugins(*, reload: bool = False) -> PluginState:
    """Load every plugin once and register what it provides; later calls return the same state.

    ``reload=True`` (for tests) undoes the previous round's registrations, rescans the
    environment's entry points and loads again.

    Raises:
        trf_kernel.PluginLoadError: only with ``TRF_STRICT_PLUGINS`` set, for a broken plugin.
    """
    global _STATE
    if _STATE is not None and not reload:
        return _STATE
    if _STATE is not None:
        _undo(_STATE)
        _STATE = None
        load_report.forget()
    entry_points = _entry_points(refresh=reload)
    kernel = PluginKernel(
        GROUP,
        hookspecs,
        project_name=hookspecs.PROJECT_NAME,
        strict_env=STRICT_ENV,
        disable_env=DISABLE_ENV,
        entry_points=entry_points,
    )
    state = PluginState(kernel=kernel)
    _STATE = state
    load_report.track(kernel.records)
    try:
        kernel.load()
        state.provided = _call_registration_hooks(kernel)
    except BaseException:
        _STATE = None
        load_report.forget()
        raise
    state.blocked_distributions = _blocked_distributions(kernel)
    for item in state.provided:
        dist = item.record.distribution or item.record.name
        claim = Claim(
            dist, item.record.version, plugin=item.record.name, source=f"hook {item.hook}"
        )
        state.claims.claim(item.registry, item.name, claim)
    _claim_entry_points(state, entry_points)
    _claim_builtins(state)
    _mark_conflicts(state)
    _register(state)
    _install_guards(state, entry_points)
    _record_provides(state, entry_points)
    return state


def plugin_state() -> PluginState:
    """The current state, loading plugins first if nobody has yet."""
    return load_plugins()


def plugin_records() -> list[PluginRecord]:
    """A record for every plugin of the ``trf_core`` group (ok, failed, blocked or conflict)."""
    return list(load_plugins().records)


def providers(registry: str, name: str) -> list[Claim]:
    """The distributions that provide ``name`` in ``registry`` through plugins or entry points."""
    return load_plugins().claims.claimants(registry, name)


# -- spacy-transformers ------------------------------------------------------------------------


def installed_spacy_transformers() -> tuple[str, str] | None:
    """(distribution, version) of an installed spacy-transformers, or None."""
    try:
        dist = metadata.distribution("spacy-transformers")
    except metadata.PackageNotFoundError:
        return None
    return str(dist.metadata["Name"] or "spacy-transformers"), str(dist.version)


def ensure_no_spacy_transformers() -> None:
    """Raise one clear error when spacy-transformers is installed beside trf-core.

    Both provide spaCy's ``transformer`` factory, so spaCy would fail with a confusing
    duplicate-factory error; the component's module calls this before registering its factory.

    Raises:
        SpacyTransformersInstalledError: naming both distributions and what to do.
    """
    found = installed_spacy_transformers()
    if found is None:
        return
    name, version = found
    try:
        own = f"trf-core {metadata.version('trf-core')}"
    except metadata.PackageNotFoundError:
        own = "trf-core"
    raise SpacyTransformersInstalledError(
        f"{name} {version} and {own} are both installed. Both provide spaCy's 'transformer' "
        f"factory, so they cannot live in one environment. trf-core replaces {name} (pipelines "
        f"saved by {name} load in trf-core): run `pip uninstall {name}`, or keep trf-core in "
        "a separate virtual environment."
    )


# -- the steps of load_plugins -----------------------------------------------------------------


class _Groups:
    """The entry points of the groups we read, selected once (each ``select`` walks them all)."""

    def __init__(self, entry_points: Any, groups: list[str]) -> None:
        self._groups = {group: list(entry_points.select(group=group)) for group in groups}

    def select(self, group: str) -> list[Any]:
        return self._groups[group]


def _entry_points(*, refresh: bool) -> Any:
    """The environment's entry points: catalogue's scan, or a fresh one (kept in sync)."""
    if not refresh:
        source = catalogue.AVAILABLE_ENTRY_POINTS
    else:
        importlib.invalidate_caches()
        source = metadata.entry_points()
        catalogue.AVAILABLE_ENTRY_POINTS = source
    return _Groups(source, [GROUP, "spacy_factories", *CATALOGUE_GROUPS.values()])


def hook_result_problem(hook: str, value: Any) -> str | None:
    """What is wrong with a registration hook's return value, or None."""
    expected = f"hook {hook} must return a dict of registry name -> configure function"
    if not isinstance(value, Mapping):
        return f"{expected}, but it returned {type(value).__name__}"
    for name, func in value.items():
        if not isinstance(name, str) or not name:
            return f"{expected}, but it returned the key {name!r}"
        if not callable(func):
            return f"{expected}, but the value for {name!r} is a {type(func).__name__}"
    return None


def _call_registration_hooks(kernel: PluginKernel) -> list[Provided]:
    """Call each loaded plugin's registration hooks, one plugin at a time."""
    provided: list[Provided] = []
    for record in kernel.records:
        if not record.loaded:
            continue
        items: list[Provided] = []
        for hook, registry in hookspecs.REGISTRATION_HOOKS.items():
            if hook not in record.hooks:
                continue
            called, value = kernel.call_hook(record, hook)
            if not called:
                break
            problem = hook_result_problem(hook, value)
            if problem is not None:
                kernel.fail(record, TypeError(problem), f"calling hook {hook}")
                break
            items.extend(Provided(registry, n, f, record, hook) for n, f in value.items())
        if record.loaded:
            provided.extend(items)
    return provided


def _blocked_distributions(kernel: PluginKernel) -> frozenset[str]:
    """Distributions whose claims are ignored: those of blocked plugins, and named ones."""
    names = {
        normalize_name(r.distribution)
        for r in kernel.records
        if r.status == BLOCKED and r.distribution
    }
    return frozenset(names | kernel.disabled)


def _claim_entry_points(state: PluginState, entry_points: Any) -> None:
    """Claim every name declared in a catalogue-style group, for its distribution."""
    for registry, group in CATALOGUE_GROUPS.items():
        for entry_point in entry_points.select(group=group):
            dist, version = distribution_of(entry_point)
            if dist is None or normalize_name(dist) in state.blocked_distributions:
                continue
            claim = Claim(dist, version, source=f"entry point {group}")
            state.claims.claim(registry, entry_point.name, claim)


def _package_owners() -> dict[str, tuple[str, str | None]]:
    """Top-level package -> (distribution, version), from the entry points we already read.

    Lets us name the distribution behind an in-process function without scanning every
    installed distribution's file list (``packages_distributions`` costs tens of ms).
    """
    owners: dict[str, tuple[str, str | None]] = {}
    if _STATE is not None:
        for record in _STATE.records:
            if record.distribution:
                top = record.entry_point.split(":")[0].split(".")[0]
                owners.setdefault(top, (record.distribution, record.version))
    return owners


def distribution_of_function(func: Any) -> tuple[str, str | None]:
    """The (distribution, version) whose code defines ``func``, by its top-level package."""
    module = str(getattr(func, "__module__", "") or "")
    top = module.split(".")[0]
    owners = _package_owners()
    if top in owners:
        return owners[top]
    dist = KNOWN_PACKAGES.get(top)
    if dist is None:
        dists = metadata.packages_distributions().get(top)
        dist = dists[0] if dists else f"module {module or '?'}"
    try:
        version: str | None = metadata.version(dist)
    except (metadata.PackageNotFoundError, ValueError):
        version = None
    return dist, version


def _claim_builtins(state: PluginState) -> None:
    """Claim names that already exist in-process (spaCy's, thinc's) for their distribution.

    So a plugin that would overwrite ``reduce_mean.v1`` is a conflict, not a silent override.
    spaCy registers its own (``spacy.*``) names lazily; it is populated first when a ``spacy.*``
    name is claimed, so spaCy's own later population cannot undo our registrations.
    """
    keys = state.claims.names()
    if any(r in ("architectures", "layers") and n.startswith("spacy.") for r, n in keys):
        spacy_registry.ensure_populated()  # every name spaCy registers lazily is "spacy.*"
    for registry, name in keys:
        reg = get_registry(registry)
        existing = catalogue.REGISTRY.get((*reg.namespace, name))
        if existing is None:
            continue
        dist, version = distribution_of_function(existing)
        state.claims.claim(registry, name, Claim(dist, version, source="built-in"))


def _mark_conflicts(state: PluginState) -> None:
    """Give every plugin taking part in a conflict the status ``conflict``."""
    for (registry, name), _ in state.conflicts().items():
        dists = {normalize_name(c.distribution) for c in state.claims.claims(registry, name)}
        for record in state.records:
            if record.status != OK:
                continue
            if record.distribution and normalize_name(record.distribution) in dists:
                record.status = CONFLICT


def _conflict_raiser(registry: str, name: str, claimants: list[Claim]) -> Callable[..., Any]:
    """What a conflicted spaCy/thinc name resolves to for code that bypasses ``get``."""

    def conflicted(*args: Any, **kwargs: Any) -> Any:
        raise PluginConflictError(registry, name, claimants)

    conflicted.__doc__ = f"{name!r} is provided by several distributions; see PluginConflictError."
    return conflicted


def _set(state: PluginState, registry: str, name: str, func: Any) -> None:
    """Register ``func``, remembering what it replaces so reload can restore it."""
    reg = get_registry(registry)
    key = (*reg.namespace, name)
    if key in catalogue.REGISTRY and key not in state.replaced and key not in state.registered:
        state.replaced[key] = catalogue.REGISTRY[key]
    reg.register(name, func=func)
    state.registered[key] = func


def _register(state: PluginState) -> None:
    """Register every unconflicted hook name; guard every conflicted one."""
    conflicts = state.conflicts()
    for item in state.provided:
        if (item.registry, item.name) not in conflicts:
            _set(state, item.registry, item.name, item.func)
    for (registry, name), claimants in conflicts.items():
        reg = get_registry(registry)
        guard_registry(reg, registry).conflicts[name] = claimants
        _remember_guard(state, registry)
        if registry in ("layers", "architectures"):
            _set(state, registry, name, _conflict_raiser(registry, name, claimants))


def _remember_guard(state: PluginState, registry: str) -> None:
    if registry not in state.guarded:
        state.guarded.append(registry)


def _install_guards(state: PluginState, entry_points: Any) -> None:
    """Placeholders for missing first-party names; ignore blocked distributions' entry points."""
    for (registry, name), dist in FIRST_PARTY.items():
        if registry not in ("architectures", "layers") or (registry, name) in state.claims:
            continue
        reg = get_registry(registry)
        if (*reg.namespace, name) in catalogue.REGISTRY:
            continue
        guard_registry(reg, registry).missing[name] = dist
        state.placeholders[(registry, name)] = dist
        _remember_guard(state, registry)
    if not state.blocked_distributions:
        return
    for registry, group in CATALOGUE_GROUPS.items():
        owners = {distribution_of(ep)[0] for ep in entry_points.select(group=group)}
        if any(o and normalize_name(o) in state.blocked_distributions for o in owners):
            guard_registry(
                get_registry(registry), registry
            ).blocked_distributions = state.blocked_distributions
            _remember_guard(state, registry)


def _record_provides(state: PluginState, entry_points: Any) -> None:
    """Fill each record's ``provides`` from its hooks and its distribution's entry points."""
    for item in state.provided:
        item.record.add_provided(item.registry, item.name)
    by_dist: dict[str, list[PluginRecord]] = {}
    for record in state.records:
        if record.distribution and record.status != BLOCKED:
            by_dist.setdefault(normalize_name(record.distribution), []).append(record)
    if not by_dist:
        return
    for registry, group in CATALOGUE_GROUPS.items():
        for entry_point in entry_points.select(group=group):
            dist = distribution_of(entry_point)[0]
            for record in by_dist.get(normalize_name(dist or ""), []):
                record.add_provided(registry, entry_point.name)


def _undo(state: PluginState) -> None:
    """Remove a previous round's registrations and guards (for ``reload``)."""
    for key, func in state.registered.items():
        if catalogue.REGISTRY.get(key) is func:
            if key in state.replaced:
                catalogue.REGISTRY[key] = state.replaced[key]
            else:
                del catalogue.REGISTRY[key]
    for registry in state.guarded:
        guard_registry(get_registry(registry), registry).clear()


__all__ = [
    "CATALOGUE_GROUPS",
    "DISABLE_ENV",
    "GROUP",
    "STRICT_ENV",
    "PluginState",
    "distribution_of_function",
    "distribution_problem",
    "ensure_no_spacy_transformers",
    "failed_plugin_records",
    "hook_result_problem",
    "installed_spacy_transformers",
    "load_plugins",
    "plugin_records",
    "plugin_state",
    "providers",
]
