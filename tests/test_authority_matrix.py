"""Every kind of activity the node handles, sent by every kind of sender, through the
real inbox (signed HTTP, stored, processed): accepted or refused exactly as the
authority table (node/inbox/kinds.py RULES) says, and a refusal changes no row.

The matrix is generated from the table: a kind without a rule, a rule whose relation
the test cannot place, or a kind without a sample here fails the suite. Which sender
satisfies which relation is written here on its own (`SATISFIED_BY`), from the roles
each sender plays in the world built below, not read from the node's code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlmodel import Session, col, select

from node.inbox.kinds import RULES, Kind, Relation, classify
from node.models import (
    Commitment,
    Exchange,
    FederationLink,
    Following,
    InboxItem,
    LocalActor,
    OutboxItem,
)
from tests.conftest import NODE_URL, ctx_of
from tests.dbdigest import table_digests
from tests.fakeremote import RemoteActor
from tests.helpers import run_loops

HANDLE = "ciudad"
ME = f"{NODE_URL}/actors/{HANDLE}"
INBOX = f"{ME}/inbox"
ROLES = ("stranger", "applicant", "member", "federation", "followee", "other_party")

# Who holds each relation to the city, in the world `build_world` makes:
# member: an accepted member body; applicant: asked to join, not (yet) accepted;
# federation: the city's accepted federation (which it asked with JOIN_ID), and the
# proposer of exchange E1 between the city and the member, whose commitment C1 the
# member gives; followee: an actor the city asked to follow; other_party: a party to
# another exchange (E2) only; stranger: nothing.
SATISFIED_BY: dict[Relation, set[str]] = {
    Relation.anyone: set(ROLES),
    Relation.own_follow: set(ROLES),
    Relation.member_body: {"member"},
    Relation.federation: {"federation"},
    Relation.linked: {"member", "federation"},
    Relation.asked_federation: {"federation"},
    Relation.followed: {"followee"},
    Relation.exchange_proposer: {"federation"},
    Relation.commitment_party: {"member", "federation"},
    Relation.plan_initiator: {"member", "federation"},
    Relation.addressee: {"member", "federation"},
}
# Rows that a refusal may touch: the inbox's own record, the Reject it sends back,
# and caches of remote actors and hosts.
BOOKKEEPING = frozenset({"inbox_item", "outbox_item", "delivery", "remote_actor",
                         "peer_host", "alembic_version"})


class _Server(Protocol):
    @property
    def base(self) -> str: ...


class Sender(Protocol):
    """What the samples read of a sender: a fake remote's actor, or `_Probe`."""

    @property
    def server(self) -> _Server: ...
    @property
    def name(self) -> str: ...
    @property
    def uri(self) -> str: ...
    def document(self) -> dict[str, Any]: ...


class World:
    def __init__(self, actors: Mapping[str, Sender]) -> None:
        self.a = actors
        base = actors["federation"].server.base
        self.join_id = f"{base}/activities/join-ciudad"
        self.follow_id = f"{NODE_URL}/activities/follow-followee"
        self.e1 = f"{base}/exchanges/e1"
        self.e2 = f"{base}/exchanges/e2"
        self.c1 = f"{self.e1}#c1"
        self.n = 0

    def uid(self, s: Sender, what: str) -> str:
        self.n += 1
        return f"{s.server.base}/{what}/{s.name}-{self.n}"


def build_world(engine: Any, w: World) -> None:
    """(Re)make the city's relations, so each kind starts from the same records."""
    uri = {r: a.uri for r, a in w.a.items()}
    with Session(engine) as s:
        city = s.exec(select(LocalActor).where(LocalActor.handle == HANDLE)).one()
        for model in (FederationLink, Following, Commitment, Exchange):
            for row in s.exec(select(model)).all():
                s.delete(row)
        s.flush()
        links = [("member", "has_member", "accepted", ""),
                 ("applicant", "has_member", "pending", ""),
                 ("federation", "member_of", "accepted", w.join_id)]
        for role, direction, state, join in links:
            s.add(FederationLink(body_id=city.id or 0, remote_uri=uri[role], direction=direction,
                                 state=state, join_activity_id=join,
                                 remote_inbox=f"{uri[role]}/inbox"))
        s.add(Following(actor_id=city.id or 0, target_uri=uri["followee"],
                        follow_activity_id=w.follow_id))
        for ex, other in ((w.e1, "member"), (w.e2, "other_party")):
            s.add(Exchange(uri=ex, proposer=uri["federation"], mode="barter",
                           parties=json.dumps(sorted([ME, uri[other]]))))
        s.add(Commitment(uri=w.c1, exchange=w.e1, provider=uri["member"], receiver=ME,
                         provider_agent=uri["member"], receiver_agent=ME,
                         offer=f"{uri['member']}/offers/1", need=f"{NODE_URL}/objects/need-1",
                         kind=f"{NODE_URL}/kinds/maize", unit="kilogram", quantity="10",
                         state="agreed"))
        s.commit()


