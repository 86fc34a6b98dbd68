"""trf_kernel on its own: a generic hookspec, in-memory entry points, no spaCy involved."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy
import pytest
from trf_kernel import PluginKernel, PluginLoadError, PluginLoadWarning

hookspec = pluggy.HookspecMarker("ktest")
hookimpl = pluggy.HookimplMarker("ktest")


class Specs:
    @hookspec
    def ktest_names(self) -> dict[str, Any]:  # type: ignore[empty-body]
        """Names this plugin provides."""

    @hookspec
    def ktest_scaled(self, factor: int) -> int:  # type: ignore[empty-body]
        """A hook with an argument."""


@dataclass
class FakeDist:
    name: str
    version: str

    @property
    def metadata(self) -> dict[str, str]:
        return {"Name": self.name, "Version": self.version}


@dataclass
class FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint; counts how often it is loaded."""

    name: str
    loader: Callable[[], Any]
    dist: FakeDist | None = None
    value: str = ""
    group: str = "ktest"
    loads: list[int] = field(default_factory=list)

    def load(self) -> Any:
        self.loads.append(1)
        return self.loader()


class FakeEntryPoints:
    def __init__(self, *entry_points: FakeEntryPoint) -> None:
        self.entry_points = entry_points

    def select(self, group: str) -> list[FakeEntryPoint]:
        return [ep for ep in self.entry_points if ep.group == group]


class Good:
    @hookimpl
    def ktest_names(self) -> dict[str, Any]:
        return {"good.v1": len}

    @hookimpl
    def ktest_scaled(self, factor: int) -> int:
        return 2 * factor


class Raising:
    @hookimpl
    def ktest_names(self) -> dict[str, Any]:
        raise RuntimeError("boom")


class WrongSignature:
    @hookimpl
    def ktest_names(self, extra):  # type: ignore[no-untyped-def]
        return {}


class UnknownHook:
    @hookimpl
    def ktest_nmaes(self) -> dict[str, Any]:
        return {}


def fail_import() -> Any:
    raise ImportError("no module named heavy_dependency")


def entry(name: str, loader: Callable[[], Any], dist: str | None = None) -> FakeEntryPoint:
    fake_dist = FakeDist(dist, "1.0") if dist else None
    return FakeEntryPoint(name, loader, fake_dist, value=f"{name}.plugin")


def make_kernel(*eps: FakeEntryPoint, **environ: str) -> PluginKernel:
    return PluginKernel(
        "ktest",
        Specs,
        strict_env="KT_STRICT",
        disable_env="KT_DISABLE",
        entry_points=FakeEntryPoints(*eps),
        environ=environ,
    )


def load_quietly(kernel: PluginKernel) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernel.load()
    return [w for w in caught if issubclass(w.category, PluginLoadWarning)]


def test_good_plugin_loads_with_metadata() -> None:
    kernel = make_kernel(entry("good", Good, "good-dist"))
    assert load_quietly(kernel) == []
    (record,) = kernel.records
    assert (record.name, record.distribution, record.version) == ("good", "good-dist", "1.0")
    assert (record.status, record.hooks) == ("ok", ["ktest_names", "ktest_scaled"])
    assert kernel.call_hook(record, "ktest_scaled", factor=21) == (True, 42)


def test_import_error_fails_only_that_plugin() -> None:
    kernel = make_kernel(entry("bad", fail_import, "bad-dist"), entry("good", Good, "good-dist"))
    caught = load_quietly(kernel)
    bad, good = kernel.records
    assert (bad.status, good.status) == ("failed", "ok")
    assert len(caught) == 1
    message = str(caught[0].message)
    for part in ("'bad'", "bad-dist 1.0", "bad.plugin", "heavy_dependency", "KT_DISABLE=bad"):
        assert part in message
    assert bad.error is not None and isinstance(bad.error.__cause__, ImportError)
    assert kernel.failed() == [bad]


def test_raising_hook_fails_and_unregisters_the_plugin() -> None:
    kernel = make_kernel(entry("raising", Raising, "r-dist"))
    kernel.load()
    (record,) = kernel.records
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert kernel.call_hook(record, "ktest_names") == (False, None)
    assert record.status == "failed" and "boom" in str(caught[0].message)
    assert kernel.manager.get_plugin("raising") is None
    assert kernel.call_hook(record, "ktest_names") == (False, None)  # not called again


def test_wrong_signature_names_plugin_hook_and_signatures() -> None:
    kernel = make_kernel(entry("wrong", WrongSignature, "w-dist"))
    load_quietly(kernel)
    (record,) = kernel.records
    assert record.status == "failed" and record.error is not None
    message = record.error.message
    assert "'wrong'" in message and "ktest_names" in message and "extra" in message
    assert "ktest_names()" in message  # what the spec expects
    assert isinstance(record.error.__cause__, pluggy.PluginValidationError)


