"""Lets this folder's test modules import their shared helpers (pytest runs in importlib mode)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
