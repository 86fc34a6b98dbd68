"""The registries in-process: spaCy finds ours, errors keep their messages, guards guard."""

from __future__ import annotations

from collections.abc import Iterator

import catalogue
import pytest
import spacy
from spacy.util import registry as spacy_registry
from trf_kernel import Claim

import trf_core
from trf_core.contract.errors import (
    MissingDistributionError,
    PluginConflictError,
    UnknownRegistryNameError,
)
from trf_core.plugins.registry import guard_registry


@pytest.fixture
def registered() -> Iterator[str]:
    """A span getter registered with the decorator, removed again afterwards."""
    name = "kt.inprocess_getter.v1"

    @trf_core.registry.span_getters(name)
    def configure() -> object:
        return lambda docs: [[doc[:]] for doc in docs]

    yield name
    del catalogue.REGISTRY[("spacy", "span_getters", name)]


@pytest.mark.parametrize(
    "error", [PluginConflictError, UnknownRegistryNameError, MissingDistributionError]
)
def test_errors_are_not_registry_errors(error: type) -> None:
    # spaCy's registry.get catches RegistryError and replaces its message.
    assert not issubclass(error, catalogue.RegistryError)


def test_spacy_registry_holds_our_registries() -> None:
    assert spacy.registry.span_getters is trf_core.registry.span_getters  # type: ignore[attr-defined]
    assert spacy.registry.annotation_setters is trf_core.registry.annotation_setters  # type: ignore[attr-defined]
    assert "span_getters" in spacy_registry.get_registry_names()


def test_decorator_registration_resolves_through_a_config(registered: str) -> None:
    resolved = spacy_registry.resolve({"g": {"@span_getters": registered}})["g"]
    doc = spacy.blank("en")("two words")
    assert [[s.text for s in spans] for spans in resolved([doc])] == [["two words"]]


def test_unknown_name_keeps_its_message_through_spacy(registered: str) -> None:
    with pytest.raises(UnknownRegistryNameError) as info:
        spacy_registry.get("span_getters", "kt.inprocess_gettr.v1")
    message = str(info.value)
    assert "'kt.inprocess_gettr.v1'" in message
    assert registered in message  # listed as available, and suggested
    assert "Did you mean" in message


def test_unknown_first_party_name_says_which_distribution(registered: str) -> None:
    with pytest.raises(MissingDistributionError) as info:
        spacy_registry.get("span_getters", "trf.no_such_getter_for_sure.v1")
    assert info.value.distribution == "trf-span-getters"
    assert "trf-span-getters" in str(info.value)


def test_conflict_error_names_both_distributions() -> None:
    claimants = [Claim("acme-a", "1.0", plugin="acme_a"), Claim("acme-b", "2.0", plugin="acme_b")]
    message = str(PluginConflictError("layers", "acme.pool.v1", claimants))
    for part in ("acme-a 1.0", "acme-b 2.0", "'layers'", "'acme.pool.v1'", "TRF_DISABLE_PLUGINS"):
        assert part in message
    assert "pip uninstall" in message


@pytest.fixture
def foreign_registry() -> Iterator[catalogue.Registry]:
    """A plain catalogue registry standing in for spaCy's or thinc's."""
    reg = catalogue.Registry(("kt_tests", "things"), entry_points=False)
    reg.register("plain.v1", func=len)
    reg.register("fought_over.v1", func=len)
    yield reg
    for key in [k for k in catalogue.REGISTRY if k[:2] == ("kt_tests", "things")]:
        del catalogue.REGISTRY[key]


def test_guard_on_a_foreign_registry(foreign_registry: catalogue.Registry) -> None:
    guard = guard_registry(foreign_registry, "things")
    assert guard_registry(foreign_registry, "things") is guard  # installed once
    guard.conflicts["fought_over.v1"] = [Claim("x", "1"), Claim("y", "2")]
    guard.missing["first_party.v1"] = "trf-hf"
    assert foreign_registry.get("plain.v1") is len
    with pytest.raises(PluginConflictError):
        foreign_registry.get("fought_over.v1")
    with pytest.raises(MissingDistributionError, match="trf-hf"):
        foreign_registry.get("first_party.v1")
    # unknown names still raise catalogue's own error, which spaCy's fallbacks rely on
    with pytest.raises(catalogue.RegistryError):
        foreign_registry.get("nothing.v1")
    guard.clear()
    assert foreign_registry.get("fought_over.v1") is len


def test_reload_undoes_and_redoes_registrations() -> None:
    first = trf_core.load_plugins()
    if not first.provided:
        pytest.skip("no plugin providing names is installed in this environment")
    second = trf_core.load_plugins(reload=True)
    assert second is not first and trf_core.load_plugins() is second
    conflicts = second.conflicts()
    for item in second.provided:
        if (item.registry, item.name) not in conflicts:
            assert spacy_registry.get(item.registry, item.name) is item.func
