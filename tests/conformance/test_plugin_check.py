"""check_plugin: a plugin module's hookimpls checked the way ``import trf_core`` loads them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from trf_core import hookimpl
from trf_core.testing.checks import ContractViolation, check_plugin


def _whole_docs() -> Any:
    return lambda docs: [[doc[:]] for doc in docs]


class Good:
    @hookimpl
    def trf_span_getters(self) -> dict[str, Any]:
        return {"acme.whole.v1": _whole_docs, "acme.also_whole.v1": _whole_docs}

    @hookimpl
    def trf_annotation_setters(self) -> dict[str, Any]:
        return {"acme.nothing.v1": lambda: lambda docs, batch: None}


class AsksToGoFirst:
    @hookimpl(tryfirst=True)
    def trf_span_getters(self) -> dict[str, Any]:
        return {"acme.first.v1": _whole_docs}


class Wraps:
    @hookimpl(wrapper=True)
    def trf_poolers(self) -> Any:
        names = yield
        return names


class ReturnsAList:
    @hookimpl
    def trf_poolers(self) -> list[str]:
        return ["acme.pool.v1"]


class Raises:
    @hookimpl
    def trf_span_getters(self) -> dict[str, Any]:
        raise RuntimeError("acme exploded")


class Misspelt:
    @hookimpl
    def trf_span_getter(self) -> dict[str, Any]:
        return {}


def test_a_good_plugin_returns_what_it_registers_where() -> None:
    assert check_plugin(Good(), "acme") == {
        "annotation_setters": ["acme.nothing.v1"],
        "span_getters": ["acme.also_whole.v1", "acme.whole.v1"],
    }


def test_a_module_like_object_works_too() -> None:
    module = SimpleNamespace(trf_span_getters=Good.trf_span_getters.__get__(Good()))
    assert check_plugin(module) == {"span_getters": ["acme.also_whole.v1", "acme.whole.v1"]}


@pytest.mark.parametrize(
    "plugin, says",
    [
        (AsksToGoFirst(), "tryfirst=True from trf_span_getters"),
        (Wraps(), "wrapper=True from trf_poolers"),
        (ReturnsAList(), "must return a dict of registry name -> configure function"),
        (Raises(), "acme exploded"),
        (Misspelt(), "unknown hook(s) trf_span_getter"),
    ],
    ids=["tryfirst", "wrapper", "bad-return", "raises", "unknown-hook"],
)
def test_what_trf_core_refuses_at_load_is_a_contract_violation(plugin: Any, says: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        check_plugin(plugin, "acme")
    assert says in str(caught.value)
    assert "'acme'" in str(caught.value)
