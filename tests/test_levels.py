"""Where a matter is decided: the lowest federation covering every affected body."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.federations.levels import Route, ancestors, deciding_level, route

# nation ← territory T1 ← cities C1, C2; territory T2 ← city C3
# C1 ← communes a, b, c; C2 ← d; C3 ← e; a thematic federation G ← a, e
GRAPH = {
    "a": ["C1", "G"], "b": ["C1"], "c": ["C1"], "d": ["C2"], "e": ["C3", "G"],
    "C1": ["T1"], "C2": ["T1"], "C3": ["T2"], "T1": ["N"], "T2": ["N"],
}


def parents(x: str) -> list[str]:
    return GRAPH.get(x, [])


def test_levels_across_three_and_four_levels() -> None:
    assert deciding_level({"a"}, parents) == "a"
    assert deciding_level({"a", "b"}, parents) == "C1"
    assert deciding_level({"a", "d"}, parents) == "T1"
    assert deciding_level({"b", "e"}, parents) == "N"
    assert deciding_level({"a", "e"}, parents) == "G"  # the thematic federation is lower
    assert deciding_level({"C1", "a"}, parents) == "C1"
    assert deciding_level({"a", "zz"}, parents) is None


def test_routes() -> None:
    assert route("a", {"a"}, parents).route == Route.local
    r = route("a", {"a", "b"}, parents)
    assert (r.route, r.target) == (Route.up, "C1")
    assert route("C1", {"a", "b"}, parents).route == Route.local
    r = route("C1", {"a"}, parents)  # a local matter sent to the city
    assert (r.route, r.target) == (Route.down, "a")
    r = route("C1", {"a", "d"}, parents)  # belongs to the territory
    assert (r.route, r.target) == (Route.up, "T1")
    r = route("C3", {"a", "b"}, parents)  # not C3's business at all
    assert (r.route, r.target) == (Route.elsewhere, "C1")


def test_cycles_do_not_hang() -> None:
    loop = {"x": ["y"], "y": ["x"]}
    assert set(ancestors("x", lambda n: loop.get(n, []))) == {"x", "y"}


bodies = st.sampled_from(["a", "b", "c", "d", "e", "C1", "C2", "C3", "T1", "T2"])


@given(st.sets(bodies, min_size=1, max_size=5))
def test_the_level_covers_everyone_and_nothing_lower_does(affected: set[str]) -> None:
    level = deciding_level(affected, parents)
    assert level is not None
    for b in affected:
        assert level in ancestors(b, parents)
    depth = max(ancestors(b, parents)[level] for b in affected)
    for other in {n for b in affected for n in ancestors(b, parents)}:
        if all(other in ancestors(b, parents) for b in affected):
            assert max(ancestors(b, parents)[other] for b in affected) >= depth


@given(st.sets(bodies, min_size=1, max_size=5), bodies)
def test_exactly_one_body_decides(affected: set[str], here: str) -> None:
    level = deciding_level(affected, parents)
    decides_here = route(here, affected, parents).route == Route.local
    assert decides_here == (here == level)
