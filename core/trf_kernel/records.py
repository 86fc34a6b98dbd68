"""What the kernel knows about each discovered plugin, whether it loaded or not.

A record exists for every entry point of the group, so listings can show blocked and broken
plugins from their metadata alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import PluginLoadError

OK = "ok"
FAILED = "failed"
BLOCKED = "blocked"
CONFLICT = "conflict"
STATUSES = (OK, FAILED, BLOCKED, CONFLICT)
"""Every status a record can have; a host marks ``conflict`` after consulting its claim table."""


@dataclass
class PluginRecord:
    """One discovered plugin: its metadata, what it did and what went wrong."""

    name: str
    """The entry point's name, which is the plugin's name (and what blocking matches)."""
    entry_point: str
    """The entry point's value (``module`` or ``module:object``)."""
    group: str
    distribution: str | None = None
    version: str | None = None
    status: str = OK
    hooks: list[str] = field(default_factory=list)
    """Names of the hooks the plugin implements (known once it was imported)."""
    provides: dict[str, list[str]] = field(default_factory=dict)
    """Registry name -> names the plugin provides; filled in by the host."""
    error: PluginLoadError | None = None
    plugin: Any = None
    """The loaded plugin object (usually a module); None when blocked or not importable."""

    @property
    def loaded(self) -> bool:
        """Whether the plugin's hooks may be called (it is neither failed nor blocked)."""
        return self.status in (OK, CONFLICT) and self.plugin is not None

    @property
    def label(self) -> str:
        """``name (distribution version)``: how messages name a plugin."""
        dist = self.distribution or "unknown distribution"
        version = f" {self.version}" if self.version else ""
        return f"{self.name!r} (distribution {dist}{version})"

    def add_provided(self, registry: str, name: str) -> None:
        """Note that the plugin provides ``name`` in ``registry`` (kept sorted, no duplicates)."""
        names = self.provides.setdefault(registry, [])
        if name not in names:
            names.append(name)
            names.sort()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready view listings print."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "hooks": sorted(self.hooks),
            "provides": {reg: list(names) for reg, names in sorted(self.provides.items())},
            "error": None if self.error is None else self.error.message,
        }
