"""Spans -> wordpieces -> windows: moved to :mod:`trf_core.windowing`, shared with trf-onnx.

The names stay importable from here (``_SpanPieces`` is ``SpanPieces``'s old private name).
"""

from __future__ import annotations

from trf_core.windowing import SpanPieces, WindowPlan, layout, plan_windows, tokenize_spans

_SpanPieces = SpanPieces

__all__ = ["SpanPieces", "WindowPlan", "layout", "plan_windows", "tokenize_spans"]
