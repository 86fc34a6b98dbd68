"""``trf-core export-onnx`` on pipelines trained here with trf-hf (tiny BERT and RoBERTa).

The exported pipeline must give what trf-hf gives: hidden states within 1e-4, the same
wordpieces, alignment and tags, for short docs, docs long enough to run in several windows and
empty docs, through a mean-pooling listener and one that mixes every hidden layer.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.training import Example

from trf_core.cli.main import main
from trf_core.testing.pipelines import listener_cfg, tagger_cfg

pytestmark = [
    pytest.mark.needs_torch,
    pytest.mark.skipif(
        importlib.util.find_spec("trf_hf") is None or importlib.util.find_spec("onnx") is None,
        reason="exporting needs trf-hf (torch) and onnx",
    ),
]

TRAIN = [
    (
        "The quick brown fox jumps over the lazy dog .",
        "DET ADJ ADJ NOUN VERB ADP DET ADJ NOUN PUNCT",
    ),
    ("Colorless green ideas sleep furiously !", "ADJ ADJ NOUN VERB ADV PUNCT"),
    ("The dog sleeps .", "DET NOUN VERB PUNCT"),
]
LONG = "The quick brown fox jumps over the lazy dog and sleeps furiously in the rain. " * 4
TEXTS = ["The lazy fox sleeps over the dog.", "", "Green ideas jump furiously!", LONG, "a"]


def _train_pipeline(model_dir: Path, window: int) -> Language:
    """trf-hf transformer (windows of ``window`` pieces) + a mean tagger + a scalar-mix tagger."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {
                "@architectures": "spacy-transformers.TransformerModel.v3",
                "name": str(model_dir),
                "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
                "window": window,
                "stride": window // 2,
            }
        },
    )
    nlp.add_pipe("tagger", config=tagger_cfg(listener_cfg()))
    mix = listener_cfg("trf.ScalarMixListener.v1")
    nlp.add_pipe("tagger", name="mix_tagger", config=tagger_cfg(mix))
    examples = [
        Example.from_dict(nlp.make_doc(text), {"tags": tags.split()}) for text, tags in TRAIN
    ]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(4):
        nlp.update(examples, sgd=optimizer)
    return nlp


def _export(source: Path, output: Path, *options: str) -> None:
    assert main(["export-onnx", str(source), str(output), *options]) == 0


@pytest.fixture(scope="module")
def bert_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hf_models import make_bert

    root = tmp_path_factory.mktemp("bert-pipeline")
    nlp = _train_pipeline(make_bert(root / "bert", max_positions=32), window=12)
    nlp.to_disk(root / "trf-hf")
    return root / "trf-hf"


@pytest.fixture(scope="module")
def bert_onnx(bert_pipeline: Path) -> Path:
    output = bert_pipeline.parent / "onnx"
    _export(bert_pipeline, output)
    return output


def _tags(nlp: Language, component: str, doc: Any) -> list[str]:
    """What one tagger predicts for a processed doc (both taggers write token.tag_)."""
    pipe: Any = nlp.get_pipe(component)
    (scores,) = pipe.model.predict([doc])
    return [pipe.labels[i] for i in numpy.asarray(scores).argmax(axis=1)]


def _run(nlp: Language, texts: list[str]) -> list[dict[str, Any]]:
    out = []
    for doc in nlp.pipe(texts):
        data = doc._.trf_data
        out.append(
            {
                "tags": _tags(nlp, "tagger", doc),
                "mix_tags": _tags(nlp, "mix_tagger", doc),
                "tensors": [numpy.asarray(t) for t in data.tensors],
                "strings": data.wordpieces.strings,
                "align": numpy.asarray(data.align.dataXd).tolist(),
                "lengths": numpy.asarray(data.align.lengths).tolist(),
                "n_hidden": len(data.model_output.get("hidden_states") or ()),
            }
        )
    return out


