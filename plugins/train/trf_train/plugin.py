"""trf-train's plugin module: the entry point trf-core loads (group ``trf_core``, name ``train``).

It adds ``trf-core train`` through the ``trf_cli_commands`` hook; importing it stays cheap.
"""

from __future__ import annotations

from trf_core.plugins.hookspecs import hookimpl


@hookimpl
def trf_cli_commands() -> dict[str, str]:
    """``trf-core train`` (:mod:`trf_train.command`)."""
    return {"train": "trf_train.command"}
