"""Property tests of the claim table and the environment switches."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from trf_kernel import Claim, ClaimTable, env_flag, env_list, normalize_name

DISTS = st.sampled_from(["acme", "ACME", "acme_x", "Acme-X", "other", "third.party"])
NAMES = st.sampled_from(["a.v1", "b.v1", "c.v1"])
REGISTRIES = st.sampled_from(["span_getters", "layers"])
CLAIMS = st.lists(
    st.tuples(REGISTRIES, NAMES, DISTS, st.sampled_from(["hook", "entry point"])), max_size=12
)


def build(claims: list[tuple[str, str, str, str]]) -> ClaimTable:
    table = ClaimTable()
    for registry, name, dist, source in claims:
        table.claim(registry, name, Claim(dist, "1.0", source=source))
    return table


@settings(max_examples=50, deadline=None)
@given(CLAIMS)
def test_conflict_iff_two_distinct_distributions(claims: list[tuple[str, str, str, str]]) -> None:
    table = build(claims)
    distinct: dict[tuple[str, str], set[str]] = {}
    for registry, name, dist, _ in claims:
        distinct.setdefault((registry, name), set()).add(normalize_name(dist))
    expected = {key for key, dists in distinct.items() if len(dists) > 1}
    assert set(table.conflicts()) == expected
    for key, dists in distinct.items():
        assert len(table.claimants(*key)) == len(dists)
        assert table.is_conflict(*key) == (key in expected)


@settings(max_examples=50, deadline=None)
@given(CLAIMS, st.lists(DISTS, max_size=3))
def test_dropping_distributions_removes_all_their_claims(
    claims: list[tuple[str, str, str, str]], dropped: list[str]
) -> None:
    table = build(claims)
    table.drop_distributions(dropped)
    gone = {normalize_name(d) for d in dropped}
    for key in table.names():
        assert table.claims(*key), "an empty entry was left behind"
        assert all(normalize_name(c.distribution) not in gone for c in table.claims(*key))
    kept = {(r, n) for r, n, d, _ in claims if normalize_name(d) not in gone}
    assert set(table.names()) == kept


def test_same_distribution_both_ways_is_not_a_conflict() -> None:
    table = ClaimTable()
    table.claim("layers", "x.v1", Claim("acme-x", "1", plugin="acme", source="hook"))
    table.claim("layers", "x.v1", Claim("acme_x", "1", source="entry point thinc_layers"))
    assert not table.is_conflict("layers", "x.v1")
    table.claim("layers", "x.v1", Claim("thinc", "8.3", source="built-in"))
    assert [c.distribution for c in table.conflicts()[("layers", "x.v1")]] == ["acme-x", "thinc"]


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=8))
def test_env_flag_true_only_for_the_documented_values(value: str) -> None:
    expected = value.strip().lower() in {"1", "true", "yes"}
    assert env_flag("X", {"X": value}) is expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True), max_size=5))
def test_env_list_round_trips_padded_names(names: list[str]) -> None:
    value = " , ".join(f"  {n} " for n in names) + ",,"
    assert env_list("X", {"X": value}) == frozenset(names)
    assert env_list("X", {}) == frozenset()


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True))
def test_normalize_name_is_idempotent_and_separator_blind(name: str) -> None:
    once = normalize_name(name)
    assert normalize_name(once) == once
    assert normalize_name(name.upper().replace("-", "_")) == normalize_name(name.replace(".", "-"))
