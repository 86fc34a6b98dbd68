"""The step log rank 0 writes (``training-steps.jsonl``) takes the losses components report."""

from __future__ import annotations

import io
import json

import numpy
from trf_train.loop import StepRecord, _log_record


def test_numpy_losses_are_logged_as_numbers() -> None:
    # The parser and the morphologizer add numpy float32 values to ``losses``; a bench run on
    # the quickstart config stopped on them ("Object of type float32 is not JSON serializable").
    record = StepRecord(step=3, epoch=0, words=120,
                        losses={"parser": numpy.float32(2.5), "tagger": 1.25})  # fmt: skip
    handle = io.StringIO()
    _log_record(handle, record)
    line = json.loads(handle.getvalue())
    assert line["losses"] == {"parser": 2.5, "tagger": 1.25}
    assert line["step"] == 3 and line["words"] == 120
