"""Training through the component: nlp.update, grad_factor 0, frozen, and ``spacy train``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from trf_core.testing.pipelines import (
    DOC_SPANS,
    NULL_SETTER,
    build_nlp,
    listener_cfg,
    params_of,
    same_params,
    tagger_examples,
    tok2vec_outputs,
)


def train(nlp: spacy.language.Language, steps: int, **update_kwargs: Any) -> list[dict[str, float]]:
    examples = tagger_examples(nlp)
    optimizer = nlp.resume_training()
    history = []
    for _ in range(steps):
        history.append(nlp.update(examples, sgd=optimizer, **update_kwargs))
    return history


def test_update_trains_transformer_and_tagger_and_loss_goes_down():
    nlp = build_nlp()
    before = params_of(nlp.get_pipe("transformer").model)
    history = train(nlp, 15)
    assert history[-1]["tagger"] < history[0]["tagger"]
    assert history[-1]["transformer"] > 0  # (the first step is 0: the softmax starts at zero)
    assert not same_params(before, params_of(nlp.get_pipe("transformer").model))


def test_grad_factor_zero_leaves_the_transformer_weights_unchanged():
    nlp = build_nlp(listeners={"tagger": listener_cfg(grad_factor=0.0)})
    trf_before = params_of(nlp.get_pipe("transformer").model)
    tagger_before = params_of(nlp.get_pipe("tagger").model)
    history = train(nlp, 5)
    assert same_params(trf_before, params_of(nlp.get_pipe("transformer").model))
    assert not same_params(tagger_before, params_of(nlp.get_pipe("tagger").model))
    assert history[-1]["transformer"] == 0.0


def test_frozen_setting_runs_without_training_and_listeners_still_get_vectors():
    nlp = build_nlp(frozen=True)
    trf_before = params_of(nlp.get_pipe("transformer").model)
    history = train(nlp, 15)
    assert same_params(trf_before, params_of(nlp.get_pipe("transformer").model))
    assert history[-1]["tagger"] < history[0]["tagger"]
    doc = nlp("green eggs")
    assert tok2vec_outputs(nlp, "tagger", [doc])[0].any()


def test_spacy_frozen_component_that_annotates_feeds_its_listeners():
    # spacy train's frozen_components + annotating_components: the transformer is excluded
    # from the update but runs first, so the listener reads doc._.trf_data while training.
    nlp = build_nlp()
    trf_before = params_of(nlp.get_pipe("transformer").model)
    examples = tagger_examples(nlp)
    optimizer = nlp.resume_training()
    losses = []
    for _ in range(15):
        batch = [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in examples]
        losses.append(
            nlp.update(batch, sgd=optimizer, exclude=["transformer"], annotates=["transformer"])
        )
    assert same_params(trf_before, params_of(nlp.get_pipe("transformer").model))
    assert losses[-1]["tagger"] < losses[0]["tagger"]


def test_listeners_of_several_kinds_train_together():
    nlp = build_nlp(
        listeners={
            "tagger": listener_cfg(pooling="reduce_max.v1"),
            "tagger_mix": listener_cfg("trf.ScalarMixListener.v1", grad_factor=0.5),
            "tagger_layers": listener_cfg(
                "trf.TransformerLayersListener.v1", layers=[0, -1], combine="concat"
            ),
        }
    )
    assert nlp.get_pipe("transformer").model.attrs["output_hidden_states"] is True
    mix_head = nlp.get_pipe("tagger_mix").model.get_ref("tok2vec").layers[1]
    mix_before = mix_head.get_param("mix_weights").copy()
    history = train(nlp, 10)
    for name in ("tagger", "tagger_mix", "tagger_layers"):
        assert history[-1][name] < history[0][name]
    assert not numpy.array_equal(mix_before, mix_head.get_param("mix_weights"))
    doc = nlp("green eggs")
    assert tok2vec_outputs(nlp, "tagger_layers", [doc])[0].shape == (2, 16)


# -- spacy train --------------------------------------------------------------------------------

NAMES = ["John", "Mary", "Sam", "Anna"]
VERBS = ["likes", "eats", "sees"]
ADJS = ["green", "red"]
NOUNS = ["eggs", "ham", "apples"]


def corpus(vocab: Any, n: int, offset: int = 0) -> list[Doc]:
    docs = []
    for i in range(offset, offset + n):
        words = [NAMES[i % 4], VERBS[i % 3], ADJS[i % 2], NOUNS[(i // 2) % 3], "."]
        docs.append(
            Doc(
                vocab,
                words=words,
                tags=["PROPN", "VERB", "ADJ", "NOUN", "PUNCT"],
                heads=[1, 1, 3, 1, 1],
                deps=["nsubj", "ROOT", "amod", "dobj", "punct"],
                ents=["B-PERSON", "O", "O", "O", "O"],
            )
        )
    return docs


CONFIG = f"""
[paths]
train = null
dev = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = ["transformer", "tagger", "parser", "ner"]
batch_size = 8

[components]

