"""The HF backend against transformers called directly: outputs, windows, truncation, batches."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy
import pytest
import torch
from hf_helpers import (
    NLP,
    as_numpy,
    doc_spans,
    load_reference,
    most_central_window,
    run_ids,
    use_eager_attention,
    window_starts,
)
from trf_hf import ModelNotFoundError, TransformerModel

SHORT = "The quick brown fox jumps over the lazy dog."
LONG = " ".join(
    [
        "Colorless green ideas sleep furiously, and the quick brown fox jumps over the lazy dog;",
        "a tokenizer splits unbelievable words into pieces while spaCy pipelines run",
        "transformers over documents and sentences in Zürich.",
    ]
)


def build(path: Path, **kwargs: object) -> object:
    model = TransformerModel(str(path), get_spans=doc_spans, **kwargs)
    model.initialize()
    return model


def test_fitting_span_matches_transformers(model_dir: Path) -> None:
    tokenizer, reference = load_reference(model_dir)
    model = build(model_dir)
    model.attrs["output_hidden_states"] = True
    doc = NLP(SHORT)
    batch = model.predict([doc])
    ids = tokenizer(SHORT)["input_ids"]
    expected = run_ids(reference, ids, output_hidden_states=True)
    out = batch.model_output
    assert list(out)[:1] == ["last_hidden_state"]
    assert out.last_hidden_state.shape == (1, len(ids), reference.config.hidden_size)
    numpy.testing.assert_allclose(
        as_numpy(out.last_hidden_state)[0], expected.last_hidden_state[0].numpy(), atol=1e-4
    )
    assert len(out.hidden_states) == reference.config.num_hidden_layers + 1
    for ours, theirs in zip(out.hidden_states, expected.hidden_states):
        numpy.testing.assert_allclose(as_numpy(ours)[0], theirs[0].numpy(), atol=1e-4)
    numpy.testing.assert_allclose(
        as_numpy(out.pooler_output)[0], expected.pooler_output[0].numpy(), atol=1e-4
    )
    assert batch.wordpieces.strings[0] == tokenizer.convert_ids_to_tokens(ids)


def _windows(tokenizer: Any, text: str, window: int, stride: int) -> list[list[int]]:
    """The id sequences of a long text's windows, each wrapped in the text's specials."""
    ids = tokenizer(text)["input_ids"]
    special = tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
    prefix = special.index(0)
    suffix = list(reversed(special)).index(0)
    content = ids[prefix : len(ids) - suffix]
    capacity = window - prefix - suffix
    return [
        ids[:prefix] + content[start : start + capacity] + ids[len(ids) - suffix :]
        for start in window_starts(len(content), capacity, stride)
    ]


def _expected_windowed(
    tokenizer: object, reference: object, text: str, window: int, stride: int
) -> numpy.ndarray:
    """Run each window through the model directly; take each piece from its most central one."""
    enc = tokenizer(text)  # type: ignore[operator]
    ids = enc["input_ids"]
    special = tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)  # type: ignore[attr-defined]
    prefix = special.index(0)
    suffix = list(reversed(special)).index(0)
    content = ids[prefix : len(ids) - suffix]
    capacity = window - prefix - suffix
    starts = window_starts(len(content), capacity, stride)
    outputs = []
    for start in starts:
        window_ids = ids[:prefix] + content[start : start + capacity] + ids[len(ids) - suffix :]
        outputs.append(run_ids(reference, window_ids).last_hidden_state[0].numpy())
    rows = [outputs[0][p] for p in range(prefix)]
    for c in range(len(content)):
        w = most_central_window(c, starts, capacity, len(content))
        rows.append(outputs[w][prefix + c - starts[w]])
    last = outputs[-1]
    rows.extend(last[len(last) - suffix + j] for j in range(suffix))
    return numpy.stack(rows)


@pytest.mark.parametrize("window,stride", [(16, 8), (20, 15)])
def test_long_span_is_windowed_not_truncated(model_dir: Path, window: int, stride: int) -> None:
    tokenizer, reference = load_reference(model_dir)
    model = build(model_dir, window=window, stride=stride)
    doc = NLP(LONG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # windowing never warns: nothing is dropped
        batch = model.predict([doc])
    n_pieces = len(tokenizer(LONG)["input_ids"])
    assert n_pieces > window
    hidden = as_numpy(batch.model_output.last_hidden_state)
    assert hidden.shape[:2] == (1, n_pieces)
    expected = _expected_windowed(tokenizer, reference, LONG, window, stride)
    numpy.testing.assert_allclose(hidden[0], expected, atol=1e-4)
    # The span's pooled output is the mean of its windows' pooled outputs.
    pooled = [
        run_ids(reference, ids).pooler_output[0].numpy()
        for ids in _windows(tokenizer, LONG, window, stride)
    ]
    numpy.testing.assert_allclose(
        as_numpy(batch.model_output.pooler_output)[0], numpy.mean(pooled, axis=0), atol=1e-4
    )
    # Every non-space token still has vectors: nothing was cut.
    lengths = as_numpy(batch.align.lengths)
    assert all(n > 0 for tok, n in zip(doc, lengths) if not tok.is_space)


def test_default_window_is_the_models_maximum(bert_dir: Path) -> None:
    tokenizer, reference = load_reference(bert_dir)
    model = build(bert_dir)  # the tiny BERT takes 32 positions
    batch = model.predict([NLP(LONG)])
    n_pieces = len(tokenizer(LONG)["input_ids"])
    assert n_pieces > 32
    hidden = as_numpy(batch.model_output.last_hidden_state)
    assert hidden.shape[1] == n_pieces
    expected = _expected_windowed(tokenizer, reference, LONG, 32, (3 * 30) // 4)
    numpy.testing.assert_allclose(hidden[0], expected, atol=1e-4)


def test_truncate_warns_with_counts(bert_dir: Path) -> None:
    tokenizer, _ = load_reference(bert_dir)
    model = build(bert_dir, window=16, truncate=True)
    docs = [NLP(LONG), NLP("A fox.")]
    n_long = len(tokenizer(LONG)["input_ids"])
    with pytest.warns(UserWarning) as record:
        batch = model.predict(docs)
    message = str(record[0].message)
    assert "truncated 1 of 2 spans" in message
    assert f"dropping {n_long - 16} wordpieces" in message
    assert batch.model_output.last_hidden_state.shape[1] == 16
    lengths = as_numpy(batch.align.lengths)[: len(docs[0])]
    assert lengths[0] > 0 and lengths[-1] == 0  # the tail lost its pieces


def test_output_does_not_depend_on_batch(model_dir: Path) -> None:
    model = build(model_dir, window=16)
    docs = [NLP(SHORT), NLP(LONG), NLP(""), NLP("Green ideas.")]
    alone = [model.predict([doc]).doc_data[0] for doc in docs]
    together = model.predict(list(reversed(docs))).doc_data[::-1]
    for a, b in zip(alone, together):
        assert len(a.tensors) == len(b.tensors)
        for x, y in zip(a.tensors, b.tensors):
            assert x.shape == y.shape
            numpy.testing.assert_allclose(as_numpy(x), as_numpy(y), atol=1e-4)
        numpy.testing.assert_array_equal(as_numpy(a.align.data), as_numpy(b.align.data))


def test_batch_of_empty_docs(bert_dir: Path) -> None:
    model = build(bert_dir)
    model.attrs["output_hidden_states"] = True
    docs = [NLP(""), NLP("")]
    batch, backprop = model.begin_update(docs)
    assert batch.doc_lengths == [0, 0]
    assert [len(d.align.lengths) for d in batch.doc_data] == [0, 0]
    assert backprop([[], []]) == []
    spaces = NLP("a   b")
    batch = model.predict([spaces, NLP("")])
    assert len(batch.doc_data[0].align.lengths) == len(spaces)


def test_attentions_match_transformers(bert_dir: Path) -> None:
    tokenizer, reference = load_reference(bert_dir)
    use_eager_attention(reference)  # attentions need the eager path
    model = build(bert_dir, transformer_config={"output_attentions": True})
    batch = model.predict([NLP(SHORT)])
    ids = tokenizer(SHORT)["input_ids"]
    expected = run_ids(reference, ids, output_attentions=True).attentions
    ours = batch.model_output.attentions
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        numpy.testing.assert_allclose(as_numpy(a), b.numpy(), atol=1e-4)


def test_windowed_attentions_keep_the_span_shape(bert_dir: Path) -> None:
    model = build(bert_dir, window=16, transformer_config={"output_attentions": True})
    batch = model.predict([NLP(LONG)])
    n = batch.wordpieces.lengths[0]
    for att in batch.model_output.attentions:
        att = as_numpy(att)
        assert att.shape == (1, 2, n, n)
        # Each row is one window's softmax: sums to 1 over the columns that window holds.
        numpy.testing.assert_allclose(att[0].sum(-1), numpy.ones((2, n)), atol=1e-4)


def test_predict_builds_no_autograd_graph(bert_dir: Path) -> None:
    model = build(bert_dir)
    transformer = model.shims[0].transformer
    seen: list[tuple[bool, bool]] = []
    handle = transformer.register_forward_hook(
        lambda *args: seen.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
    )
    try:
        model.predict([NLP(SHORT)])
        model.begin_update([NLP(SHORT)])
    finally:
        handle.remove()
    assert seen == [(True, False), (False, True)]


def test_predict_runs_in_eval_mode_and_training_in_train_mode(bert_dir: Path) -> None:
    """predict leaves the model in eval mode (switching costs a walk over every submodule), so
    an update after it must still see dropout on: begin_update switches back."""
    model = build(bert_dir)
    transformer = model.shims[0].transformer
    seen: list[bool] = []
    handle = transformer.register_forward_hook(lambda module, *args: seen.append(module.training))
    try:
        model.begin_update([NLP(SHORT)])
        model.predict([NLP(SHORT)])
        model.predict([NLP(SHORT)])
        model.begin_update([NLP(SHORT)])
        model.predict([NLP(SHORT)])
    finally:
        handle.remove()
    assert seen == [True, False, False, True, False]


def test_missing_model_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-model"
    model = TransformerModel(str(missing), get_spans=doc_spans)  # building loads nothing
    with pytest.raises(ModelNotFoundError) as info:
        model.initialize()
    message = str(info.value)
    assert str(missing) in message
    assert "not a Hugging Face Hub id either" in message
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as info:
        TransformerModel("bert-base-cased", get_spans=doc_spans).initialize()
    message = str(info.value)
    assert "no installed Python package 'bert_base_cased'" in message
    assert "the Hub model 'bert-base-cased' at revision 'main' is not in the" in message


def test_folder_without_config_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(ModelNotFoundError, match=r"holds no config\.json"):
        TransformerModel(str(tmp_path), get_spans=doc_spans).initialize()


def test_bad_window_options(bert_dir: Path) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        TransformerModel(str(bert_dir), get_spans=doc_spans, window=-1)
    model = build(bert_dir, window=64)
    with pytest.raises(ValueError, match="at most 32"):
        model.predict([NLP(SHORT)])


class _NoOffsets:
    """A tokenizer that reports no character offsets, like transformers' slow tokenizers."""

    is_fast = False

    def __init__(self, fast: object) -> None:
        self._fast = fast

    def __call__(self, texts: list[str], **kwargs: object) -> object:
        if kwargs.get("return_offsets_mapping"):
            raise NotImplementedError("slow tokenizers have no offsets")
        return self._fast(texts, **kwargs)  # type: ignore[operator]

    def __getattr__(self, name: str) -> object:
        return getattr(self._fast, name)


