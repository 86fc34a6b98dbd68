"""A toy exported encoder built without torch: an ONNX graph from ``onnx.helper`` and a WordPiece
``tokenizer.json`` from ``tokenizers``, in the folder layout ``trf-core export-onnx`` writes.

It lets the torch-free session test the backend itself (tokenizing, windowing, grouping,
reassembly, alignment, serialization) on a real ONNX Runtime session. The graph mixes context
the way attention does, through the attention mask (each piece adds the mean of the real pieces
of its window), so padding that leaked into real positions would show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy

WORDS = (
    "the quick brown fox jumps over lazy dog a an and in on of to it is was green ideas sleep "
    "furiously token word piece like un visit rain model text i eat ham eggs we they now"
).split()
CHARS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,;:!?-'\"()$@#/")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocab() -> list[str]:
    pieces = SPECIALS + WORDS + CHARS + ["##" + c for c in CHARS] + ["##s", "##ing", "##ed"]
    return list(dict.fromkeys(pieces))


def save_tokenizer(path: Path) -> None:
    """An uncased BERT-style WordPiece tokenizer, saved as tokenizer.json."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    ids = {piece: i for i, piece in enumerate(vocab())}
    tokenizer = Tokenizer(WordPiece(ids, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tokenizer.save(str(path))


def save_graph(path: Path, width: int, seed: int) -> None:
    """last = tanh((emb + types) @ W + mean over the window's real pieces); two hidden states."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = numpy.random.default_rng(seed)
    n_vocab = len(vocab())

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.5, shape).astype("float32"), name)

    inits = [
        weight("E", n_vocab, width),
        weight("T", 2, width),
        weight("W", width, width),
        weight("P", width, width),
        numpy_helper.from_array(numpy.asarray([1], dtype="int64"), "axis1"),
        numpy_helper.from_array(numpy.asarray([-1], dtype="int64"), "axis_last"),
    ]
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["emb"]),
        helper.make_node("Gather", ["T", "token_type_ids"], ["types"]),
        helper.make_node("Add", ["emb", "types"], ["hidden_state_0"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis_last"], ["mask3"]),
        helper.make_node("Mul", ["hidden_state_0", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=1),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["total", "count"], ["context"]),
        helper.make_node("MatMul", ["hidden_state_0", "W"], ["mixed"]),
        helper.make_node("Add", ["mixed", "context"], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["last_hidden_state"]),
        helper.make_node("Identity", ["last_hidden_state"], ["hidden_state_1"]),
        helper.make_node("Squeeze", ["context", "axis1"], ["context2"]),
        helper.make_node("MatMul", ["context2", "P"], ["pooled"]),
        helper.make_node("Tanh", ["pooled"], ["pooler_output"]),
    ]
    ints = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    outs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", "sequence", width])
        for n in ("last_hidden_state", "hidden_state_0", "hidden_state_1")
    ]
    outs.insert(
        1, helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, ["batch", width])
    )
    graph = helper.make_graph(nodes, "toy_encoder", ints, outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make_toy_export(
    path: Path, width: int = 8, max_length: int = 16, seed: int = 0, hidden_states: bool = True
) -> Path:
    """A folder trf.ONNXTransformerModel.v1 loads: model.onnx, tokenizer.json, trf_onnx.json."""
    path.mkdir(parents=True, exist_ok=True)
    save_tokenizer(path / "tokenizer.json")
    save_graph(path / "model.onnx", width, seed)
    meta = {
        "format": "trf-onnx.v1",
        "hidden_size": width,
        "num_hidden_layers": 1,
        "max_length": max_length,
        "has_pooler": True,
        "has_hidden_states": hidden_states,
        "input_names": ["input_ids", "attention_mask", "token_type_ids"],
        "pad_token_id": 0,
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
        "special_tokens": SPECIALS,
        "quantize": None,
        "source": "toy",
    }
    (path / "trf_onnx.json").write_text(json.dumps(meta), encoding="utf8")
    return path
