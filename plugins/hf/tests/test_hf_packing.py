"""Short windows packed into shared rows: each window's outputs equal the model run on it alone.

The runner lays short windows end to end with their own positions, at inference and in
training: in one unpadded row with attention computed per window (the segment mode, where the
model's layers read transformers' attention registry), or in rows with a block-diagonal mask.
These tests check the plans, the mask, that the runner's outputs (last hidden state, every
hidden layer, pooled output) and the model's gradients equal each window run alone with no
padding in both modes, that the model's own attention setting survives a packed call, and that a
model which cannot take packed inputs is detected and runs unpacked instead.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hf_helpers import load_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hf_grouping import _inputs

torch = pytest.importorskip("torch")

from trf_hf.packing import (  # noqa: E402
    ATTENTION_COST,
    ROW_PIECES,
    SEGMENTS,
    PackedRows,
    _packed_inputs,
    _segment_inputs,
    masked_packing_mode,
    pack_rows,
    pack_tight,
    packing_mode,
)
from trf_hf.runner import SpanRunner  # noqa: E402
from trf_hf.segments import NAME, attending_by_segment, register, segment_runs  # noqa: E402

PACKING_MODES = [SEGMENTS, 4]
"""The modes BERT and RoBERTa take on transformers 5 (3 is transformers 4's mask)."""


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def _packing_as(model: Any, mode: int) -> None:
    """Probe ``model``, then make it pack in ``mode``; on transformers 4, where BERT's layers may
    not read the attention registry, the segment mode is skipped when the probe refused it."""
    probed = packing_mode(model)
    assert probed in (SEGMENTS, 3, 4)  # BERT and RoBERTa take packed inputs
    if mode == SEGMENTS and probed != SEGMENTS:
        assert _transformers_major() < 5, "BERT and RoBERTa attend by segment on transformers 5"
        pytest.skip("this transformers' BERT does not attend by segment")
    if mode == 4 and probed == 3:
        mode = 3  # transformers 4 takes the 3D mask
    model._trf_packing_mode = mode


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=ROW_PIECES), max_size=80))
def test_pack_rows_places_every_window_once_without_overlap(lengths: list[int]) -> None:
    packed = pack_rows(lengths, ROW_PIECES)
    assert all(0 < fill <= ROW_PIECES for fill in packed.fill)
    by_row: dict[int, list[tuple[int, int]]] = {}
    for i, n in enumerate(lengths):
        by_row.setdefault(packed.rows[i], []).append((packed.starts[i], packed.starts[i] + n))
    for row, extents in by_row.items():
        extents.sort()
        assert extents[0][0] == 0
        for (_, end), (start, _) in pairwise(extents):
            assert start == end  # end to end, no gap, no overlap
        assert extents[-1][1] == packed.fill[row]
    # first fit: no two rows would fit in one
    fills = sorted(packed.fill)
    assert len(fills) < 2 or fills[0] + fills[1] > ROW_PIECES


def _assert_valid(packed: PackedRows, lengths: list[int], max_width: int) -> None:
    """Every window once, end to end in its row from column 0, no row over ``max_width``."""
    assert len(packed.rows) == len(packed.starts) == len(lengths)
    assert all(0 < fill <= max_width for fill in packed.fill)
    by_row: dict[int, list[tuple[int, int]]] = {}
    for i, n in enumerate(lengths):
        by_row.setdefault(packed.rows[i], []).append((packed.starts[i], packed.starts[i] + n))
    assert sorted(by_row) == list(range(len(packed.fill)))  # no empty row
    for row, extents in by_row.items():
        extents.sort()
        assert extents[0][0] == 0
        for (_, end), (start, _) in pairwise(extents):
            assert start == end
        assert extents[-1][1] == packed.fill[row]


