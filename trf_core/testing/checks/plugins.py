"""A plugin module checked the way trf-core loads it, before it is packaged.

:func:`check_plugin` loads the module into a plugin kernel of its own, with trf-core's hook
specifications, exactly as ``import trf_core`` loads an installed plugin, then calls each
registration hook it implements. What trf-core would refuse at load (a hookimpl whose arguments
do not match its hookspec, an unknown hook, pluggy's ``tryfirst`` / ``trylast`` / ``wrapper`` /
``hookwrapper``, which trf-core's one-plugin-at-a-time calls cannot honour, a hook that raises
or returns something other than a mapping of name -> configure function) raises a
:class:`ContractViolation` with trf-core's own message.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from trf_kernel import PluginKernel

from ...plugins import hookspecs
from ...plugins.loader import GROUP, hook_result_problem
from ._common import ContractViolation

__all__ = ["check_plugin"]


@dataclass
class _InMemoryEntryPoint:
    """An entry point whose ``load()`` returns the plugin object itself (no distribution)."""

    name: str
    plugin: Any
    group: str = GROUP
    dist: Any = None

    @property
    def value(self) -> str:
        return f"{getattr(self.plugin, '__name__', type(self.plugin).__name__)} (in memory)"

    def load(self) -> Any:
        return self.plugin


class _OnePlugin:
    def __init__(self, entry_point: _InMemoryEntryPoint) -> None:
        self.entry_point = entry_point

    def select(self, group: str) -> list[_InMemoryEntryPoint]:
        return [self.entry_point] if group == self.entry_point.group else []


def check_plugin(plugin: Any, name: str = "plugin") -> dict[str, list[str]]:
    """Load ``plugin`` (a module or object holding ``@hookimpl`` functions) as trf-core would.

    Returns each registry the plugin fills -> the names it registers there. Raises
    :class:`ContractViolation` for anything that would make trf-core mark the plugin failed.
    """
    kernel = PluginKernel(
        GROUP, hookspecs, entry_points=_OnePlugin(_InMemoryEntryPoint(name, plugin))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the failure is raised below, with its message
        (record,) = kernel.load()
        provided: dict[str, list[str]] = {}
        for hook in record.hooks if record.loaded else []:
            called, value = kernel.call_hook(record, hook)
            problem = hook_result_problem(hook, value) if called else None
            if problem is not None:
                kernel.fail(record, TypeError(problem), f"calling hook {hook}")
            if not record.loaded:
                break
            provided[hookspecs.REGISTRATION_HOOKS[hook]] = sorted(value)
    if not record.loaded:
        detail = record.error.message if record.error is not None else "it did not load"
        raise ContractViolation(
            "plugin",
            "trf-core loads the plugin: hookimpls match the hookspecs, ask for no call order or "
            "wrapper, and each registration hook returns a dict of name -> configure function",
            f"plugin {name!r}",
            detail,
            "change the hookimpl as the message says; plain @hookimpl functions named after "
            "trf-core's hooks (docs/plugin-guide.md)",
        )
    return provided