def _create(s: Sender, w: World, obj: Any, kind: str = "Create"
            ) -> dict[str, Any]:
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": w.uid(s, "activities"),
            "type": kind, "actor": s.uri, "object": obj, "to": [ME]}


def _owned(s: Sender, w: World, otype: str, **extra: Any) -> dict[str, Any]:
    return {"id": w.uid(s, "objects"), "type": otype, "attributedTo": s.uri, **extra}


def _proposal(s: Sender, w: World) -> dict[str, Any]:
    return _owned(s, w, "Proposal", name="Agua", content="Arreglar la tubería",
                  affects=[ME, s.uri], proposalVersion=1, mediaType="text/plain")


def _intent(s: Sender, w: World) -> dict[str, Any]:
    return _owned(s, w, "Proposal", purpose="offer", publishes={
        "type": "Intent", "provider": s.uri, "resourceConformsTo": f"{NODE_URL}/kinds/maize",
        "resourceQuantity": {"hasUnit": "kilogram", "hasNumericalValue": "5"}})


def _record(s: Sender, w: World) -> dict[str, Any]:
    return _owned(s, w, "Article", name="Huerto", lessons="regar temprano")


def _decision(s: Sender, w: World) -> dict[str, Any]:
    return _owned(s, w, "Note", matter=f"{s.server.base}/matters/m1", content="aprobado")


SAMPLES: dict[Kind, Callable[[Sender, World], dict[str, Any]]] = {
    Kind.follow: lambda s, w: _create(s, w, ME, "Follow"),
    Kind.undo: lambda s, w: _create(s, w, {"id": w.uid(s, "activities"), "type": "Follow",
                                           "actor": s.uri, "object": ME}, "Undo"),
    Kind.follow_answer: lambda s, w: _create(s, w, {"id": w.follow_id, "type": "Follow",
                                                    "actor": ME, "object": s.uri}, "Accept"),
    Kind.join_request: lambda s, w: _create(s, w, ME, "Join"),
    Kind.join_answer: lambda s, w: _create(s, w, {"id": w.join_id, "type": "Join",
                                                  "actor": ME, "object": s.uri}, "Accept"),
    Kind.leave: lambda s, w: _create(s, w, ME, "Leave"),
    Kind.actor_update: lambda s, w: _create(s, w, s.document(), "Update"),
    Kind.actor_delete: lambda s, w: _create(s, w, s.uri, "Delete"),
    Kind.matter_up: lambda s, w: _create(s, w, _proposal(s, w)),
    Kind.matter_down: lambda s, w: _create(s, w, _create(s, w, _proposal(s, w)), "Announce"),
    Kind.matter_version: lambda s, w: _create(s, w, _proposal(s, w), "Update"),
    Kind.vote_opened: lambda s, w: _create(s, w, _owned(
        s, w, "Question", matter=w.uid(s, "objects"), proposalVersion=1,
        endTime="2030-01-01T00:00:00Z")),
    Kind.amendment: lambda s, w: _create(s, w, _owned(
        s, w, "Amendment", matter=w.uid(s, "objects"), name="Con tanque", content="Otro texto",
        againstVersion=1, amendmentState="open")),
    Kind.decision: lambda s, w: _create(s, w, _decision(s, w)),
    Kind.decision_down: lambda s, w: _create(s, w, _create(s, w, _decision(s, w)),
                                             "Announce"),
    Kind.mandate: lambda s, w: _create(s, w, _owned(s, w, "Mandate", position="approve")),
    Kind.mandated_vote: lambda s, w: _create(s, w, _owned(s, w, "MandatedVote",
                                                          choice="for")),
    Kind.delete: lambda s, w: _create(s, w, w.uid(s, "mandates"), "Delete"),
    Kind.intent: lambda s, w: _create(s, w, _intent(s, w)),
    Kind.exchange_offer: lambda s, w: _create(s, w, _owned(s, w, "Agreement", stipulates=[]),
                                              "Offer"),
    Kind.agreement: lambda s, w: {**_create(s, w, w.e1, "Accept"), "result": {
        "id": w.e1, "type": "Agreement", "attributedTo": s.uri, "stipulates": []}},
    Kind.delivery: lambda s, w: _create(s, w, {
        "id": w.uid(s, "events"), "type": "EconomicEvent", "fulfills": w.c1,
        "provider": s.uri, "receiver": ME,
        "resourceQuantity": {"hasUnit": "kilogram", "hasNumericalValue": "1"}}),
    Kind.commitment_cancel: lambda s, w: _create(s, w, {"id": w.c1, "type": "Commitment"},
                                                 "Update"),
    Kind.plan: lambda s, w: _create(s, w, _owned(s, w, "Plan", name="Molino")),
    Kind.answer: lambda s, w: _create(s, w, w.e1, "Accept"),
    Kind.project_record: lambda s, w: _create(s, w, _record(s, w)),
    Kind.project_down: lambda s, w: _create(s, w, _create(s, w, _record(s, w)), "Announce"),
    Kind.other: lambda s, w: _create(s, w, _owned(s, w, "Note", content="hola")),
}


