"""What the last round of plugin loading reported, for the errors that name a missing provider.

The loader (:mod:`trf_core.plugins.loader`) tells this module which records it is filling; the
registry guards (:mod:`trf_core.plugins.registry`) read them to say, when a name cannot be resolved,
which plugin failed to load or which distribution to install. A leaf: it imports no other trf-core
module, so loader and registry both import it and not each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

from trf_kernel import BLOCKED, FAILED, PluginRecord, normalize_name

__all__ = [
    "DISABLE_ENV",
    "STRICT_ENV",
    "distribution_problem",
    "failed_plugin_records",
    "failed_plugins_text",
    "forget",
    "track",
]

STRICT_ENV = "TRF_STRICT_PLUGINS"
DISABLE_ENV = "TRF_DISABLE_PLUGINS"

_records: Sequence[PluginRecord] | None = None


def track(records: Sequence[PluginRecord]) -> None:
    """Report from ``records`` (the loading kernel's list, filled as it loads) from now on."""
    global _records
    _records = records


def forget() -> None:
    """Report nothing (plugins are being reloaded, or their loading failed)."""
    global _records
    _records = None


def failed_plugin_records() -> list[PluginRecord]:
    """Plugins that failed to load (empty before plugins are loaded; never triggers a load)."""
    return [r for r in _records or () if r.status == FAILED]


def failed_plugins_text() -> str:
    """One sentence listing plugins that failed to load (empty when none did)."""
    failed = failed_plugin_records()
    if not failed:
        return ""
    parts = [f"{r.label}: {r.error.message if r.error else 'unknown error'}" for r in failed]
    return " Plugins that failed to load (one of them may provide it): " + "; ".join(parts)


def distribution_problem(distribution: str) -> str:
    """Why a distribution provides nothing: installed-but-failed, blocked, or not installed."""
    wanted = normalize_name(distribution)
    for record in _records or ():
        if record.distribution and normalize_name(record.distribution) == wanted:
            if record.status == BLOCKED:
                return f"{distribution} is installed but blocked by {DISABLE_ENV}"
            if record.status == FAILED:
                return f"{distribution} is installed but failed to load"
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return f"{distribution} is not installed: `pip install {distribution}`"
    return f"{distribution} is installed but does not provide it (is it too old?)"
