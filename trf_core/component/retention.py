"""How much of the transformer's output a doc keeps, and when the rest is let go.

Transformer outputs are large (a float per piece per dimension per layer), and most pipelines
only need them until the listening components have pooled their token vectors. The component's
``keep`` setting says what stays on ``doc._.trf_data`` once every listener has read it:

- ``"all"``: everything the backend returned (the default, what spacy-transformers does);
- ``"last_layer"``: only the last hidden state, the wordpieces and the alignment;
- ``"none"``: nothing: ``doc._.trf_data`` becomes ``None``.

Listeners read ``doc._.trf_data`` at prediction time, after the transformer has moved on to
other batches, so the reduction cannot happen in the transformer itself. Instead the component
registers, for each doc's data, the ids of the listeners still expected to read it; each
listener reports its read with :func:`mark_read`, and the last report applies the reduction.
With no listener expected, the reduction happens at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from spacy.tokens import Doc

from ..contract.data import ModelOutput, TransformerData
from ..contract.extensions import install_extensions

__all__ = ["KEEP_OPTIONS", "expect_readers", "mark_read", "reduce_data", "validate_keep"]

KEEP_OPTIONS = ("all", "last_layer", "none")

# id(TransformerData) -> (ids of listeners that still have to read it, keep setting).
# Keyed by id because the dataclass is unhashable; a finalizer drops the entry with the data.
_PENDING: dict[int, tuple[set[int], str]] = {}

install_extensions()


def validate_keep(keep: str) -> str:
    """Check a ``keep`` setting, saying what the choices mean when it is wrong."""
    if keep not in KEEP_OPTIONS:
        raise ValueError(
            f"keep={keep!r} is not a retention setting; use 'all' (keep every output on "
            "doc._.trf_data), 'last_layer' (keep only the last hidden state) or 'none' (drop "
            "doc._.trf_data once the listening components have read it)"
        )
    return keep


def reduce_data(data: TransformerData | None, keep: str) -> TransformerData | None:
    """What ``keep`` leaves of one doc's data."""
    if data is None or keep == "all":
        return data
    if keep == "none":
        return None
    output = ModelOutput()
    if "last_hidden_state" in data.model_output:
        output["last_hidden_state"] = data.model_output["last_hidden_state"]
    return TransformerData(wordpieces=data.wordpieces, model_output=output, align=data.align)


def expect_readers(doc: Doc, data: TransformerData, reader_ids: Iterable[int], keep: str) -> None:
    """Set ``doc._.trf_data`` and arrange for it to be reduced after the last listed reader."""
    readers = set(reader_ids)
    if keep == "all":
        doc._.trf_data = data
        return
    if not readers:
        doc._.trf_data = reduce_data(data, keep)
        return
    key = id(data)
    _PENDING[key] = (readers, keep)
    weakref.finalize(data, _PENDING.pop, key, None)
    doc._.trf_data = data


def mark_read(doc: Doc, reader_id: int) -> None:
    """Record that one listener has read the doc's data; reduce it after the last one."""
    data = doc._.trf_data
    if data is None:
        return
    entry = _PENDING.get(id(data))
    if entry is None:
        return
    readers, keep = entry
    readers.discard(reader_id)
    if not readers:
        _PENDING.pop(id(data), None)
        doc._.trf_data = reduce_data(data, keep)
