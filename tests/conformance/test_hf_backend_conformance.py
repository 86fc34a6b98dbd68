"""trf-hf's backend passes the backend conformance suite, on a tiny random BERT built here."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
from thinc.api import Model

from trf_core.testing.checks import overlapping_spans, resolve_backend
from trf_core.testing.suites import BackendTests

pytestmark = [
    pytest.mark.needs_torch,
    pytest.mark.skipif(
        importlib.util.find_spec("trf_hf") is None
        or importlib.util.find_spec("transformers") is None,
        reason="trf-hf and transformers not installed",
    ),
]

_CHARS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,;:!?-'\"()$@#/")


def _tiny_bert(path: Path) -> Path:
    """A 1-layer, width-16 uncased BERT over single characters (plus ## continuations)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_CHARS, *("##" + c for c in _CHARS)]
    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    if "vocab_file" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers 4
        tokenizer = BertTokenizerFast(
            vocab_file=str(path / "vocab.txt"), do_lower_case=True, model_max_length=24
        )
    else:  # transformers 5 takes the vocabulary itself
        tokenizer = BertTokenizerFast(
            vocab={piece: i for i, piece in enumerate(vocab)},
            do_lower_case=True,
            model_max_length=24,
        )
    tokenizer.save_pretrained(str(path))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=24,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("bert") / "model")


class TestHFTransformerModel(BackendTests):
    max_examples = 3

    @pytest.fixture
    def backend(self, tiny_bert: Path) -> Model:
        from spacy.util import registry

        configure = registry.architectures.get("spacy-transformers.TransformerModel.v3")
        return resolve_backend(configure(str(tiny_bert), get_spans=overlapping_spans))
