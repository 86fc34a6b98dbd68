"""The kernel's error and warning types.

A plugin that fails to load is kept as a :class:`PluginLoadError` on its record rather than
raised, so one broken distribution never breaks the program; strict mode raises the same object.
"""

from __future__ import annotations


class PluginLoadWarning(UserWarning):
    """Emitted once per plugin that failed to load (import, validation or a raising hook)."""


class PluginLoadError(Exception):
    """A plugin failed to load. Carries everything needed to find and fix the culprit.

    The original exception is chained as ``__cause__`` so tracebacks show where it failed.
    """

    def __init__(
        self,
        message: str,
        *,
        plugin: str,
        distribution: str | None,
        version: str | None,
        entry_point: str,
        stage: str,
    ) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.distribution = distribution
        self.version = version
        self.entry_point = entry_point
        self.stage = stage

    @property
    def message(self) -> str:
        """The message without the exception type, for listings."""
        return str(self.args[0]) if self.args else ""
