"""trf-kernel: the plugin kernel of trf-core.

Discovers the entry points of a group, loads each plugin into a pluggy ``PluginManager`` in
isolation (a broken plugin is recorded and reported, never fatal unless strict mode is on),
blocks plugins by name before they are imported, and records who claims which registry name so
conflicts can be reported. It knows nothing of spaCy or transformers: the host passes the
group, hook specs and environment-variable names.
"""

from __future__ import annotations

from .claims import Claim, ClaimTable
from .discovery import discover_entry_points, distribution_of
from .env import TRUE_VALUES, env_flag, env_list, normalize_name
from .errors import PluginLoadError, PluginLoadWarning
from .kernel import COMBINED_CALL_OPTIONS, PluginKernel
from .records import BLOCKED, CONFLICT, FAILED, OK, STATUSES, PluginRecord

__version__ = "0.1.0"

__all__ = [
    "BLOCKED",
    "COMBINED_CALL_OPTIONS",
    "CONFLICT",
    "FAILED",
    "OK",
    "STATUSES",
    "TRUE_VALUES",
    "Claim",
    "ClaimTable",
    "PluginKernel",
    "PluginLoadError",
    "PluginLoadWarning",
    "PluginRecord",
    "__version__",
    "discover_entry_points",
    "distribution_of",
    "env_flag",
    "env_list",
    "normalize_name",
]
