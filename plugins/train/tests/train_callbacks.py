"""Callbacks the tests' configs name (imported with ``--code``): faults on demand.

Each acts only when its environment variable asks, so the same config (same fingerprint) runs
cleanly and with the fault. ``TRF_TEST_KILL_AT=STEP``: at that step rank 0 SIGKILLs its whole
process group (the launcher and every worker: a preempted machine).
``TRF_TEST_RAISE_AT=RANK:STEP`` / ``TRF_TEST_DIE_AT=RANK:STEP``: that rank raises / SIGKILLs
itself. ``TRF_TEST_HANG_AT=RANK:STEP``: that rank stops answering for 10 minutes.
``TRF_TEST_PERTURB_RANK=R``: rank R's tagger starts from other weights.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import spacy


def _at(var: str) -> tuple[int, int] | None:
    value = os.environ.get(var)
    if not value:
        return None
    rank, step = value.split(":")
    return int(rank), int(step)


@spacy.registry.callbacks("trf_test.faults.v1")
def faults() -> Any:
    def before_update(nlp: Any, info: dict[str, Any]) -> None:
        rank = int(os.environ.get("RANK", "0"))
        step = info["step"]
        kill_at = os.environ.get("TRF_TEST_KILL_AT")
        if kill_at and rank == 0 and step == int(kill_at):
            os.killpg(os.getpgid(0), signal.SIGKILL)
        if _at("TRF_TEST_RAISE_AT") == (rank, step):
            raise ValueError(f"injected failure at step {step}")
        if _at("TRF_TEST_DIE_AT") == (rank, step):
            os.kill(os.getpid(), signal.SIGKILL)
        if _at("TRF_TEST_HANG_AT") == (rank, step):
            time.sleep(600)

    return before_update


@spacy.registry.callbacks("trf_test.perturb.v1")
def perturb() -> Any:
    def after_init(nlp: Any) -> Any:
        if os.environ.get("RANK", "0") == os.environ.get("TRF_TEST_PERTURB_RANK"):
            softmax = nlp.get_pipe("tagger").model.get_ref("softmax")
            softmax.set_param("W", softmax.get_param("W") + 0.5)
        return nlp

    return after_init
