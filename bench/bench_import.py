"""How much do installed plugins add to ``import trf_core``?

Installs N throwaway plugin distributions (default 20; each provides a span getter, an
annotation setter and a pooler through hooks) into one temporary folder with pip, then times
``import trf_core`` in fresh interpreters with and without that folder on ``PYTHONPATH``,
interleaved, several times, and reports medians. Two numbers per run:

- ``own``: ``import trf_core`` after spaCy/thinc are already imported (trf-core's own modules plus
  plugin discovery and loading: where plugins cost something), as wall-clock time and as CPU
  time of the process (``own_cpu``, far less sensitive to other load on a shared machine);
- ``total`` (with ``--total``): the whole import from a bare interpreter, torch included (what
  a user waits for; dominated by torch, so noisy).

Target: 20 plugins add < 50 ms. Prints a table and writes JSON (``--out``).

    python bench/bench_import.py [--plugins 20] [--repeats 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TARGET_MS = 50.0

PLUGIN = """\
from trf_core import hookimpl


def configure_getter():
    return lambda docs: [[doc[:]] for doc in docs]


def configure_setter():
    return lambda docs, batch: None


def configure_pooler():
    from thinc.api import reduce_mean
    return reduce_mean()


@hookimpl
def trf_span_getters():
    return {{"bench{i}.getter.v1": configure_getter}}


@hookimpl
def trf_annotation_setters():
    return {{"bench{i}.setter.v1": configure_setter}}


@hookimpl
def trf_poolers():
    return {{"bench{i}.pooler.v1": configure_pooler}}
"""

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "trf-bench-plugin-{i}"
version = "0.0.{i}"

[project.entry-points.trf_core]
bench_plugin_{i} = "trf_bench_plugin_{i}.plugin"

[tool.hatch.build.targets.wheel]
packages = ["trf_bench_plugin_{i}"]
"""

PROBE = textwrap.dedent(
    """
    import json, time
    import catalogue, spacy.util, thinc.api  # trf-core's dependencies: the same in both arms
    t1, c1 = time.perf_counter(), time.process_time()
    import trf_core
    t2, c2 = time.perf_counter(), time.process_time()
    n = sum(r.status == "ok" for r in trf_core.load_plugins().records)
    print(json.dumps({"own": t2 - t1, "own_cpu": c2 - c1, "plugins_ok": n}))
    """
)

TOTAL_PROBE = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    import trf_core
    print(json.dumps({"total": time.perf_counter() - t0}))
    """
)


def install_plugins(n: int, root: Path) -> Path:
    """Write N plugin projects and pip-install them all into ``root/site`` in one call."""
    sources = []
    for i in range(n):
        src = root / "src" / f"plugin_{i}"
        package = src / f"trf_bench_plugin_{i}"
        package.mkdir(parents=True)
        (src / "pyproject.toml").write_text(PYPROJECT.format(i=i))
        (package / "__init__.py").write_text("")
        (package / "plugin.py").write_text(PLUGIN.format(i=i))
        sources.append(str(src))
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    pip += ["--no-build-isolation", "--disable-pip-version-check", "--target", str(site)]
    subprocess.run([*pip, *sources], check=True)
    return site


def run_probe(code: str, site: Path | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRF_")}
    env.pop("PYTHONPATH", None)
    env["HF_HUB_OFFLINE"] = "1"
    if site is not None:
        env["PYTHONPATH"] = str(site)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(site: Path, repeats: int, total: bool) -> dict[str, dict[str, list[float]]]:
    """Interleaved runs, so drift in machine load hits both arms alike."""
    kinds = ["own", "own_cpu", *(["total"] if total else [])]
    samples: dict[str, dict[str, list[float]]] = {
        arm: {kind: [] for kind in kinds} for arm in ("without", "with")
    }
    for _ in range(repeats):
        for arm, path in (("without", None), ("with", site)):
            own = run_probe(PROBE, path)
            samples[arm]["own"].append(own["own"] * 1000)
            samples[arm]["own_cpu"].append(own["own_cpu"] * 1000)
            if total:
                samples[arm]["total"].append(run_probe(TOTAL_PROBE, path)["total"] * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--total", action="store_true", help="also time the bare import")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "bench_import.json"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        site = install_plugins(args.plugins, Path(tmp))
        loaded = run_probe(PROBE, site)["plugins_ok"]
        samples = measure(site, args.repeats, args.total)
    medians = {
        arm: {kind: statistics.median(values) for kind, values in kinds.items()}
        for arm, kinds in samples.items()
    }
    added = {kind: medians["with"][kind] - medians["without"][kind] for kind in medians["with"]}
    rows = [
        ("import trf_core, deps preloaded (wall)", "own"),
        ("import trf_core, deps preloaded (CPU)", "own_cpu"),
        ("import trf_core, bare interpreter", "total"),
    ]
    rows = [(label, kind) for label, kind in rows if kind in added]
    print(f"{args.plugins} plugins installed, {loaded} loaded ok; {args.repeats} runs per arm")
    print(f"{'median ms':42}{'without':>10}{'with':>10}{'added':>10}")
    for label, kind in rows:
        without, with_ = medians["without"][kind], medians["with"][kind]
        print(f"{label:42}{without:10.1f}{with_:10.1f}{added[kind]:10.1f}")
    verdict = "PASS" if added["own_cpu"] < TARGET_MS else "FAIL"
    print(f"target: {args.plugins} plugins add < {TARGET_MS:.0f} ms (own import, CPU): {verdict}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    report = {
        "benchmark": "bench_import",
        "plugins": args.plugins,
        "plugins_loaded_ok": loaded,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "median_ms": medians,
        "added_ms": added,
        "samples_ms": samples,
        "target_ms": TARGET_MS,
        "pass": added["own_cpu"] < TARGET_MS,
        "load_average_1min": os.getloadavg()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