def _estimated_cost(packed: PackedRows) -> float:
    width = max(packed.fill, default=0)
    return len(packed.fill) * width * (1 + ATTENTION_COST * width)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=ROW_PIECES), max_size=80),
    st.sampled_from([ROW_PIECES, 64, 200]),
)
def test_pack_tight_is_a_valid_packing_never_costlier_than_first_fit(
    lengths: list[int], max_width: int
) -> None:
    lengths = [min(n, max_width) for n in lengths]
    packed = pack_tight(lengths, max_width)
    _assert_valid(packed, lengths, max_width)
    if lengths:
        assert _estimated_cost(packed) <= _estimated_cost(pack_rows(lengths, max_width))


def test_pack_tight_narrows_rows_for_windows_of_similar_length() -> None:
    # 64 windows of 40 to 47 pieces, as a length-sorted batch of sentences gives: first fit at
    # 128 puts two in a row (up to 94 wide, 32 rows); attention in rows of 128 for each piece
    # is what the narrower rows save, and the tails they leave are smaller.
    lengths = [40 + i % 8 for i in range(64)]
    tight, first_fit = pack_tight(lengths, ROW_PIECES), pack_rows(lengths, ROW_PIECES)
    real = sum(lengths)
    assert len(tight.fill) * max(tight.fill) <= len(first_fit.fill) * max(first_fit.fill)
    assert len(tight.fill) * max(tight.fill) < 1.05 * real
    assert _estimated_cost(tight) < _estimated_cost(first_fit)


def test_pack_tight_refuses_a_window_longer_than_a_row() -> None:
    with pytest.raises(ValueError, match="more than a row"):
        pack_tight([3, ROW_PIECES + 1], ROW_PIECES)


def test_pack_rows_refuses_a_window_longer_than_a_row() -> None:
    with pytest.raises(ValueError, match="more than a row"):
        pack_rows([3, ROW_PIECES + 1], ROW_PIECES)


# Mixed lengths, short enough for the tiny models' positions, more than one row's worth.
LENGTHS = [3, 30, 7, 22, 5, 31, 12, 19, 4, 28, 30, 29, 17, 9]


def _check_against_alone(model: Any, lengths: list[int], seed: int) -> None:
    inputs = _inputs(lengths, int(model.config.vocab_size), seed=seed)
    runner = SpanRunner(model).eval()
    with torch.inference_mode():
        out = runner(**inputs, output_hidden_states=True, output_attentions=False)
        for k, length in enumerate(lengths):
            alone = model(
                input_ids=inputs["input_ids"][k : k + 1, :length],
                attention_mask=torch.ones((1, length), dtype=torch.long),
                output_hidden_states=True,
            )
            got = out["last_hidden_state"][k, :length]
            assert torch.allclose(got, alone.last_hidden_state[0], atol=1e-5)
            assert torch.all(out["last_hidden_state"][k, length:] == 0)
            for mine, ref in zip(out["hidden_states"], alone.hidden_states):
                assert torch.allclose(mine[k, :length], ref[0], atol=1e-5)
            if getattr(alone, "pooler_output", None) is not None:
                assert torch.allclose(out["pooler_output"][k], alone.pooler_output[0], atol=1e-5)


