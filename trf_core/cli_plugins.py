"""``trf-core plugins``: which plugins are installed, what they provide, what is broken.

Also ``--config CFG``: which installed distribution provides each ``@`` reference of a config,
and which are missing, without resolving (so without building any model).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HELP = "List installed trf-core plugins, or check which distributions a config needs."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``plugins`` options."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="CFG",
        help="list each @ reference of this config and the distribution providing it",
    )


def run(args: argparse.Namespace) -> int:
    """List plugins (exit 0), or check a config (exit 1 when a reference is missing)."""
    if args.config is not None:
        return _run_config(args.config, as_json=args.json)
    rows = plugin_rows()
    if args.json:
        print(json.dumps({"plugins": rows}, indent=2))
    else:
        print(_plugins_table(rows))
    return 0


# -- the plugin listing ------------------------------------------------------------------------


def plugin_rows() -> list[dict[str, Any]]:
    """One JSON-ready row per plugin, plus one for spacy-transformers when it is installed."""
    from .plugins import installed_spacy_transformers, plugin_records

    rows = [record.to_dict() for record in plugin_records()]
    found = installed_spacy_transformers()
    if found is not None:
        dist, version = found
        rows.append(
            {
                "name": "spacy-transformers",
                "distribution": dist,
                "version": version,
                "status": "conflict",
                "hooks": [],
                "provides": {"factories": ["transformer"]},
                "error": (
                    f"{dist} {version} is installed: it provides the 'transformer' factory too, "
                    f"so it cannot be used beside trf-core; run `pip uninstall {dist}`"
                ),
            }
        )
    return rows


def _summary(provides: dict[str, list[str]]) -> str:
    """``registry (count)`` per registry: the names themselves are listed under the table."""
    return ", ".join(f"{reg} ({len(names)})" for reg, names in provides.items()) or "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    head = "  ".join(cell.ljust(w) for cell, w in zip(header, widths)).rstrip()
    return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


def _plugins_table(rows: list[dict[str, Any]]) -> str:
    from .plugins import plugin_state

    if not rows:
        return "No trf-core plugins installed (entry-point group 'trf_core')."
    header = ["name", "distribution", "version", "status", "hooks", "provides", "error"]
    cells = [
        [
            row["name"],
            row["distribution"] or "?",
            row["version"] or "?",
            row["status"],
            ", ".join(row["hooks"]) or "-",
            _summary(row["provides"]),
            row["error"] or "",
        ]
        for row in rows
    ]
    out = [_table(header, cells)]
    details = [row for row in rows if row["provides"]]
    if details:
        out.append("\nNames provided:")
        for row in details:
            for registry, names in row["provides"].items():
                out.append(f"  {row['name']} -> {registry}: {', '.join(names)}")
    state = plugin_state()
    conflicts = state.conflicts()
    if conflicts:
        out.append("\nConflicts (resolving these names raises PluginConflictError):")
        for (registry, name), claimants in conflicts.items():
            who = " and ".join(f"{c.label} ({c.source})" for c in claimants)
            out.append(f"  {registry} {name!r}: {who}")
    if state.placeholders:
        out.append("\nFirst-party names not provided by anything installed:")
        for (registry, name), dist in sorted(state.placeholders.items()):
            out.append(f"  {registry} {name!r}: pip install {dist}")
    return "\n".join(out)


# -- config check ------------------------------------------------------------------------------


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
    from spacy.util import registry as spacy_registry

    from .plugins import distribution_of_function, plugin_state
    from .registry import first_party_distribution

    state = plugin_state()
    found: dict[str, Any] = {"registry": registry, "name": name}
    claimants = state.claims.claimants(registry, name)
    if len(claimants) > 1:
        labels = [c.label for c in claimants]
        return {**found, "status": "conflict", "distribution": " and ".join(labels)}
    if claimants:
        claim = claimants[0]
        return {**found, "status": "ok", "distribution": claim.distribution}
    if (registry, name) not in state.placeholders:
        try:
            func = spacy_registry.get(registry, name)
        except Exception:
            func = None
        if func is not None:
            dist = distribution_of_function(func)[0]
            return {**found, "status": "ok", "distribution": dist}
    hint = first_party_distribution(registry, name)
    return {**found, "status": "missing", "distribution": None, "install": hint}


def factory_provider(name: str) -> dict[str, Any]:
    """Who provides the pipeline-component factory ``name``."""
    from spacy.language import Language

    from .plugins import _entry_points

    found: dict[str, Any] = {"registry": "factories", "name": name}
    for entry_point in _entry_points(refresh=False).select(group="spacy_factories"):
        if entry_point.name == name:
            from trf_kernel import distribution_of

            return {**found, "status": "ok", "distribution": distribution_of(entry_point)[0]}
    try:  # spaCy >= 3.8 registers its built-in factories lazily, when a Language is made
        from spacy.pipeline.factories import register_factories

        register_factories()
    except ImportError:  # older spaCy registered them at import
        pass
    if Language.has_factory(name):
        dist = _factory_distribution(name)
        return {**found, "status": "ok", "distribution": dist}
    return {**found, "status": "missing", "distribution": None, "install": None}


def _factory_distribution(name: str) -> str:
    from spacy.language import Language
    from spacy.util import registry as spacy_registry

    from .plugins import distribution_of_function

    for key in (Language.get_factory_name(name), name):
        if key in spacy_registry.factories:
            return distribution_of_function(spacy_registry.factories.get(key))[0]
    return "spacy"


def check_config(path: Path) -> dict[str, Any]:
    """Every factory and ``@`` reference of the config at ``path``, and the missing ones."""
    from confection import Config

    config = Config().from_disk(path, interpolate=False)
    references = []
    for section, factory in config_factories(config):
        references.append({"section": section, **factory_provider(factory)})
    for section, registry, name in config_references(config):
        references.append({"section": section, **provider_of(registry, name)})
    missing = [ref for ref in references if ref["status"] != "ok"]
    return {"config": str(path), "references": references, "missing": missing}


def _run_config(path: Path, *, as_json: bool) -> int:
    if not path.is_file():
        print(f"No config file at {path}: pass the path of a spaCy config (.cfg).")
        return 2
    report = check_config(path)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        header = ["section", "registry", "name", "provided by"]
        cells = [
            [ref["section"], ref["registry"], ref["name"], _provided_text(ref)]
            for ref in report["references"]
        ]
        print(_table(header, cells) if cells else f"{path} references no registered function.")
        if report["missing"]:
            print("\nMissing:")
            for ref in report["missing"]:
                print(f"  {ref['registry']} {ref['name']!r}: {_provided_text(ref)}")
        else:
            print("\nEverything this config references is installed.")
    return 1 if report["missing"] else 0


def _provided_text(ref: dict[str, Any]) -> str:
    if ref["status"] == "ok":
        return str(ref["distribution"])
    if ref["status"] == "conflict":
        return f"CONFLICT: {ref['distribution']}"
    install = ref.get("install")
    return f"MISSING (pip install {install})" if install else "MISSING"