def dump(engine: Any) -> dict[str, str]:
    return table_digests(engine, BOOKKEEPING)


def test_every_kind_has_a_rule_and_a_sample() -> None:
    assert set(RULES) == set(Kind), "a kind without a rule in RULES"
    assert set(SAMPLES) == set(Kind), "a kind without a sample in this matrix"
    assert set(Relation) == set(SATISFIED_BY), "a relation the matrix cannot place"
    for kind, make in SAMPLES.items():
        assert classify(make(_Probe(), World({"federation": _Probe()}))) == kind, kind


class _ProbeServer:
    base = "http://probe.test"


class _Probe:
    """A sender for shape checks alone (no server, no keys)."""

    server = _ProbeServer()

    name = "probe"
    uri = "http://probe.test/users/probe"

    def document(self) -> dict[str, Any]:
        return {"id": self.uri, "type": "Group"}


def _send(client: Any, sender: RemoteActor, activity: dict[str, Any]) -> None:
    body, headers = sender.signed_post(INBOX, activity)
    r = client.post(INBOX, content=body, headers=headers)
    assert r.status_code == 202, (activity["type"], sender.name, r.status_code, r.text)


def _process(settings: Any, ids: list[str]) -> dict[str, InboxItem]:
    def read(engine: Any) -> dict[str, InboxItem]:
        with Session(engine) as s:
            rows = s.exec(select(InboxItem).where(col(InboxItem.activity_id).in_(ids))).all()
            return {r.activity_id: r for r in rows}

    def done(ctx: Any) -> bool:
        rows = read(ctx.engine)
        return len(rows) == len(ids) and all(r.state != "queued" or r.attempts > 0
                                             for r in rows.values())

    ctx = run_loops(settings, done, delivery=False, timeout=60)
    return read(ctx.engine)


def test_authority_matrix(make_node: Any, remote: Any) -> None:
    settings = make_node(handle=HANDLE, level="city", name="Ciudad Comunal Norte")
    from starlette.testclient import TestClient

    from node.app import create_app

    actors = {role: remote.actor(role.replace("_", "-")) for role in ROLES}
    w = World(actors)
    wrong: list[str] = []
    with TestClient(create_app(settings, background=False), base_url=NODE_URL) as client:
        engine = ctx_of(client).engine
        for kind in Kind:
            rule = RULES[kind]
            allowed = SATISFIED_BY[rule.relation]
            build_world(engine, w)
            # Refusals first, all from the same records, then compare every table.
            refused = {role: SAMPLES[kind](actors[role], w) for role in ROLES
                       if role not in allowed}
            before = dump(engine)
            for role, activity in refused.items():
                _send(client, actors[role], activity)
            rows = _process(settings, [a["id"] for a in refused.values()])
            for role, activity in refused.items():
                row = rows[activity["id"]]
                if row.state != "refused" or not row.last_error:
                    wrong.append(f"{kind} from {role}: {row.state} ({row.last_error}), "
                                 "should be refused")
            after = dump(engine)
            for table in before:
                if before[table] != after[table]:
                    wrong.append(f"{kind}: a refusal changed table {table}")
            if rule.answer_refusal and refused:
                with Session(engine) as s:
                    sent = {json.loads(o.body).get("object") for o in s.exec(
                        select(OutboxItem).where(OutboxItem.activity_type == "Reject"))}
                missing = [r for r, a in refused.items() if a["id"] not in sent]
                if missing:
                    wrong.append(f"{kind}: no Reject answered to {missing}")
            # Then every sender the table allows: the authority lets each through (the
            # handler may still find the sample wanting, but never as a refusal).
            build_world(engine, w)
            admitted = {role: SAMPLES[kind](actors[role], w) for role in ROLES
                        if role in allowed}
            for role, activity in admitted.items():
                _send(client, actors[role], activity)
            rows = _process(settings, [a["id"] for a in admitted.values()])
            for role, activity in admitted.items():
                row = rows[activity["id"]]
                if row.state == "refused":
                    wrong.append(f"{kind} from {role}: refused ({row.last_error}), "
                                 "should be let through")
    assert not wrong, "\n".join(wrong)


def test_docs_print_the_same_table() -> None:
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "federation.md").read_text()
    for kind, rule in RULES.items():
        row = f"| `{kind.value}` |"
        assert row in doc, f"docs/federation.md has no row for {kind.value}"
        line = next(li for li in doc.splitlines() if li.startswith(row))
        assert f"| `{rule.relation.value}` |" in line, f"{kind.value}: relation differs"
