"""Which int8 quantization of an exported encoder: closeness to fp32 and speed, side by side.

``trf-core export-onnx --quantize int8`` picks one of ONNX Runtime's quantizations. This compares
the candidates on one fp32 export (``export-onnx`` without ``--quantize``; with ``--fused`` also
an ``export-onnx --fuse`` one):

- dynamic quantization, int8 weights with one scale per matrix (``per_tensor``, what
  ``export-onnx`` wrote before 7 Dec 2026) or one per output column (``per_channel``, what it
  writes now), uint8 weights, and ``reduce_range`` (7-bit weights);
- static QDQ quantization (activations too), calibrated on the first ``--calibration`` texts.

For each: the last hidden state's largest difference from the fp32 encoder's and the cosine of
every piece's vector to fp32's (mean and worst) over the first ``--check`` texts, then the encoder
alone on the texts in exact-length groups (no padding), all candidates in turns in one process,
``--repeats`` rounds, medians and each one's speed over ``per_tensor``'s.

    python bench/bench_onnx_quantization.py W/onnx_fp32 [--fused W/onnx_fp32_fused]

where ``W`` is a ``bench_onnx.py --workdir`` (it holds both exports after a ``--fuse`` run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_onnx import encoder_feeds, exact_length_ids  # noqa: E402
from bench_throughput import in_turns, others_text, summarize  # noqa: E402
from trf_onnx.runtime import LAST, make_session  # noqa: E402

DEFAULT_TEXT = HERE.parent.parent / "shared" / "data" / "ewt-text" / "test.txt"


def quantize(
    fp32: Path, fused: Path | None, calibration: list[dict[str, Any]], out: Path
) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}  # fused operators' outputs are float
    ops = ["MatMul", "Attention"]

    def dynamic(source: Path, name: str, **options: Any) -> Path:
        target = out / f"{name}.onnx"
        quantize_dynamic(
            str(source), str(target), op_types_to_quantize=ops, extra_options=extra, **options
        )
        return target

    class Feeds(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.feeds: Iterator[dict[str, Any]] = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            return next(self.feeds, None)

    candidates = {
        "per_tensor": dynamic(fp32, "per_tensor", weight_type=QuantType.QInt8),
        "per_channel": dynamic(fp32, "per_channel", weight_type=QuantType.QInt8, per_channel=True),
        "uint8_weights": dynamic(fp32, "uint8_weights", weight_type=QuantType.QUInt8),
        "reduce_range": dynamic(
            fp32, "reduce_range", weight_type=QuantType.QInt8, reduce_range=True
        ),
    }
    static = out / "static_qdq.onnx"
    quantize_static(
        str(fp32),
        str(static),
        Feeds(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options=extra,
    )
    candidates["static_qdq"] = static
    if fused is not None:
        candidates["fused_per_tensor"] = dynamic(
            fused, "fused_per_tensor", weight_type=QuantType.QInt8
        )
        candidates["fused_per_channel"] = dynamic(
            fused, "fused_per_channel", weight_type=QuantType.QInt8, per_channel=True
        )
    return candidates


def closeness(reference: Any, session: Any, feeds: list[dict[str, Any]]) -> dict[str, float]:
    """Largest absolute difference and per-piece cosine of the last hidden state to fp32's."""
    import numpy

    worst, cosines = 0.0, []
    for feed in feeds:
        expected = reference.run([LAST], feed)[0]
        expected = expected.reshape(-1, expected.shape[-1])
        got = session.run([LAST], feed)[0].reshape(expected.shape)
        worst = max(worst, float(numpy.abs(got - expected).max()))
        norms = numpy.linalg.norm(got, axis=1) * numpy.linalg.norm(expected, axis=1)
        cosines.append((got * expected).sum(axis=1) / norms)
    every = numpy.concatenate(cosines)
    return {
        "max_abs_diff": worst,
        "cosine_mean": float(every.mean()),
        "cosine_min": float(every.min()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32", type=Path, help="an export-onnx output folder (fp32)")
    parser.add_argument("--fused", type=Path, default=None, help="an export-onnx --fuse folder")
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="one text a line")
    parser.add_argument("--calibration", type=int, default=256, help="texts for static QDQ")
    parser.add_argument("--check", type=int, default=300, help="texts for the closeness")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    texts = [t for t in args.text.read_text(encoding="utf8").splitlines() if t.strip()]
    model = args.fp32 / "transformer" / "model" / "model.onnx"
    reference = make_session(str(model), args.threads)
    names = {i.name for i in reference.get_inputs()}

    def feeds(first: int | None = None) -> list[dict[str, Any]]:
        return encoder_feeds(exact_length_ids(args.fp32, texts[:first], args.batch_size), names)

    fused = None if args.fused is None else args.fused / "transformer" / "model" / "model.onnx"
    with tempfile.TemporaryDirectory(prefix="trf-bench-quant-") as work:
        paths = quantize(model, fused, feeds(args.calibration), Path(work))
        sessions = {name: make_session(str(path), args.threads) for name, path in paths.items()}
        sizes = {name: path.stat().st_size / 2**20 for name, path in paths.items()}
    check = feeds(args.check)
    close = {name: closeness(reference, s, check) for name, s in sessions.items()}
    del reference
    every = feeds()

    def runner(session: Any) -> Callable[[], None]:
        def run() -> None:
            for feed in every:
                session.run([LAST], feed)

        return run

    timed = in_turns({name: runner(s) for name, s in sessions.items()}, args.repeats)
    speed = summarize(timed, len(texts), "per_tensor", ratio_key="x_per_tensor")
    print(
        f"\n{len(texts)} texts; closeness on the first {args.check}; {args.threads} threads; "
        f"{args.repeats} rounds in turns; load {os.getloadavg()[0]:.2f} at the end\n"
        "\n| quantization | MB | max abs diff | cosine mean | cosine worst | fastest s | median s "
        "| x per_tensor speed | others' cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    for name, row in speed.items():
        c = close[name]
        mark = "" if row["reliable"] else " UNRELIABLE"
        print(
            f"| {name} | {sizes[name]:.1f} | {c['max_abs_diff']:.3f} | {c['cosine_mean']:.4f} | "
            f"{c['cosine_min']:.4f} | {min(row['seconds']):.2f} | {row['median_s']:.2f} | "
            f"{row['x_per_tensor']:.3f} | {others_text(row)}{mark} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
