"""A config naming a first-party pooler whose distribution is absent says what to install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("trf_poolers")

SCRIPT = """
import thinc.api, trf_core
try:
    thinc.api.registry.resolve({"p": {"@layers": "trf.first_last.v1"}})
except Exception as err:
    print(type(err).__name__ + ": " + str(err))
else:
    print("resolved")
"""


def _run(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    return out.stdout.strip()


def test_blocked_pooler_distribution_is_named() -> None:
    message = _run({"TRF_DISABLE_PLUGINS": "trf_poolers"})
    assert message.startswith("MissingDistributionError")
    assert "trf-poolers" in message and "TRF_DISABLE_PLUGINS" in message


def test_installed_pooler_resolves() -> None:
    assert _run({"TRF_DISABLE_PLUGINS": ""}) == "resolved"
