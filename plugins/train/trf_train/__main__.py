"""``python -m trf_train CONFIG --output DIR ...``: the same command as ``trf-core train``."""

from trf_train.cli import main

raise SystemExit(main())
