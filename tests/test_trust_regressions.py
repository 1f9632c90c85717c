"""The holes found by trying the node as a stranger would (issue: nobody acts for a
body it does not belong to), each sent through the real inbox: refused with its code,
nothing changed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.economy import intents, wire
from node.economy.catalogue import quantity
from node.federations import objects
from node.governance import bodies, members
from node.models import (
    Commitment,
    InboxItem,
    JointPlan,
    LocalActor,
    Proposal,
    ProposalVersion,
    SignedObject,
)
from node.models.economy import Exchange
from tests.economy_net import NS, Net, add_links, city, cycle  # noqa: F401 (fixture)
from tests.fakeremote import FakeRemote, RemoteActor

COMMUNE = "http://node.test/actors/maizal"


@pytest.fixture
def commune(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Net]:
    settings = make_node(handle="maizal", level="commune")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = Net(settings, c, remote, "maizal")
        add_links(net.ctx, "maizal", [net.a.uri], "member_of")  # a plays the city
        yield net


def verdicts(net: Net) -> dict[str, str]:
    with Session(net.ctx.engine) as s:
        return {r.activity_id: r.last_error.split(":", 1)[0]
                for r in s.exec(select(InboxItem)).all() if r.state == "refused"}


def matters(net: Net) -> list[tuple[Any, ...]]:
    with Session(net.ctx.engine) as s:
        return sorted((p.id, p.matter, p.current_version, p.escalation, p.electorate,
                       p.answers_to) for p in s.exec(select(Proposal)).all())


def proposal_doc(
        net: Net, who: RemoteActor, matter: str, version: int, text: str) -> dict[str, Any]:
    return who.prove({"@context": ["https://www.w3.org/ns/activitystreams"],
                      **objects.proposal_object(matter, who.uri, "Agua", text,
                                                [COMMUNE, who.uri], version,
                                                "2026-11-29T00:00:00Z")})


def test_a_stranger_puts_nothing_on_a_communes_agenda(commune: Net) -> None:
    x = commune.x
    act = commune.activity(x, "Create", proposal_doc(commune, x, commune.uid(x, "m"), 1,
                                                     "Cerrar la escuela"))
    commune.send(x, act)
    commune.settle()
    assert matters(commune) == []
    assert verdicts(commune) == {act["id"]: "not-a-member"}


def test_only_the_deciding_federation_versions_a_matter(commune: Net) -> None:
    a, b, x = commune.a, commune.b, commune.x
    matter = commune.uid(b, "matter")
    create = commune.activity(b, "Create", proposal_doc(commune, b, matter, 1, "Texto"))
    commune.send(a, commune.activity(a, "Announce", create))
    commune.settle()
    before = matters(commune)
    assert [m[1:3] for m in before] == [(matter, 1)]
    # A stranger's "new version" of the same matter, with its own text.
    forged = commune.activity(x, "Update", {**proposal_doc(commune, x, matter, 2, "Otro"),
                                            "attributedTo": b.uri})
    commune.send(x, forged)
    # A repeated or older version from our own federation changes nothing either.
    again = commune.activity(a, "Update", proposal_doc(commune, b, matter, 1, "Otro texto"))
    commune.send(a, again)
    commune.settle()
    assert matters(commune) == before
    assert verdicts(commune)[forged["id"]] == "not-our-federation"
    with Session(commune.ctx.engine) as s:
        texts = {v.text for v in s.exec(select(ProposalVersion)).all()}
    assert texts == {"Texto"}


def test_our_own_matter_sent_back_by_an_outsider_stays_ours(commune: Net) -> None:
    ctx = commune.ctx
    a, x = commune.a, commune.x
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        author = members.create_member(commune.ctx.tx(s), "ana", "contraseña-larga", "Ana")
        p = Proposal(body_id=body.id or 0, author_id=author.id, state="deliberation",
                     affects=json.dumps([COMMUNE, a.uri]), matter=f"{COMMUNE}/objects/m-1",
                     escalation="sent", escalated_to=a.uri, current_version=1)
        s.add(p)
        s.flush()
        s.add(ProposalVersion(proposal_id=p.id or 0, number=1, title="Agua", text="Nuestro",
                              author_id=author.id))
        s.commit()
    before = matters(commune)
    doc = {"@context": ["https://www.w3.org/ns/activitystreams"],
           **objects.proposal_object(f"{COMMUNE}/objects/m-1", COMMUNE, "Agua", "Nuestro",
                                     [COMMUNE, a.uri], 1, "2026-11-29T00:00:00Z")}
    inner = {"id": commune.uid(x, "c"), "type": "Create", "actor": COMMUNE, "object": doc}
    commune.send(x, commune.activity(x, "Announce", inner))
    commune.send(x, commune.activity(x, "Update", x.prove(doc)))
    # Even our own federation cannot turn it into its matter without our signed Create.
    commune.send(a, commune.activity(a, "Update", a.prove(doc)))
    commune.settle()
    assert matters(commune) == before
    assert before[0][3:5] == ("sent", "people")


def test_an_unrelated_actor_holds_none_of_our_offers(commune: Net) -> None:
    ctx, x = commune.ctx, commune.x
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        facil = members.create_member(commune.ctx.tx(s), "facil", "contraseña-larga", "F")
        members.grant(commune.ctx.tx(s), facil, body, "facilitator")
        mine = intents.publish(ctx.tx(s, facil), body, "offer", NS + "gas",
                               quantity("10"), "kilogram")
        s.commit()
        mine_uri = mine.uri
    before = commune.state()
    ex_uri = commune.uid(x, "ex")
    draft = wire.agreement_object(ex_uri, x.uri, [wire.CommitmentDoc(
        f"{ex_uri}#c0", COMMUNE, x.uri, mine_uri, f"{x.server.base}/objects/need", NS + "gas",
        "kilogram", quantity("10"), None, None)], "2026-11-28T00:00:00Z")
    offer = commune.activity(x, "Offer", x.prove(draft))
    for _ in range(2):  # and resent: still nothing held
        commune.send(x, {**offer, "id": commune.uid(x, "act")})
    commune.settle()
    assert commune.state() == before
    assert set(verdicts(commune).values()) == {"not-our-federation"}
    with Session(ctx.engine) as s:
        assert s.exec(select(Exchange)).all() == []


def test_a_plan_from_an_unrelated_actor_opens_no_proposal(commune: Net) -> None:
    x = commune.x
    plan = x.prove({"@context": ["https://www.w3.org/ns/activitystreams"],
                    "id": commune.uid(x, "plan"), "type": "Plan", "attributedTo": x.uri,
                    "name": "Molino", "hasIndependentDemand": []})
    act = commune.activity(x, "Create", plan)
    commune.send(x, act)
    commune.settle()
    with Session(commune.ctx.engine) as s:
        assert s.exec(select(JointPlan)).all() == []
    assert matters(commune) == []
    assert verdicts(commune) == {act["id"]: "not-linked"}


def test_a_delivery_beyond_the_commitment_is_refused(city: Net) -> None:  # noqa: F811
    ex = cycle(city)
    for who in (city.a, city.b):
        city.send(who, city.activity(who, "Accept", ex.uri))
    city.settle()
    with Session(city.ctx.engine) as s:
        c = s.exec(select(Commitment).where(Commitment.provider == city.a.uri)).one()
    from datetime import UTC, datetime

    def event(qty: str) -> dict[str, Any]:
        return wire.event_object(wire.EventDoc(
            city.uid(city.a, "ev"), c.uri, city.a.uri, city.b.uri, c.kind, c.unit,
            quantity(qty), datetime(2026, 11, 28, tzinfo=UTC), ""))

    before = city.state()
    city.send(city.a, city.activity(city.a, "Create", event("11")))  # 10 were committed
    city.settle()
    assert city.state() == before
    city.send(city.a, city.activity(city.a, "Create", event("6")))
    city.send(city.a, city.activity(city.a, "Create", event("5")))  # 6 + 5 > 10
    city.settle()
    assert [q for _, q in _events(city)] == ["6"]


def _events(net: Net) -> list[tuple[str, str]]:
    from node.models import EconomicEvent

    with Session(net.ctx.engine) as s:
        return [(e.uri, e.quantity) for e in s.exec(select(EconomicEvent)).all()]


def _inbox_rows(net: Net) -> list[tuple[str, str, str, str]]:
    with Session(net.ctx.engine) as s:
        return sorted((r.activity_id, r.recipient, r.signer.split("#")[0], r.state)
                      for r in s.exec(select(InboxItem)).all())


def test_a_copy_relayed_first_by_a_stranger_does_not_stand_in_for_the_real_one(
        commune: Net) -> None:
    """Anyone may follow a federation and so see its proven Announce; a stranger who
    posts that copy before the federation's own delivery arrives must not make the node
    drop the real one (both answered 202, the matter never on the agenda)."""
    a, b, x = commune.a, commune.b, commune.x
    matter = commune.uid(b, "matter")
    create = commune.activity(b, "Create", proposal_doc(commune, b, matter, 1, "Texto"))
    announce = commune.activity(a, "Announce", create)
    commune.send(x, announce)
    commune.settle()
    assert matters(commune) == []
    assert verdicts(commune) == {announce["id"]: "not-the-sender"}
    commune.send(a, announce)
    # The federation's retry of the same delivery is stored once.
    commune.send(a, announce)
    commune.settle()
    assert [m[1:3] for m in matters(commune)] == [(matter, 1)]
    # A copy from someone else arriving after it is not handled again (another
    # stranger: the first one's second post is the same delivery, stored once).
    commune.send(b, announce)
    commune.send(x, announce)
    commune.settle()
    assert [m[1:3] for m in matters(commune)] == [(matter, 1)]
    assert _inbox_rows(commune) == sorted([(announce["id"], "maizal", x.uri, "refused"),
                                           (announce["id"], "maizal", a.uri, "done"),
                                           (announce["id"], "maizal", b.uri, "done")])
    with Session(commune.ctx.engine) as s:
        copy = s.exec(select(InboxItem).where(InboxItem.signer.startswith(b.uri))).one()
    assert copy.last_error.startswith("duplicate")


def test_each_of_our_bodies_gets_a_federations_announce_sent_to_both(commune: Net) -> None:
    """Two bodies of one node in the same federation: the federation posts the same
    Announce to each body's inbox, and each must get the matter (the second post was
    answered 202 and dropped as a copy of the first)."""
    ctx, a, b = commune.ctx, commune.a, commune.b
    with Session(ctx.engine) as s:
        parent = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        bodies.create_body(ctx.tx(s), parent, "gas", "Consejo de gas", "sectoral_council")
        s.commit()
    add_links(ctx, "gas", [a.uri], "member_of")
    council = "http://node.test/actors/gas"
    matter = commune.uid(b, "matter")
    doc = b.prove({"@context": ["https://www.w3.org/ns/activitystreams"],
                   **objects.proposal_object(matter, b.uri, "Agua", "Texto",
                                             [COMMUNE, council, b.uri], 1,
                                             "2026-11-29T00:00:00Z")})
    announce = commune.activity(a, "Announce", commune.activity(b, "Create", doc),
                                to=[COMMUNE, council])
    for inbox in (f"{COMMUNE}/inbox", f"{council}/inbox"):
        body, headers = a.signed_post(inbox, announce)
        assert commune.client.post(inbox, content=body, headers=headers).status_code == 202
    commune.settle()
    with Session(ctx.engine) as s:
        handles = {r.id: r.handle for r in s.exec(select(LocalActor)).all()}
        got = sorted(handles[p.body_id] for p in s.exec(select(Proposal)).all())
    assert got == ["gas", "maizal"]


def test_a_member_cannot_pass_up_the_offer_of_a_body_that_is_not_below_it(
        city: Net) -> None:  # noqa: F811
    """x's offer, proven by x, relayed into the city by its member a: x belongs to no
    federation of the city's, so the city must not hold it (and then propose exchanges
    to a body that never offered anything there)."""
    a, x = city.a, city.x
    doc = wire.intent_object(wire.IntentDoc(
        id=city.uid(x), body=x.uri, side="offer", agent=x.uri, kind=NS + "gas",
        unit="kilogram", quantity=quantity("10"), available=quantity("10"), summary="",
        location="", starts_at=None, ends_at=None, rise_after=0), "2026-11-28T00:00:00Z")
    signed = x.prove({"@context": wire.contexts("http://node.test/ns/comuna/v1"), **doc})
    city.send(a, city.activity(x, "Create", signed))
    city.settle()
    assert city.state()[0] == []
    # Its own offer, sent by the member itself, is held as before.
    city.intent(a, "offer", "gas", "10")
    city.settle()
    assert [(i[0].split("/")[-1].split("-")[0], i[2]) for i in city.state()[0]] == [
        ("a", "open")]


def _decision(net: Net, author: RemoteActor, matter: str) -> dict[str, Any]:
    from node.federations import outcomes
    from node.governance.statute import Statute
    from node.governance.tally import Counts, Electorate, tally

    result = tally(Statute(), Counts(yes=2, no=0, families=2),
                   Electorate(members=2, families=2))
    note = outcomes.decision_note(net.uid(author, "decision"), author.uri, "Agua", "<p/>",
                                  matter, 1, result, Statute().to_dict(), {author.uri: 1},
                                  [], [], [], f"{author.uri}/followers",
                                  "2026-11-29T00:00:00Z")
    return author.prove({"@context": ["https://www.w3.org/ns/activitystreams"], **note})


def test_a_decision_on_a_matter_unknown_here_counts_only_from_a_federation_above(
        commune: Net) -> None:
    """With no matter to find its deciding level, a decision passed down by our own
    federation is kept (and would be passed further down) only if a federation above us
    made it: not a stranger's note that merely carries its own valid proof."""
    a, x = commune.a, commune.x
    forged = _decision(commune, x, commune.uid(x, "matter"))
    commune.send(a, commune.activity(a, "Announce", commune.activity(x, "Create", forged)))
    ours = _decision(commune, a, commune.uid(a, "matter"))
    commune.send(a, commune.activity(a, "Announce", commune.activity(a, "Create", ours)))
    commune.settle()
    with Session(commune.ctx.engine) as s:
        kept = set(s.exec(select(SignedObject.uri)).all())
    assert forged["id"] not in kept
    assert ours["id"] in kept
