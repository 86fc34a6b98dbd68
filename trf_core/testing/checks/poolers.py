"""Pooler checks: output shape, tokens with no rows, gradients against finite differences and
batch invariance, on fixed and seeded random Ragged inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy
from thinc.api import Model, get_current_ops
from thinc.types import Ragged

from ._common import BATCH_TOLERANCE, ContractViolation


def resolve_pooler(pooler: str | Model, config: Mapping[str, Any] | None = None) -> Model:
    """A pooler from a registered name (thinc ``layers``, configured with ``config``) or itself."""
    if isinstance(pooler, str):
        from thinc.api import registry as thinc_registry

        configure: Any = thinc_registry.get("layers", pooler)
        return configure(**dict(config or {}))  # type: ignore[no-any-return]
    if not isinstance(pooler, Model):
        raise TypeError(
            f"expected a pooler (a thinc Model[Ragged, Floats2d]) or its registered name, got "
            f"{type(pooler).__name__}"
        )
    return pooler


def _ragged(lengths: Sequence[int], width: int, seed: int) -> Ragged:
    rng = numpy.random.default_rng(seed)
    lens = numpy.asarray(lengths, dtype="int32")
    data = rng.normal(0.0, 1.0, (int(lens.sum()), width)).astype("float32")
    ops: Any = get_current_ops()
    return Ragged(ops.asarray2f(data), ops.asarray1i(lens))


def pooler_inputs(width: int = 6) -> list[Ragged]:
    """Fixed pooler inputs: one row, many rows, tokens with no rows, all tokens empty, none."""
    layouts = [[1], [3, 1, 2], [2, 0, 3, 0], [0, 0], [0, 4, 0, 1, 1], []]
    return [_ragged(lengths, width, seed) for seed, lengths in enumerate(layouts)]


def generated_pooler_inputs(max_examples: int, width: int) -> Iterable[Ragged]:
    """Random layouts (seeded, so the same on every run): up to 6 tokens of 0-3 rows each."""
    rng = numpy.random.default_rng(1234)
    for i in range(max_examples):
        n = int(rng.integers(0, 7))
        lengths = [int(x) for x in rng.integers(0, 4, size=n)]
        yield _ragged(lengths, width, 100 + i)


def _initialized(pooler: Model, X: Ragged) -> Model:
    """Initialize a pooler once, on a sample with rows, as the listener would."""
    if not pooler.attrs.get("_trf_check_initialized"):
        try:
            pooler.initialize(X=X)
        except Exception as err:
            raise ContractViolation(
                "pooler",
                "a pooler initializes from a sample Ragged input",
                _describe_ragged(X),
                f"initialize raised {err.__class__.__name__}: {err}",
                "infer missing dimensions (nI, nO) from X.dataXd.shape[1] in your init function",
            ) from err
        pooler.attrs["_trf_check_initialized"] = True
    return pooler


def _describe_ragged(X: Ragged) -> str:
    lengths = [int(n) for n in numpy.asarray(X.lengths)]
    return f"Ragged(lengths={lengths}, data shape {tuple(X.dataXd.shape)})"


def _pool(pooler: Model, X: Ragged, is_train: bool = False) -> tuple[Any, Any]:
    try:
        return pooler(X, is_train=is_train)  # type: ignore[no-any-return]
    except Exception as err:
        raise ContractViolation(
            "pooler",
            "a pooler accepts any Ragged of wordpiece rows, tokens with no rows included",
            _describe_ragged(X),
            f"it raised {err.__class__.__name__}: {err}",
            "give a token with no rows a zero vector instead of reducing over nothing",
        ) from err


def _n_out(pooler: Model, X: Ragged) -> int:
    if pooler.has_dim("nO") and pooler.get_dim("nO") is not None:
        return int(pooler.get_dim("nO"))
    rows: Any = X.dataXd
    return int(rows.shape[1])


def pooler_output_shape(pooler: Model, X: Ragged) -> None:
    """The output is a finite float array of shape ``(n_tokens, nO)``."""
    _initialized(pooler, X)
    Y, _ = _pool(pooler, X)
    n_tokens = int(X.lengths.shape[0])
    want = (n_tokens, _n_out(pooler, X))
    Y_np = numpy.asarray(getattr(Y, "get", lambda: Y)())
    if Y_np.ndim != 2 or tuple(Y_np.shape) != want:
        raise ContractViolation(
            "pooler",
            "a pooler returns one row per token: shape (n_tokens, nO)",
            _describe_ragged(X),
            f"the output has shape {tuple(Y_np.shape)}, expected {want}",
            "return a Floats2d with len(X.lengths) rows and nO (the input width, unless you set "
            "nO) columns",
        )
    if not numpy.isfinite(Y_np).all():
        raise ContractViolation(
            "pooler",
            "a pooler's output is finite",
            _describe_ragged(X),
            "the output holds NaN or inf",
            "guard divisions by a token's row count (a token may have no rows)",
        )


def pooler_empty_rows(pooler: Model, X: Ragged) -> None:
    """A token with no rows gets a zero vector and passes no gradient."""
    _initialized(pooler, X)
    Y, backprop = _pool(pooler, X, is_train=True)
    lengths = numpy.asarray(X.lengths)
    empty = numpy.flatnonzero(lengths == 0)
    if not len(empty):
        return
    Y_np = numpy.asarray(Y)
    if not numpy.allclose(Y_np[empty], 0.0, atol=1e-7):
        raise ContractViolation(
            "pooler",
            "a token with no wordpiece rows gets a zero vector",
            _describe_ragged(X),
            f"token {int(empty[0])} has no rows but its output is {Y_np[empty[0]][:4]}...",
            "write zeros for tokens whose length is 0",
        )
    dY = numpy.zeros(Y_np.shape, dtype="float32")
    dY[empty] = 1.0
    ops: Any = get_current_ops()
    dX = backprop(ops.asarray2f(dY))
    dX_np = numpy.asarray(dX.dataXd if isinstance(dX, Ragged) else dX)
    if dX_np.shape != tuple(X.dataXd.shape) or not numpy.allclose(dX_np, 0.0, atol=1e-7):
        raise ContractViolation(
            "pooler",
            "a token with no wordpiece rows passes no gradient to any row",
            _describe_ragged(X),
            "a gradient given only for empty tokens reached the input rows "
            f"(max |dX| = {float(numpy.abs(dX_np).max()) if dX_np.size else 0.0:.3g})",
            "ignore dY for tokens with no rows in backprop",
        )


def _loss_and_grad(pooler: Model, X: Ragged, R: Any) -> tuple[float, Any]:
    Y, backprop = _pool(pooler, X, is_train=True)
    loss = float((numpy.asarray(Y, dtype="float64") * R).sum())
    dX = backprop(get_current_ops().asarray2f(R.astype("float32")))
    return loss, numpy.asarray(dX.dataXd if isinstance(dX, Ragged) else dX, dtype="float64")


def pooler_finite_differences(pooler: Model, X: Ragged) -> None:
    """Backprop returns the input's shape and agrees with finite differences."""
    _initialized(pooler, X)
    if X.dataXd.shape[0] == 0:
        return
    Y, _ = _pool(pooler, X)
    rng = numpy.random.default_rng(7)
    R = rng.normal(0.0, 1.0, numpy.asarray(Y).shape)
    _, dX = _loss_and_grad(pooler, X, R)
    if dX.shape != tuple(X.dataXd.shape):
        raise ContractViolation(
            "pooler",
            "backprop returns a gradient of the input's shape",
            _describe_ragged(X),
            f"dX has shape {dX.shape}, the input rows {tuple(X.dataXd.shape)}",
            "return a Ragged (or array) with one gradient row per input row",
        )
    base = numpy.asarray(X.dataXd, dtype="float64")
    ops = get_current_ops()

    def loss_at(step: float, V: Any) -> float:
        moved = Ragged(ops.asarray2f((base + step * V).astype("float32")), X.lengths)
        return _loss_and_grad(pooler, moved, R)[0]

    checked = 0
    for trial in range(8):
        V = rng.normal(0.0, 1.0, base.shape)
        # Central differences at two step sizes: where they disagree the function has a kink
        # along V (max pooling switching rows), and finite differences say nothing there.
        coarse = (loss_at(2e-2, V) - loss_at(-2e-2, V)) / 4e-2
        fine = (loss_at(1e-2, V) - loss_at(-1e-2, V)) / 2e-2
        if abs(coarse - fine) > 1e-2 * max(1.0, abs(fine)):
            continue
        checked += 1
        analytic = float((dX * V).sum())
        if abs(fine - analytic) > 2e-2 * max(1.0, abs(fine), abs(analytic)):
            raise ContractViolation(
                "pooler",
                "the gradient agrees with finite differences",
                _describe_ragged(X),
                f"along random direction {trial}, backprop gives a directional derivative of "
                f"{analytic:.5g} but finite differences give {fine:.5g}",
                "check backprop: it must return d(loss)/d(X.data) for the forward pass you "
                "compute (a reduction's backprop must match the reduction)",
            )
        if checked == 3:
            return


