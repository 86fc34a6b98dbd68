"""``python -m trf_core plugins`` and the ``trf-core`` console script, run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from plugsys_dists import BROKEN_IMPORT, CONFLICT_A, CONFLICT_B, FAKE_SPACY_TRANSFORMERS, GOOD
from plugsys_factory import clean_env

ROW_ORDER = ("name", "distribution", "version", "status", "hooks", "provides", "error")
KEYS = set(ROW_ORDER)


def run_cli(
    args: list[str], sites: list[Path], cwd: Path, *, script: bool = False
) -> subprocess.CompletedProcess[str]:
    env = clean_env(PYTHONPATH=":".join(str(s) for s in sites))
    if script:
        exe = shutil.which("trf-core", path=str(Path(sys.executable).parent))
        if exe is None:
            pytest.skip("the trf-core console script is not installed in this environment")
        command = [exe, *args]
    else:
        command = [sys.executable, "-m", "trf_core", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def listing(sites: dict[str, Path], workdir: Path) -> dict[str, Any]:
    listed = (GOOD, BROKEN_IMPORT, CONFLICT_A, CONFLICT_B, FAKE_SPACY_TRANSFORMERS)
    proc = run_cli(["plugins", "--json"], [sites[d.name] for d in listed], workdir)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_shape(listing: dict[str, Any]) -> None:
    assert list(listing) == ["plugins"]
    assert listing["plugins"], "no plugin listed"
    for row in listing["plugins"]:
        assert set(row) == KEYS
        assert row["status"] in {"ok", "failed", "blocked", "conflict"}
        assert isinstance(row["hooks"], list)
        assert all(isinstance(v, list) for v in row["provides"].values())


def test_json_reports_each_plugin(listing: dict[str, Any]) -> None:
    rows = {row["name"]: row for row in listing["plugins"]}
    assert rows["kt_good"]["status"] == "ok"
    assert rows["kt_good"]["provides"]["span_getters"] == ["kt.first_token.v1", "kt.whole_doc.v1"]
    broken = rows["kt_broken_import"]
    assert (broken["status"], broken["distribution"], broken["version"]) == (
        "failed",
        "kt-broken-import",
        "0.0.1",
    )
    assert "ModuleNotFoundError" in broken["error"]
    assert rows["kt_conflict_a"]["status"] == rows["kt_conflict_b"]["status"] == "conflict"


def test_table_and_console_script(sites: dict[str, Path], workdir: Path) -> None:
    paths = [sites[d.name] for d in (GOOD, BROKEN_IMPORT, CONFLICT_A, CONFLICT_B)]
    proc = run_cli(["plugins"], paths, workdir, script=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == sorted(KEYS, key=list(ROW_ORDER).index)
    broken = next(line for line in lines if line.startswith("kt_broken_import "))
    assert broken.split()[1:4] == ["kt-broken-import", "0.0.1", "failed"]
    assert "'kt.shared.v1': kt-conflict-a 1.0.0" in proc.stdout  # the conflicts section


def test_reports_spacy_transformers(listing: dict[str, Any]) -> None:
    rows = {row["name"]: row for row in listing["plugins"]}
    row = rows["spacy-transformers"]
    assert (row["distribution"], row["version"], row["status"]) == (
        "spacy-transformers",
        "1.3.9",
        "conflict",
    )
    assert "pip uninstall spacy-transformers" in row["error"]


CONFIG = """
[nlp]
lang = "en"
pipeline = ["tagger"]

[components]

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"
nO = null

[components.tagger.model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[components.tagger.model.tok2vec.embed]
@architectures = "kt.nowhere_embed.v1"

[components.tagger.model.tok2vec.encode]
@layers = "reduce_mean.v1"

[custom]

[custom.getter]
@span_getters = "kt.whole_doc.v1"
"""


def check_config(sites: dict[str, Path], workdir: Path, text: str) -> tuple[int, dict[str, Any]]:
    path = workdir / f"config_{abs(hash(text))}.cfg"
    path.write_text(text)
    proc = run_cli(["plugins", "--config", str(path), "--json"], [sites[GOOD.name]], workdir)
    return proc.returncode, json.loads(proc.stdout)


def test_config_maps_references_to_distributions(sites: dict[str, Path], workdir: Path) -> None:
    code, report = check_config(sites, workdir, CONFIG)
    found = {
        (r["registry"], r["name"]): (r["status"], r["distribution"]) for r in report["references"]
    }
    assert found == {
        ("factories", "tagger"): ("ok", "spacy"),
        ("architectures", "spacy.Tagger.v2"): ("ok", "spacy"),
        ("architectures", "spacy.Tok2Vec.v2"): ("ok", "spacy"),
        ("architectures", "kt.nowhere_embed.v1"): ("missing", None),
        ("layers", "reduce_mean.v1"): ("ok", "thinc"),
        ("span_getters", "kt.whole_doc.v1"): ("ok", "kt-good"),
    }
    assert [(r["registry"], r["name"]) for r in report["missing"]] == [
        ("architectures", "kt.nowhere_embed.v1")
    ]
    assert code == 1


def test_config_without_missing_references_exits_zero(
    sites: dict[str, Path], workdir: Path
) -> None:
    text = '[custom]\n\n[custom.getter]\n@span_getters = "kt.whole_doc.v1"\n'
    code, report = check_config(sites, workdir, text)
    assert (code, report["missing"]) == (0, [])
    assert report["references"][0]["section"] == "custom.getter"
