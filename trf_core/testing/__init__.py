"""The conformance kit: a toy backend, hypothesis strategies and contract checks.

Importing this package is cheap and needs neither torch nor pytest nor hypothesis; import the
submodules you need (``trf_core.testing.toy_backend``, ``trf_core.testing.strategies``, which
needs hypothesis).
"""

from __future__ import annotations

from .checks import (
    ContractViolation,
    check_annotation_setter,
    check_backend,
    check_cli_commands,
    check_plugin,
    check_pooler,
    check_span_getter,
)

__all__ = [
    "ContractViolation",
    "check_annotation_setter",
    "check_backend",
    "check_cli_commands",
    "check_plugin",
    "check_pooler",
    "check_span_getter",
]
