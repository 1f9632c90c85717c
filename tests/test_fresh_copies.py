"""Fresh copies (issue 11, item 6): what other nodes hold of an offer, a need or an
actor follows its origin.

- An `Update` saying 0 is left is accepted by every holder and withdraws its copy for
  good (never proposed on again), and goes on up wherever the copy went; withdrawing
  an offer, or an agreement taking all of it, sends that `Update`; a party refusing
  an exchange because what it asks is gone or short says so with a stable code, and
  the broker stops proposing on that copy.
- A federation that holds a stale copy of a remote body's actor (an old `memberOf`)
  refreshes it before refusing a matter ("no federation covers every affected
  body"), and a refresh that fails for now retries the inbox row instead of refusing.

In-process nodes, with the other nodes played by a fake remote server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from node.app import create_app
from node.config import Settings
from node.economy import enterprises, handovers, local, operations, party, wire
from node.economy.clock import one_pass
from node.federations import membership, objects
from node.governance import members
from node.inbox import authority
from node.models import (
    Commitment,
    Delivery,
    Exchange,
    FederationLink,
    InboxItem,
    Intent,
    LocalActor,
    Member,
    OutboxItem,
    RemoteActor,
)
from node.models.base import utcnow
from tests.economy_net import EPOCH, NS, Net, add_links, cycle
from tests.fakeremote import FakeRemote
from tests.fakeremote import RemoteActor as Sender
from tests.helpers import id_of, run_loops

CTX = "http://node.test/ns/comuna/v1"


def intent_doc(net: Net, who: Sender, uri: str, side: str, kind: str, qty: str, left: str,
               published: str) -> dict[str, Any]:
    doc = wire.intent_object(wire.IntentDoc(
        id=uri, body=who.uri, side=side, agent=who.uri, kind=NS + kind, unit="kilogram",
        quantity=Decimal(qty), available=Decimal(left), summary="", location="",
        starts_at=None, ends_at=None, rise_after=0), published)
    return who.prove({"@context": wire.contexts(CTX), **doc})


def say(net: Net, author: Sender, kind: str, obj: dict[str, Any], via: Sender | None = None
        ) -> dict[str, Any]:
    """`author`'s own signed activity, sent by `via` (a member passing it on) or itself."""
    activity = net.activity(author, kind, obj)
    net.send(via or author, activity)
    return activity


def copies(net: Net) -> dict[str, tuple[str, str]]:
    with Session(net.ctx.engine) as s:
        return {r.uri: (r.state, r.available) for r in s.exec(select(Intent)).all()}


def exchange_count(net: Net) -> int:
    with Session(net.ctx.engine) as s:
        return len(s.exec(select(Exchange)).all())


def posted(net: Net, who: Sender, kind: str) -> list[dict[str, Any]]:
    return net.posts_to(who, kind)


class CityNet(Net):
    t: Sender  # a remote territory the city is a member of


class TerritoryNet(Net):
    c: Sender  # a remote member city


# --- a quantity that falls to 0 ------------------------------------------------------


