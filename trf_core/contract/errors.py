"""Errors trf-core raises about plugins and registry names.

None of these subclass ``catalogue.RegistryError``: spaCy's ``registry.get`` catches that class
and replaces its message with a generic "can't find" text, which would hide the very hints
(which distribution to install, which plugins conflict) these errors exist to give.
"""

from __future__ import annotations

from collections.abc import Sequence

from trf_kernel import Claim


class PluginConflictError(Exception):
    """A registry name is provided by two (or more) distributions, so neither is used.

    Raised when such a name is resolved (from a config or ``registry.get``), never at load time.
    """

    def __init__(self, registry: str, name: str, claimants: Sequence[Claim]) -> None:
        self.registry = registry
        self.name = name
        self.claimants = list(claimants)
        labels = [f"{c.label} (via {c.source})" for c in self.claimants]
        listed = " and ".join(labels) if len(labels) <= 2 else ", ".join(labels)
        plugins = [c.plugin or c.distribution for c in self.claimants]
        super().__init__(
            f"The name {name!r} in registry {registry!r} is provided by more than one "
            f"distribution: {listed}. trf-core will not guess which one you mean. Uninstall "
            f"one of them (pip uninstall {self.claimants[-1].distribution}), or block one with "
            f"TRF_DISABLE_PLUGINS={plugins[-1]} (a plugin or distribution name)."
        )


class UnknownRegistryNameError(LookupError):
    """A name that no installed distribution registered was looked up."""

    def __init__(self, registry: str, name: str, message: str) -> None:
        self.registry = registry
        self.name = name
        super().__init__(message)

    def __str__(self) -> str:  # LookupError subclasses would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class MissingDistributionError(UnknownRegistryNameError):
    """A first-party name was used whose distribution (e.g. ``trf-hf``) is not installed."""

    def __init__(self, registry: str, name: str, distribution: str, message: str) -> None:
        self.distribution = distribution
        super().__init__(registry, name, message)


class SpacyTransformersInstalledError(ImportError):
    """spacy-transformers and trf-core are installed together; both provide ``transformer``."""


__all__ = [
    "MissingDistributionError",
    "PluginConflictError",
    "SpacyTransformersInstalledError",
    "UnknownRegistryNameError",
]
