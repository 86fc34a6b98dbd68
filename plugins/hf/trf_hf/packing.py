"""Several short windows in one model row, each seeing only itself: no padding to compute.

Running windows of mixed lengths in one padded call computes every padding position; cutting
them into groups of exactly one length computes none but makes many small calls, each with a
fixed cost and small matrix products. Packing does neither: short windows are laid end to end
in rows of at most :data:`ROW_PIECES` pieces (as wide as :func:`pack_tight` finds cheapest),
each with its own positions (0, 1, ... as if it ran alone) and a block-diagonal attention mask,
so no window attends to another's pieces. Every window's
outputs equal the model run on it alone (to float rounding); the rows' only extra work is the
attention between pieces of one row that the mask then discards, which grows with the row's
width (:data:`ATTENTION_COST`): a reason to keep rows narrow where the lengths allow.

Where the model's layers find their attention through transformers' registry, packing needs no
mask at all (:data:`SEGMENTS`, :mod:`trf_hf.segments`): all short windows go into one row of
exactly their pieces, and attention is computed window by window, so rows have neither tails nor
cross-window attention to discard. The masked rows above are the fallback.

Whether a model attends by segment, or honours custom positions and a 4D (transformers 5) or 3D
(transformers 4) mask, is not declared anywhere, so :func:`packing_mode` probes it once per
model: a packed row of three short random windows must give what each gives alone, pooled output
included, or packing stays off for that model and the runner falls back to length groups.

Training packs too. The packed inputs are plain indexing and the mask is a constant, so
autograd sends each window's gradient back through its own positions only: a window's gradients
equal those of the model run on it alone (the tests compare them window by window). With
dropout on, a packed row draws its dropout over the row, as a padded group draws it over the
group: which positions it drops differs, its distribution does not. Training batches of
sentences computed 29% padding in length groups (bench/README.md), which packing removes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from .reassembly import WindowPart
from .segments import attending_by_segment, segment_runs

__all__ = [
    "ATTENTION_COST",
    "ROW_PIECES",
    "SEGMENTS",
    "PackedRows",
    "masked_packing_mode",
    "pack_rows",
    "pack_tight",
    "packing_mode",
    "run_packed",
]

ROW_PIECES = 128
"""Windows longer than this are not packed (they run in length groups); a masked row holds at
most this many pieces (a segment row holds every short window of the batch)."""

SEGMENTS = 1
"""The packing mode with no mask: one row, attention per window (:mod:`trf_hf.segments`)."""

_PROBE_LENGTHS = (5, 9, 9)
"""Short probe windows; :func:`_probe_lengths` adds one as long as a packed window can be."""
_PROBE_TOLERANCE = 1e-4
_ROBERTA_LIKE = ("roberta", "camembert", "xlm-roberta", "longformer", "mpnet")


@dataclass
class PackedRows:
    """Where each packed window sits: row ``rows[w]``, starting at column ``starts[w]``."""

    rows: list[int]
    starts: list[int]
    fill: list[int]
    """Pieces used in each row."""


def pack_rows(lengths: Sequence[int], capacity: int) -> PackedRows:
    """First-fit decreasing: windows into as few rows of ``capacity`` pieces as it finds.

    Every length must be at most ``capacity``. Longest first keeps the rows nearly full (the
    last rows take the short remainders), so the packed batch pads only each row's tail.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-int(lengths[i]), i))
    rows = [0] * len(lengths)
    starts = [0] * len(lengths)
    fill: list[int] = []
    for i in order:
        n = int(lengths[i])
        if n > capacity:
            raise ValueError(f"window {i} holds {n} pieces, more than a row's {capacity}")
        r = next((r for r, used in enumerate(fill) if used + n <= capacity), len(fill))
        if r == len(fill):
            fill.append(0)
        rows[i], starts[i] = r, fill[r]
        fill[r] += n
    return PackedRows(rows=rows, starts=starts, fill=fill)