@pytest.mark.parametrize("mode", PACKING_MODES)
@pytest.mark.parametrize("lengths", [LENGTHS, [7] * 5], ids=["mixed", "one length"])
def test_packed_windows_match_each_window_alone(
    model_dir: Path, mode: int, lengths: list[int]
) -> None:
    _, model = load_reference(model_dir)
    assert sum(LENGTHS) > ROW_PIECES  # more than one masked row
    _packing_as(model, mode)
    calls: list[tuple[int, ...]] = []  # the input shapes of the packed calls (own positions)
    model.register_forward_pre_hook(
        lambda m, args, kwargs: (
            calls.append(tuple(kwargs["input_ids"].shape)) if "position_ids" in kwargs else None
        ),
        with_kwargs=True,
    )
    _check_against_alone(model, lengths, seed=3)
    assert len(calls) == 1, calls  # all the windows in one packed call
    rows, width = calls[0]
    assert rows * width >= sum(lengths)
    if mode == SEGMENTS:
        assert (rows, width) == (1, sum(lengths))  # one row of exactly the real pieces


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12),
    st.sampled_from([3, 4]),
)
def test_packed_mask_shows_each_piece_its_own_window_and_every_position_something(
    lengths: list[int], mask_dims: int
) -> None:
    width = max(lengths)
    ids = torch.arange(1, len(lengths) * width + 1).reshape(len(lengths), width)
    packed = pack_tight(lengths, ROW_PIECES)
    inputs, starts = _packed_inputs(ids, None, lengths, packed, 0, mask_dims)
    mask = inputs["attention_mask"]
    sees = (mask[:, 0] == 0) if mask_dims == 4 else (mask == 1)  # (rows, width, width)
    # No query position sees nothing: an empty row softmaxes to NaN once the mask's minimum
    # becomes -inf (float16), and in training that NaN reaches the gradients.
    assert bool(sees.any(dim=-1).all())
    row_width = int(inputs["input_ids"].shape[1])
    flat_ids = inputs["input_ids"].reshape(-1)
    real = torch.zeros(len(packed.fill) * row_width, dtype=torch.bool)
    for k, n in enumerate(lengths):
        start = int(starts[k])
        assert torch.equal(flat_ids[start : start + n], ids[k, :n])
        assert torch.equal(inputs["position_ids"].reshape(-1)[start : start + n], torch.arange(n))
        row, column = divmod(start, row_width)
        own = torch.zeros(row_width, dtype=torch.bool)
        own[column : column + n] = True
        for q in range(column, column + n):
            assert torch.equal(sees[row, q], own)  # exactly its own window's pieces
        real[start : start + n] = True
    # Padding sees no real piece, so a real piece's output never depends on it.
    padding = ~real.reshape(len(packed.fill), row_width)
    assert not bool((sees & padding[:, :, None] & ~padding[:, None, :]).any())


@pytest.mark.parametrize("mode", PACKING_MODES)
def test_packed_gradients_match_each_window_alone(model_dir: Path, mode: int) -> None:
    """Training packs too: the weights' gradients through packed rows (last hidden state, a
    hidden layer and the pooled output) equal those of each window run alone."""
    _, model = load_reference(model_dir)  # eval mode: no dropout, so runs are comparable
    _packing_as(model, mode)
    packed_calls: list[bool] = []  # whether autograd was on, per packed call
    model.register_forward_pre_hook(
        lambda m, args, kwargs: (
            packed_calls.append(torch.is_grad_enabled()) if "position_ids" in kwargs else None
        ),
        with_kwargs=True,
    )
    inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=6)
    generator = torch.Generator().manual_seed(6)
    hidden = int(model.config.hidden_size)
    d_last = torch.randn((len(LENGTHS), max(LENGTHS), hidden), generator=generator)
    d_layer = torch.randn((len(LENGTHS), max(LENGTHS), hidden), generator=generator)
    d_pooled = torch.randn((len(LENGTHS), hidden), generator=generator)
    model.zero_grad()
    out = SpanRunner(model)(**inputs, output_hidden_states=True, output_attentions=False)
    loss = (out["last_hidden_state"] * d_last).sum() + (out["hidden_states"][1] * d_layer).sum()
    if "pooler_output" in out:
        loss = loss + (out["pooler_output"] * d_pooled).sum()
    loss.backward()
    assert packed_calls and all(packed_calls), "the short windows did not run packed"
    packed = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    for k, n in enumerate(LENGTHS):
        alone = model(input_ids=inputs["input_ids"][k : k + 1, :n], output_hidden_states=True)
        loss = (alone.last_hidden_state[0] * d_last[k, :n]).sum()
        loss = loss + (alone.hidden_states[1][0] * d_layer[k, :n]).sum()
        if getattr(alone, "pooler_output", None) is not None:
            loss = loss + (alone.pooler_output[0] * d_pooled[k]).sum()
        loss.backward()
    _assert_gradients_equal(packed, model)


