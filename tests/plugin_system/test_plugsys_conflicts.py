"""Two distributions providing one name: recorded at load, raised only when resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from plugsys_dists import (
    CONFLICT_A,
    CONFLICT_B,
    ENTRY_POINT_CLAIMANT,
    GOOD,
    HOOK_CLAIMANT,
    REDUCE_MEAN,
)
from plugsys_factory import run_json

PROBE = """
import json
import trf_core
from spacy.util import registry
from thinc.api import registry as thinc_registry

def attempt(fn):
    try:
        value = fn()
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
    if isinstance(value, str):
        return ["ok", value]
    return ["ok", getattr(value, "provider", None) or getattr(value, "__module__", None)]

def resolve(block):
    return lambda: registry.resolve({"x": block})["x"]

out = {
    "records": {r.name: r.to_dict() for r in trf_core.load_plugins().records},
    "shared_get": attempt(lambda: registry.get("span_getters", "kt.shared.v1")),
    "shared_own_get": attempt(lambda: trf_core.registry.span_getters.get("kt.shared.v1")),
    "shared_config": attempt(resolve({"@span_getters": "kt.shared.v1"})),
    "only_a": attempt(resolve({"@span_getters": "kt.only_kt_conflict_a.v1"})),
    "shared_ep": attempt(lambda: registry.get("span_getters", "kt.shared_ep.v1")),
    "first_token": attempt(lambda: registry.get("span_getters", "kt.first_token.v1")),
    "reduce_mean_config": attempt(lambda: registry.resolve(
        {"x": {"@layers": "reduce_mean.v1"}})["x"].name),
    "reduce_mean_thinc": attempt(lambda: thinc_registry.layers.get("reduce_mean.v1")),
    "reduce_max": attempt(lambda: registry.resolve({"x": {"@layers": "reduce_max.v1"}})["x"]),
}
print(json.dumps(out))
"""

DISTS = [CONFLICT_A, CONFLICT_B, ENTRY_POINT_CLAIMANT, HOOK_CLAIMANT, REDUCE_MEAN, GOOD]


@pytest.fixture(scope="module")
def conflicted(sites: dict[str, Path], workdir: Path) -> dict[str, Any]:
    return run_json(PROBE, [sites[d.name] for d in DISTS], cwd=workdir)


@pytest.fixture(scope="module")
def resolved(sites: dict[str, Path], workdir: Path) -> dict[str, Any]:
    # One claimant of each conflict blocked: by plugin name, and by distribution name.
    blocked = "kt_conflict_b,kt_reduce_mean,kt-ep-claimant"
    env = {"TRF_DISABLE_PLUGINS": blocked}
    return run_json(PROBE, [sites[d.name] for d in DISTS], env=env, cwd=workdir)


@pytest.mark.parametrize("key", ["shared_get", "shared_own_get", "shared_config"])
def test_resolving_a_conflicted_name_raises_naming_both(conflicted: dict, key: str) -> None:
    kind, message = conflicted[key]
    assert kind == "PluginConflictError"
    assert "kt-conflict-a 1.0.0" in message and "kt-conflict-b 2.0.0" in message
    assert "'span_getters'" in message and "'kt.shared.v1'" in message
    assert "uninstall" in message and "TRF_DISABLE_PLUGINS" in message


def test_conflicts_are_listed_not_raised_at_load(conflicted: dict) -> None:
    records = conflicted["records"]
    for name in ("kt_conflict_a", "kt_conflict_b", "kt_hook_claimant", "kt_reduce_mean"):
        assert records[name]["status"] == "conflict", name
        assert records[name]["error"] is None
    assert records["kt_good"]["status"] == "ok"


def test_unconflicted_names_of_a_conflicted_plugin_still_work(conflicted: dict) -> None:
    assert conflicted["only_a"] == ["ok", "kt-conflict-a"]


def test_hook_versus_catalogue_entry_point_is_a_conflict(conflicted: dict) -> None:
    kind, message = conflicted["shared_ep"]
    assert kind == "PluginConflictError"
    assert "kt-ep-claimant 3.1.4" in message and "kt-hook-claimant 0.9.0" in message


def test_one_distribution_declaring_a_name_both_ways_is_not_a_conflict(conflicted: dict) -> None:
    assert conflicted["first_token"] == ["ok", "kt_good.plugin"]


def test_claiming_a_thinc_builtin_is_a_conflict(conflicted: dict) -> None:
    for key in ("reduce_mean_config", "reduce_mean_thinc"):
        kind, message = conflicted[key]
        assert kind == "PluginConflictError", key
        assert "kt-reduce-mean 0.5.0" in message and "thinc" in message
    assert conflicted["reduce_max"][0] == "ok"  # other built-ins are untouched


def test_blocking_one_claimant_resolves_each_conflict(resolved: dict) -> None:
    assert resolved["shared_config"] == ["ok", "kt-conflict-a"]
    assert resolved["shared_get"] == ["ok", "kt_conflict_a.plugin"]  # the configure function
    assert resolved["reduce_mean_config"] == ["ok", "reduce_mean"]  # thinc's own again
    assert resolved["shared_ep"] == ["ok", "kt_hook_claimant.plugin"]


def test_blocked_claimants_are_listed_as_blocked(resolved: dict) -> None:
    records = resolved["records"]
    assert records["kt_conflict_b"]["status"] == "blocked"
    assert records["kt_reduce_mean"]["status"] == "blocked"
    assert records["kt_conflict_a"]["status"] == "ok"
    assert records["kt_hook_claimant"]["status"] == "ok"
