"""The conformance kit: a toy backend, hypothesis strategies and contract checks.

Importing this package is cheap and needs neither torch nor pytest nor hypothesis; import the
submodules you need (``trf_core.testing.toy_backend``, ``trf_core.testing.strategies``, which
needs hypothesis).
"""

from __future__ import annotations