ATTENTION_COST = 0.001
"""What one piece of row width adds to a position's cost, relative to its linear layers.

A packed row computes attention between all its pieces (the mask discards the cross-window
part afterwards), so a position in a row ``w`` wide costs about ``1 + ATTENTION_COST * w``.
On paper this is ``1 / (2 * hidden + intermediate)`` (MiniLM: 1 / 2,304); masked attention
runs less efficiently than the linear layers' matrix products, and with MiniLM on a 2-core CPU it
took 15% of the linear layers' time in rows of 128 (``py-spy`` on ``nlp.pipe``): about 0.001.
"""

_ROWS_PER_WIDTH = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def pack_tight(lengths: Sequence[int], max_width: int) -> PackedRows:
    """Windows into rows of at most ``max_width`` pieces, at the least estimated model cost.

    A packed batch computes ``rows * width`` positions, each costing more in a wider row (see
    :data:`ATTENTION_COST`). ``Transformer.pipe`` hands the backend batches of docs of similar
    length, which rows of the full width fit badly (windows of 45 to 50 pieces fill rows of 128
    only to 90-100), and every position's attention spans its row's whole width. So a few row
    counts are tried (``m`` windows a row for small ``m``, and the fewest rows the total needs
    at widths up to ``max_width``); for each, the windows are laid longest first, each at the
    end of the emptiest row (LPT scheduling, which keeps the fullest row, the batch's width,
    close to the mean), and the cheapest packing wins. First-fit decreasing at ``max_width``
    (:func:`pack_rows`) is a candidate too, so the estimate is never worse than that packing's.
    """
    if not lengths:
        return PackedRows(rows=[], starts=[], fill=[])
    sizes = [int(n) for n in lengths]
    longest, total = max(sizes), sum(sizes)
    if longest > max_width:
        raise ValueError(f"a window holds {longest} pieces, more than a row's {max_width}")
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))
    best = pack_rows(sizes, max_width)
    # Row counts to try: m windows a row (similar lengths), or as few rows as widths allow.
    counts = {-(-len(sizes) // m) for m in _ROWS_PER_WIDTH}
    counts |= {-(-total // (longest * m)) for m in _ROWS_PER_WIDTH if longest * m <= max_width}
    counts |= {-(-total // max_width) + extra for extra in (0, 1)}
    for n_rows in sorted(counts):
        packed = _longest_first(sizes, order, n_rows)
        if max(packed.fill) <= max_width and _cost(packed) < _cost(best):
            best = packed
    return best


def _longest_first(sizes: list[int], order: list[int], n_rows: int) -> PackedRows:
    """LPT: each window, longest first, at the end of the row holding the fewest pieces."""
    heap = [(0, r) for r in range(min(n_rows, len(sizes)))]
    rows = [0] * len(sizes)
    starts = [0] * len(sizes)
    fill = [0] * len(heap)
    for i in order:
        used, r = heapq.heappop(heap)
        rows[i], starts[i] = r, used
        fill[r] = used + sizes[i]
        heapq.heappush(heap, (fill[r], r))
    return PackedRows(rows=rows, starts=starts, fill=fill)


def _cost(packed: PackedRows) -> float:
    """A packed batch's estimated model cost: positions computed, weighted by row width."""
    width = max(packed.fill, default=0)
    return len(packed.fill) * width * (1.0 + ATTENTION_COST * width)


def _position_offset(transformer: Any) -> int:
    """RoBERTa-style models number positions from ``pad_token_id + 1``, BERT from 0."""
    config = transformer.config
    if str(getattr(config, "model_type", "")) in _ROBERTA_LIKE:
        return int(getattr(config, "pad_token_id", 1) or 0) + 1
    return 0


def _lay_out(
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: Sequence[int],
    window_starts: torch.Tensor,
    size: int,
    offset: int,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Every window's real pieces written into ``size`` flat positions from
    ``window_starts[w]`` on: ids, positions (``offset``, ``offset + 1``, ... as if the window ran
    alone) and token types where given, zeros elsewhere. Also where each real piece went
    (``target``) and which window positions are real (``real``), in one go for all windows."""
    device = input_ids.device
    length_t = torch.as_tensor(list(lengths), dtype=torch.long, device=device)
    columns = torch.arange(int(input_ids.shape[1]), device=device)
    real = columns[None, :] < length_t[:, None]
    target = (window_starts[:, None] + columns[None, :])[real]
    source = real.nonzero(as_tuple=True)
    ids = input_ids.new_zeros((size,))
    ids[target] = input_ids[source]
    positions = input_ids.new_zeros((size,))
    positions[target] = columns.expand_as(real)[real] + offset
    flat = {"input_ids": ids, "position_ids": positions}
    if token_type_ids is not None:
        types = token_type_ids.new_zeros((size,))
        types[target] = token_type_ids[source]
        flat["token_type_ids"] = types
    return flat, target, real


def _packed_inputs(
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: Sequence[int],
    packed: PackedRows,
    offset: int,
    mask_dims: int,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The packed model inputs, and the flat row (row x width + column) each window starts at."""
    device = input_ids.device
    n_rows, width = len(packed.fill), max(packed.fill)
    row_t = torch.as_tensor(packed.rows, dtype=torch.long, device=device)
    start_t = torch.as_tensor(packed.starts, dtype=torch.long, device=device)
    window_starts = row_t * width + start_t
    flat, target, real = _lay_out(
        input_ids, token_type_ids, lengths, window_starts, n_rows * width, offset
    )
    segment = torch.full((n_rows * width,), -1, dtype=torch.long, device=device)
    segment[target] = torch.arange(len(lengths), device=device)[:, None].expand_as(real)[real]
    segment = segment.reshape(n_rows, width)
    # A piece sees the pieces of its own window; a row's padding tail (segment -1) sees itself,
    # so no position's attention is empty. An empty one softmaxes to NaN wherever the mask's
    # minimum turns into -inf (float16 autocast), and in training a NaN at a discarded position
    # still reaches the weights' gradients through the backward pass.
    same = segment[:, :, None] == segment[:, None, :]
    if mask_dims == 4:
        # Additive: 0 where a piece may look, the dtype's minimum elsewhere (never -inf).
        mask = torch.zeros(same.shape, dtype=torch.float32, device=device)
        mask = mask.masked_fill(~same, torch.finfo(torch.float32).min)[:, None, :, :]
    else:
        mask = same.long()
    inputs = {name: value.reshape(n_rows, width) for name, value in flat.items()}
    inputs["attention_mask"] = mask
    return inputs, window_starts


def run_packed(
    transformer: Any,
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: Sequence[int],
    output_hidden_states: bool,
    mask_dims: int,
) -> WindowPart:
    """Run windows (each at most :data:`ROW_PIECES` long) packed; outputs flat, per window its
    first row (``windows`` are ``0 .. len(lengths) - 1``: the caller names them).

    ``mask_dims`` is the mode :func:`packing_mode` found: :data:`SEGMENTS` (one unpadded row,
    attention per window) or the masked rows' 4D or 3D mask. ``pooled`` is the model's pooler
    applied to each window's own first piece, as a run of the window alone gives it (the packed
    row's pooler would only see its first window).
    """
    offset = _position_offset(transformer)
    attention: AbstractContextManager[None] = nullcontext()
    if mask_dims == SEGMENTS:
        order, runs = segment_runs(lengths)
        inputs, starts = _segment_inputs(input_ids, token_type_ids, lengths, order, offset)
        attention = attending_by_segment(transformer, runs)
    else:
        packed = pack_tight(lengths, ROW_PIECES)
        inputs, starts = _packed_inputs(
            input_ids, token_type_ids, lengths, packed, offset, mask_dims
        )
    if token_type_ids is None and _has_token_types(transformer):
        # Some architectures (BERT on transformers 4, ConvBERT, BigBird) cut their default token
        # types from a buffer as long as the position table, which a packed row may outgrow.
        inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
    with attention:
        out = transformer(**inputs, output_hidden_states=output_hidden_states, return_dict=True)
    hidden = int(out.last_hidden_state.shape[-1])
    last = out.last_hidden_state.reshape(-1, hidden)
    pooler = getattr(transformer, "pooler", None)
    pooled = None
    if getattr(out, "pooler_output", None) is not None and pooler is not None:
        pooled = pooler(last.index_select(0, starts)[:, None, :])
    states = None
    if output_hidden_states:
        states = tuple(h.reshape(-1, hidden) for h in out.hidden_states)
    return WindowPart(
        windows=list(range(len(lengths))), starts=starts, last=last, states=states, pooled=pooled
    )


def _has_token_types(transformer: Any) -> bool:
    """Whether the model embeds token types (BERT, RoBERTa), so it takes ``token_type_ids``."""
    return bool(getattr(transformer.config, "type_vocab_size", 0))


def _segment_inputs(
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    lengths: Sequence[int],
    order: Sequence[int],
    offset: int,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """One row of every window's real pieces, in ``order``, and the column each window starts at."""
    device = input_ids.device
    order_t = torch.as_tensor(list(order), dtype=torch.long, device=device)
    in_order = torch.as_tensor(list(lengths), dtype=torch.long, device=device)[order_t]
    starts = torch.empty_like(in_order)
    starts[order_t] = torch.cumsum(in_order, 0) - in_order
    size = sum(int(n) for n in lengths)  # from the host's list: no device sync
    flat, _, _ = _lay_out(input_ids, token_type_ids, lengths, starts, size, offset)
    return {name: value[None, :] for name, value in flat.items()}, starts


def packing_mode(transformer: Any) -> int:
    """How this model packs: :data:`SEGMENTS` (no mask), 4 (4D additive mask), 3 (3D 0/1
    mask), or 0 (it cannot).

    Probed once and remembered on the model: random windows packed together (three short ones
    and one as long as a packed window can be, so that a sliding window or the like shows) must
    give, within 1e-4, the hidden states and pooled output each gives alone.
    """
    return _remembered(transformer, "_trf_packing_mode", (SEGMENTS, 4, 3))


def masked_packing_mode(transformer: Any) -> int:
    """4, 3 or 0: the masked rows this model takes, for calls that cannot attend by segment
    (under gradient checkpointing, backward runs a layer's forward again after the packed call
    has switched the model's attention back)."""
    return _remembered(transformer, "_trf_masked_packing_mode", (4, 3))


def _remembered(transformer: Any, attribute: str, candidates: Sequence[int]) -> int:
    """The first of ``candidates`` the model passes the probe in, remembered as ``attribute``."""
    cached = getattr(transformer, attribute, None)
    if isinstance(cached, int):
        return cached
    mode = 0
    for candidate in candidates:
        try:
            if _probe(transformer, candidate):
                mode = candidate
                break
        except Exception:  # a model that rejects the inputs cannot pack; no need to say more
            continue
    setattr(transformer, attribute, mode)
    return mode


def _probe_lengths(transformer: Any) -> tuple[int, ...]:
    """The probe's windows: the short ones, and one of :data:`ROW_PIECES` or as many positions
    as the model has (less RoBERTa's offset)."""
    positions = getattr(transformer.config, "max_position_embeddings", None)
    longest = ROW_PIECES
    if isinstance(positions, int) and positions > 0:
        longest = min(longest, positions - _position_offset(transformer))
    return (*_PROBE_LENGTHS, max(longest, max(_PROBE_LENGTHS)))


def _probe(transformer: Any, mask_dims: int) -> bool:
    vocab = int(getattr(transformer.config, "vocab_size", 100))
    generator = torch.Generator().manual_seed(0)
    lengths = _probe_lengths(transformer)
    width = max(lengths)
    ids = torch.randint(min(5, vocab - 1), vocab, (len(lengths), width), generator=generator)
    device = next(transformer.parameters()).device
    ids = ids.to(device)
    was_training = transformer.training
    transformer.eval()
    try:
        with torch.inference_mode():
            got = run_packed(transformer, ids, None, lengths, False, mask_dims)
            for k, n in enumerate(lengths):
                alone = transformer(input_ids=ids[k : k + 1, :n], return_dict=True)
                start = int(got.starts[k])
                diff = (got.last[start : start + n] - alone.last_hidden_state[0]).abs().max()
                if not float(diff) <= _PROBE_TOLERANCE:
                    return False
                ref_pooled = getattr(alone, "pooler_output", None)
                if (ref_pooled is None) != (got.pooled is None):
                    return False
                if ref_pooled is not None and got.pooled is not None:
                    pdiff = (got.pooled[k] - ref_pooled[0]).abs().max()
                    if not float(pdiff) <= _PROBE_TOLERANCE:
                        return False
    finally:
        transformer.train(was_training)
    return True
