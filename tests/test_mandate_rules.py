"""Trying to break the rules of federated votes, each case at a city's inbox: only a
live mandate of a member body, for the exact version, used by one of its
spokespersons, within its position, counts. Every refusal goes back as a Reject with
its reason and changes nothing. Decisions and proposals at the wrong level, and
objects whose own proof does not verify, are refused too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.federations import objects
from node.governance import proposals
from node.models import FederationLink, LocalActor, Member, Proposal
from node.models.base import utcnow
from tests.fakeremote import FakeRemote, RemoteActor
from tests.federated_commune import stamp
from tests.helpers import stored
from tests.mandate_city import CITY, City


@pytest.fixture
def city(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[City]:
    settings = make_node(handle="ciudad", level="city")
    app = create_app(settings, background=False)
    with TestClient(app, base_url="http://node.test") as client:
        c = City(settings, client, remote)
        # Commune A sends up a matter that affects A and B: the city takes it.
        matter = c.uid(c.a)
        c.create(c.a, objects.proposal_object(matter, c.a.uri, "Acueducto", "Texto.",
                                              [c.a.uri, c.b.uri], 1, stamp()))
        c.settle()
        c.matter = matter
        assert c.row().matter == matter
        with Session(c.ctx.engine) as s:
            p = stored(s, Proposal, c.row().id)
            facil = stored(s, Member, c.facil_id)
            proposals.open_vote(c.ctx.tx(s, facil), p, utcnow() + timedelta(hours=1))
            s.commit()
        c.ma = c.mandate(c.a, "approve")
        c.mb = c.mandate(c.b, "reject")
        c.settle()
        yield c


def refused(c: City, who: RemoteActor, code: str, before: tuple[Any, ...]) -> None:
    c.settle()
    assert c.state() == before, code
    codes = [r.get("summary") for r in c.rejections(who)]
    assert code in codes, codes


def test_a_vote_within_its_mandate_counts(city: City) -> None:
    c = city
    c.vote(c.a, c.ma, "for")
    c.vote(c.b, c.mb, "against")
    c.settle()
    assert [x[:3] for x in c.state()[0]] == sorted([(c.a.uri, "for", "counted"),
                                                    (c.b.uri, "against", "counted")])


@pytest.mark.parametrize("case", [
    "no-mandate", "outside-mandate", "wrong-version", "not-spokesperson", "not-member",
    "foreign-mandate", "bad-proof"])
def test_votes_that_break_a_rule_are_refused(city: City, case: str) -> None:
    c = city
    before = c.state()
    who = c.a
    if case == "no-mandate":
        c.vote(c.a, f"{c.a.server.base}/objects/no-such-mandate")
    elif case == "outside-mandate":
        c.vote(c.a, c.ma, "against")  # the mandate says approve
    elif case == "wrong-version":
        c.vote(c.a, c.ma, "for", version=2)
    elif case == "not-spokesperson":
        c.vote(c.a, c.ma, "for", speaker=f"{c.a.server.base}/members/intrusa")
    elif case == "not-member":
        who = c.x
        c.vote(c.x, c.ma, "for", speaker=f"{c.a.server.base}/members/a-vocera")
    elif case == "foreign-mandate":
        who = c.b  # B votes under A's mandate
        c.vote(c.b, c.ma, "for", speaker=f"{c.a.server.base}/members/a-vocera")
    elif case == "bad-proof":
        c.vote(c.a, c.ma, "for", tamper=True)
    # A sender that is no member body is refused by the inbox authority, with its code.
    refused(c, who, {"not-member": "not-a-member"}.get(case, case), before)


def test_after_recall_a_mandate_carries_no_vote(city: City) -> None:
    c = city
    c.vote(c.a, c.ma, "for")
    c.settle()
    c.send(c.a, {"@context": "https://www.w3.org/ns/activitystreams",
                 "id": f"{c.a.server.base}/activities/recall-1", "type": "Delete",
                 "actor": c.a.uri, "object": c.ma, "to": [CITY]})
    c.settle()
    votes, mandates, _ = c.state()
    assert [(v[0], v[2]) for v in votes] == [(c.a.uri, "withdrawn")]
    assert (c.ma, "recalled", 1) in mandates
    before = c.state()
    c.vote(c.a, c.ma, "for")
    refused(c, c.a, "mandate-not-live", before)
    # Only the body that gave a mandate can take it back.
    c.send(c.b, {"@context": "https://www.w3.org/ns/activitystreams",
                 "id": f"{c.b.server.base}/activities/recall-2", "type": "Delete",
                 "actor": c.b.uri, "object": c.ma.replace("/a-", "/b-"), "to": [CITY]})
    c.settle()
    assert c.state() == before


def test_once_decided_a_matter_takes_no_new_mandate(city: City) -> None:
    """A commune that gives a mandate after the city decided must not supersede the one
    whose vote was counted (the record of the decision would no longer add up)."""
    from node.clock import ManualClock
    from node.governance.clock import close_due_now

    c = city
    c.vote(c.a, c.ma, "for")
    c.vote(c.b, c.mb, "against")
    c.settle()
    c.ctx.clock = ManualClock(c.ctx.clock.now() + timedelta(hours=2))
    assert close_due_now(c.ctx)
    before = c.state()
    c.mandate(c.a, "reject")
    refused(c, c.a, "matter-decided", before)


def test_forged_mandates_are_refused(city: City) -> None:
    c = city
    before = c.state()
    # X, not a member, gives a mandate in A's name (signed with its own key).
    c.mandate(c.x, attributed=c.a.uri)
    refused(c, c.x, "not-owner", before)
    # A sends a mandate signed with X's key.
    c.mandate(c.a, sign_as=c.x)
    refused(c, c.a, "bad-proof", before)
    # A non-member's own mandate.
    c.mandate(c.x)
    refused(c, c.x, "not-a-member", before)


def test_the_same_vote_replayed_counts_once(city: City) -> None:
    c = city
    activity = c.vote(c.a, c.ma, "for")
    c.settle()
    before = c.state()
    # The very same activity again: the inbox already has it.
    body, headers = c.a.signed_post(f"{CITY}/inbox", activity)
    c.client.post(f"{CITY}/inbox", content=body, headers=headers)
    # The same signed vote in a new activity: refused as a replay.
    again = {**activity, "id": f"{activity['id']}-again"}
    c.send(c.a, again)
    refused(c, c.a, "replayed", before)


def test_a_mandate_for_another_version_is_refused(city: City) -> None:
    c = city
    before = c.state()
    c.mandate(c.b, "approve", version=3)
    refused(c, c.b, "wrong-version", before)


def test_a_matter_of_one_commune_is_refused_down(city: City) -> None:
    c = city
    before = c.state()
    c.create(c.b, objects.proposal_object(c.uid(c.b), c.b.uri, "Solo B", "Texto.",
                                          [c.b.uri], 1, stamp()))
    c.settle()
    assert c.state() == before  # no new matter here
    reasons = [r["content"] for r in c.rejections(c.b)]
    assert any("decide it there" in r for r in reasons), reasons


def test_a_federation_weighing_families_counts_them(city: City) -> None:
    from node.governance import bodies, decisions
    from node.governance.statute import Statute, freeze

    c = city
    with Session(c.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "ciudad")).one()
        bodies.set_statute(c.ctx.tx(s), body, Statute(weighting="families"))
        # As if the vote had opened under this statute (it is frozen at opening).
        p = stored(s, Proposal, c.row().id)
        freeze(p, body)
        s.add(p)
        # The families each commune declared on joining, as the city accepted them.
        for link in s.exec(select(FederationLink)).all():
            link.families = {c.a.uri: 10, c.b.uri: 3}.get(link.remote_uri, link.families)
            s.add(link)
        s.commit()
    # What a mandate says of families weighs nothing.
    ma = c.mandate(c.a, "approve", families=1_000_000)
    mb = c.mandate(c.b, "reject", families=1)
    c.settle()
    c.vote(c.a, ma, "for")
    c.vote(c.b, mb, "against")
    c.settle()
    with Session(c.ctx.engine) as s:
        p = stored(s, Proposal, c.row().id)
        p.closes_at = utcnow() - timedelta(seconds=1)
        s.add(p)
        s.commit()
        d = decisions.close_vote(c.ctx.tx(s), p)
        s.commit()
        record = json.loads(d.record)
    assert d.outcome == "adopted" and d.method == "mandates"
    assert (record["counts"]["for"], record["counts"]["against"]) == (10, 3)
    assert record["electorate"]["members"] == 13