def test_unknown_hook_is_a_validation_failure() -> None:
    kernel = make_kernel(entry("typo", UnknownHook, "t-dist"))
    load_quietly(kernel)
    (record,) = kernel.records
    assert record.status == "failed" and record.error is not None
    assert "ktest_nmaes" in record.error.message and "ktest_names" in record.error.message


@pytest.mark.parametrize("value", ["1", "true", "YES", " yes "])
def test_strict_mode_raises_naming_plugin_and_distribution(value: str) -> None:
    kernel = make_kernel(entry("bad", fail_import, "bad-dist"), KT_STRICT=value)
    with pytest.raises(PluginLoadError) as info:
        kernel.load()
    assert (info.value.plugin, info.value.distribution) == ("bad", "bad-dist")
    assert "'bad'" in str(info.value) and "bad-dist" in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)


@pytest.mark.parametrize("value", ["0", "", "no", "on"])
def test_strict_mode_off_values_only_warn(value: str) -> None:
    kernel = make_kernel(entry("bad", fail_import, "bad-dist"), KT_STRICT=value)
    assert len(load_quietly(kernel)) == 1


@pytest.mark.parametrize("blocked", ["good", "GOOD-DIST", "other, good_dist"])
def test_blocked_plugins_are_never_imported(blocked: str) -> None:
    good = entry("good", Good, "good-dist")
    kernel = make_kernel(good, KT_DISABLE=blocked)
    assert load_quietly(kernel) == []
    assert kernel.records[0].status == "blocked"
    assert good.loads == []
    assert kernel.manager.get_plugins() == set()


def test_load_is_idempotent() -> None:
    good = entry("good", Good, "good-dist")
    kernel = make_kernel(good)
    first = kernel.load()
    assert kernel.load() is first and len(good.loads) == 1


def test_duplicate_plugin_names_fail_the_second() -> None:
    kernel = make_kernel(entry("same", Good, "dist-a"), entry("same", Good, "dist-b"))
    load_quietly(kernel)
    first, second = kernel.records
    assert (first.status, second.status) == ("ok", "failed")
    assert second.error is not None and "dist-a" in second.error.message


def test_record_to_dict_is_the_listing_row() -> None:
    kernel = make_kernel(entry("good", Good, "good-dist"))
    kernel.load()
    record = kernel.records[0]
    record.add_provided("things", "b.v1")
    record.add_provided("things", "a.v1")
    record.add_provided("things", "a.v1")
    assert record.to_dict() == {
        "name": "good",
        "distribution": "good-dist",
        "version": "1.0",
        "status": "ok",
        "hooks": ["ktest_names", "ktest_scaled"],
        "provides": {"things": ["a.v1", "b.v1"]},
        "error": None,
    }


def test_kernel_imports_nothing_of_spacy_or_transformers() -> None:
    code = (
        "import sys, trf_kernel\n"
        "heavy = {'spacy', 'thinc', 'torch', 'transformers', 'trf_core', 'catalogue'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class Ordered:
    @hookimpl(tryfirst=True)
    def ktest_names(self) -> dict[str, Any]:
        return {"ordered.v1": len}


class LastAndWrapped:
    @hookimpl(trylast=True)
    def ktest_names(self) -> dict[str, Any]:
        return {"last.v1": len}

    @hookimpl(wrapper=True)
    def ktest_scaled(self, factor: int) -> Any:
        result = yield
        return result + 1


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def ktest_names(self) -> Any:
        yield


@pytest.mark.parametrize(
    "plugin, refused",
    [
        (Ordered, ["ktest_names with tryfirst=True"]),
        (LastAndWrapped, ["trylast=True from ktest_names", "wrapper=True from ktest_scaled"]),
        (OldStyleWrapper, ["ktest_names with hookwrapper=True"]),
    ],
)
def test_hookimpls_asking_for_call_order_or_wrapping_are_refused_by_name(
    plugin: type, refused: list[str]
) -> None:
    """call_hook calls one plugin at a time, where tryfirst/trylast and wrappers mean nothing:
    such a plugin fails validation, named with its hook and option; the others load."""
    kernel = make_kernel(entry("asks", plugin, "asks-dist"), entry("good", Good, "good-dist"))
    caught = load_quietly(kernel)
    asks, good = kernel.records
    assert (asks.status, good.status) == ("failed", "ok")
    assert asks.error is not None and asks.error.stage == "validating"
    message = str(caught[0].message)
    assert "'asks'" in message and "asks-dist" in message
    for part in refused:
        assert part in message
    assert kernel.manager.get_plugin("asks") is None
    assert kernel.call_hook(good, "ktest_names") == (True, {"good.v1": len})


def test_every_combined_call_option_is_checked() -> None:
    """The refused options are exactly pluggy's ordering and wrapper options."""
    from trf_kernel import COMBINED_CALL_OPTIONS

    assert set(COMBINED_CALL_OPTIONS) == {"tryfirst", "trylast", "wrapper", "hookwrapper"}
    assert set(COMBINED_CALL_OPTIONS) <= set(pluggy.HookimplOpts.__annotations__)