[components.transformer]
factory = "transformer"
max_batch_items = 4096

[components.transformer.model]
@architectures = "trf.ToyTransformer.v1"
width = 16
depth = 1

[components.transformer.model.get_spans]
@span_getters = "{DOC_SPANS}"

[components.transformer.annotation_setter]
@annotation_setters = "{NULL_SETTER}"

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"

[components.tagger.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0

[components.tagger.model.tok2vec.pooling]
@layers = "reduce_mean.v1"

[components.parser]
factory = "parser"
min_action_freq = 1

[components.parser.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "parser"
extra_state_tokens = false
hidden_width = 16
maxout_pieces = 2
use_upper = false

[components.parser.model.tok2vec]
@architectures = "trf.ScalarMixListener.v1"
grad_factor = 1.0

[components.parser.model.tok2vec.pooling]
@layers = "reduce_max.v1"

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 16
maxout_pieces = 2
use_upper = false

[components.ner.model.tok2vec]
@architectures = "trf.TransformerLayersListener.v1"
layers = [-1, 0]
combine = "concat"
grad_factor = 0.5

[components.ner.model.tok2vec.pooling]
@layers = "reduce_first.v1"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
max_steps = 40
eval_frequency = 10
patience = 0
dropout = 0.0
seed = 0

[training.logger]
@loggers = "trf.testing.capture_logger.v1"

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 4

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.01
"""

CAPTURED: dict[str, Any] = {}


@spacy.registry.loggers("trf.testing.capture_logger.v1")
def capture_logger() -> Any:
    """Keeps the training nlp object and every evaluation's losses."""

    def setup(nlp: Any, stdout: Any = None, stderr: Any = None) -> Any:
        CAPTURED["nlp"] = nlp
        CAPTURED["losses"] = []

        def log_step(info: dict[str, Any] | None) -> None:
            if info is not None and info.get("losses"):
                CAPTURED["losses"].append(dict(info["losses"]))

        return log_step, lambda: None

    return setup


@pytest.mark.slow
def test_spacy_train_tagger_parser_ner_on_one_transformer(tmp_path: Path):
    from spacy.cli.init_config import fill_config
    from spacy.cli.train import train as spacy_train

    vocab = spacy.blank("en").vocab
    DocBin(docs=corpus(vocab, 12)).to_disk(tmp_path / "train.spacy")
    DocBin(docs=corpus(vocab, 4, offset=12)).to_disk(tmp_path / "dev.spacy")
    (tmp_path / "base.cfg").write_text(CONFIG)
    # The documented workflow: fill the partial config, then train from it.
    fill_config(tmp_path / "config.cfg", tmp_path / "base.cfg", silent=True)
    spacy_train(
        tmp_path / "config.cfg",
        tmp_path / "out",
        overrides={
            "paths.train": str(tmp_path / "train.spacy"),
            "paths.dev": str(tmp_path / "dev.spacy"),
        },
    )
    losses = CAPTURED["losses"]
    # Losses are summed between evaluations: the first entry holds step 0 alone, the others
    # ten steps each; compare the first full window with the last.
    assert len(losses) >= 3
    for name in ("transformer", "tagger", "parser", "ner"):
        assert losses[-1][name] < 0.5 * losses[1][name], name
    trained = CAPTURED["nlp"]
    reloaded = spacy.load(tmp_path / "out" / "model-last")
    assert reloaded.get_pipe("transformer").listening_components == ["tagger", "parser", "ner"]
    texts = ["Mary eats red ham .", "Anna sees green apples .", "John likes eggs ."]
    for a, b in zip(trained.pipe(texts), reloaded.pipe(texts)):
        assert [t.tag_ for t in a] == [t.tag_ for t in b]
        assert [(t.head.i, t.dep_) for t in a] == [(t.head.i, t.dep_) for t in b]
        assert [(e.start, e.end, e.label_) for e in a.ents] == [
            (e.start, e.end, e.label_) for e in b.ents
        ]
        numpy.testing.assert_array_equal(a._.trf_data.tensors[0], b._.trf_data.tensors[0])


def test_gradient_is_not_lost_when_the_last_listener_sits_an_update_out():
    nlp = build_nlp(listeners={"tagger": listener_cfg(), "tagger2": listener_cfg()})
    trf_before = params_of(nlp.get_pipe("transformer").model)
    examples = tagger_examples(nlp)
    optimizer = nlp.resume_training()
    for _ in range(3):
        # The first update only brings the softmax off zero; later ones send real gradients.
        nlp.update(examples, sgd=optimizer, exclude=["tagger2"])
    assert not same_params(trf_before, params_of(nlp.get_pipe("transformer").model))


def test_frozen_component_ignores_the_optimizer_even_with_old_gradients():
    nlp = build_nlp()
    train(nlp, 3)
    trf = nlp.get_pipe("transformer")
    trf.cfg["frozen"] = True
    before = params_of(trf.model)
    train(nlp, 2)
    assert same_params(before, params_of(trf.model))
