"""Trying to break the economy's rules at a city's inbox and at a commune's: offers
from outside the federation or whose proof does not verify are not held; only the
parties of an exchange answer it; a proposal asking a commune for what is not its
own, or not available, is refused with the reason; only the giver records a
delivery and only the receiver confirms it. Each refusal changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.economy import wire
from node.economy.catalogue import quantity, shared
from node.economy.clock import one_pass
from node.models import (
    Commitment,
    EconomicEvent,
    Exchange,
    FederationLink,
    InboxItem,
    Intent,
    LocalActor,
)
from tests.conftest import ctx_of
from tests.fakeremote import FakeRemote, RemoteActor
from tests.helpers import run_loops

NS = shared().namespace
CITY = "http://node.test/actors/ciudad"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Net:
    def __init__(
            self, settings: Settings, client: TestClient, remote: FakeRemote, handle: str) -> None:
        self.settings, self.client, self.remote = settings, client, remote
        self.ctx = ctx_of(client)
        self.me = f"http://node.test/actors/{handle}"
        self.a, self.b, self.x = remote.actor("a"), remote.actor("b"), remote.actor("x")
        self.n = 0

    def uid(self, who: RemoteActor, what: str = "o") -> str:
        self.n += 1
        return f"{who.server.base}/objects/{who.name}-{what}-{self.n}"

    def send(self, who: RemoteActor, activity: dict[str, Any]) -> None:
        body, headers = who.signed_post(f"{self.me}/inbox", activity)
        r = self.client.post(f"{self.me}/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text

    def activity(self, who: RemoteActor, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        doc = {"@context": wire.contexts("http://node.test/ns/comuna/v1"),
               "id": self.uid(who, "act"), "type": kind, "actor": who.uri, "object": obj,
               "to": [self.me], **extra}
        return who.prove(doc)

    def intent(self, who: RemoteActor, side: str, kind: str, qty: str, unit: str = "kilogram",
               tamper: bool = False) -> str:
        doc = wire.intent_object(wire.IntentDoc(
            id=self.uid(who), body=who.uri, side=side, agent=who.uri, kind=NS + kind,
            unit=unit, quantity=quantity(qty), available=quantity(qty), summary="",
            location="", starts_at=None, ends_at=None, rise_after=0), "2026-11-28T00:00:00Z")
        signed = who.prove({"@context": wire.contexts("http://node.test/ns/comuna/v1"), **doc})
        if tamper:
            signed["publishes"]["resourceQuantity"]["hasNumericalValue"] = "9999"
        self.send(who, self.activity(who, "Create", signed))
        uri: str = doc["id"]
        return uri

    def settle(self) -> None:
        def done(ctx: NodeContext) -> bool:
            with Session(ctx.engine) as s:
                return all(r.state != "queued" for r in s.exec(select(InboxItem)).all())

        run_loops(self.settings, done)

    def state(self) -> tuple[Any, ...]:
        with Session(self.ctx.engine) as s:
            return (sorted((i.uri, i.available, i.state) for i in s.exec(select(Intent))),
                    sorted((e.uri, e.state, e.answers) for e in s.exec(select(Exchange))),
                    sorted((c.uri, c.state, c.delivered) for c in s.exec(select(Commitment))),
                    sorted((e.uri, e.state) for e in s.exec(select(EconomicEvent))))

    def posts_to(self, who: RemoteActor, kind: str) -> list[dict[str, Any]]:
        out = []
        for post in self.remote.posts:
            doc = json.loads(post["body"])
            if doc.get("type") == kind and post["path"] == f"/users/{who.name}/inbox":
                out.append(doc)
        return out


def _members(ctx: NodeContext, handle: str, uris: list[str], direction: str) -> None:
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == handle)).one()
        assert body.id is not None
        for uri in uris:
            s.add(FederationLink(body_id=body.id, remote_uri=uri, direction=direction,
                                 state="accepted", remote_inbox=f"{uri}/inbox"))
        s.commit()


@pytest.fixture
def city(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Net]:
    settings = make_node(handle="ciudad", level="city")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = Net(settings, c, remote, "ciudad")
        _members(net.ctx, "ciudad", [net.a.uri, net.b.uri], "has_member")
        yield net


def test_only_members_offers_with_a_true_proof_are_held(city: Net) -> None:
    good = city.intent(city.a, "offer", "gas", "10")
    city.intent(city.a, "offer", "papaya", "10", tamper=True)
    city.intent(city.x, "offer", "gas", "10")  # not a member of the city
    city.settle()
    assert [u for u, _, _ in city.state()[0]] == [good]


def _cycle(city: Net) -> Exchange:
    city.intent(city.a, "offer", "gas", "10")
    city.intent(city.a, "need", "papaya", "5")
    city.intent(city.b, "offer", "papaya", "5")
    city.intent(city.b, "need", "gas", "10")
    city.settle()
    one_pass(city.ctx, EPOCH)
    run_loops(city.settings, lambda ctx: len(city.posts_to(city.b, "Offer")) == 1)
    with Session(city.ctx.engine) as s:
        (ex,) = s.exec(select(Exchange)).all()
        return ex


def test_only_the_parties_answer_an_exchange_and_all_must_accept(city: Net) -> None:
    ex = _cycle(city)
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


def test_a_refusal_calls_the_exchange_off_and_gives_back(city: Net) -> None:
    ex = _cycle(city)
    city.send(city.b, city.activity(city.b, "Reject", ex.uri, content="no hay camión"))
    city.settle()
    state = city.state()
    assert state[1][0][1] == "refused"
    assert all(avail in ("10", "5") and st == "open" for _, avail, st in state[0])
    run_loops(city.settings, lambda ctx: len(city.posts_to(city.a, "Reject")) == 1)
    assert "no hay camión" in city.posts_to(city.a, "Reject")[0]["content"]


def test_deliveries_only_by_the_giver_and_confirmed_only_by_the_receiver(city: Net) -> None:
    ex = _cycle(city)
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
        _members(net.ctx, "maizal", [net.a.uri], "member_of")
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
