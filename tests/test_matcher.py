"""Property tests for the barter matcher: whatever the offers and needs, every
proposed exchange respects quantities, units and windows, and closes its cycle."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.economy.catalogue import shared
from node.economy.matcher import Intent, Transfer, allocate, barter, matchable

pytestmark = pytest.mark.database_free  # pure functions: the same on any database

CAT = shared()
KINDS = [CAT.namespace + k for k in ("gas", "papaya", "maize-flour", "eggs", "cement")]
PARTIES = [f"https://n{i}.example/actors/c" for i in range(7)]


@st.composite
def raw_intents(draw: st.DrawFn, prefix: str) -> list[tuple[Any, ...]]:
    out = []
    for i in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(KINDS))
        unit = draw(st.sampled_from(CAT.units_of(kind)))
        qty = Decimal(draw(st.integers(1, 500_000))) / 1000
        start = draw(st.integers(0, 40))
        end = start + draw(st.integers(0, 40))
        out.append((f"{prefix}{i}", draw(st.sampled_from(PARTIES)), kind, qty, unit,
                    float(start), float(end)))
    return out


def as_intents(raw: list[tuple[Any, ...]]) -> list[Intent]:
    return [Intent(i, p, k, CAT.to_base(k, q, u), s, e) for i, p, k, q, u, s, e in raw]


def check_transfer_fits(t: Transfer, offers: dict[str, Intent], needs: dict[str, Intent]
                        ) -> None:
    o, n = offers[t.offer], needs[t.need]
    assert t.kind == o.kind == n.kind
    assert t.giver == o.party and t.receiver == n.party and t.giver != t.receiver
    assert t.base > 0
    assert max(o.start, n.start) == t.start <= t.end == min(o.end, n.end)


def check_totals(transfers: list[Transfer], offers: dict[str, Intent],
                 needs: dict[str, Intent], raw_offers: list[tuple[Any, ...]]) -> None:
    given_: defaultdict[str, int] = defaultdict(int)
    taken: defaultdict[str, int] = defaultdict(int)
    for t in transfers:
        given_[t.offer] += t.base
        taken[t.need] += t.base
    for oid, total in given_.items():
        assert total <= offers[oid].base
    for nid, total in taken.items():
        assert total <= needs[nid].base
    # In the offer's own unit, rounded as it is shown, nobody gives more than offered.
    for oid, _p, kind, qty, unit, _s, _e in raw_offers:
        if oid in given_:
            assert CAT.from_base(kind, given_[oid], unit) <= qty


@settings(max_examples=300, deadline=None)
@given(raw_intents("o"), raw_intents("n"), st.integers(2, 6))
def test_barter_exchanges_are_closed_cycles_within_quantities(
        raw_o: list[tuple[Any, ...]], raw_n: list[tuple[Any, ...]], max_cycle: int) -> None:
    offers_l, needs_l = as_intents(raw_o), as_intents(raw_n)
    offers = {i.id: i for i in offers_l}
    needs = {i.id: i for i in needs_l}
    found = barter(offers_l, needs_l, max_cycle=max_cycle)
    for ex in found:
        parties = ex.parties
        assert 2 <= len(parties) <= max_cycle and len(set(parties)) == len(parties)
        legs = {(parties[i], parties[(i + 1) % len(parties)]) for i in range(len(parties))}
        used = {(t.giver, t.receiver) for t in ex.transfers}
        # Every leg of the cycle carries something, and nothing goes outside the cycle.
        assert used == legs
        for t in ex.transfers:
            check_transfer_fits(t, offers, needs)
    check_totals([t for ex in found for t in ex.transfers], offers, needs, raw_o)
    assert sum(t.base for ex in found for t in ex.transfers) <= matchable(offers_l, needs_l)


@settings(max_examples=200, deadline=None)
@given(raw_intents("o"), raw_intents("n"))
def test_allocation_inside_a_body_respects_quantities_and_windows(
        raw_o: list[tuple[Any, ...]], raw_n: list[tuple[Any, ...]]) -> None:
    offers_l, needs_l = as_intents(raw_o), as_intents(raw_n)
    offers = {i.id: i for i in offers_l}
    needs = {i.id: i for i in needs_l}
    transfers = allocate(offers_l, needs_l)
    for t in transfers:
        check_transfer_fits(t, offers, needs)
    check_totals(transfers, offers, needs, raw_o)
    assert sum(t.base for t in transfers) <= matchable(offers_l, needs_l)


def test_the_three_commune_cycle_is_found_with_units_converted() -> None:
    ns = CAT.namespace
    a, b, c = PARTIES[:3]
    offers = [Intent("gas", a, ns + "gas", CAT.to_base(ns + "gas", Decimal(5), "cylinder")),
              Intent("papaya", b, ns + "papaya", CAT.to_base(ns + "papaya", Decimal(200),
                                                              "kilogram")),
              Intent("flour", c, ns + "maize-flour",
                     CAT.to_base(ns + "maize-flour", Decimal("0.5"), "tonne"))]
    needs = [Intent("n-gas", b, ns + "gas", CAT.to_base(ns + "gas", Decimal(30), "kilogram")),
             Intent("n-papaya", c, ns + "papaya", CAT.to_base(ns + "papaya", Decimal(1),
                                                               "tonne")),
             Intent("n-flour", a, ns + "maize-flour",
                    CAT.to_base(ns + "maize-flour", Decimal(300), "kilogram"))]
    (ex,) = barter(offers, needs)
    assert set(ex.parties) == {a, b, c}
    moved = {t.offer: t.base for t in ex.transfers}
    # 30 kg of the 50 kg of gas (5 cylinders), all 200 kg of papaya, 300 kg of flour.
    assert CAT.from_base(ns + "gas", moved["gas"], "cylinder") == Decimal(3)
    assert CAT.from_base(ns + "papaya", moved["papaya"], "kilogram") == Decimal(200)
    assert CAT.from_base(ns + "maize-flour", moved["flour"], "kilogram") == Decimal(300)


def test_a_direct_exchange_comes_before_a_longer_cycle() -> None:
    ns = CAT.namespace
    a, b, c = PARTIES[:3]
    offers = [Intent("a-gas", a, ns + "gas", 1000), Intent("b-pap", b, ns + "papaya", 1000),
              Intent("c-pap", c, ns + "papaya", 1000), Intent("b-egg", b, ns + "eggs", 1000)]
    needs = [Intent("b-gas", b, ns + "gas", 1000), Intent("a-pap", a, ns + "papaya", 1000),
             Intent("c-egg", c, ns + "eggs", 1000)]
    found = barter(offers, needs)
    assert [sorted(ex.parties) for ex in found] == [sorted([a, b])]


def test_no_cycle_no_exchange_and_disjoint_windows_never_meet() -> None:
    ns = CAT.namespace
    a, b = PARTIES[:2]
    # a gives to b, but b has nothing a wants: a gift is not barter.
    assert barter([Intent("o", a, ns + "gas", 10)], [Intent("n", b, ns + "gas", 10)]) == []
    offers = [Intent("o1", a, ns + "gas", 10, 0, 5), Intent("o2", b, ns + "eggs", 10, 0, 5)]
    needs = [Intent("n1", b, ns + "gas", 10, 6, 9), Intent("n2", a, ns + "eggs", 10, 0, 5)]
    assert barter(offers, needs) == []