def _max_diff(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    worst = 0.0
    for x, y in zip(a, b):
        assert len(x["tensors"]) == len(y["tensors"])
        for s, t in zip(x["tensors"], y["tensors"]):
            assert s.shape == t.shape
            if s.size:
                worst = max(worst, float(numpy.abs(s - t).max()))
    return worst


def test_fp32_export_gives_trf_hf_outputs(bert_pipeline: Path, bert_onnx: Path) -> None:
    hf, onnx = spacy.load(bert_pipeline), spacy.load(bert_onnx)
    assert onnx.get_pipe("transformer").model.name == "trf-onnx"
    expected, got = _run(hf, TEXTS), _run(onnx, TEXTS)
    assert expected[3]["n_hidden"] == got[3]["n_hidden"] == 3  # the scalar mix reads them all
    assert max(len(s) for s in got[3]["strings"]) > 12  # the long doc ran in several windows
    for x, y in zip(expected, got):
        assert (x["tags"], x["mix_tags"]) == (y["tags"], y["mix_tags"])
        assert (x["strings"], x["align"], x["lengths"]) == (y["strings"], y["align"], y["lengths"])
    assert _max_diff(expected, got) < 1e-4


def test_config_and_meta_name_the_onnx_backend(bert_onnx: Path) -> None:
    config = spacy.util.load_config(bert_onnx / "config.cfg")
    model = config["components"]["transformer"]["model"]
    assert model["@architectures"] == "trf.ONNXTransformerModel.v1"
    assert model["get_spans"] == {"@span_getters": "spacy-transformers.doc_spans.v1"}
    assert (model["window"], model["stride"]) == (12, 6)
    requirements = json.loads((bert_onnx / "meta.json").read_text())["requirements"]
    assert any(r.startswith("trf-onnx") for r in requirements)
    assert not any(r.startswith("trf-hf") for r in requirements)
    assert sorted(p.name for p in (bert_onnx / "transformer" / "model").iterdir()) == [
        "model.onnx",
        "tokenizer.json",
        "trf_onnx.json",
    ]


def test_fused_export_is_fused_and_gives_trf_hf_outputs(bert_pipeline: Path) -> None:
    # --fuse: ONNX Runtime's fused kernels, kept because their outputs equal the traced graph's.
    import onnx

    output = bert_pipeline.parent / "fused"
    _export(bert_pipeline, output, "--fuse")
    meta = json.loads((output / "transformer" / "model" / "trf_onnx.json").read_text())
    assert meta["fusions"].get("Attention") == 2  # one per layer of the tiny BERT
    assert meta["fusions"].get("SkipLayerNormalization", 0) >= 2
    graph = onnx.load(str(output / "transformer" / "model" / "model.onnx")).graph
    assert "Attention" in {node.op_type for node in graph.node}
    expected, got = _run(spacy.load(bert_pipeline), TEXTS), _run(spacy.load(output), TEXTS)
    assert [x["tags"] for x in expected] == [y["tags"] for y in got]
    assert _max_diff(expected, got) < 1e-4
    int8 = bert_pipeline.parent / "fused-int8"
    _export(bert_pipeline, int8, "--fuse", "--quantize", "int8")
    ops = {
        n.op_type for n in onnx.load(str(int8 / "transformer" / "model" / "model.onnx")).graph.node
    }
    assert "QAttention" in ops  # the fused attention's weights are quantized too
    _assert_one_scale_per_column(int8 / "transformer" / "model" / "model.onnx")


def test_plain_export_is_not_fused(bert_onnx: Path) -> None:
    meta = json.loads((bert_onnx / "transformer" / "model" / "trf_onnx.json").read_text())
    assert meta["fusions"] == {}


def test_a_fusion_that_changes_outputs_is_not_kept(tmp_path: Path) -> None:
    from trf_onnx import fusion

    reference = tmp_path / "reference.onnx"
    candidate = tmp_path / "candidate.onnx"
    _identity_graph(reference, scale=1.0)
    _identity_graph(candidate, scale=1.001)
    feed = {"attention_mask": numpy.ones((1, 3), dtype="int64")}
    assert fusion._agrees(reference, reference, feed)
    assert not fusion._agrees(reference, candidate, feed)


def _identity_graph(path: Path, scale: float) -> None:
    """A graph mapping the mask to float times ``scale``: two graphs that differ only in value."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["as_float", "scale"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [], [scale])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_int8_export_is_smaller_and_close(bert_pipeline: Path, bert_onnx: Path) -> None:
    output = bert_pipeline.parent / "int8"
    _export(bert_pipeline, output, "--quantize", "int8")
    fp32_file = bert_onnx / "transformer" / "model" / "model.onnx"
    int8_file = output / "transformer" / "model" / "model.onnx"
    assert int8_file.stat().st_size < fp32_file.stat().st_size
    meta = json.loads((output / "transformer" / "model" / "trf_onnx.json").read_text())
    assert meta["quantize"] == "int8"
    fp32, int8 = _run(spacy.load(bert_onnx), TEXTS), _run(spacy.load(output), TEXTS)
    diff = _max_diff(fp32, int8)
    assert 0 < diff < 0.5  # quantized (not the fp32 graph), yet the same model
    _assert_one_scale_per_column(int8_file)


def _assert_one_scale_per_column(path: Path) -> None:
    """Every quantized weight has a scale per output column, not one for the whole matrix."""
    import onnx

    shapes = {i.name: list(i.dims) for i in onnx.load(str(path)).graph.initializer}
    weights = [n for n, dims in shapes.items() if n.endswith("_quantized") and len(dims) == 2]
    assert len(weights) >= 4  # the tiny BERT's two layers: attention and feed-forward weights
    for name in weights:
        scale = shapes[name.removesuffix("_quantized") + "_scale"]
        assert scale == [shapes[name][-1]], f"{name}: scale of shape {scale}"


def test_roberta_export_without_token_types(tmp_path: Path) -> None:
    from hf_models import make_roberta

    nlp = _train_pipeline(make_roberta(tmp_path / "roberta"), window=16)
    nlp.to_disk(tmp_path / "trf-hf")
    _export(tmp_path / "trf-hf", tmp_path / "onnx")
    meta = json.loads((tmp_path / "onnx" / "transformer" / "model" / "trf_onnx.json").read_text())
    assert "token_type_ids" not in meta["input_names"]
    expected = _run(spacy.load(tmp_path / "trf-hf"), TEXTS)
    got = _run(spacy.load(tmp_path / "onnx"), TEXTS)
    assert [x["strings"] for x in expected] == [y["strings"] for y in got]
    assert [x["tags"] for x in expected] == [y["tags"] for y in got]
    assert _max_diff(expected, got) < 1e-4


def test_export_refuses_a_used_output_folder(
    bert_pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    assert main(["export-onnx", str(bert_pipeline), str(tmp_path / "taken")]) == 1
    assert "not an empty folder" in capsys.readouterr().err


def test_export_needs_a_trf_hf_transformer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "plain")
    assert main(["export-onnx", str(tmp_path / "plain"), str(tmp_path / "out")]) == 1
    assert "no `transformer` component with a trf-hf model" in capsys.readouterr().err


def test_export_refuses_a_tok2vec_transformer_left_behind(
    bert_pipeline: Path, tmp_path: Path
) -> None:
    from trf_onnx.export import ExportError, export_pipeline

    nlp = spacy.load(bert_pipeline)
    bert = nlp.get_pipe("transformer").model.attrs["name"]
    tok2vec = {
        "@architectures": "spacy-transformers.Tok2VecTransformer.v3",
        "name": bert,
        "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
        "tokenizer_config": {},
        "pooling": {"@layers": "reduce_mean.v1"},
    }
    nlp.add_pipe("tagger", name="own_tagger", config={"model": {
        "@architectures": "spacy.Tagger.v2", "tok2vec": tok2vec}})  # fmt: skip
    nlp.get_pipe("own_tagger").add_label("X")
    nlp.get_pipe("own_tagger").initialize(
        lambda: [Example.from_dict(nlp.make_doc("a b"), {"tags": ["X", "X"]})], nlp=nlp
    )
    nlp.to_disk(tmp_path / "mixed")
    with pytest.raises(ExportError, match=r"own_tagger.*Tok2VecTransformer"):
        export_pipeline(tmp_path / "mixed", tmp_path / "out")


VENV_SCRIPT = """
import importlib.util, json, sys
import numpy, spacy
assert importlib.util.find_spec("torch") is None, "torch is installed in the torch-free venv"
nlp = spacy.load(sys.argv[1])
texts = json.loads(sys.argv[2])
out = []
for doc in nlp.pipe(texts):
    tensors = doc._.trf_data.tensors
    out.append({"tags": [t.tag_ for t in doc],
                "last": numpy.asarray(tensors[0]).tolist() if tensors else None})
assert "torch" not in sys.modules
print(json.dumps(out))
"""


@pytest.mark.slow
def test_exported_pipeline_runs_in_a_venv_without_torch(
    bert_pipeline: Path, bert_onnx: Path, tmp_path: Path
) -> None:
    """pip-install trf-onnx and the plugins the pipeline uses, no torch, and run it there."""
    import trf_core

    root = Path(trf_core.__file__).resolve().parents[1]
    if not (root / "core" / "pyproject.toml").is_file():
        pytest.skip("needs the distributions' source folders (trf-core is installed from a wheel)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "hatchling>=1.18"], check=True)
    local = ["core", ".", "contrib_span_getters", "contrib_setters", "plugins/onnx"]
    subprocess.run([*pip, "--no-build-isolation", *(str(root / d) for d in local)], check=True)
    done = subprocess.run(
        [python, "-c", VENV_SCRIPT, str(bert_onnx), json.dumps(TEXTS)],
        check=True,
        capture_output=True,
        text=True,
    )
    got = json.loads(done.stdout)
    hf = spacy.load(bert_pipeline)
    for doc, row in zip(hf.pipe(TEXTS), got):
        assert [t.tag_ for t in doc] == row["tags"]
        tensors = doc._.trf_data.tensors
        if row["last"] is None:
            assert not tensors or tensors[0].size == 0
        else:
            diff = numpy.abs(numpy.asarray(tensors[0]) - numpy.asarray(row["last"]))
            assert float(diff.max()) < 1e-4
