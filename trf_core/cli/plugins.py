"""``trf-core plugins``: which plugins are installed, what they provide, what is broken.

Also ``--config CFG``: which installed distribution provides each ``@`` reference of a config,
and which are missing, without resolving (so without building any model).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..plugins.providers import (
    CONFLICT,
    OK,
    config_providers,
)

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
    from ..plugins.loader import installed_spacy_transformers, plugin_records

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
    from ..plugins.loader import plugin_state

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


def check_config(path: Path) -> dict[str, Any]:
    """Every factory and ``@`` reference of the config at ``path``, and the missing ones."""
    from confection import Config

    config = Config().from_disk(path, interpolate=False)
    references = config_providers(config)
    missing = [ref for ref in references if ref["status"] != OK]
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
    if ref["status"] == OK:
        return str(ref["distribution"])
    if ref["status"] == CONFLICT:
        return f"CONFLICT: {ref['distribution']}"
    install = ref.get("install")
    return f"MISSING (pip install {install})" if install else "MISSING"
