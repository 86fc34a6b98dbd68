"""``python -m trf_core``: the trf-core command line (see :mod:`trf_core.cli.main`)."""

from __future__ import annotations

from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