def test_tokenizer_without_offsets_aligns_by_strings(bert_dir: Path) -> None:
    pytest.importorskip("spacy_alignments")
    model = build(bert_dir, window=16)
    docs = [NLP("The quick brown foxes jump over the lazy dog."), NLP(LONG)]
    expected = model.predict(docs)
    shim = model.shims[0]
    shim.tokenizer = _NoOffsets(shim.tokenizer)
    got = model.predict(docs)
    numpy.testing.assert_array_equal(
        as_numpy(got.model_output.last_hidden_state),
        as_numpy(expected.model_output.last_hidden_state),
    )
    first = len(docs[0])
    numpy.testing.assert_array_equal(
        as_numpy(got.align.lengths)[:first], as_numpy(expected.align.lengths)[:first]
    )
    n_rows = int(as_numpy(expected.align.lengths)[:first].sum())
    numpy.testing.assert_array_equal(
        as_numpy(got.align.data).reshape(-1)[:n_rows],
        as_numpy(expected.align.data).reshape(-1)[:n_rows],
    )


def test_plugin_registers_every_architecture() -> None:
    import spacy
    from trf_hf import ARCHITECTURES
    from trf_hf.plugin import trf_model_backends

    import trf_core  # noqa: F401  (loads plugins)

    assert set(trf_model_backends()) == set(ARCHITECTURES)
    for name, fn in ARCHITECTURES.items():
        assert spacy.registry.architectures.get(name) is fn


