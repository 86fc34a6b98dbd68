"""Tiny random Hugging Face models with tokenizers written on the spot, for the tests.

Nothing is downloaded: the BERT gets a hand-written WordPiece vocabulary, the RoBERTa a byte-level
BPE trained with the ``tokenizers`` library on a few sentences.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Colorless green ideas sleep furiously!",
    "A tokenizer splits unbelievable words into pieces, like un-believ-able.",
    "spaCy pipelines run transformers over documents and sentences.",
    "Émile visited Zürich in 2019; it rained.",
]

_WORDS = (
    "the quick brown fox jumps over lazy dog a an and in on of to it is was be "
    "colorless green ideas sleep furiously token split word piece like un visit rain "
    "spacy pipe line run transform document sentence model text"
).split()
_SUFFIXES = ["##s", "##er", "##ed", "##ing", "##ly", "##able", "##ize", "##es", "##line"]


def bert_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,;:!?-'\"()")
    pieces = ["##" + c for c in chars]
    return list(dict.fromkeys(specials + chars + _WORDS + _SUFFIXES + pieces))  # no duplicates


def _save_random_weights(model_class: Any, config: Any, path: Path, seed: int) -> Path:
    """A model of ``model_class`` with seeded random weights, saved beside its tokenizer."""
    import torch

    torch.manual_seed(seed)
    model_class(config).save_pretrained(str(path))
    return path


def make_bert(path: Path, max_positions: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A 2-layer, width-32 uncased BERT with a pooler, saved with save_pretrained."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(bert_vocab()) + "\n", encoding="utf8")
    if "vocab_file" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers 4
        tokenizer = BertTokenizerFast(
            vocab_file=str(vocab_file), do_lower_case=True, model_max_length=max_positions
        )
    else:  # transformers 5 takes the vocabulary itself
        vocab = {piece: i for i, piece in enumerate(bert_vocab())}
        tokenizer = BertTokenizerFast(
            vocab=vocab, do_lower_case=True, model_max_length=max_positions
        )
    tokenizer.save_pretrained(str(path))
    config = BertConfig(
        vocab_size=len(bert_vocab()),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return _save_random_weights(BertModel, config, path, seed)


def make_roberta(path: Path, max_positions: int = 48, seed: int = 0) -> Path:
    """A tiny RoBERTa with a byte-level BPE trained here on :data:`CORPUS`."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS * 3,
        vocab_size=400,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    raw = path / "bpe"
    raw.mkdir(exist_ok=True)
    bpe.save_model(str(raw))
    if "vocab_file" in inspect.signature(RobertaTokenizerFast.__init__).parameters:
        tokenizer = RobertaTokenizerFast(
            vocab_file=str(raw / "vocab.json"),
            merges_file=str(raw / "merges.txt"),
            model_max_length=max_positions,
        )
    else:
        vocab = json.loads((raw / "vocab.json").read_text(encoding="utf8"))
        merges = [
            tuple(line.split(" "))
            for line in (raw / "merges.txt").read_text(encoding="utf8").splitlines()
            if line and not line.startswith("#version")
        ]
        tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges, model_max_length=max_positions)
    tokenizer.save_pretrained(str(path))
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions + 2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return _save_random_weights(RobertaModel, config, path, seed)


def make_distilbert(path: Path, max_positions: int = 32, seed: int = 0) -> Path:
    """A tiny DistilBERT: no pooler, and no token_type_ids in its forward."""
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(bert_vocab()) + "\n", encoding="utf8")
    if "vocab_file" in inspect.signature(DistilBertTokenizerFast.__init__).parameters:
        tokenizer = DistilBertTokenizerFast(
            vocab_file=str(vocab_file), do_lower_case=True, model_max_length=max_positions
        )
    else:
        vocab = {piece: i for i, piece in enumerate(bert_vocab())}
        tokenizer = DistilBertTokenizerFast(
            vocab=vocab, do_lower_case=True, model_max_length=max_positions
        )
    tokenizer.save_pretrained(str(path))
    config = DistilBertConfig(
        vocab_size=len(bert_vocab()),
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=max_positions,
        dropout=0.0,
        attention_dropout=0.0,
    )
    return _save_random_weights(DistilBertModel, config, path, seed)