def _assert_gradients_equal(packed: dict[str, Any], model: Any) -> None:
    """The gradients ``packed`` (by parameter name) equal those now on ``model``'s parameters
    within 1e-4 relative; a parameter without a gradient now had none, or zero, then."""
    compared = 0
    for name, p in model.named_parameters():
        if p.grad is None:
            assert name not in packed or float(packed[name].abs().max()) == 0.0, name
            continue
        scale = float(p.grad.abs().max()) + 1e-6
        assert float((packed[name] - p.grad).abs().max()) <= 1e-4 * scale + 1e-6, name
        compared += 1
    assert compared > 10


class _IgnoresPositions(torch.nn.Module):  # type: ignore[misc]
    """A model that drops the positions it is given: packing would give wrong outputs."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self.config = inner.config

    def forward(self, position_ids: Any = None, **kwargs: Any) -> Any:
        return self.inner(**kwargs)


def test_a_model_that_cannot_pack_is_detected_and_runs_unpacked(bert_dir: Path) -> None:
    _, model = load_reference(bert_dir)
    wrapped = _IgnoresPositions(model).eval()
    assert packing_mode(wrapped) == 0
    inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=4)
    with torch.inference_mode():
        out = SpanRunner(wrapped).eval()(
            **inputs, output_hidden_states=False, output_attentions=False
        )
        expected = SpanRunner(model).eval()(
            **inputs, output_hidden_states=False, output_attentions=False
        )
    assert torch.allclose(out["last_hidden_state"], expected["last_hidden_state"], atol=1e-5)


@pytest.mark.parametrize(
    "lengths", [[3, 5, 4, 17, 18, 20, 24, 30, 31, 9], [17, 18, 20, 24, 30, 31, 9], [12, 30]]
)
def test_long_windows_run_in_near_exact_groups_at_inference(
    bert_dir: Path, lengths: list[int]
) -> None:
    """At inference, windows too long to pack pad at most a sixteenth of their length, beside
    packed ones or not (the default groups, up to half the shortest, padded 300-word documents
    by 18%)."""
    import trf_hf.runner as runner_module
    from trf_hf.runner import LONG_SLACK

    _, model = load_reference(bert_dir)
    calls: list[tuple[int, int, int]] = []  # (rows, width, real pieces) of each unpacked call

    def record(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if "position_ids" not in kwargs:  # packed rows carry their own positions
            mask = kwargs["attention_mask"]
            calls.append((*kwargs["input_ids"].shape, int(mask.sum())))

    assert packing_mode(model) in (SEGMENTS, 3, 4)  # probed before recording
    inputs = _inputs(lengths, int(model.config.vocab_size), seed=5)
    saved = runner_module.ROW_PIECES
    try:
        runner_module.ROW_PIECES = 8  # the tiny model's windows are short: call 9+ "long"
        handle = model.register_forward_pre_hook(record, with_kwargs=True)
        with torch.inference_mode():
            SpanRunner(model).eval()(**inputs, output_hidden_states=False, output_attentions=False)
        handle.remove()
        _check_against_alone(model, lengths, seed=5)
    finally:
        runner_module.ROW_PIECES = saved
    long_windows = [n for n in lengths if n > 8]
    assert sum(rows for rows, _, _ in calls) == len(long_windows)
    for rows, width, real in calls:
        assert rows * width - real <= LONG_SLACK[0] * real


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=16),
    st.booleans(),
    st.sampled_from([0, 2]),
)
def test_segment_row_holds_each_window_once_in_runs_of_equal_length(
    lengths: list[int], with_types: bool, offset: int
) -> None:
    width = max(lengths)
    ids = torch.arange(1, len(lengths) * width + 1).reshape(len(lengths), width)
    types = (ids % 2) if with_types else None
    order, runs = segment_runs(lengths)
    inputs, starts = _segment_inputs(ids, types, lengths, order, offset)
    row_ids = inputs["input_ids"]
    assert row_ids.shape == (1, sum(lengths))  # every real piece, nothing else
    # The runs tile the row, shortest first, each of windows of one length.
    covered = 0
    for run in runs:
        assert run.start == covered
        covered += run.count * run.length
    assert covered == sum(lengths)
    assert [r.length for r in runs] == sorted({*lengths})
    assert [r.count for r in runs] == [lengths.count(n) for n in sorted({*lengths})]
    for k, n in enumerate(lengths):
        start = int(starts[k])
        assert torch.equal(row_ids[0, start : start + n], ids[k, :n])
        assert torch.equal(inputs["position_ids"][0, start : start + n], torch.arange(n) + offset)
        if types is not None:
            assert torch.equal(inputs["token_type_ids"][0, start : start + n], types[k, :n])
        # the window lies inside the run of its length
        run = next(r for r in runs if r.length == n)
        assert run.start <= start and start + n <= run.start + run.count * run.length
        assert (start - run.start) % n == 0


def test_segment_runs_refuse_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window 1 holds 0 pieces"):
        segment_runs([3, 0, 2])


def test_bert_and_roberta_attend_by_segment_on_transformers_5(model_dir: Path) -> None:
    if _transformers_major() < 5:
        pytest.skip("transformers 4's BERT and RoBERTa may not read the attention registry")
    _, model = load_reference(model_dir)
    assert packing_mode(model) == SEGMENTS


def test_a_packed_call_leaves_the_models_attention_as_it_was(bert_dir: Path) -> None:
    _, model = load_reference(bert_dir)
    _packing_as(model, SEGMENTS)
    before = model.config._attn_implementation
    assert before != NAME
    inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=8)
    with torch.inference_mode():
        SpanRunner(model).eval()(**inputs, output_hidden_states=False, output_attentions=False)
        assert model.config._attn_implementation == before
        with pytest.raises(RuntimeError, match="boom"):
            with attending_by_segment(model, segment_runs([2, 3])[1]):
                assert model.config._attn_implementation == NAME
                raise RuntimeError("boom")
    assert model.config._attn_implementation == before
    assert not any("trf" in key for key in model.config.to_dict())  # nothing to save with it


def test_the_attention_setting_returns_when_the_last_packed_call_ends(bert_dir: Path) -> None:
    """Packed calls overlapping on one model (as two threads' calls may) share the switch: the
    first to end must not switch the other's layers back to attention over the whole row."""
    if not register():
        pytest.skip("this transformers has no attention registry")
    _, model = load_reference(bert_dir)
    before = model.config._attn_implementation
    runs = segment_runs([2, 3])[1]
    with attending_by_segment(model, runs):
        with attending_by_segment(model, runs):
            assert model.config._attn_implementation == NAME
        assert model.config._attn_implementation == NAME
    assert model.config._attn_implementation == before


@pytest.mark.parametrize("original", ["sdpa", "eager"])
def test_a_call_without_a_layout_gets_the_models_own_attention(
    bert_dir: Path, original: str
) -> None:
    """Another thread calling the model while a packed call has the segment attention switched
    on finds no layout of its own: it must get the model's own attention and padding mask."""
    import threading

    _, model = load_reference(bert_dir)
    use_attention = getattr(model, "set_attn_implementation", None)
    if use_attention is None:
        pytest.skip("transformers 4.40's models are switched through their config")
    use_attention(original)
    _packing_as(model, SEGMENTS)
    inputs = _inputs([4, 9, 6], int(model.config.vocab_size), seed=9)
    batch = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    with torch.inference_mode():
        expected = model(**batch).last_hidden_state
        seen: list[Any] = []
        with attending_by_segment(model, segment_runs([2, 3])[1]):
            thread = threading.Thread(target=lambda: seen.append(model(**batch)))
            thread.start()
            thread.join()
    got = seen[0].last_hidden_state
    real = inputs["attention_mask"].bool()
    assert torch.allclose(got[real], expected[real], atol=1e-5)


def test_the_segment_row_runs_through_the_segment_attention_with_no_mask(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The segment mode's outputs would also be right if transformers masked the row itself
    (it finds packed sequences in restarting positions), only slower: this checks that every
    layer of the packed call attends by segment and gets no mask."""
    import trf_hf.segments as segments

    if _transformers_major() < 5:
        pytest.skip("transformers 4's BERT and RoBERTa do not read the attention registry")
    from transformers import AttentionInterface

    _, model = load_reference(model_dir)
    _packing_as(model, SEGMENTS)
    seen: list[bool] = []  # per call with a layout: whether a mask came with it

    def spy(module: Any, query: Any, key: Any, value: Any, mask: Any, **kwargs: Any) -> Any:
        if segments._LAYOUT.get() is not None:
            seen.append(mask is not None)
        return segments._segment_attention(module, query, key, value, mask, **kwargs)

    AttentionInterface.register(NAME, spy)
    try:
        inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=10)
        with torch.inference_mode():
            SpanRunner(model).eval()(**inputs, output_hidden_states=False, output_attentions=False)
    finally:
        AttentionInterface.register(NAME, segments._segment_attention)
    assert len(seen) == int(model.config.num_hidden_layers)  # one packed call, every layer
    assert not any(seen)


@pytest.mark.parametrize("mode", PACKING_MODES)
def test_packed_rows_give_token_types_to_a_model_with_them(bert_dir: Path, mode: int) -> None:
    """BERT on transformers 4 cuts its default token types from a buffer as long as its position
    table, which a packed row may outgrow: packed calls pass zeros instead."""
    _, model = load_reference(bert_dir)
    _packing_as(model, mode)
    given: list[Any] = []
    model.register_forward_pre_hook(
        lambda m, args, kwargs: (
            given.append(kwargs.get("token_type_ids")) if "position_ids" in kwargs else None
        ),
        with_kwargs=True,
    )
    inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=11)
    assert inputs["token_type_ids"] is None
    with torch.inference_mode():
        SpanRunner(model).eval()(**inputs, output_hidden_states=False, output_attentions=False)
    assert given and all(t is not None and not bool(t.any()) for t in given)


def test_segment_attention_refuses_options_it_does_not_implement() -> None:
    """A sliding window (ModernBERT's local layers) or a causal layer must fail the probe, not
    let a window see more than its layer would."""
    import trf_hf.segments as segments

    query = torch.zeros((1, 2, 6, 4))
    layer = torch.nn.Module()
    token = segments._LAYOUT.set(segment_runs([2, 4])[1])
    try:
        with pytest.raises(NotImplementedError, match="sliding_window"):
            segments._segment_attention(layer, query, query, query, None, sliding_window=3)
        layer.is_causal = True
        with pytest.raises(NotImplementedError, match="causal"):
            segments._segment_attention(layer, query, query, query, None)
    finally:
        segments._LAYOUT.reset(token)


def test_gradient_checkpointing_packs_in_masked_rows(bert_dir: Path) -> None:
    """Under gradient checkpointing, backward runs each layer's forward again after the packed
    call has ended: the segment row would then be attended whole. The masked rows stand in, and
    the gradients still equal each window's alone."""
    _, model = load_reference(bert_dir)
    _packing_as(model, SEGMENTS)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # train mode for checkpointing, without dropout's randomness
    assert masked_packing_mode(model) in (3, 4)  # probed before recording
    enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.x
    (enable or model.gradient_checkpointing_enable)()
    model.train()
    masked: list[bool] = []  # per packed call: whether it carried a mask
    model.register_forward_pre_hook(
        lambda m, args, kwargs: (
            masked.append("attention_mask" in kwargs) if "position_ids" in kwargs else None
        ),
        with_kwargs=True,
    )
    lengths = [3, 9, 5, 12]
    inputs = _inputs(lengths, int(model.config.vocab_size), seed=12)
    direction = torch.randn((len(lengths), max(lengths), int(model.config.hidden_size)))
    out = SpanRunner(model)(**inputs, output_hidden_states=False, output_attentions=False)
    (out["last_hidden_state"] * direction).sum().backward()
    assert masked == [True]
    packed = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    for k, n in enumerate(lengths):
        alone = model(input_ids=inputs["input_ids"][k : k + 1, :n]).last_hidden_state[0]
        (alone * direction[k, :n]).sum().backward()
    _assert_gradients_equal(packed, model)
