"""A commune records a federation's decision only if it comes from the level that
decides the matter and its own proof holds, however it travelled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.federations import objects
from node.models import FederationLink, InboxItem, LocalActor, Proposal
from node.models.base import utcnow
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote, RemoteActor
from tests.helpers import id_of, refused, run_loops

ME = f"{NODE_URL}/actors/maizal"
AS = "https://www.w3.org/ns/activitystreams"


def stamp() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


class Commune:
    """Maizal, member of two remote federations: F (which decides the matter: it also
    covers commune C) and G (which does not cover C)."""

    # Set by test_mandate_states' fixture once it has issued a mandate on the matter.
    mandate_id: int
    ids: dict[str, int]

    def __init__(self, settings: Settings, client: TestClient, remote: FakeRemote) -> None:
        self.settings, self.client, self.remote = settings, client, remote
        self.ctx = ctx_of(client)
        self.f, self.g, self.c = remote.actor("f"), remote.actor("g"), remote.actor("c")
        remote.docs["/users/c"] = {**self.c.document(), "memberOf": [self.f.uri]}
        with Session(self.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            for fed in (self.f, self.g):
                s.add(FederationLink(body_id=id_of(body), remote_uri=fed.uri, direction="member_of",
                                     state="accepted", remote_inbox=f"{fed.uri}/inbox"))
            s.commit()
        self.n = 0
        self.matter = ""

    def send(self, who: RemoteActor, activity: dict[str, Any]) -> None:
        body, headers = who.signed_post(f"{ME}/inbox", activity)
        r = self.client.post(f"{ME}/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text

    def activity(self, who: RemoteActor, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        self.n += 1
        return who.prove({"@context": AS, "id": f"{who.server.base}/activities/{who.name}-"
                          f"{self.n}", "type": kind, "actor": who.uri, "object": obj, **extra})

    def settle(self) -> None:
        def done(ctx: NodeContext) -> bool:
            with Session(ctx.engine) as s:
                return all(r.state != "queued" for r in s.exec(select(InboxItem)).all())

        run_loops(self.settings, done, delivery=False)

    def rows(self) -> list[Proposal]:
        with Session(self.ctx.engine) as s:
            return list(s.exec(select(Proposal)).all())

    def decision(self, by: RemoteActor, outcome: str = "adopted", tamper: bool = False
                 ) -> dict[str, Any]:
        self.n += 1
        note = by.prove({"@context": AS, "id": f"{by.server.base}/objects/decision-{self.n}",
                         "type": "Note", "attributedTo": by.uri, "matter": self.matter,
                         "proposalVersion": 1, "outcome": outcome, "content": "decidido",
                         "votesFor": 0, "votesAgainst": 0, "abstentions": 0})
        if tamper:
            note["outcome"] = "rejected" if outcome == "adopted" else "adopted"
        return self.activity(by, "Create", note, to=[AS + "#Public"])


@pytest.fixture
def commune(node: Settings, remote: FakeRemote) -> Iterator[Commune]:
    app = create_app(node, background=False)
    with TestClient(app, base_url=NODE_URL) as client:
        c = Commune(node, client, remote)
        # C sent a matter affecting C and Maizal up to F, which passes it down.
        c.matter = f"{c.c.server.base}/objects/matter-1"
        create = c.activity(c.c, "Create", c.c.prove({"@context": AS, **objects.proposal_object(
            c.matter, c.c.uri, "Camino", "Abrir el camino.", [c.c.uri, ME], 1, stamp())}),
            to=[c.f.uri])
        c.send(c.f, c.activity(c.f, "Announce", create, to=[f"{c.f.uri}/members"]))
        c.settle()
        [row] = c.rows()
        assert row.matter == c.matter and row.answers_to == c.f.uri
        yield c


def test_the_deciding_federations_decision_is_recorded(commune: Commune) -> None:
    c = commune
    c.send(c.f, c.decision(c.f))
    c.settle()
    [row] = c.rows()
    assert row.final_outcome == "adopted" and row.final_decision.startswith(c.f.server.base)


def test_a_decision_whose_proof_fails_is_not_recorded(commune: Commune) -> None:
    c = commune
    c.send(c.f, c.decision(c.f, tamper=True))
    c.settle()
    assert [r.final_outcome for r in c.rows()] == [""]


def test_a_decision_from_the_wrong_level_is_not_recorded(commune: Commune) -> None:
    c = commune
    # G is one of Maizal's federations, but it does not cover C: it cannot decide this.
    c.send(c.g, c.decision(c.g))
    c.settle()
    assert [r.final_outcome for r in c.rows()] == [""]


def test_a_matter_passed_down_by_a_stranger_is_ignored(
        commune: Commune, remote: FakeRemote) -> None:
    c = commune
    stranger = remote.actor("extrano")
    create = c.activity(c.c, "Create", c.c.prove({"@context": AS, **objects.proposal_object(
        f"{c.c.server.base}/objects/matter-2", c.c.uri, "Otro", "Texto.", [c.c.uri, ME], 1,
        stamp())}), to=[c.f.uri])
    c.send(stranger, c.activity(stranger, "Announce", create))
    # And one passed down by F whose inner Create was altered after C signed it.
    forged = json.loads(json.dumps(create))
    forged["object"]["content"] = "Otro texto"
    forged["id"] += "-x"
    c.send(c.f, c.activity(c.f, "Announce", forged))
    c.settle()
    assert [r.matter for r in c.rows()] == [c.matter]


def test_pages_show_the_matter_and_take_the_mandate(commune: Commune) -> None:
    from node.governance import members
    from node.models.matters import Mandate
    from tests.pageforms import csrf, login

    c = commune
    with Session(c.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        facil = members.create_member(c.ctx.tx(s), "facil", "contraseña-larga", "Facilitadora")
        members.grant(c.ctx.tx(s), facil, body, "facilitator")
        s.commit()
        facil_id = facil.id
    [row] = c.rows()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    # The federation by its name, never its address.
    assert "Asunto federado" in page and "Dar el mandato" not in page
    assert c.f.uri not in page.split("<main", 1)[-1]
    r = c.client.post("/b/maizal/meetings", data={
        "csrf": csrf(page), "held_at": "2026-11-20T18:30", "attendance": "9",
        f"decide-{row.id}": "1", f"for-{row.id}": "7", f"against-{row.id}": "2"},
        follow_redirects=False)
    assert r.status_code == 303
    page = c.client.get(f"/p/{row.id}").text
    assert "Dar el mandato" in page and 'value="reject"' not in page  # it was adopted
    r = c.client.post(f"/p/{row.id}/mandate", data={
        "csrf": csrf(page), "position": "approve", "spokesperson": str(facil_id)},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    page = c.client.get(f"/p/{row.id}").text
    assert "Votar ante la federación" in page and "vigente" in page
    # Under a mandate to approve, only "A favor" is offered; the rest is refused.
    assert 'value="for"' in page and 'value="against"' not in page
    assert "Facilitadora" in page  # the spokesperson by name
    with Session(c.ctx.engine) as s:
        mandate = s.exec(select(Mandate)).one()
    r = c.client.post(f"/p/{row.id}/mandates/{mandate.id}/vote",
                      data={"csrf": csrf(page), "choice": "against"})
    assert refused(r, 403)  # outside the mandate: refused, nothing sent
    r = c.client.post(f"/p/{row.id}/mandates/{mandate.id}/vote",
                      data={"csrf": csrf(page), "choice": "for"}, follow_redirects=False)
    assert r.status_code == 303
    r = c.client.post(f"/p/{row.id}/mandates/{mandate.id}/recall",
                      data={"csrf": csrf(page), "reason": "otra vocería"},
                      follow_redirects=False)
    assert r.status_code == 303
    assert "revocado" in c.client.get(f"/p/{row.id}").text
    assert c.client.get("/b/maizal/federation").status_code == 200
