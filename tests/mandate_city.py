"""A city node in-process (City) taking matters, mandates and votes from made-up communes."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.config import Settings
from node.federations import objects
from node.governance import members
from node.models import FederationLink, LocalActor, Proposal
from node.models.matters import Mandate, MandatedVote
from tests.conftest import ctx_of
from tests.fakeremote import FakeRemote, RemoteActor
from tests.federated_commune import stamp
from tests.helpers import inbox_settled

CITY = "http://node.test/actors/ciudad"


class City:
    """A city node in-process, with two remote member communes and one outsider."""

    def __init__(self, settings: Settings, client: TestClient, remote: FakeRemote) -> None:
        self.settings, self.client, self.remote = settings, client, remote
        self.ctx = ctx_of(client)
        self.a, self.b, self.x = remote.actor("a"), remote.actor("b"), remote.actor("x")
        self.n = 0
        self.matter = ""
        self.ma = self.mb = ""
        with Session(self.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "ciudad")).one()
            assert body.id is not None
            for m in (self.a, self.b):
                s.add(FederationLink(body_id=body.id, remote_uri=m.uri, direction="has_member",
                                     state="accepted", remote_inbox=f"{m.uri}/inbox"))
            facil = members.create_member(self.ctx.tx(s), "facil", "contraseña-larga", "F")
            members.grant(self.ctx.tx(s), facil, body, "facilitator")
            s.commit()
            self.facil_id = facil.id

    def uid(self, who: RemoteActor) -> str:
        self.n += 1
        return f"{who.server.base}/objects/{who.name}-{self.n}"

    def send(self, who: RemoteActor, activity: dict[str, Any]) -> None:
        body, headers = who.signed_post(f"{CITY}/inbox", activity)
        r = self.client.post(f"{CITY}/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text

    def create(self, who: RemoteActor, obj: dict[str, Any], sign_as: RemoteActor | None = None
               ) -> dict[str, Any]:
        signed = (sign_as or who).prove({"@context": "https://www.w3.org/ns/activitystreams",
                                         **obj})
        activity = {"@context": "https://www.w3.org/ns/activitystreams",
                    "id": f"{who.server.base}/activities/{who.name}-{self.uid(who)[-4:]}-"
                          f"{self.n}", "type": "Create", "actor": who.uri, "object": signed,
                    "to": [CITY]}
        # The activity carries its author's proof too: a federation passes it on as is.
        activity = who.prove(activity)
        self.send(who, activity)
        return activity

    def settle(self) -> None:
        inbox_settled(self.settings)

    def row(self) -> Proposal:
        with Session(self.ctx.engine) as s:
            return s.exec(select(Proposal).where(Proposal.electorate == "bodies")).one()

    def state(self) -> tuple[Any, ...]:
        with Session(self.ctx.engine) as s:
            return (sorted((v.member_body, v.choice, v.state, v.uri)
                           for v in s.exec(select(MandatedVote))),
                    sorted((m.uri, m.state, m.version) for m in s.exec(select(Mandate))),
                    sorted((p.id, p.state, p.current_version) for p in s.exec(select(Proposal))))

    def rejections(self, who: RemoteActor) -> list[dict[str, Any]]:
        out = []
        for post in self.remote.posts:
            doc = json.loads(post["body"])
            if doc.get("type") == "Reject" and post["path"] == f"/users/{who.name}/inbox":
                out.append(doc)
        return out

    def mandate(
            self, who: RemoteActor, position: str = "approve", version: int = 1,
            speakers: list[str] | None = None, sign_as: RemoteActor | None = None,
            attributed: str | None = None, families: int = 0) -> str:
        oid = self.uid(who)
        self.create(who, objects.mandate_object(
            oid, attributed or who.uri, CITY, self.matter, version, position,
            speakers or [f"{who.server.base}/members/{who.name}-vocera"], stamp(),
            families=families), sign_as=sign_as)
        return oid

    def vote(self, who: RemoteActor, mandate: str, choice: str = "for", version: int = 1,
             speaker: str | None = None, tamper: bool = False) -> dict[str, Any]:
        doc = objects.vote_object(self.uid(who), who.uri, self.matter, version, mandate,
                                  speaker or f"{who.server.base}/members/{who.name}-vocera",
                                  choice, stamp())
        signed = who.prove({"@context": "https://www.w3.org/ns/activitystreams", **doc})
        if tamper:
            signed["choice"] = "against" if choice == "for" else "for"
        activity = {"@context": "https://www.w3.org/ns/activitystreams",
                    "id": f"{who.server.base}/activities/v-{self.uid(who)[-6:]}",
                    "type": "Create", "actor": who.uri, "object": signed, "to": [CITY]}
        self.send(who, activity)
        return activity
