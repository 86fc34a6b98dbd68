"""Reading the kernel's switches from environment variables.

The kernel never hard-codes variable names: the host project passes them in (trf-core uses
``TRF_STRICT_PLUGINS`` and ``TRF_DISABLE_PLUGINS``), so the same kernel serves any project.
Values are read when plugins are loaded, not at import, so tests and shells can change them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TRUE_VALUES = frozenset({"1", "true", "yes"})
"""Values (case-insensitive, stripped) that switch a flag on; anything else leaves it off."""


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the flag variable ``name`` is set to one of :data:`TRUE_VALUES`."""
    value = (os.environ if environ is None else environ).get(name, "")
    return value.strip().lower() in TRUE_VALUES


def env_list(name: str, environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The comma-separated names in variable ``name``, stripped, empty entries dropped."""
    value = (os.environ if environ is None else environ).get(name, "")
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def normalize_name(name: str) -> str:
    """A distribution or plugin name in PEP 503 normal form, so ``Acme_X`` matches ``acme-x``."""
    out = name.strip().lower()
    for sep in ("_", "."):
        out = out.replace(sep, "-")
    while "--" in out:
        out = out.replace("--", "-")
    return out