@pytest.mark.gpu
def test_gpu_outputs_are_cupy_and_match_cpu(bert_dir: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    cupy = pytest.importorskip("cupy")
    from thinc.api import NumpyOps, set_current_ops, use_ops

    cpu = build(bert_dir).predict([NLP(SHORT)]).model_output.last_hidden_state
    with use_ops("cupy"):
        for mixed in (False, True):
            model = build(bert_dir, mixed_precision=mixed)
            assert model.shims[0].device.type == "cuda"
            batch, backprop = model.begin_update([NLP(SHORT)])
            hidden = batch.model_output.last_hidden_state
            assert isinstance(hidden, cupy.ndarray)
            atol = 5e-2 if mixed else 1e-4
            numpy.testing.assert_allclose(cupy.asnumpy(hidden), cpu, atol=atol)
            tensors = batch.doc_data[0].tensors
            backprop([[cupy.ones_like(tensors[0])] + [None] * (len(tensors) - 1)])
            grads = [p.grad for p in model.shims[0].transformer.parameters()]
            assert any(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    set_current_ops(NumpyOps())


def test_model_without_pooler_or_token_types(tmp_path: Path) -> None:
    from hf_models import make_distilbert

    path = make_distilbert(tmp_path / "distilbert")
    tokenizer, reference = load_reference(path)
    model = build(path, window=16)
    model.attrs["output_hidden_states"] = True
    batch = model.predict([NLP(SHORT), NLP(LONG)])
    assert list(batch.model_output) == ["last_hidden_state", "hidden_states"]
    ids = tokenizer(SHORT)["input_ids"]
    expected = run_ids(reference, ids).last_hidden_state[0].numpy()
    numpy.testing.assert_allclose(
        as_numpy(batch.model_output.last_hidden_state)[0, : len(ids)], expected, atol=1e-4
    )
    assert batch.wordpieces.lengths[1] == len(tokenizer(LONG)["input_ids"])


def test_mixed_precision_without_a_gpu_runs_in_full_precision(bert_dir: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU fallback")
    expected = build(bert_dir).predict([NLP(SHORT)]).model_output.last_hidden_state
    with pytest.warns(UserWarning, match="needs a CUDA GPU"):
        model = build(bert_dir, mixed_precision=True)
    got = model.predict([NLP(SHORT)]).model_output.last_hidden_state
    numpy.testing.assert_array_equal(as_numpy(got), as_numpy(expected))
