"""Who provides each factory and ``@`` name of a config: a distribution, two (a conflict), none.

Read without resolving anything (so without building a model): by ``trf-core plugins --config``
and by the ``transformer`` component's initialize, which records the distributions a pipeline
needs in its meta (:mod:`trf_core.plugins.requirements`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spacy.language import Language
from spacy.util import registry as spacy_registry
from trf_kernel import distribution_of

from .loader import _entry_points, distribution_of_function, plugin_state
from .registry import first_party_distribution

__all__ = [
    "config_factories",
    "config_providers",
    "config_references",
    "factory_provider",
    "provider_of",
]

OK = "ok"
CONFLICT = "conflict"
MISSING = "missing"


def config_providers(config: Any) -> list[dict[str, Any]]:
    """Every factory and ``@`` reference of ``config``: its section, name, status and provider.

    ``status`` is ``ok`` (``distribution`` provides it), ``conflict`` (several do; ``distribution``
    names them all, for display) or ``missing`` (``install`` names a first-party distribution).
    """
    references = []
    for section, factory in config_factories(config):
        references.append({"section": section, **factory_provider(factory)})
    for section, registry, name in config_references(config):
        references.append({"section": section, **provider_of(registry, name)})
    return references


def config_references(config: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str, str]]:
    """(section path, registry, name) of every ``@`` reference, depth first, in file order."""
    if not isinstance(config, dict):
        return
    for key, value in config.items():
        if isinstance(key, str) and key.startswith("@") and isinstance(value, str):
            yield ".".join(path), key[1:], value
    for key, value in config.items():
        if isinstance(value, dict):
            yield from config_references(value, (*path, str(key)))


def config_factories(config: Any) -> Iterator[tuple[str, str]]:
    """(section path, factory name) of every pipeline component built from a factory."""
    components = config.get("components", {}) if isinstance(config, dict) else {}
    for name, block in components.items():
        if isinstance(block, dict) and isinstance(block.get("factory"), str):
            yield f"components.{name}", block["factory"]


def provider_of(registry: str, name: str) -> dict[str, Any]:
    """Who provides ``name`` in ``registry``: status ``ok``, ``conflict`` or ``missing``."""
    state = plugin_state()
    found: dict[str, Any] = {"registry": registry, "name": name}
    claimants = state.claims.claimants(registry, name)
    if len(claimants) > 1:
        labels = [c.label for c in claimants]
        return {**found, "status": CONFLICT, "distribution": " and ".join(labels)}
    if claimants:
        claim = claimants[0]
        return {**found, "status": OK, "distribution": claim.distribution}
    if (registry, name) not in state.placeholders:
        try:
            func = spacy_registry.get(registry, name)
        except Exception:
            func = None
        if func is not None:
            dist = distribution_of_function(func)[0]
            return {**found, "status": OK, "distribution": dist}
    hint = first_party_distribution(registry, name)
    return {**found, "status": MISSING, "distribution": None, "install": hint}


def factory_provider(name: str) -> dict[str, Any]:
    """Who provides the pipeline-component factory ``name``."""
    found: dict[str, Any] = {"registry": "factories", "name": name}
    for entry_point in _entry_points(refresh=False).select(group="spacy_factories"):
        if entry_point.name == name:
            return {**found, "status": OK, "distribution": distribution_of(entry_point)[0]}
    try:  # spaCy >= 3.8 registers its built-in factories lazily, when a Language is made
        from spacy.pipeline.factories import register_factories

        register_factories()
    except ImportError:  # older spaCy registered them at import
        pass
    if Language.has_factory(name):
        dist = _factory_distribution(name)
        return {**found, "status": OK, "distribution": dist}
    return {**found, "status": MISSING, "distribution": None, "install": None}


def _factory_distribution(name: str) -> str:
    for key in (Language.get_factory_name(name), name):
        if key in spacy_registry.factories:
            return distribution_of_function(spacy_registry.factories.get(key))[0]
    return "spacy"
