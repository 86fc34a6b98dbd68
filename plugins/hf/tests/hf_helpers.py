"""Independent reference computations: what transformers gives when called directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import spacy
from spacy.tokens import Doc

NLP = spacy.blank("en")


def doc_spans(docs: list[Doc]) -> list[list[Any]]:
    """One span per non-empty doc (the whole doc)."""
    return [[doc[:]] if len(doc) else [] for doc in docs]


def load_reference(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    model.eval()
    return tokenizer, model


def without_packing(model: Any) -> None:
    """Record on ``model`` what :func:`trf_hf.packing.packing_mode` records for a model that
    cannot pack, so that every window runs in length groups (what those tests are about)."""
    model._trf_packing_mode = 0


def use_eager_attention(model: Any) -> None:
    """Switch a reference model to eager attention (attentions need it), on transformers 4 and 5.

    ``set_attn_implementation`` is newer than the oldest transformers trf-hf allows (4.40), where
    the config attribute is the switch.
    """
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:
        model.config._attn_implementation = "eager"


def run_ids(model: Any, ids: list[int], **kwargs: Any) -> Any:
    """The model on one sequence of ids, no padding."""
    import torch

    with torch.no_grad():
        return model(
            input_ids=torch.tensor([ids]),
            attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
            **kwargs,
        )


def most_central_window(position: int, starts: list[int], capacity: int, n_content: int) -> int:
    """The window holding content ``position`` with the most context on its nearer side.

    Written position by position (the backend computes it vectorised): a window edge that is the
    span's own edge costs no context.
    """
    best, best_score = -1, -1
    for w, start in enumerate(starts):
        end = min(start + capacity, n_content)
        if not start <= position < end:
            continue
        left = float("inf") if start == 0 else position - start
        right = float("inf") if end == n_content else end - 1 - position
        score = min(left, right)
        if score > best_score:
            best, best_score = w, score
    return best


def window_starts(n_content: int, capacity: int, stride: int) -> list[int]:
    """Every ``stride`` pieces, the last window flush with the span's end."""
    starts = [0]
    while starts[-1] + capacity < n_content:
        starts.append(min(starts[-1] + stride, n_content - capacity))
    return starts


def as_numpy(array: Any) -> numpy.ndarray:
    return numpy.asarray(array.get() if hasattr(array, "get") else array)
