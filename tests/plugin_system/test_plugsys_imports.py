"""What ``import trf_core`` imports, and what it says when a distribution is missing or clashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from plugsys_dists import FAKE_SPACY_TRANSFORMERS, GOOD
from plugsys_factory import run_json

PROBE = """
import json, sys
import trf_core
out = {"transformers": "transformers" in sys.modules}
from trf_core.plugins.loader import ensure_no_spacy_transformers, installed_spacy_transformers
out["installed"] = installed_spacy_transformers()
try:
    ensure_no_spacy_transformers()
    out["ensure"] = None
except Exception as exc:
    out["ensure"] = [type(exc).__name__, str(exc)]
from spacy.util import registry
try:
    registry.resolve({"m": {"@architectures": "spacy-transformers.TransformerModel.v3",
                            "name": "whatever"}})
    out["placeholder"] = None
except Exception as exc:
    out["placeholder"] = [type(exc).__name__, str(exc)]
out["provided"] = registry.has("architectures", "spacy-transformers.TransformerModel.v3")
print(json.dumps(out))
"""

NO_TORCH_PROBE = """
import json, sys
sys.modules["torch"] = None         # importing either now raises ImportError
sys.modules["transformers"] = None
import trf_core
records = trf_core.load_plugins().records
print(json.dumps({r.name: [r.status, r.error and r.error.message] for r in records}))
"""


@pytest.fixture(scope="module")
def probe(sites: dict[str, Path], workdir: Path) -> dict[str, Any]:
    paths = [sites[GOOD.name], sites[FAKE_SPACY_TRANSFORMERS.name]]
    # trf-hf blocked by distribution name: as if it were not installed
    return run_json(PROBE, paths, env={"TRF_DISABLE_PLUGINS": "trf-hf"}, cwd=workdir)


def test_import_does_not_import_transformers(probe: dict[str, Any]) -> None:
    assert probe["transformers"] is False


def test_core_and_plugins_import_without_torch(sites: dict[str, Path], workdir: Path) -> None:
    statuses = run_json(NO_TORCH_PROBE, [sites[GOOD.name]], cwd=workdir)
    assert statuses["kt_good"][0] == "ok"
    failed = {name: error for name, (status, error) in statuses.items() if status == "failed"}
    assert failed == {}  # no plugin module may import torch or transformers at import time


def test_missing_backend_distribution_says_what_to_install(probe: dict[str, Any]) -> None:
    kind, message = probe["placeholder"]
    assert kind == "MissingDistributionError"
    assert "trf-hf" in message and "spacy-transformers.TransformerModel.v3" in message
    assert probe["provided"] is False  # a placeholder is never listed as provided


def test_spacy_transformers_is_detected(probe: dict[str, Any]) -> None:
    assert probe["installed"] == ["spacy-transformers", "1.3.9"]
    kind, message = probe["ensure"]
    assert kind == "SpacyTransformersInstalledError"
    assert "spacy-transformers 1.3.9" in message and "trf-core" in message
    assert "pip uninstall spacy-transformers" in message
