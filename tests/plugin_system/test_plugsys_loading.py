"""Good and broken plugins, loaded for real from installed distributions in a fresh process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from plugsys_dists import (
    BAD_RETURN,
    BAD_SIGNATURE,
    BROKEN_IMPORT,
    GOOD,
    ORDERED_HOOKS,
    RAISING_HOOK,
)
from plugsys_factory import run_json, run_python

BROKEN = [BROKEN_IMPORT, RAISING_HOOK, BAD_SIGNATURE, BAD_RETURN, ORDERED_HOOKS]

PROBE = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import trf_core
    again = trf_core.load_plugins()
from trf_kernel import PluginLoadWarning
import spacy
from spacy.util import registry

out = {}
out["warnings"] = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
out["idempotent"] = again is trf_core.load_plugins()
out["records"] = {r.name: r.to_dict() for r in trf_core.load_plugins().records}
out["loaded_modules"] = sorted(m for m in sys.modules if m.startswith("kt_"))
nlp = spacy.blank("en")
doc = nlp("Hello big world")
out["blank_ok"] = [t.text for t in doc]
resolved = registry.resolve({
    "g": {"@span_getters": "kt.whole_doc.v1"},
    "f": {"@span_getters": "kt.first_token.v1"},
    "s": {"@annotation_setters": "kt.count.v1", "key": "n"},
    "p": {"@layers": "kt.sum_pool.v1"},
})
out["whole"] = [[s.text for s in spans] for spans in resolved["g"]([doc])]
out["first"] = [[s.text for s in spans] for spans in resolved["f"]([doc])]
out["pool"] = resolved["p"].name
for key, (reg, name) in {
    "unknown": ("span_getters", "kt.no_such_getter.v1"),
    "from_failed": ("annotation_setters", "kt.fine_setter.v1"),
    "ordered_setter": ("annotation_setters", "kt.ordered_setter.v1"),
}.items():
    try:
        registry.get(reg, name)
        out[key] = None
    except Exception as exc:
        out[key] = [type(exc).__name__, str(exc)]
try:
    nlp.add_pipe("transformer", config={
        "model": {"@architectures": "trf.ToyTransformer.v1",
                  "get_spans": {"@span_getters": "kt.whole_doc.v1"}},
        "annotation_setter": {"@annotation_setters": "kt.count.v1", "key": "n_spans"},
    })
    nlp.initialize()
    docs = list(nlp.pipe(["Hello big world", "Another one here ."]))
    out["pipeline"] = [d.user_data.get("n_spans") for d in docs]
except Exception as exc:
    out["pipeline"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe(sites: dict[str, Path], workdir: Path) -> dict[str, Any]:
    paths = [sites[d.name] for d in [GOOD, *BROKEN]]
    return run_json(PROBE, paths, cwd=workdir)


def test_good_plugin_resolves_from_a_config(probe: dict[str, Any]) -> None:
    assert probe["whole"] == [["Hello big world"]]
    assert probe["first"] == [["Hello"]]
    assert probe["pool"] == "reduce_sum"
    record = probe["records"]["kt_good"]
    assert record["status"] == "ok"
    assert (record["distribution"], record["version"]) == ("kt-good", "1.2.3")
    assert record["hooks"] == ["trf_annotation_setters", "trf_poolers", "trf_span_getters"]
    assert record["provides"] == {
        "annotation_setters": ["kt.count.v1"],
        "layers": ["kt.sum_pool.v1"],
        "span_getters": ["kt.first_token.v1", "kt.whole_doc.v1"],
    }


def test_good_plugin_works_in_a_full_pipeline(probe: dict[str, Any]) -> None:
    # The plugin's span getter feeds the toy backend; its annotation setter sees the batch.
    assert probe["pipeline"] == [1, 1]


@pytest.mark.parametrize("dist", BROKEN, ids=lambda d: d.name)
def test_broken_plugin_is_recorded_with_its_distribution(probe: dict[str, Any], dist) -> None:
    record = probe["records"][dist.package]
    assert record["status"] == "failed"
    assert record["distribution"] == dist.name
    assert record["version"] == dist.version
    assert record["provides"] == {}
    assert dist.name in record["error"] and dist.version in record["error"]


@pytest.mark.parametrize("dist", BROKEN, ids=lambda d: d.name)
def test_one_warning_per_broken_plugin(probe: dict[str, Any], dist) -> None:
    mine = [w for w in probe["warnings"] if f"'{dist.package}'" in w]
    assert len(mine) == 1
    assert dist.name in mine[0] and dist.version in mine[0]
    assert f"{dist.package}.plugin" in mine[0]  # the entry point's value
    assert "TRF_DISABLE_PLUGINS" in mine[0]


def test_no_warning_for_good_plugins_and_none_on_reload(probe: dict[str, Any]) -> None:
    assert len(probe["warnings"]) == len(BROKEN)
    assert probe["idempotent"] is True


def test_errors_say_what_broke(probe: dict[str, Any]) -> None:
    errors = {name: rec["error"] for name, rec in probe["records"].items()}
    assert "ModuleNotFoundError" in errors["kt_broken_import"]
    assert "kt_module_that_does_not_exist" in errors["kt_broken_import"]
    assert "kt hook exploded" in errors["kt_raising_hook"]
    assert "trf_span_getters" in errors["kt_raising_hook"]
    bad_sig = errors["kt_bad_signature"]
    assert "trf_span_getters" in bad_sig and "window" in bad_sig
    assert "trf_span_getters()" in bad_sig  # the signature the hookspec expects
    assert "dict of registry name -> configure function" in errors["kt_bad_return"]


def test_hookimpls_asking_for_pluggy_call_order_or_wrappers_are_refused(
    probe: dict[str, Any],
) -> None:
    """trf-core calls each plugin's hook on its own (fault isolation, names tied to their
    plugin), where tryfirst/trylast and hook wrappers mean nothing: the plugin is refused at
    load with an error naming it, each hook and the option, and provides nothing."""
    record = probe["records"]["kt_ordered_hooks"]
    assert record["status"] == "failed" and record["provides"] == {}
    error = record["error"]
    assert "failed while validating" in error
    assert "tryfirst=True from trf_span_getters" in error
    assert "wrapper=True from trf_poolers" in error
    # its one plain hook does not slip through either
    assert probe["ordered_setter"][0] == "UnknownRegistryNameError"


def test_broken_plugins_do_not_break_spacy(probe: dict[str, Any]) -> None:
    assert probe["blank_ok"] == ["Hello", "big", "world"]


def test_a_failed_plugin_provides_nothing(probe: dict[str, Any]) -> None:
    # kt-raising-hook's annotation-setter hook worked, but the plugin failed as a whole.
    kind, message = probe["from_failed"]
    assert kind == "UnknownRegistryNameError"
    assert "kt-raising-hook" in message


def test_unknown_name_lists_names_and_failed_plugins(probe: dict[str, Any]) -> None:
    kind, message = probe["unknown"]
    assert kind == "UnknownRegistryNameError"
    assert "kt.whole_doc.v1" in message  # what exists
    for dist in BROKEN:
        assert dist.name in message  # every plugin that failed to load


def test_strict_mode_raises_naming_plugin_and_distribution(
    sites: dict[str, Path], workdir: Path
) -> None:
    paths = [sites[GOOD.name], sites[BROKEN_IMPORT.name]]
    proc = run_python("import trf_core", paths, env={"TRF_STRICT_PLUGINS": "1"}, cwd=workdir)
    assert proc.returncode != 0
    assert "PluginLoadError" in proc.stderr
    assert "'kt_broken_import'" in proc.stderr and "kt-broken-import 0.0.1" in proc.stderr
    assert "kt_module_that_does_not_exist" in proc.stderr  # the chained cause


def test_blocked_plugin_is_never_imported(sites: dict[str, Path], workdir: Path) -> None:
    code = """
    import json, sys, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import trf_core
    records = {r.name: r.to_dict() for r in trf_core.load_plugins().records}
    print(json.dumps({
        "records": records,
        "modules": sorted(m for m in sys.modules if m.startswith("kt_")),
        "warnings": [str(w.message) for w in caught if "kt_" in str(w.message)],
    }))
    """
    paths = [sites[GOOD.name], sites[BROKEN_IMPORT.name]]
    env = {"TRF_DISABLE_PLUGINS": " kt_broken_import , kt_good"}
    out = run_json(code, paths, env=env, cwd=workdir)
    assert out["records"]["kt_broken_import"]["status"] == "blocked"
    assert out["records"]["kt_good"]["status"] == "blocked"
    assert out["records"]["kt_good"]["provides"] == {}
    assert out["modules"] == []
    assert out["warnings"] == []
