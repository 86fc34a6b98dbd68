"""The plugin kernel: discover a group's entry points and load each plugin in isolation.

pluggy calls hooks and validates implementations; catalogue registers functions. Neither keeps
a broken plugin from taking the whole program down, says which distribution broke, lets a user
block a plugin before it is imported, or lists plugins that never loaded. This module adds
exactly that, for any project: group, project name and environment-variable names are
parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pluggy

from .discovery import discover_entry_points, distribution_of
from .env import env_flag, env_list, normalize_name
from .errors import PluginLoadError, PluginLoadWarning
from .records import BLOCKED, FAILED, PluginRecord

COMBINED_CALL_OPTIONS = ("tryfirst", "trylast", "wrapper", "hookwrapper")
"""``@hookimpl`` options that only mean something when pluggy calls every plugin's
implementation in one go; :meth:`PluginKernel.call_hook` calls each plugin on its own, so a
hookimpl asking for one of them is refused at load instead of being silently ignored."""


class PluginKernel:
    """Loads the plugins of one entry-point group into a pluggy ``PluginManager``.

    Every entry point gets a :class:`PluginRecord`. A plugin whose import fails, whose
    hookimpls fail validation, or whose hook raises (through :meth:`call_hook`) is marked
    ``failed``, unregistered, and reported with one warning; the others are unaffected. With the
    strict variable set, the same error is raised instead.

    Hooks are called one plugin at a time (:meth:`call_hook`), which is what isolates one
    plugin's failure from the others and ties every result to the plugin that returned it.
    pluggy's call ordering (``tryfirst`` / ``trylast``) and hook wrappers (``wrapper`` /
    ``hookwrapper``) act on a combined call of all plugins, so there is nothing for them to
    order or wrap: a hookimpl that asks for one fails validation, naming the plugin, the hook
    and the option (:data:`COMBINED_CALL_OPTIONS`).
    """

    def __init__(
        self,
        group: str,
        hookspecs: ModuleType | type,
        *,
        project_name: str | None = None,
        strict_env: str | None = None,
        disable_env: str | None = None,
        entry_points: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.group = group
        self.project_name = project_name or group
        self.strict_env = strict_env
        self.disable_env = disable_env
        self._entry_points = entry_points
        self._environ = environ
        self.manager = pluggy.PluginManager(self.project_name)
        self.manager.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.loaded = False

    # -- switches ------------------------------------------------------------------------------

    @property
    def strict(self) -> bool:
        """Whether load failures raise instead of warning (read from the strict variable now)."""
        return bool(self.strict_env) and env_flag(self.strict_env or "", self._environ)

    @property
    def disabled(self) -> frozenset[str]:
        """Normalized plugin (or distribution) names the user blocked."""
        if not self.disable_env:
            return frozenset()
        return frozenset(normalize_name(n) for n in env_list(self.disable_env, self._environ))

    def is_blocked(self, name: str, distribution: str | None = None) -> bool:
        """Whether a plugin is blocked, by its entry-point name or its distribution's name."""
        disabled = self.disabled
        if normalize_name(name) in disabled:
            return True
        return distribution is not None and normalize_name(distribution) in disabled

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> list[PluginRecord]:
        """Discover and load every plugin of the group once; later calls return the records.

        Raises:
            PluginLoadError: only in strict mode, for the first plugin that fails.
        """
        if self.loaded:
            return self.records
        self.loaded = True
        for entry_point in discover_entry_points(self.group, self._entry_points):
            distribution, version = distribution_of(entry_point)
            record = PluginRecord(
                name=entry_point.name,
                entry_point=entry_point.value,
                group=self.group,
                distribution=distribution,
                version=version,
            )
            self.records.append(record)
            if self.is_blocked(record.name, distribution):
                record.status = BLOCKED
                continue
            self._load_one(record, entry_point)
        return self.records

    def _load_one(self, record: PluginRecord, entry_point: Any) -> None:
        """Import, register and validate one plugin, failing only that plugin on any error."""
        clash = next(
            (r for r in self.records if r is not record and r.name == record.name and r.loaded),
            None,
        )
        if clash is not None:
            message = (
                f"another plugin named {record.name!r} is already loaded from "
                f"{clash.distribution}; plugin names (entry-point names) must be unique"
            )
            self.fail(record, ValueError(message), "registering")
            return
        try:
            plugin = entry_point.load()
        except Exception as exc:
            self.fail(record, exc, "importing")
            return
        try:
            self.manager.register(plugin, name=record.name)
        except pluggy.PluginValidationError as exc:
            self.fail(record, exc, "validating", hint=self._spec_hint(exc))
            return
        except ValueError as exc:
            self.fail(record, exc, "registering")
            return
        record.plugin = plugin
        record.hooks = sorted(self._implemented_hooks(plugin))
        unknown = [hook for hook in record.hooks if not getattr(self.manager.hook, hook).has_spec()]
        if unknown:
            known = ", ".join(sorted(self.hook_names())) or "none"
            error = pluggy.PluginValidationError(
                plugin,
                f"Plugin {record.name!r} implements unknown hook(s) {', '.join(unknown)}; "
                f"the hooks that exist are: {known}",
            )
            self.fail(record, error, "validating")
            return
        refused = self._combined_call_options(plugin)
        if refused:
            hook, option = refused[0]
            error = pluggy.PluginValidationError(
                plugin,
                f"Plugin {record.name!r} marks its hookimpl {hook} with {option}=True; "
                f"{self.project_name} calls each plugin's hook implementation on its own (so "
                "one plugin's error never costs another its results), where pluggy's call "
                "order and hook wrappers have no effect. Remove "
                f"{' and '.join(f'{o}=True from {h}' for h, o in refused)}",
            )
            self.fail(record, error, "validating")

    def hook_names(self) -> list[str]:
        """Names of every hook that has a specification."""
        return sorted(
            name
            for name, caller in vars(self.manager.hook).items()
            if not name.startswith("_") and caller.has_spec()
        )

    def _implemented_hooks(self, plugin: Any) -> list[str]:
        callers = self.manager.get_hookcallers(plugin) or []
        return [caller.name for caller in callers]

    def _combined_call_options(self, plugin: Any) -> list[tuple[str, str]]:
        """``(hook, option)`` for each :data:`COMBINED_CALL_OPTIONS` a ``plugin`` hookimpl sets."""
        found = []
        for caller in self.manager.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    found += [
                        (caller.name, option)
                        for option in COMBINED_CALL_OPTIONS
                        if getattr(impl, option, False)
                    ]
        return found

    def _spec_hint(self, exc: pluggy.PluginValidationError) -> str:
        """The expected signature of the hook a validation error is about, when we can tell."""
        for name in self.hook_names():
            if repr(name) in str(exc):
                spec = getattr(self.manager.hook, name).spec
                if spec is not None:
                    args = ", ".join(list(spec.argnames) + list(spec.kwargnames))
                    return f"The hookspec's signature is {name}({args})."
        return ""

    # -- calling hooks -------------------------------------------------------------------------

    def call_hook(self, record: PluginRecord, hook_name: str, **kwargs: Any) -> tuple[bool, Any]:
        """Call one plugin's implementation of ``hook_name`` on its own.

        Returns ``(True, result)``, or ``(False, None)`` when the plugin does not implement the
        hook, is not loaded, or raised (then it is marked failed and reported).
        """
        if not record.loaded:
            return False, None
        caller = getattr(self.manager.hook, hook_name, None)
        if caller is None:
            return False, None
        impls = [impl for impl in caller.get_hookimpls() if impl.plugin_name == record.name]
        if not impls:
            return False, None
        impl = impls[0]
        try:
            args = [kwargs[name] for name in impl.argnames]
            return True, impl.function(*args)
        except Exception as exc:
            self.fail(record, exc, f"calling hook {hook_name}")
            return False, None

    # -- failure -------------------------------------------------------------------------------

    def fail(self, record: PluginRecord, exc: BaseException, stage: str, hint: str = "") -> None:
        """Mark ``record`` failed because of ``exc``: unregister it, keep the error, warn once.

        Raises:
            PluginLoadError: in strict mode, chained from ``exc``.
        """
        record.status = FAILED
        if record.plugin is not None and self.manager.is_registered(record.plugin):
            self.manager.unregister(record.plugin)
        record.plugin = None
        cause = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        block = f" or block it with {self.disable_env}={record.name}" if self.disable_env else ""
        message = (
            f"{self.project_name} plugin {record.label}, entry point "
            f"{record.name} = {record.entry_point} in group {self.group!r}, failed while "
            f"{stage}: {cause}. {hint + ' ' if hint else ''}"
            f"Other plugins are unaffected. Fix or uninstall "
            f"{record.distribution or 'the distribution'}{block}."
        )
        error = PluginLoadError(
            message,
            plugin=record.name,
            distribution=record.distribution,
            version=record.version,
            entry_point=record.entry_point,
            stage=stage,
        )
        error.__cause__ = exc
        record.error = error
        if self.strict:
            raise error
        warnings.warn(message, PluginLoadWarning, stacklevel=3)

    # -- queries -------------------------------------------------------------------------------

    def get_record(self, name: str) -> PluginRecord | None:
        """The record of the plugin called ``name`` (the first one, if names clash)."""
        return next((r for r in self.records if r.name == name), None)

    def failed(self) -> list[PluginRecord]:
        """Records of plugins that failed to load."""
        return [r for r in self.records if r.status == FAILED]
