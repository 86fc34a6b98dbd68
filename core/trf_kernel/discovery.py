"""Finding plugins: the entry points of a group and the distributions that declare them.

Discovery reads metadata only; nothing is imported here, so blocked and broken plugins can
still be listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from typing import Any


def discover_entry_points(group: str, entry_points: Any = None) -> list[metadata.EntryPoint]:
    """The entry points of ``group``, sorted by name, duplicates dropped.

    ``entry_points`` may be a precomputed ``importlib.metadata.EntryPoints`` (or anything with
    ``select(group=...)``) so a host that already scanned the environment avoids a second scan.
    A duplicate (same name, value and distribution) happens when one distribution is visible
    twice on ``sys.path``; two distributions declaring one name are both kept.
    """
    source = metadata.entry_points() if entry_points is None else entry_points
    selected: Iterable[metadata.EntryPoint] = source.select(group=group)
    seen: set[tuple[str, str, str | None]] = set()
    found = []
    for ep in selected:
        key = (ep.name, ep.value, distribution_of(ep)[0])
        if key not in seen:
            seen.add(key)
            found.append(ep)
    return sorted(found, key=lambda ep: ep.name)


_DIST_CACHE: dict[str, tuple[str | None, str | None]] = {}


def distribution_of(entry_point: metadata.EntryPoint) -> tuple[str | None, str | None]:
    """(distribution name, version) that declared ``entry_point``; (None, None) when unknown.

    Each entry point carries its own distribution object, and reading a name parses the whole
    metadata file, so results are cached per metadata folder: a distribution declaring many
    entry points is parsed once.
    """
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None, None
    path = getattr(dist, "_path", None)
    key = str(path) if path is not None else None
    if key is not None and key in _DIST_CACHE:
        return _DIST_CACHE[key]
    result: tuple[str | None, str | None] | None = _from_dist_info_name(getattr(path, "name", ""))
    if result is None:
        try:
            meta = dist.metadata  # parses the whole file: read it once, not per field
            name, version = meta["Name"], meta["Version"]
        except Exception:  # broken metadata must not break listing
            return None, None
        result = (str(name) if name else None), (str(version) if version else None)
    if key is not None:
        _DIST_CACHE[key] = result
    return result


def _from_dist_info_name(folder: str) -> tuple[str, str] | None:
    """(name, version) from a ``name-version.dist-info`` folder name, without reading files.

    Installers write the folder with the normalized name (PEP 503, ``_`` for separators), so
    the name is shown with ``-``: ``trf_hf-0.1.0.dist-info`` -> ``("trf-hf", "0.1.0")``.
    Anything else (``.egg-info``, odd names) returns None and the metadata file is read.
    """
    if not folder.endswith(".dist-info"):
        return None
    parts = folder[: -len(".dist-info")].split("-")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0].replace("_", "-"), parts[1]
