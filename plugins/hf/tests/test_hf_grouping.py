"""Windows run in length groups: every window's output equals the model run on it alone.

The runner cuts each group to its own longest window (less padding, less compute). These tests
check the grouping itself and that what comes back, values and gradients, is what the model
gives for each window on its own, unpadded, whatever mix of lengths shares the batch.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy
import pytest
from hf_helpers import load_reference, use_eager_attention, without_packing
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from trf_hf.runner import SpanRunner  # noqa: E402

from trf_core.component.windowing import length_groups  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=600), max_size=80))
def test_length_groups_partition_by_length(lengths: list[int]) -> None:
    groups = length_groups(lengths)
    flat = [i for group in groups for i in group]
    assert sorted(flat) == list(range(len(lengths)))  # every window exactly once
    assert all(group for group in groups)
    for group in groups:
        shortest = min(lengths[i] for i in group)
        longest = max(lengths[i] for i in group)
        assert longest <= shortest + max(16, int(0.5 * shortest))
    # groups follow each other in length: no group's shortest is below the previous longest
    for before, after in pairwise(groups):
        assert min(lengths[i] for i in after) > max(lengths[i] for i in before)


def _inputs(lengths: list[int], vocab_size: int, seed: int) -> dict[str, Any]:
    """Windows of the given lengths, padded to the longest, each its own span."""
    rng = numpy.random.default_rng(seed)
    n, width = len(lengths), max(lengths)
    ids = numpy.zeros((n, width), dtype="int64")
    mask = numpy.zeros((n, width), dtype="int64")
    gather = numpy.full((n * width,), -1, dtype="int64")
    columns = numpy.full((n, width), width, dtype="int64")
    for k, length in enumerate(lengths):
        ids[k, :length] = rng.integers(5, vocab_size, size=length)
        mask[k, :length] = 1
        gather[k * width : k * width + length] = k * width + numpy.arange(length)
        columns[k, :length] = numpy.arange(length)
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
        "token_type_ids": None,
        "gather": torch.from_numpy(gather),
        "window_span": torch.arange(n),
        "window_columns": torch.from_numpy(columns),
        "n_spans": n,
        "span_width": width,
    }


# Short and long windows mixed, in no order: several groups, each cut to its own width.
LENGTHS = [3, 30, 7, 22, 5, 31, 12, 19, 4, 28]


def test_grouped_windows_match_each_window_alone(bert_dir: Path) -> None:
    _, model = load_reference(bert_dir)
    use_eager_attention(model)  # attentions need the eager path
    assert len(length_groups(LENGTHS)) >= 2
    inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=0)
    runner = SpanRunner(model).eval()
    with torch.no_grad():
        out = runner(**inputs, output_hidden_states=True, output_attentions=True)
        for k, length in enumerate(LENGTHS):
            alone = model(
                input_ids=inputs["input_ids"][k : k + 1, :length],
                attention_mask=torch.ones((1, length), dtype=torch.long),
                output_hidden_states=True,
                output_attentions=True,
            )
            got = out["last_hidden_state"][k, :length]
            assert torch.allclose(got, alone.last_hidden_state[0], atol=1e-5)
            assert torch.all(out["last_hidden_state"][k, length:] == 0)
            for mine, ref in zip(out["hidden_states"], alone.hidden_states):
                assert torch.allclose(mine[k, :length], ref[0], atol=1e-5)
            for mine, ref in zip(out["attentions"], alone.attentions):
                assert torch.allclose(mine[k, :, :length, :length], ref[0], atol=1e-5)
            assert torch.allclose(out["pooler_output"][k], alone.pooler_output[0], atol=1e-5)


def test_grouped_gradients_match_each_window_alone(bert_dir: Path) -> None:
    _, model = load_reference(bert_dir)
    without_packing(model)  # these windows run in groups, not packed
    widths: list[int] = []
    model.register_forward_pre_hook(
        lambda m, args, kwargs: widths.append(int(kwargs["input_ids"].shape[1])), with_kwargs=True
    )
    inputs = _inputs(LENGTHS, int(model.config.vocab_size), seed=1)
    width = max(LENGTHS)
    d_out = torch.randn((len(LENGTHS), width, int(model.config.hidden_size)))
    runner = SpanRunner(model)
    model.zero_grad()
    out = runner(**inputs, output_hidden_states=False, output_attentions=False)
    (out["last_hidden_state"] * d_out).sum().backward()
    assert len(widths) >= 2 and max(widths) == width  # several group calls, none packed
    grouped = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    for k, length in enumerate(LENGTHS):
        alone = model(
            input_ids=inputs["input_ids"][k : k + 1, :length],
            attention_mask=torch.ones((1, length), dtype=torch.long),
        )
        (alone.last_hidden_state[0] * d_out[k, :length]).sum().backward()
    for name, p in model.named_parameters():
        if p.grad is None:
            assert name not in grouped or float(grouped[name].abs().max()) == 0.0
            continue
        scale = float(p.grad.abs().max()) + 1e-6
        assert float((grouped[name] - p.grad).abs().max()) <= 1e-4 * scale + 1e-6, name


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=14),
    cap=st.integers(min_value=1, max_value=200),
)
def test_no_cpu_call_computes_more_than_the_cap_and_outputs_do_not_change(
    bert_dir: Path, lengths: list[int], cap: int
) -> None:
    import trf_hf.runner as runner_module

    _, model = load_reference(bert_dir)
    inputs = _inputs(lengths, int(model.config.vocab_size), seed=len(lengths))
    calls: list[tuple[int, ...]] = []
    handle = model.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    without_packing(model)  # every window in length groups: the cap applies to those
    runner = SpanRunner(model).eval()
    saved = runner_module.CPU_CALL_PIECES
    try:
        with torch.enable_grad():
            runner_module.CPU_CALL_PIECES = 10**9
            whole = runner(**inputs, output_hidden_states=True, output_attentions=False)
            calls.clear()
            runner_module.CPU_CALL_PIECES = cap
            capped = runner(**inputs, output_hidden_states=True, output_attentions=False)
    finally:
        runner_module.CPU_CALL_PIECES = saved
        handle.remove()
    for n, width in calls:
        assert n * width <= cap or n == 1  # a window wider than the cap runs alone
    assert sum(n for n, _ in calls) == len(lengths)
    for key in ("last_hidden_state", "pooler_output"):
        assert torch.allclose(whole[key].detach(), capped[key].detach(), atol=1e-5)
    for a, b in zip(whole["hidden_states"], capped["hidden_states"]):
        assert torch.allclose(a.detach(), b.detach(), atol=1e-5)