@pytest.fixture
def city(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[CityNet]:
    settings = make_node(handle="ciudad", level="city")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = CityNet(settings, c, remote, "ciudad")
        net.t = remote.actor("t")  # plays the territory above the city
        add_links(net.ctx, "ciudad", [net.a.uri, net.b.uri], "has_member")
        add_links(net.ctx, "ciudad", [net.t.uri], "member_of")
        yield net


def test_zero_left_withdraws_the_city_copy_and_goes_on_up(city: CityNet) -> None:
    n = city
    gas = n.uid(n.a, "gas")
    say(n, n.a, "Create", intent_doc(n, n.a, gas, "offer", "gas", "10", "10",
                                     "2026-11-28T00:00:00Z"))
    n.settle()
    assert copies(n) == {gas: ("open", "10")}
    # Unmatched, it rises at once (rise_after 0) to the territory: the author's Create.
    one_pass(n.ctx, EPOCH)
    run_loops(n.settings, lambda ctx: len(posted(n, n.t, "Create")) == 1)

    update = say(n, n.a, "Update", intent_doc(n, n.a, gas, "offer", "gas", "10", "0",
                                              "2026-11-28T01:00:00Z"))
    n.settle()
    assert copies(n) == {gas: ("withdrawn", "0")}
    # The same Update, unchanged (the author's proof), follows the Create up.
    run_loops(n.settings, lambda ctx: len(posted(n, n.t, "Update")) == 1)
    up = posted(n, n.t, "Update")[0]
    assert up["id"] == update["id"] and up["actor"] == n.a.uri
    assert up["object"]["publishes"]["availableQuantity"]["hasNumericalValue"] == "0"

    # A need that would have met it, and what would close the cycle: nothing proposed.
    say(n, n.b, "Create", intent_doc(n, n.b, n.uid(n.b), "need", "gas", "10", "10",
                                     "2026-11-28T02:00:00Z"))
    say(n, n.b, "Create", intent_doc(n, n.b, n.uid(n.b), "offer", "papaya", "5", "5",
                                     "2026-11-28T02:00:00Z"))
    say(n, n.a, "Create", intent_doc(n, n.a, n.uid(n.a), "need", "papaya", "5", "5",
                                     "2026-11-28T02:00:00Z"))
    # An older word that crossed the 0 on the way does not bring the copy back.
    say(n, n.a, "Update", intent_doc(n, n.a, gas, "offer", "gas", "10", "7",
                                     "2026-11-28T00:30:00Z"))
    n.settle()
    assert one_pass(n.ctx, EPOCH)[1] == 0
    assert exchange_count(n) == 0 and copies(n)[gas] == ("withdrawn", "0")
    one_pass(n.ctx, EPOCH)
    assert exchange_count(n) == 0


@pytest.fixture
def territory(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[TerritoryNet]:
    settings = make_node(handle="territorio", level="territory")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = TerritoryNet(settings, c, remote, "territorio")
        net.c = remote.actor("c")  # plays a member city passing its communes' offers up
        add_links(net.ctx, "territorio", [net.c.uri], "has_member")
        # a and b are its communes: a city passes up only what is below it.
        for commune in (net.a, net.b):
            remote.docs[commune.path] = {**commune.document(), "memberOf": [net.c.uri]}
        yield net


def test_zero_left_withdraws_the_territory_copy_passed_up_by_a_city(
        territory: TerritoryNet) -> None:
    n = territory
    gas, coffee = n.uid(n.a, "gas"), n.uid(n.a, "coffee")
    say(n, n.a, "Create", intent_doc(n, n.a, gas, "offer", "gas", "10", "10",
                                     "2026-11-28T00:00:00Z"), via=n.c)
    say(n, n.b, "Create", intent_doc(n, n.b, n.uid(n.b), "need", "gas", "10", "10",
                                     "2026-11-28T00:00:00Z"), via=n.c)
    say(n, n.b, "Create", intent_doc(n, n.b, n.uid(n.b), "offer", "coffee", "5", "5",
                                     "2026-11-28T00:00:00Z"), via=n.c)
    n.settle()
    # The 0 crosses its Create on the way: kept, and applied when the Create comes.
    say(n, n.a, "Update", intent_doc(n, n.a, coffee, "need", "coffee", "5", "0",
                                     "2026-11-28T01:00:00Z"), via=n.c)
    n.settle()
    say(n, n.a, "Create", intent_doc(n, n.a, coffee, "need", "coffee", "5", "5",
                                     "2026-11-28T00:00:00Z"), via=n.c)
    say(n, n.a, "Update", intent_doc(n, n.a, gas, "offer", "gas", "10", "0",
                                     "2026-11-28T01:00:00Z"), via=n.c)
    n.settle()
    held = copies(n)
    assert held[gas] == ("withdrawn", "0") and held[coffee] == ("withdrawn", "0")
    assert one_pass(n.ctx, EPOCH)[1] == 0 and exchange_count(n) == 0


# --- the author's side: withdrawing, matching, refusing ------------------------------


@pytest.fixture
def commune(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Net]:
    settings = make_node(handle="maizal", level="commune")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = Net(settings, c, remote, "maizal")
        add_links(net.ctx, "maizal", [net.a.uri], "member_of")  # a plays the city
        with Session(net.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            members.grant(net.ctx.tx(s), members.create_member(net.ctx.tx(s), "facil",
                                                               "contraseña-larga",
                                                           "F"), body, "facilitator")
            s.commit()
        yield net


def _facil(s: Session) -> Member:
    return s.exec(select(Member).where(Member.username == "facil")).one()


def _publish(net: Net, side: str, kind: str, qty: str, enterprise: str | None = None
             ) -> str:
    with Session(net.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        tx = net.ctx.tx(s, _facil(s))
        if enterprise:
            enterprises.create(tx, body, enterprise, enterprise)
        row = operations.publish(tx, body, side, NS + kind, Decimal(qty),
                                 "kilogram", enterprise, rise_after=0)
        s.commit()
        return row.uri


def _own(net: Net, uri: str) -> Intent:
    with Session(net.ctx.engine) as s:
        return s.exec(select(Intent).where(Intent.uri == uri)).one()


def _published_updates(net: Net) -> int:
    with Session(net.ctx.engine) as s:
        return len(s.exec(select(OutboxItem).where(OutboxItem.activity_type == "Update")).all())


def _left_said(doc: dict[str, Any]) -> str:
    return str(doc["object"]["publishes"]["availableQuantity"]["hasNumericalValue"])


def _proposed(net: Net, offer: str, qty: str) -> tuple[str, dict[str, Any]]:
    """The city proposes that b takes `qty` of our offer: the exchange and its draft."""
    fed = net.a
    ex = net.uid(fed, "ex")
    draft = wire.agreement_object(ex, fed.uri, [wire.CommitmentDoc(
        f"{ex}#c0", net.me, net.b.uri, offer, f"{net.b.server.base}/objects/need",
        NS + "gas", "kilogram", Decimal(qty), None, None)], "2026-11-28T00:00:00Z")
    net.send(fed, net.activity(fed, "Offer", draft))
    net.settle()
    return ex, draft


def _propose(net: Net, offer: str, qty: str) -> str:
    return _proposed(net, offer, qty)[0]


def test_withdrawing_or_matching_all_sends_zero_and_refusals_say_why(commune: Net) -> None:
    n = commune
    gone, short = _publish(n, "offer", "gas", "10"), _publish(n, "offer", "gas", "10")
    one_pass(n.ctx, EPOCH)  # both rise to the city
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Create")) == 2)

    with Session(n.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        operations.withdraw(n.ctx.tx(s, _facil(s)), body, id_of(_own(n, gone)))
        s.commit()
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Update")) == 1)
    (update,) = posted(n, n.a, "Update")
    assert update["object"]["id"] == gone and _left_said(update) == "0"

    # The city, not yet aware, proposes on the withdrawn offer: refused as withdrawn,
    # naming it (and the 0 said once more, in case it was lost).
    ex = _propose(n, gone, "5")
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Reject")) == 1)
    (reject,) = posted(n, n.a, "Reject")
    assert reject["object"] == ex and reject["summary"] == "withdrawn"
    assert reject["target"] == [gone] and "withdrawn" in reject["content"]
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Update")) == 2)

    # Asked for more than is left: exhausted, with what was asked and what is left.
    ex = _propose(n, short, "50")
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Reject")) == 2)
    reject = posted(n, n.a, "Reject")[1]
    assert reject["summary"] == "exhausted" and reject["target"] == [short]
    assert "50 kilogram asked, 10 kilogram left" in reject["content"]


def test_a_local_match_that_takes_all_of_a_risen_offer_sends_zero(commune: Net) -> None:
    n = commune
    offer = _publish(n, "offer", "gas", "10")
    one_pass(n.ctx, EPOCH)
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Create")) == 1)
    # Its own school needs it: met inside the commune, held while the body answers.
    _publish(n, "need", "gas", "10", enterprise="escuela")
    assert _published_updates(n) == 0  # a hold may come back: nothing said yet
    with Session(n.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        (ex,) = s.exec(select(Exchange).where(Exchange.mode == "allocation")).all()
        local.answer(n.ctx.tx(s, _facil(s)), body, ex, True)
        s.commit()
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Update")) == 1)
    (update,) = posted(n, n.a, "Update")
    assert update["object"]["id"] == offer and _left_said(update) == "0"


# --- the broker hearing why ----------------------------------------------------------


def _refuse(net: Net, who: Sender, ex: Exchange, code: str, named: list[str]) -> None:
    net.send(who, net.activity(who, "Reject", ex.uri, summary=code, content="no",
                               target=named))
    net.settle()


def _copy_of(net: Net, who: Sender, kind: str) -> tuple[str, str, str]:
    with Session(net.ctx.engine) as s:
        row = s.exec(select(Intent).where(Intent.body == who.uri, Intent.side == "offer",
                                          Intent.kind == NS + kind)).one()
        return row.uri, row.state, row.available


def test_a_withdrawn_refusal_stops_the_broker_proposing_on_that_copy(city: CityNet) -> None:
    n = city
    ex = cycle(n)
    gas, _, _ = _copy_of(n, n.a, "gas")
    _refuse(n, n.a, ex, "withdrawn", [gas])
    assert _copy_of(n, n.a, "gas")[1:] == ("withdrawn", "0")
    # b's copies are given back and stay open; nothing is proposed again.
    assert _copy_of(n, n.b, "papaya")[1:] == ("open", "5")
    assert one_pass(n.ctx, EPOCH)[1] == 0 and exchange_count(n) == 1


def test_an_exhausted_refusal_waits_for_the_authors_next_word(city: CityNet) -> None:
    n = city
    ex = cycle(n)
    gas, _, _ = _copy_of(n, n.a, "gas")
    # Naming an offer that is not the refusing party's changes nothing of it.
    _refuse(n, n.a, ex, "exhausted", [gas, _copy_of(n, n.b, "papaya")[0]])
    assert _copy_of(n, n.a, "gas")[1:] == ("matched", "0")
    assert _copy_of(n, n.b, "papaya")[1:] == ("open", "5")
    assert one_pass(n.ctx, EPOCH)[1] == 0
    # The author says 4 are left: the copy opens with 4 and the cycle is proposed again.
    say(n, n.a, "Update", intent_doc(n, n.a, gas, "offer", "gas", "10", "4",
                                     "2026-11-28T05:00:00Z"))
    n.settle()
    assert one_pass(n.ctx, EPOCH)[1] == 1
    with Session(n.ctx.engine) as s:
        rows = s.exec(select(Commitment).where(Commitment.state == "proposed",
                                               Commitment.offer == gas)).all()
        assert [r.quantity for r in rows] == ["4"]


# --- a stale copy of a remote actor before a routing refusal --------------------------


def _stale_commune_joined_the_territory(net: CityNet) -> Sender:
    """x asked to join the city once (refused): the city stored x's actor as it was
    then, with no federation. Since, x joined the territory, which lists it."""
    x, t = net.remote.actor("x"), net.t
    net.remote.docs[x.path] = {**x.document(), "memberOf": [t.uri]}
    net.remote.docs[t.path] = {**t.document(), "members": f"{t.uri}/members"}
    net.remote.docs[f"{t.path}/members"] = {
        "id": f"{t.uri}/members", "type": "OrderedCollection",
        "orderedItems": [x.uri, "http://node.test/actors/ciudad"]}
    with Session(net.ctx.engine) as s:
        s.add(RemoteActor(uri=x.uri, host=net.remote.netloc, document=json.dumps(x.document()),
                          inbox=f"{x.uri}/inbox", fetched_at=utcnow() - timedelta(seconds=60)))
        s.commit()
    return x


def _matter(net: Net, affects: list[str]) -> dict[str, Any]:
    a = net.a
    doc = a.prove({"@context": ["https://www.w3.org/ns/activitystreams"],
                   **objects.proposal_object(net.uid(a, "matter"), a.uri, "Agua", "Texto",
                                             affects, 1, "2026-11-29T00:00:00Z")})
    create = net.activity(a, "Create", doc)
    net.send(a, create)
    return create


def _row(net: Net, activity_id: str) -> InboxItem:
    with Session(net.ctx.engine) as s:
        return s.exec(select(InboxItem).where(InboxItem.activity_id == activity_id)).one()


def test_a_stale_actor_is_refreshed_before_a_matter_is_refused(city: CityNet) -> None:
    n = city
    x = _stale_commune_joined_the_territory(n)
    create = _matter(n, [n.a.uri, x.uri])
    n.settle()
    # From the fresh copy the territory covers both: the city sends the matter up to it
    # (the author's Create, unchanged) instead of refusing it back down.
    run_loops(n.settings, lambda ctx: len(posted(n, n.t, "Create")) == 1)
    assert posted(n, n.t, "Create")[0]["id"] == create["id"]
    assert posted(n, n.a, "Reject") == [] and _row(n, create["id"]).state == "done"
    assert n.remote.gets.count(x.path) == 1


def test_a_refresh_that_fails_for_now_retries_instead_of_refusing(city: CityNet) -> None:
    n = city
    x = _stale_commune_joined_the_territory(n)
    n.remote.get_failures[x.path] = 503
    create = _matter(n, [n.a.uri, x.uri])
    run_loops(n.settings, lambda ctx: _row(n, create["id"]).attempts >= 1)
    row = _row(n, create["id"])
    assert row.state == "queued" and "KeyUnavailable" in row.last_error
    with Session(n.ctx.engine) as s:
        assert s.exec(select(OutboxItem).where(OutboxItem.activity_type == "Reject")).all() == []
    # x's server answers again: the retried row routes the matter up.
    del n.remote.get_failures[x.path]
    with Session(n.ctx.engine) as s:
        s.execute(update(InboxItem).where(col(InboxItem.id) == row.id)
                  .values(next_attempt_at=utcnow()))
        s.commit()
    run_loops(n.settings, lambda ctx: len(posted(n, n.t, "Create")) == 1)
    assert posted(n, n.a, "Reject") == [] and _row(n, create["id"]).state == "done"


def test_a_change_of_memberof_reaches_a_federation_that_refused_us(commune: Net) -> None:
    """The cheaper half of "changes reach every copy": a federation that refused our
    Join (and so cached our actor) hears of our new `memberOf` too."""
    n = commune
    refused, territory = n.remote.actor("c"), n.remote.actor("t")
    with Session(n.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        for who, state, join in ((refused, "rejected", "j-0"), (territory, "pending", "j-1")):
            s.add(FederationLink(body_id=id_of(body), remote_uri=who.uri, direction="member_of",
                                 state=state, remote_inbox=f"{who.uri}/inbox",
                                 join_activity_id=join))
        s.commit()
        assert membership.receive_answer(n.ctx.tx(s, f"remote:{territory.uri}"), territory.uri,
                                         "j-1", True)
        s.commit()
        (update,) = s.exec(select(OutboxItem).where(OutboxItem.activity_type == "Update")).all()
        assert json.loads(update.body)["object"]["memberOf"] == sorted([n.a.uri, territory.uri])
        targets = {d.inbox for d in s.exec(select(Delivery).where(
            Delivery.outbox_id == update.id)).all()}
    assert {f"{refused.uri}/inbox", f"{territory.uri}/inbox", f"{n.a.uri}/inbox"} <= targets


# --- a commitment called off after agreement gives its rest back upstream --------------


def _agreed(net: Net, offer: str, qty: str) -> str:
    """The city proposes taking `qty` of our offer, we accept, the city seals it; the
    commitment's id."""
    fed = net.a
    ex, draft = _proposed(net, offer, qty)
    with Session(net.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        row = s.exec(select(Exchange).where(Exchange.uri == ex)).one()
        party.answer(net.ctx.tx(s, _facil(s)), body, row, True)
        s.commit()
    sealed = fed.prove({"@context": wire.contexts(CTX), **draft})
    net.send(fed, net.activity(fed, "Accept", ex, result=sealed))
    net.settle()
    with Session(net.ctx.engine) as s:
        assert s.exec(select(Exchange).where(Exchange.uri == ex)).one().state == "agreed"
    return f"{ex}#c0"


@pytest.mark.parametrize("who", ["we", "they"])
def test_a_commitment_cancelled_after_agreement_says_upstream_what_is_back(commune: Net,
                                                                           who: str) -> None:
    n = commune
    offer = _publish(n, "offer", "gas", "10")
    one_pass(n.ctx, EPOCH)
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Create")) == 1)
    # Part of it: 0 left would withdraw the copies for good, and nothing reopens them.
    commitment = _agreed(n, offer, "4")
    run_loops(n.settings, lambda ctx: len(posted(n, n.a, "Update")) == 1)
    assert _left_said(posted(n, n.a, "Update")[0]) == "6"

    if who == "we":
        with Session(n.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            handovers.cancel(n.ctx.tx(s, _facil(s)), body, commitment, "sin camión")
            s.commit()
    else:  # the receiving side calls it off
        n.send(n.b, n.activity(n.b, "Update", {"id": commitment, "type": "Commitment",
                                               "finished": True}))
        n.settle()
    assert _own(n, offer).available == "10"

    def said_again() -> list[dict[str, Any]]:
        return [u for u in posted(n, n.a, "Update")[1:] if u["object"]["id"] == offer]

    run_loops(n.settings, lambda ctx: len(said_again()) == 1)
    assert _left_said(said_again()[0]) == "10"


# --- a stale copy of a plan's author before the inbox authority refuses it ------------


def _plan_from(net: Net, who: Sender) -> dict[str, Any]:
    plan = {"id": net.uid(who, "plan"), "type": "Plan", "attributedTo": who.uri,
            "name": "Molino compartido"}
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": net.uid(who, "act"),
            "type": "Create", "actor": who.uri, "object": plan, "to": [net.me]}


def test_a_plan_from_a_commune_whose_copy_predates_its_joining_is_not_refused(
        city: CityNet) -> None:
    """x's stored actor has no federation; x has since joined the territory the city
    belongs to. The authority fetches x again before refusing its plan (once)."""
    n = city
    x = _stale_commune_joined_the_territory(n)
    verdict = asyncio.run(authority.decide(n.ctx, _plan_from(n, x), "ciudad", x.uri))
    assert verdict.allowed and [b.handle for b in verdict.bodies] == ["ciudad"]
    assert n.remote.gets.count(x.path) == 1


def test_a_plan_from_a_stranger_is_refused_after_one_fresh_look(city: CityNet) -> None:
    n = city
    x = _stale_commune_joined_the_territory(n)
    n.remote.docs[x.path] = x.document()  # still in no federation
    verdict = asyncio.run(authority.decide(n.ctx, _plan_from(n, x), "ciudad", x.uri))
    assert verdict.code == "not-linked"
    assert n.remote.gets.count(x.path) == 1
    # Its copy is fresh now: the next plan is refused from it, without a fetch.
    verdict = asyncio.run(authority.decide(n.ctx, _plan_from(n, x), "ciudad", x.uri))
    assert verdict.code == "not-linked" and n.remote.gets.count(x.path) == 1
