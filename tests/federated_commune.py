"""A commune for the tests of federated decisions and mandates, in-process: Maizal,
member of two made-up remote federations (tests/fakeremote.py), with a matter passed
down to it (`commune`), and a mandate its assembly gave on it (`mandated`). Shared by
the test modules that need them, which import the fixtures from here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.federations import mandates, objects
from node.governance import members
from node.models import FederationLink, LocalActor, Member, Proposal
from node.models.base import utcnow
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote, RemoteActor
from tests.helpers import id_of, inbox_idle, run_loops, stored
from tests.pageforms import csrf, login

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
        run_loops(self.settings, inbox_idle, delivery=False)

    def add_facilitator(self, name: str = "Facilitadora") -> int:
        """A facilitator of the commune, `facil`, to act through the pages and the API."""
        with Session(self.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            facil = members.create_member(self.ctx.tx(s), "facil", "contraseña-larga", name)
            members.grant(self.ctx.tx(s), facil, body, "facilitator")
            s.commit()
            return id_of(facil)

    def rows(self) -> list[Proposal]:
        with Session(self.ctx.engine) as s:
            return list(s.exec(select(Proposal)).all())

    def decision(self, by: RemoteActor, outcome: str = "adopted", tamper: bool = False,
                 version: int = 1) -> dict[str, Any]:
        self.n += 1
        note = by.prove({"@context": AS, "id": f"{by.server.base}/objects/decision-{self.n}",
                         "type": "Note", "attributedTo": by.uri, "matter": self.matter,
                         "proposalVersion": version, "outcome": outcome, "content": "decidido",
                         "votesFor": 0, "votesAgainst": 0, "abstentions": 0})
        if tamper:
            note["outcome"] = "rejected" if outcome == "adopted" else "adopted"
        return self.activity(by, "Create", note, to=[AS + "#Public"])

    def vote_opened(self, hours: int = 1) -> None:
        """F opens its vote on the matter and tells Maizal (its spokespersons may vote)."""
        self.n += 1
        ends = (utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        question = self.f.prove({"@context": AS, "id": f"{self.f.server.base}/objects/"
                                 f"vote-open-{self.n}", "type": "Question",
                                 "attributedTo": self.f.uri, "matter": self.matter,
                                 "proposalVersion": 1, "endTime": ends})
        self.send(self.f, self.activity(self.f, "Create", question, to=[f"{self.f.uri}/members"]))
        self.settle()


    def new_version(self, text: str = "Abrir el camino y el puente.", version: int = 2
                    ) -> None:
        """F adopted an amendment: it signs the new version and sends it down."""
        amendment = f"{self.f.server.base}/amendments/{version}"
        doc = self.f.prove({"@context": AS, **objects.proposal_object(
            self.matter, self.c.uri, "Camino", text, [self.c.uri, ME], version, stamp(),
            amendment)})
        self.send(self.f, self.activity(self.f, "Update", doc, to=[f"{self.f.uri}/members"]))
        self.settle()


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


PEOPLE = ("facil", "ana", "luis")  # coordinator and spokesperson; spokesperson; member


@pytest.fixture
def mandated(commune: Commune) -> Commune:
    c = commune
    ids: dict[str, int] = {}
    with Session(c.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        for username in PEOPLE:
            m = members.create_member(c.ctx.tx(s), username, "contraseña-larga", username.title())
            members.grant(c.ctx.tx(s), m, body, "facilitator" if username == "facil" else
                          "member")
            ids[username] = id_of(m)
        s.commit()
    [row] = c.rows()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    r = c.client.post("/b/maizal/meetings", data={
        "csrf": csrf(page), "held_at": "20/11/2026 6:30 p. m.", "attendance": "9",
        f"decide-{row.id}": "1", f"for-{row.id}": "7", f"against-{row.id}": "2"},
        follow_redirects=False)
    assert r.status_code == 303
    with Session(c.ctx.engine) as s:
        facil = stored(s, Member, ids["facil"])
        mandate = mandates.issue(c.ctx.tx(s, facil), stored(s, Proposal, row.id), "approve",
                                 [ids["facil"], ids["ana"]])
        s.commit()
        c.mandate_id, c.ids = id_of(mandate), ids
    return c


