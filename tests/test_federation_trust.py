"""Nobody acts for a body it does not belong to (issue 10, part 3): a member body's
weight is the number of families its federation accepted, never what it says of itself
in a mandate; a body whose mandate was recalled or expired neither weighs nor votes;
and the federation graph believes our own links over what a remote actor says of itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.context import build_context
from node.federations import graph, member_lists, objects
from node.governance import bodies, decisions, members, proposals
from node.governance.statute import Statute
from node.models import FederationLink, LocalActor, Member, Proposal
from node.models.base import utcnow
from node.models.matters import Mandate
from tests.conftest import hold_to_openapi
from tests.fakeremote import FakeRemote, RemoteActor
from tests.federated_commune import stamp
from tests.helpers import stored
from tests.mandate_city import CITY, City

PASSWORD = "contraseña-larga"


class Families(City):
    """The city of test_mandate_rules, weighing its member communes A and B by families."""

    def links(self) -> dict[str, FederationLink]:
        with Session(self.ctx.engine) as s:
            return {x.remote_uri: x for x in s.exec(select(FederationLink)).all()}

    def set_families(self, **by_name: int) -> None:
        with Session(self.ctx.engine) as s:
            for name, n in by_name.items():
                link = s.exec(select(FederationLink).where(
                    FederationLink.remote_uri == self.remote.actor(name).uri)).one()
                link.families = n
                s.add(link)
            s.commit()

    def statute(self, **terms: object) -> None:
        with Session(self.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "ciudad")).one()
            bodies.set_statute(self.ctx.tx(s), body, Statute.from_dict(terms))
            s.commit()

    def open_matter(self) -> None:
        """Commune A sends up a matter affecting A and B; the city opens its vote."""
        self.matter = self.uid(self.a)
        self.create(self.a, objects.proposal_object(self.matter, self.a.uri, "Acueducto",
                                                    "Texto.", [self.a.uri, self.b.uri], 1,
                                                    stamp()))
        self.settle()
        with Session(self.ctx.engine) as s:
            p = stored(s, Proposal, self.row().id)
            facil = stored(s, Member, self.facil_id)
            proposals.open_vote(self.ctx.tx(s, facil), p, utcnow() + timedelta(hours=1))
            s.commit()

    def join(self, who: RemoteActor, families: int | None) -> None:
        activity: dict[str, Any] = {"@context": ["https://www.w3.org/ns/activitystreams",
                                 "http://node.test/ns/comuna/v1"],
                    "id": f"{self.uid(who)}-join", "type": "Join", "actor": who.uri,
                    "object": CITY, "to": [CITY]}
        if families is not None:
            activity["families"] = families
        self.send(who, activity)
        self.settle()

    def close(self) -> dict[str, Any]:
        with Session(self.ctx.engine) as s:
            p = stored(s, Proposal, self.row().id)
            p.closes_at = utcnow() - timedelta(seconds=1)
            s.add(p)
            s.commit()
            d = decisions.close_vote(self.ctx.tx(s), p)
            s.commit()
            return {"outcome": d.outcome, **json.loads(d.record)}

    def token(self) -> dict[str, str]:
        r = self.client.post("/api/v1/tokens", json={"username": "facil",
                                                       "password": PASSWORD})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def fed(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Families]:
    settings = make_node(handle="ciudad", level="city")
    app = create_app(settings, background=False)
    with TestClient(app, base_url="http://node.test") as client:
        c = Families(settings, client, remote)
        # The statute is set before the vote opens: a vote keeps the rules it opened under.
        c.statute(weighting="families")
        yield c


def counted(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["outcome"], record["counts"]["for"], record["counts"]["against"],
            record["electorate"]["members"])


def test_a_million_families_in_a_mandate_do_not_decide_the_vote(fed: Families) -> None:
    c = fed
    c.set_families(a=10, b=30)
    c.open_matter()
    ma = c.mandate(c.a, "approve", families=1_000_000)
    mb = c.mandate(c.b, "reject", families=0)
    c.settle()
    c.vote(c.a, ma, "for")
    c.vote(c.b, mb, "against")
    c.settle()
    record = c.close()
    assert counted(record) == ("rejected", 10, 30, 40)
    assert sorted((b["member"], b["weight"]) for b in record["ballots"]) == \
        sorted([(c.a.uri, 10), (c.b.uri, 30)])
    # Nothing keeps the number the body said of itself.
    with Session(c.ctx.engine) as s:
        assert {m.families for m in s.exec(select(Mandate)).all()} == {0}


def test_families_come_from_the_declaration_the_federation_accepted(fed: Families) -> None:
    c = fed
    checked = hold_to_openapi(c.client)
    with Session(c.ctx.engine) as s:  # A and B are not members yet: they ask
        for link in s.exec(select(FederationLink)).all():
            s.delete(link)
        s.commit()
    c.join(c.a, 1_000_000)
    c.join(c.b, 30)
    links = c.links()
    assert [(links[w.uri].state, links[w.uri].families, links[w.uri].families_declared)
            for w in (c.a, c.b)] == [("pending", 0, 1_000_000), ("pending", 0, 30)]
    h = c.token()
    listed = c.client.get("/api/v1/bodies/ciudad/federation-members", headers=h).json()
    assert sorted((x["remote"], x["families_declared"]) for x in listed["items"]) == \
        sorted([(c.a.uri, 1_000_000), (c.b.uri, 30)])
    # The facilitators refuse A's number by refusing its request; A asks again with a
    # believable one and is admitted with it.
    r = c.client.post(f"/api/v1/bodies/ciudad/federation-members/{links[c.a.uri].id}/decision",
                      headers=h, json={"accept": False})
    assert (r.status_code, r.json()["state"], r.json()["families"]) == (200, "rejected", 0)
    c.join(c.a, 10)
    for who in (c.a, c.b):
        r = c.client.post(f"/api/v1/bodies/ciudad/federation-members/"
                          f"{links[who.uri].id}/decision", headers=h, json={"accept": True})
        assert r.status_code == 200, r.text
    links = c.links()
    assert [(links[w.uri].state, links[w.uri].families, links[w.uri].families_declared)
            for w in (c.a, c.b)] == [("accepted", 10, None), ("accepted", 30, None)]
    c.open_matter()
    ma, mb = c.mandate(c.a, "approve", families=1_000_000), c.mandate(c.b, "reject")
    c.settle()
    c.vote(c.a, ma, "for")
    c.vote(c.b, mb, "against")
    c.settle()
    assert counted(c.close()) == ("rejected", 10, 30, 40)
    assert any(x.startswith("POST /api/v1/bodies/{handle}/federation-members/") for x in checked)


def test_a_change_of_families_counts_only_once_accepted(fed: Families) -> None:
    from node.federations import outcomes

    c = fed
    c.set_families(a=10, b=30)
    h = c.token()
    c.join(c.a, 500)  # A, already a member, declares a new number
    link = c.links()[c.a.uri]
    assert (link.state, link.families, link.families_declared) == ("accepted", 10, 500)
    c.open_matter()
    ma, mb = c.mandate(c.a, "approve"), c.mandate(c.b, "reject")
    c.settle()
    c.vote(c.a, ma, "for")
    c.vote(c.b, mb, "against")
    c.settle()
    assert counted(c.close()) == ("rejected", 10, 30, 40)  # the old number held

    def weights() -> dict[str, int]:
        with Session(c.ctx.engine) as s:
            city = s.exec(select(LocalActor).where(LocalActor.handle == "ciudad")).one()
            return outcomes._weights(s, "families", city)

    # Refused: A stays a member with the number accepted before.
    r = c.client.post(f"/api/v1/bodies/ciudad/federation-members/{link.id}/decision",
                      headers=h, json={"accept": False})
    assert (r.json()["state"], r.json()["families"], r.json()["families_declared"]) == \
        ("accepted", 10, None)
    assert weights() == {c.a.uri: 10, c.b.uri: 30}
    c.join(c.a, 50)
    assert weights() == {c.a.uri: 10, c.b.uri: 30}
    r = c.client.post(f"/api/v1/bodies/ciudad/federation-members/{link.id}/decision",
                      headers=h, json={"accept": True})
    assert (r.json()["state"], r.json()["families"]) == ("accepted", 50)
    assert weights() == {c.a.uri: 50, c.b.uri: 30}
    # Nothing left to decide.
    r = c.client.post(f"/api/v1/bodies/ciudad/federation-members/{link.id}/decision",
                      headers=h, json={"accept": True})
    assert (r.status_code, r.json()["code"]) == (409, "bad-state")
    # Under open admission the federation's statute accepts a declaration at once.
    c.statute(weighting="families", admission="open")
    c.join(c.b, 35)
    assert weights() == {c.a.uri: 50, c.b.uri: 35}


def test_a_recalled_or_expired_mandate_neither_weighs_nor_votes(fed: Families) -> None:
    c = fed
    c.set_families(a=10, b=30)
    c.open_matter()
    ma = c.mandate(c.a, "approve", families=1_000_000)
    mb = c.mandate(c.b, "approve", families=1_000_000)
    c.settle()
    c.vote(c.a, ma, "for")
    c.vote(c.b, mb, "for")
    c.settle()
    c.send(c.a, {"@context": "https://www.w3.org/ns/activitystreams",
                 "id": f"{c.a.server.base}/activities/recall-a", "type": "Delete",
                 "actor": c.a.uri, "object": ma, "to": [CITY]})
    c.settle()
    with Session(c.ctx.engine) as s:
        # B's mandate ran out before the vote closed: its vote no longer lies within it.
        m = s.exec(select(Mandate).where(Mandate.uri == mb)).one()
        m.expires_at = utcnow() - timedelta(minutes=1)
        s.add(m)
        s.commit()
    record = c.close()
    # Neither vote counts, and both leave the electorate (neither weighs, not even the
    # families it was accepted with) until they mandate again.
    assert counted(record) == ("no_quorum", 0, 0, 0)
    assert record["ballots"] == []


def test_the_graph_believes_our_links_over_a_remote_claim(fed: Families,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    c = fed
    remote = c.remote
    x, t, u = remote.actor("x"), remote.actor("t"), remote.actor("u")
    # X says it belongs to our city; we never admitted it. A omits the city, but we did.
    remote.docs["/users/x"] = {**x.document(), "memberOf": [CITY, f"{CITY}/../ciudad"]}
    remote.docs["/users/a"] = {**c.a.document(), "memberOf": [t.uri, u.uri]}
    remote.docs["/users/b"] = {**c.b.document(), "memberOf": [CITY, t.uri]}
    # T, a federation on a third node, lists only B among its members; U lists nobody
    # because it publishes no `members` collection (it cannot be checked).
    remote.docs["/users/t"] = {**t.document(), "members": f"{t.uri}/members"}
    remote.docs["/users/t/members"] = {"id": f"{t.uri}/members", "type": "OrderedCollection",
                                       "orderedItems": [c.b.uri]}

    async def main() -> tuple[Any, ...]:
        ctx = build_context(c.settings)
        try:
            first = await graph.parents_map(ctx, [x.uri, c.a.uri, c.b.uri])
            # T admits A; within RECHECK its old list still answers (a false claim cannot
            # make us fetch T's list on every matter), after it the list is read again.
            remote.docs["/users/t/members"] = {**remote.docs["/users/t/members"],
                                               "orderedItems": [c.a.uri, c.b.uri]}
            soon = await graph.parents_map(ctx, [c.a.uri])
            fetched = remote.gets.count("/users/t/members")
            monkeypatch.setattr(member_lists, "RECHECK", 0.0)
            later = await graph.parents_map(ctx, [c.a.uri])
            return first, soon, fetched, later
        finally:
            await ctx.fetcher.client.aclose()

    first, soon, fetched, later = asyncio.run(main())
    assert first[x.uri] == []
    assert first[c.a.uri] == sorted([CITY, u.uri])
    assert first[c.b.uri] == sorted([CITY, t.uri])
    assert (soon[c.a.uri], fetched) == (sorted([CITY, u.uri]), 1)
    assert later[c.a.uri] == sorted([CITY, t.uri, u.uri])


def test_a_body_declares_its_families_when_joining_and_to_change_them(node: Settings,
                                                                      client: TestClient,
                                                                      remote: FakeRemote) -> None:
    """The member's side: the Join carries the number; a new declaration leaves the body
    a member with the accepted number until its federation answers."""
    from tests.conftest import ctx_of
    from tests.helpers import run_loops

    checked = hold_to_openapi(client)
    ctx, f = ctx_of(client), remote.actor("f")
    with Session(ctx.engine) as s:
        facil = members.create_member(ctx.tx(s), "facil", PASSWORD, "F")
        members.grant(ctx.tx(s), facil, ctx.actors["maizal"], "facilitator")
        s.commit()
    r = client.post("/api/v1/tokens", json={"username": "facil", "password": PASSWORD})
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.post("/api/v1/bodies/maizal/federations", headers=h,
                    json={"federation": f.uri, "families": 120})
    assert (r.status_code, r.json()["families"]) == (202, 120), r.text

    def joins() -> list[dict[str, Any]]:
        return [json.loads(p["body"]) for p in remote.posts
                if json.loads(p["body"]).get("type") == "Join"]

    def answer(kind: str, join: dict[str, Any]) -> None:
        inbox = f"{ctx.urls.actor('maizal')}/inbox"
        activity = f.activity(kind, {"id": join["id"], "type": "Join",
                                     "actor": join["actor"], "object": f.uri})
        body, headers = f.signed_post(inbox, activity)
        assert client.post(inbox, content=body, headers=headers).status_code == 202

    def link() -> tuple[Any, ...]:
        with Session(ctx.engine) as s:
            x = s.exec(select(FederationLink)).one()
            return x.id, x.state, x.families, x.families_declared

    run_loops(node, lambda c: len(joins()) == 1, inbox=False)
    assert joins()[0]["families"] == 120
    answer("Accept", joins()[0])
    run_loops(node, lambda c: link()[1:] == ("accepted", 120, None), delivery=False)
    r = client.post(f"/api/v1/bodies/maizal/federations/{link()[0]}/families", headers=h,
                    json={"families": 130})
    assert (r.status_code, r.json()["families"], r.json()["families_declared"]) == \
        (202, 120, 130)
    assert client.get("/actors/maizal", headers={"Accept": "application/activity+json"}
                      ).json()["memberOf"] == [f.uri]  # still a member meanwhile
    run_loops(node, lambda c: len(joins()) == 2, inbox=False)
    assert joins()[1]["families"] == 130
    answer("Reject", joins()[1])
    run_loops(node, lambda c: link()[1:] == ("accepted", 120, None), delivery=False)
    assert "POST /api/v1/bodies/{handle}/federations/{link_id}/families 202" in checked
