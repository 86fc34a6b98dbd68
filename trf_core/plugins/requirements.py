"""The distributions a pipeline's config needs, written into ``nlp.meta["requirements"]``.

``spacy package`` finds third-party requirements by mapping each registered function's module to
a distribution, which fails for editable installs and cannot see names a plugin registered
through our hooks. The transformer component therefore records, at initialization, which
installed distribution provides each factory and ``@`` name of the pipeline's config, so the
package built from the saved pipeline installs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from spacy.language import Language
from trf_kernel import normalize_name

from .providers import OK, config_providers

OWN_DISTRIBUTIONS = frozenset(
    {"spacy", "spacy-legacy", "spacy-loggers", "thinc", "srsly", "confection", "catalogue"}
)
"""What a spaCy package needs anyway; never listed."""


def config_distributions(config: Any) -> list[str]:
    """Every installed distribution other than spaCy's own that provides a name in ``config``."""
    sections = {key: config.get(key, {}) for key in ("nlp", "components")}
    # A conflicted name has no one distribution to require, a missing one none at all.
    found = {
        normalize_name(ref["distribution"])
        for ref in config_providers(sections)
        if ref["status"] == OK and ref["distribution"]
    }
    return sorted(found - OWN_DISTRIBUTIONS)


def minor_version_range(distribution: str) -> str | None:
    """``dist>=X.Y.Z,<X.(Y+1).0`` for the installed version, or None when it is not installed."""
    try:
        installed = version(distribution)
    except PackageNotFoundError:
        return None
    parts = installed.split(".")
    major, minor = parts[0], parts[1] if len(parts) > 1 else "0"
    upper = f"{major}.{int(minor) + 1}.0" if minor.isdigit() else None
    return f"{distribution}>={installed}" + (f",<{upper}" if upper else "")


def record_requirements(nlp: Language) -> list[str]:
    """Add the config's distributions to ``nlp.meta["requirements"]``; returns what it added."""
    existing = list(nlp.meta.get("requirements") or [])
    known = {normalize_name(_requirement_name(r)) for r in existing}
    added = []
    for distribution in config_distributions(nlp.config):
        if distribution in known:
            continue
        requirement = minor_version_range(distribution)
        if requirement is not None:
            added.append(requirement)
    if added:
        nlp.meta["requirements"] = existing + added
    return added


def _requirement_name(requirement: str) -> str:
    for i, char in enumerate(requirement):
        if char in "<>=!~;[ ":
            return requirement[:i]
    return requirement
