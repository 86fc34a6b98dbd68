"""Fixed-size windows of spaCy tokens, with spacy-transformers' exact window/stride semantics.

Old configs that say ``spacy-transformers.strided_spans.v1`` must see the same spans, so training
reproduces. The rule, per doc of ``n`` tokens:

- windows of ``window`` tokens start at ``0, stride, 2 * stride, ...``; at most ``n // stride``
  of them are made;
- the first window that reaches the end of the doc is the last one (cut at the doc's end);
- if none of those windows reached the end, one more span runs from the next start to the end.

So a doc shorter than ``stride`` is one span however long ``window`` is, and with
``stride > window`` the tokens between windows are never read (a warning says so).
"""

import warnings
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span

from ._checks import as_doc_list, positive_int

if TYPE_CHECKING:  # the core is not imported at run time: it loads this plugin
    from trf_core.contract.types import SpanGetter

NAME = "spacy-transformers.strided_spans.v1"


def strided_bounds(n_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` token bounds of the strided spans of a doc of ``n_tokens`` tokens."""
    n_windows = n_tokens // stride
    if n_windows == 0:
        return [(0, n_tokens)] if n_tokens else []
    # Index of the first window whose end (start + window) reaches n_tokens: ceil((n - w) / s).
    reaching = max(0, -(-(n_tokens - window) // stride))
    if reaching < n_windows:
        return [(k * stride, min(k * stride + window, n_tokens)) for k in range(reaching + 1)]
    bounds = [(k * stride, k * stride + window) for k in range(n_windows)]
    tail_start = n_windows * stride
    if tail_start < n_tokens:
        bounds.append((tail_start, n_tokens))
    return bounds


def get_strided_spans(docs: Iterable[Doc], window: int, stride: int) -> list[list[Span]]:
    """Each doc's strided spans; see the module docstring for the exact rule."""
    _check_settings(window, stride)
    return [
        [doc[start:end] for start, end in strided_bounds(len(doc), window, stride)]
        for doc in as_doc_list(docs, NAME)
    ]


def configure_strided_spans(window: int, stride: int) -> "SpanGetter":
    """``spacy-transformers.strided_spans.v1``: ``window`` and ``stride`` in spaCy tokens.

    ``stride == window`` reads every token once; ``stride < window`` overlaps windows so tokens
    near a window's edge also get context from the next window.
    """
    _check_settings(window, stride)
    if stride > window:
        warnings.warn(
            f"{NAME}: stride ({stride}) > window ({window}) leaves {stride - window} token(s) "
            "between consecutive windows that the transformer never reads; they get zero "
            "vectors. Set stride <= window to cover every token.",
            stacklevel=2,
        )
    # A partial of a module-level function, not a closure: the getter pickles with the
    # pipeline (nlp.pipe(n_process > 1) where workers spawn, pickle.dumps(nlp)).
    return partial(get_strided_spans, window=window, stride=stride)


def _check_settings(window: int, stride: int) -> None:
    positive_int(window, "window", NAME)
    positive_int(stride, "stride", NAME)
