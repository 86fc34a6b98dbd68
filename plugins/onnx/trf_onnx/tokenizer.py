"""A Hugging Face fast tokenizer without transformers: ``tokenizers`` behind the same calls.

:func:`trf_core.component.windowing.plan_windows` (shared with trf-hf) talks to a tokenizer through
the call interface of ``transformers``' tokenizers. A fast tokenizer there is a thin layer over a
``tokenizers.Tokenizer`` (saved as ``tokenizer.json``): this class is that layer, for the few calls
the windowing code makes, so the ONNX backend tokenizes exactly as trf-hf did (same ids, special
tokens, offsets) while importing neither transformers nor torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Encoded(dict[str, list[Any]]):
    """What a call returns: the requested lists by name, like ``transformers``' ``BatchEncoding``,
    and the ``tokenizers.Encoding`` objects themselves as ``encodings``, from which the windowing
    code reads offsets, special-token flags and piece strings for the whole batch at once (with
    only the lists, it built them span by span and looked every piece up again by id: a fifth of
    an int8 pipeline's time outside ONNX Runtime on the EWT test sentences)."""

    encodings: list[Any]


class FastTokenizer:
    """``tokenizers.Tokenizer`` with the ``transformers`` calls the windowing code uses.

    pad_token_id: the id padding positions get (what the HF tokenizer said at export).
    model_input_names: the model's inputs, e.g. ``["input_ids", "token_type_ids",
        "attention_mask"]``; decides whether token type ids are produced.
    """

    is_fast = True

    def __init__(
        self, tokenizer: Any, pad_token_id: int | None, model_input_names: Sequence[str]
    ) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.backend_tokenizer = tokenizer
        self.pad_token_id = pad_token_id
        self.model_input_names = list(model_input_names)

    @classmethod
    def from_file(
        cls, path: Path, pad_token_id: int | None, model_input_names: Sequence[str]
    ) -> FastTokenizer:
        """Load a ``tokenizer.json`` (what ``tokenizer.backend_tokenizer.save`` writes)."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)), pad_token_id, model_input_names)

    def __call__(
        self,
        texts: Sequence[str],
        add_special_tokens: bool = True,
        return_special_tokens_mask: bool = False,
        return_token_type_ids: bool | None = None,
        return_offsets_mapping: bool = False,
        return_attention_mask: bool = False,
        truncation: bool = False,
        padding: bool = False,
        verbose: bool = True,
    ) -> Encoded:
        """Encode a batch of texts; truncation and padding are always off (the caller windows)."""
        if truncation or padding:
            raise ValueError("trf-onnx's tokenizer never truncates or pads: windowing does that")
        encodings = self.backend_tokenizer.encode_batch(
            list(texts), add_special_tokens=add_special_tokens
        )
        out = Encoded(input_ids=[e.ids for e in encodings])
        out.encodings = encodings
        if return_special_tokens_mask:
            out["special_tokens_mask"] = [e.special_tokens_mask for e in encodings]
        if return_token_type_ids or (
            return_token_type_ids is None and "token_type_ids" in self.model_input_names
        ):
            out["token_type_ids"] = [e.type_ids for e in encodings]
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        if return_attention_mask:
            out["attention_mask"] = [e.attention_mask for e in encodings]
        return out

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        """Each id's piece string (``[CLS]``, ``##ing``), as alignment and users see them."""
        to_token = self.backend_tokenizer.id_to_token
        return [str(to_token(int(i))) for i in ids]