def pooler_batch_invariance(pooler: Model, X: Ragged) -> None:
    """Pooling tokens together gives what pooling them in two halves does (within 1e-4)."""
    _initialized(pooler, X)
    n = int(X.lengths.shape[0])
    if n < 2:
        return
    lengths = numpy.asarray(X.lengths)
    cut = n // 2
    row_cut = int(lengths[:cut].sum())
    first = Ragged(X.dataXd[:row_cut], X.lengths[:cut])
    second = Ragged(X.dataXd[row_cut:], X.lengths[cut:])
    whole, _ = _pool(pooler, X)
    a, _ = _pool(pooler, first)
    b, _ = _pool(pooler, second)
    parts = numpy.concatenate([numpy.asarray(a), numpy.asarray(b)], axis=0)
    if not numpy.allclose(numpy.asarray(whole), parts, atol=BATCH_TOLERANCE):
        raise ContractViolation(
            "pooler",
            "a token's vector does not depend on the other tokens in the batch",
            _describe_ragged(X),
            "pooling the tokens in two halves gives different vectors than pooling them at once "
            f"(max difference {float(numpy.abs(numpy.asarray(whole) - parts).max()):.3g})",
            "pool each token from its own rows only (normalize per token, not per batch)",
        )


POOLER_CHECKS: dict[str, Callable[[Model, Ragged], None]] = {
    "output_shape": pooler_output_shape,
    "empty_rows": pooler_empty_rows,
    "finite_differences": pooler_finite_differences,
    "batch_invariance": pooler_batch_invariance,
}
"""Check name -> invariant check every pooler must pass."""


def check_pooler(
    pooler: str | Model,
    *,
    config: Mapping[str, Any] | None = None,
    width: int = 6,
    max_examples: int = 20,
) -> None:
    """Check a pooler (a thinc ``Model[Ragged, Floats2d]`` or registered name)."""
    model = resolve_pooler(pooler, config)
    inputs = [*pooler_inputs(width), *generated_pooler_inputs(max_examples, width)]
    for check in POOLER_CHECKS.values():
        for X in inputs:
            check(model, X)
