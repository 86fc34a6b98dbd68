"""Who provides which registry name, and which names more than one distribution provides.

pluggy happily calls every implementation and catalogue silently lets the last registration
win, so two distributions providing one name would make a pipeline's meaning depend on import
order. The claim table records every claim instead; a name with claimants from two different
distributions is a conflict the host can refuse to resolve, without failing at load time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .env import normalize_name


@dataclass(frozen=True)
class Claim:
    """One claimant of a (registry, name)."""

    distribution: str
    version: str | None = None
    plugin: str | None = None
    """The plugin (entry-point name) that made the claim, when it came through a hook."""
    source: str = "hook"
    """How the name was claimed: ``hook``, ``entry point GROUP`` or ``built-in``."""

    @property
    def label(self) -> str:
        """``distribution version`` for messages."""
        return f"{self.distribution} {self.version}" if self.version else self.distribution


class ClaimTable:
    """Claims per (registry, name); same-distribution duplicates are not conflicts."""

    def __init__(self) -> None:
        self._claims: dict[tuple[str, str], list[Claim]] = {}

    def claim(self, registry: str, name: str, claim: Claim) -> None:
        """Record that ``claim.distribution`` provides ``name`` in ``registry``."""
        claims = self._claims.setdefault((registry, name), [])
        if claim not in claims:
            claims.append(claim)

    def claims(self, registry: str, name: str) -> list[Claim]:
        """Every claim of the name (possibly several per distribution), in claim order."""
        return list(self._claims.get((registry, name), []))

    def claimants(self, registry: str, name: str) -> list[Claim]:
        """One claim per distinct distribution (the first one seen), in claim order."""
        seen: set[str] = set()
        out = []
        for claim in self._claims.get((registry, name), []):
            key = normalize_name(claim.distribution)
            if key not in seen:
                seen.add(key)
                out.append(claim)
        return out

    def is_conflict(self, registry: str, name: str) -> bool:
        """Whether two different distributions claim the name."""
        return len(self.claimants(registry, name)) > 1

    def conflicts(self) -> dict[tuple[str, str], list[Claim]]:
        """Every conflicted (registry, name) and its distinct claimants."""
        return {key: self.claimants(*key) for key in sorted(self._claims) if self.is_conflict(*key)}

    def names(self, registry: str | None = None) -> list[tuple[str, str]]:
        """Every claimed (registry, name), optionally of one registry, sorted."""
        return sorted(key for key in self._claims if registry is None or key[0] == registry)

    def drop_distributions(self, distributions: Iterable[str]) -> None:
        """Forget every claim of these distributions (e.g. ones the user blocked)."""
        dropped = {normalize_name(d) for d in distributions}
        for key in list(self._claims):
            kept = [c for c in self._claims[key] if normalize_name(c.distribution) not in dropped]
            if kept:
                self._claims[key] = kept
            else:
                del self._claims[key]

    def __contains__(self, key: object) -> bool:
        return key in self._claims

    def __len__(self) -> int:
        return len(self._claims)
