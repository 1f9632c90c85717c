"""A public body's vote as a FEP-9967 poll: Mastodon followers see it open and see
the final counts when it closes; answers sent from other servers count for nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.activitypub.proofs import verify_object
from node.config import Settings
from node.context import NodeContext
from node.governance import bodies, decisions, members, proposals
from node.governance.statute import Rule, Statute
from node.models import InboxItem, LocalActor, OutboxItem, Proposal, Vote
from node.models.base import utcnow
from tests.conftest import NODE_URL
from tests.fakeremote import FakeRemote
from tests.govfixtures import Commune, build_commune
from tests.helpers import ed25519_key, id_of, run_loops, stored
from tests.inboxsend import send

ACTOR = f"{NODE_URL}/actors/maizal"


def _open(c: Commune, statute: Statute | None = None) -> int:
    with c.session() as s:
        if statute is not None:
            bodies.set_statute(c.ctx.tx(s), c.assembly, statute)
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Agua para el barrio",
                             "Reparar la bomba.", own_uri=ACTOR)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        s.commit()
        return id_of(p)


def _activities(c: Commune, kind: str) -> list[dict[str, Any]]:
    with c.session() as s:
        return [json.loads(i.body) for i in s.exec(select(OutboxItem)).all()
                if i.activity_type == kind]


def test_opening_a_vote_publishes_a_poll(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _open(c)
    [create] = _activities(c, "Create")
    q = create["object"]
    assert q["type"] == "Question" and q["id"] == f"{NODE_URL}/objects/vote-{pid}"
    assert [o["name"] for o in q["oneOf"]] == ["A favor", "En contra", "Abstención"]
    assert all(o["replies"]["totalItems"] == 0 for o in q["oneOf"]) and "closed" not in q
    assert q["endTime"].endswith("Z") and q["votersCount"] == 0
    assert "https://www.w3.org/ns/activitystreams#Public" in q["to"]
    # Signed by the body, so it can be checked wherever it is relayed.
    key = ed25519_key(c.ctx.actors["maizal"].ed25519_public_multibase)
    assert verify_object(create, key) == c.ctx.urls.ed25519_key("maizal")
    served = client.get(f"/objects/vote-{pid}",
                        headers={"Accept": "application/activity+json"}).json()
    assert served["type"] == "Question" and served["id"] == q["id"]


def test_closing_updates_the_poll_with_the_final_counts(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _open(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        for who, choice in (("m0", "for"), ("m1", "for"), ("m2", "against")):
            proposals.cast(c.ctx.tx(s, c.people[who]), p, 1, choice)
        p.closes_at = utcnow() - timedelta(seconds=1)
        s.add(p)
        s.commit()
    with c.session() as s:
        decisions.close_vote(c.ctx.tx(s), stored(s, Proposal, pid))
        s.commit()
    [update] = _activities(c, "Update")
    q = update["object"]
    assert q["id"] == f"{NODE_URL}/objects/vote-{pid}" and q["closed"]
    assert [(o["name"], o["replies"]["totalItems"]) for o in q["oneOf"]] == [
        ("A favor", 2), ("En contra", 1), ("Abstención", 0)]
    assert q["votersCount"] == 3
    served = client.get(f"/objects/vote-{pid}",
                        headers={"Accept": "application/activity+json"}).json()
    assert served["closed"] == q["closed"]
    # The decision record is published beside it, as before.
    assert any(a["object"]["type"] == "Note" for a in _activities(c, "Create"))


def test_consent_polls_offer_a_block_and_private_bodies_publish_none(node: Settings,
                                                                     client: TestClient) -> None:
    c = build_commune(node)
    _open(c, Statute(rule=Rule.consent))
    [create] = _activities(c, "Create")
    assert [o["name"] for o in create["object"]["oneOf"]][-1] == "Bloqueo"
    with c.session() as s:
        council = stored(s, LocalActor, c.council.id)
        council.public = False
        s.add(council)
        p = proposals.create(c.ctx.tx(s, c.people["other"]), council, "Interno", "Texto.")
        proposals.open_deliberation(c.ctx.tx(s, c.people["other"]), p)
        members.grant(c.ctx.tx(s), c.people["other"], council, "facilitator")
        proposals.open_vote(c.ctx.tx(s, c.people["other"]), p)
        s.commit()
    assert len(_activities(c, "Create")) == 1


def test_a_poll_answer_from_another_server_is_not_a_vote(node: Settings, client: TestClient,
                                                         remote: FakeRemote) -> None:
    c = build_commune(node)
    pid = _open(c)
    bob = remote.actor("bob")
    answer = bob.activity("Create", {
        "id": f"{remote.base}/notes/answer", "type": "Note", "attributedTo": bob.uri,
        "name": "A favor", "inReplyTo": f"{NODE_URL}/objects/vote-{pid}", "to": [ACTOR]})
    send(client, bob, answer)

    def processed(ctx: NodeContext) -> bool:
        with Session(ctx.engine) as s:
            return all(r.state != "queued" for r in s.exec(select(InboxItem)).all())

    run_loops(node, processed, delivery=False)
    with Session(c.ctx.engine) as s:
        assert s.exec(select(Vote)).all() == []
        assert s.exec(select(InboxItem)).one().activity_id == answer["id"]
