"""Tokenize each text once: the counting call's tokenization, kept for the batch that encodes it.

``Transformer.pipe`` asks the backend for every buffered doc's wordpiece count (to group docs by
length), then encodes the docs a batch at a time. Counting with a throwaway tokenization and
encoding with a second one tokenized every text twice. A :class:`PieceCache` keeps what the
count tokenized, by span text (a text gives the same pieces wherever it sits; only the
character offsets move with the span's start), and hands each entry out once.

It holds one pipe buffer's spans at most: ``pipe`` counts a buffer a batch of docs at a time,
so counts in a row add to the cache, while the first count after an encoding (a new buffer)
replaces what is left; each entry leaves the cache when a batch takes it. Framework-free;
shared by trf-hf and trf-onnx.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spacy.tokens import Span

from .windowing import SpanPieces, tokenize_spans

__all__ = ["PieceCache"]


class PieceCache:
    """Span tokenizations from the last count, by span text, for one tokenizer."""

    def __init__(self) -> None:
        self._tokenizer: Any = None
        self._pieces: dict[str, tuple[int, SpanPieces]] = {}
        self._encoded_since_count = False

    def __len__(self) -> int:
        return len(self._pieces)

    def __deepcopy__(self, memo: dict[int, Any]) -> PieceCache:
        """A copied backend (``Model.copy``) starts with an empty cache of its own."""
        return PieceCache()

    def __reduce__(self) -> tuple[type[PieceCache], tuple[()]]:
        """A pickled backend (a spawned worker's pipeline) too: nothing cached travels."""
        return (PieceCache, ())

    def count(self, tokenizer: Any, spans: Sequence[Span]) -> list[int]:
        """Each span's piece count (specials included), its tokenization kept: added to the
        cache's, or replacing them when something was encoded since the last count."""
        texts = [span.text for span in spans]
        pieces = tokenize_spans(tokenizer, spans, texts)
        if self._encoded_since_count or tokenizer is not self._tokenizer:
            self._pieces = {}
        self._tokenizer, self._encoded_since_count = tokenizer, False
        self._pieces.update(
            (text, (span.start_char, p)) for text, span, p in zip(texts, spans, pieces)
        )
        return [len(p.ids) for p in pieces]

    def tokenize(self, tokenizer: Any, spans: Sequence[Span]) -> list[SpanPieces]:
        """What :func:`~trf_core.component.windowing.tokenize_spans` gives for ``spans``: the
        cached tokenizations where there are some (each taken out), one batched call for the
        rest."""
        self._encoded_since_count = True
        if tokenizer is not self._tokenizer:
            self._pieces = {}
        texts = [span.text for span in spans]
        found: list[SpanPieces | None] = []
        for text, span in zip(texts, spans):
            hit = self._pieces.pop(text, None)
            found.append(None if hit is None else _moved(hit[1], span.start_char - hit[0]))
        missing = [i for i, p in enumerate(found) if p is None]
        if missing:
            retokenized = tokenize_spans(
                tokenizer, [spans[i] for i in missing], [texts[i] for i in missing]
            )
            for i, p in zip(missing, retokenized):
                found[i] = p
        return [p for p in found if p is not None]


def _moved(pieces: SpanPieces, shift: int) -> SpanPieces:
    """The same pieces for the same text ``shift`` characters further into a doc."""
    if not shift or pieces.offsets is None:
        return pieces
    offsets = pieces.offsets.copy()
    offsets[offsets >= 0] += shift
    return SpanPieces(
        ids=pieces.ids,
        type_ids=pieces.type_ids,
        offsets=offsets,
        special=pieces.special,
        strings=pieces.strings,
    )
