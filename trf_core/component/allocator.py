"""Keep freed memory in the process, so the next batch reuses it instead of faulting in new pages.

Every batch allocates the same large arrays again: the model's activations (tens of megabytes a
call), the outputs, the listeners' rows. glibc's malloc hands blocks over its mmap threshold
(adaptive, at most 32 MB) straight back to the kernel when they are freed, and trims the heap's
free top, so the next batch touches fresh pages and pays a page fault for each 4 KB: on the
2-core benchmark machine 400,000-570,000 faults per pass over 26 documents of 1,000 words.
Raising the thresholds keeps those blocks for reuse: the bare model ran 5-10% faster, and the
whole benchmark's peak memory stayed where it was (bench/README.md, "Results (7 Dec 2026)").

This changes the whole process's allocator, so it happens once, the first time a transformer
component runs, and only with glibc; ``TRF_CORE_KEEP_FREED_MEMORY=0`` (or calling
:func:`keep_freed_memory` with ``enable=False`` first) leaves malloc as it is. Memory above
:data:`TRIM_THRESHOLD` free at the top of the heap is still given back.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import threading
from typing import Any

__all__ = ["ENV_VAR", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

ENV_VAR = "TRF_CORE_KEEP_FREED_MEMORY"
"""Set to ``0`` (or ``false``, ``no``, ``off``) to leave glibc's malloc at its defaults."""

MMAP_THRESHOLD = 256 * 1024 * 1024
"""Blocks up to this size come from the heap, where a freed block is reused, not unmapped."""

TRIM_THRESHOLD = 512 * 1024 * 1024
"""Free memory at the heap's top beyond this is returned to the kernel."""

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3

_decided: bool | None = None
_deciding = threading.Lock()


def keep_freed_memory(enable: bool | None = None, libc: Any = None) -> bool:
    """Raise glibc's mmap and trim thresholds once per process; return whether they are raised.

    ``enable=None`` follows :data:`ENV_VAR` (on unless it says otherwise). The first call decides
    for the process; later calls return that decision. ``libc`` is for tests: an object with a
    ``mallopt(param, value)`` method, used instead of the C library.
    """
    global _decided
    if _decided is not None:  # every batch asks: no lock once decided
        return _decided
    with _deciding:
        if _decided is None:
            if enable is None:
                setting = os.environ.get(ENV_VAR, "1").strip().lower()
                enable = setting not in ("0", "false", "no", "off")
            _decided = bool(enable) and _apply(libc)
        return _decided


def _apply(libc: Any) -> bool:
    if libc is None:
        if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
            return False
        try:
            libc = ctypes.CDLL(None)
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        except (OSError, AttributeError):
            return False
    # The mmap threshold first, and the trim threshold only once it is taken: a glibc that
    # refuses 256 MB (older ones capped it at 32 MB) is then left exactly as it was.
    if not libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        return False
    return bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
