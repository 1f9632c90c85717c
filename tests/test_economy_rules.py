"""Trying to break the economy's rules at a city's inbox and at a commune's: offers
from outside the federation or whose proof does not verify are not held; only the
parties of an exchange answer it; a proposal asking a commune for what is not its
own, or not available, is refused with the reason; only the giver records a
delivery and only the receiver confirms it. Each refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.economy import wire
from node.economy.catalogue import quantity
from node.models import Commitment, LocalActor
from tests.economy_net import NS, Net, add_links, city, cycle  # noqa: F401
from tests.fakeremote import FakeRemote
from tests.helpers import run_loops

CITY = "http://node.test/actors/ciudad"


def test_only_members_offers_with_a_true_proof_are_held(city: Net) -> None:  # noqa: F811
    good = city.intent(city.a, "offer", "gas", "10")
    city.intent(city.a, "offer", "papaya", "10", tamper=True)
    city.intent(city.x, "offer", "gas", "10")  # not a member of the city
    city.settle()
    assert [u for u, _, _ in city.state()[0]] == [good]


def test_only_the_parties_answer_an_exchange_and_all_must_accept(city: Net) -> None:  # noqa: F811
    ex = cycle(city)
    offer = city.posts_to(city.a, "Offer")[0]
    assert offer["object"]["id"] == ex.uri and len(offer["object"]["stipulates"]) == 2
    before = city.state()
    city.send(city.x, city.activity(city.x, "Accept", ex.uri))
    city.settle()
    assert city.state() == before
    city.send(city.a, city.activity(city.a, "Accept", ex.uri))
    city.settle()
    assert city.state()[1][0][1] == "proposed"
    # The same party accepting twice is not everyone accepting.
    city.send(city.a, city.activity(city.a, "Accept", ex.uri))
    city.settle()
    assert city.state()[1][0][1] == "proposed"
    city.send(city.b, city.activity(city.b, "Accept", ex.uri))
    city.settle()
    assert city.state()[1][0][1] == "agreed"
    run_loops(city.settings, lambda ctx: len(city.posts_to(city.a, "Accept")) == 1)
    sealed = city.posts_to(city.a, "Accept")[0]
    assert sealed["result"]["type"] == "Agreement" and "proof" in sealed["result"]


def test_a_refusal_calls_the_exchange_off_and_gives_back(city: Net) -> None:  # noqa: F811
    ex = cycle(city)
    city.send(city.b, city.activity(city.b, "Reject", ex.uri, content="no hay camión"))
    city.settle()
    state = city.state()
    assert state[1][0][1] == "refused"
    assert all(avail in ("10", "5") and st == "open" for _, avail, st in state[0])
    run_loops(city.settings, lambda ctx: len(city.posts_to(city.a, "Reject")) == 1)
    assert "no hay camión" in city.posts_to(city.a, "Reject")[0]["content"]


def test_deliveries_only_by_the_giver_and_confirmed_only_by_the_receiver(
        city: Net) -> None:  # noqa: F811
    ex = cycle(city)
    for who in (city.a, city.b):
        city.send(who, city.activity(who, "Accept", ex.uri))
    city.settle()
    with Session(city.ctx.engine) as s:
        c = s.exec(select(Commitment).where(Commitment.provider == city.a.uri)).one()
    event = wire.event_object(wire.EventDoc(
        city.uid(city.a, "ev"), c.uri, city.a.uri, city.b.uri, c.kind, c.unit,
        quantity("4"), datetime(2026, 11, 28, tzinfo=UTC), ""))
    before = city.state()
    # b claims a delivery of what a gives: refused.
    city.send(city.b, city.activity(city.b, "Create", {**event, "id": city.uid(city.b, "ev")}))
    city.settle()
    assert city.state() == before
    city.send(city.a, city.activity(city.a, "Create", event))
    city.settle()
    after_record = city.state()
    assert after_record[3] == [(event["id"], "recorded")]
    # The giver cannot confirm its own delivery; the receiver can.
    city.send(city.a, city.activity(city.a, "Accept", event["id"]))
    city.settle()
    assert city.state() == after_record
    city.send(city.b, city.activity(city.b, "Accept", event["id"]))
    city.settle()
    state = city.state()
    assert state[3] == [(event["id"], "confirmed")]
    assert (c.uri, "partial", "4") in state[2]
    # The city passed each on to the other side.
    run_loops(city.settings, lambda ctx: len(city.posts_to(city.b, "Create")) == 1 and
              len(city.posts_to(city.a, "Accept")) == 2)


@pytest.fixture
def commune(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Net]:
    settings = make_node(handle="maizal", level="commune")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = Net(settings, c, remote, "maizal")
        add_links(net.ctx, "maizal", [net.a.uri], "member_of")
        yield net


def test_a_commune_refuses_a_proposal_for_what_is_not_its_own(commune: Net) -> None:
    from node.economy import intents
    from node.governance import members

    ctx = commune.ctx
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        facil = members.create_member(commune.ctx.tx(s), "facil", "contraseña-larga", "F")
        members.grant(commune.ctx.tx(s), facil, body, "facilitator")
        mine = intents.publish(ctx.tx(s, facil), body, "offer", NS + "gas",
                               quantity("10"), "kilogram")
        s.commit()
        mine_uri = mine.uri
    fed = commune.a  # plays the city
    other_offer = f"{commune.b.server.base}/objects/b-offer"
    cases = {
        "not-ours": [(commune.me, fed.uri, other_offer, "gas", "5")],
        "not-available": [(commune.me, fed.uri, mine_uri, "gas", "50")],
        "wrong-kind": [(commune.me, fed.uri, mine_uri, "papaya", "5")],
    }
    for code, rows in cases.items():
        before = commune.state()
        ex_uri = commune.uid(fed, "ex")
        draft = wire.agreement_object(ex_uri, fed.uri, [
            wire.CommitmentDoc(f"{ex_uri}#c{i}", prov, recv, off,
                               f"{fed.server.base}/objects/need", NS + kind, "kilogram",
                               quantity(q), None, None)
            for i, (prov, recv, off, kind, q) in enumerate(rows)], "2026-11-28T00:00:00Z")
        commune.send(fed, commune.activity(fed, "Offer", draft))
        commune.settle()
        assert commune.state() == before, code
        def rejected(ctx: NodeContext, u: str = ex_uri) -> bool:
            return any(r["object"] == u for r in commune.posts_to(fed, "Reject"))

        run_loops(commune.settings, rejected)
