"""The one place that decides whether the sender of an arriving activity may send it.

A valid HTTP signature only says who sent something. Before any handler runs, the
processor asks `decide`: the activity's kind (`kinds.classify`), whether the objects it
carries belong to whom they claim (`ownership_problem`, pure), and whether the sender
holds the relation `kinds.RULES` requires to the receiving body, as this node's own
records say (federation links, exchanges, commitments, plans, follows). A refusal
names a stable code; the processor answers it with a `Reject` and changes nothing else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from node.context import NodeContext
from node.federations import graph, levels, mandates
from node.inbox.kinds import RULES, Kind, Relation, classify
from node.inbox.ownership import id_of, ownership_problem
from node.models import (
    Commitment,
    EconomicEvent,
    Exchange,
    FederationLink,
    Following,
    JointPlan,
    LocalActor,
    Proposal,
)
from node.models.matters import SignedObject
from node.outbox.publish import audience

REFRESH_PER_DECISION = 16


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    # The receiving bodies for which the sender holds the required relation.
    bodies: list[LocalActor] = field(default_factory=list)
    code: str = ""
    reason: str = ""
    # Whether a refusal is worth a `Reject` to the sender, and which body sends it
    # (the one it was addressed to; on the shared inbox, the first body here).
    answer: bool = False
    addressed: LocalActor | None = None

    @property
    def allowed(self) -> bool:
        return not self.code


# --- the receiving bodies ----------------------------------------------------------------


# Every arriving activity is decided with these: built once (issue 11, fifteenth session).
_BODIES = select(LocalActor).order_by(col(LocalActor.id))
_LINKS = select(FederationLink).where(
    col(FederationLink.remote_uri) == bindparam("remote"),
    col(FederationLink.direction) == bindparam("direction"),
    col(FederationLink.body_id).in_(bindparam("bodies", expanding=True)))
_ACCEPTED_LINKS = _LINKS.where(col(FederationLink.state) == "accepted")


def _bodies(session: Session) -> list[LocalActor]:
    return list(session.exec(_BODIES).all())


def _candidates(session: Session, ctx: NodeContext, activity: dict[str, Any],
                recipient: str) -> list[LocalActor]:
    """Who it is for: the inbox it reached; on the shared inbox, the bodies it names
    (as audience or object), else every body (the relation then picks)."""
    everyone = _bodies(session)
    if recipient:
        return [b for b in everyone if b.handle == recipient]
    named = set(audience(activity)) | {id_of(activity.get("object"))}
    addressed = [b for b in everyone if ctx.urls.actor(b.handle) in named]
    return addressed or everyone


def _links(session: Session, bodies: list[LocalActor], remote: str, direction: str,
           accepted: bool = True) -> list[FederationLink]:
    return list(session.exec(_ACCEPTED_LINKS if accepted else _LINKS, params={
        "remote": remote, "direction": direction, "bodies": [b.id for b in bodies]}).all())


def _linked(session: Session, bodies: list[LocalActor], remote: str, *directions: str
            ) -> list[LocalActor]:
    ids: set[int] = set()
    for d in directions:
        ids |= {link.body_id for link in _links(session, bodies, remote, d)}
    return [b for b in bodies if b.id in ids]


# --- relations ---------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _need(bodies: list[LocalActor], code: str, reason: str) -> list[LocalActor]:
    if not bodies:
        raise _Refused(code, reason)
    return bodies


def _commitment_party(session: Session, ctx: NodeContext, bodies: list[LocalActor],
                      uri: str, sender: str) -> list[LocalActor]:
    c = session.exec(select(Commitment).where(Commitment.uri == uri)).first()
    if c is None:
        raise _Refused("unknown-commitment", "no such commitment here")
    relayer = _relayer(session, c)
    if sender not in (c.provider, c.receiver) and sender not in relayer:
        raise _Refused("not-a-party", "only the two sides of a commitment, or who relays "
                                      "it, speak of it")
    mine = {c.provider, c.receiver} | relayer
    return _need([b for b in bodies if ctx.urls.actor(b.handle) in mine], "not-a-party",
                 "this commitment concerns no body here")


def _relayer(session: Session, c: Commitment) -> set[str]:
    """Who may pass a commitment's messages between its sides: the exchange's proposer
    or the plan's initiator."""
    ex = session.exec(select(Exchange).where(Exchange.uri == c.exchange)).first()
    if ex is not None:
        return {ex.proposer}
    plan = session.exec(select(JointPlan).where(JointPlan.uri == c.exchange)).first()
    return {plan.initiator} if plan is not None else set()


def _plan_parties(plan: JointPlan) -> set[str]:
    try:
        doc = json.loads(plan.doc)
    except ValueError:
        return {plan.initiator}
    from node.economy.plans import participants

    return {plan.initiator, *participants(doc)}


def _addressee(session: Session, ctx: NodeContext, bodies: list[LocalActor],
               named: str, sender: str) -> list[LocalActor]:
    """An Accept or Reject by id: it must answer something we sent to the sender, or
    something the sender is a party to."""
    ours = {ctx.urls.actor(b.handle): b for b in bodies}
    create = session.exec(select(SignedObject).where(SignedObject.uri == named,
                                                     SignedObject.type == "Create")).first()
    if create is not None and create.author in ours:
        rows = session.exec(select(Proposal).where(
            Proposal.matter == create.matter, col(Proposal.author_id).is_not(None))).all()
        return _need([b for b in bodies if any(p.body_id == b.id and p.escalated_to == sender
                                               for p in rows)],
                     "not-addressee", "only the federation a matter was sent to answers it")
    joins = session.exec(select(FederationLink).where(
        FederationLink.join_activity_id == named, FederationLink.direction == "member_of",
        col(FederationLink.body_id).in_([b.id for b in bodies]))).all()
    if joins:
        return _need([b for b in bodies if any(j.body_id == b.id and j.remote_uri == sender
                                               for j in joins)],
                     "not-addressee", "only the federation asked answers a Join")
    follows = session.exec(select(Following).where(
        Following.follow_activity_id == named,
        col(Following.actor_id).in_([b.id for b in bodies]))).all()
    if follows:
        return _need([b for b in bodies if any(f.actor_id == b.id and f.target_uri == sender
                                               for f in follows)],
                     "not-addressee", "only the followed actor answers a Follow")
    ex = session.exec(select(Exchange).where(Exchange.uri == named)).first()
    if ex is not None:
        parties = set(json.loads(ex.parties)) | {ex.proposer}
        if sender not in parties:
            raise _Refused("not-a-party", "only the parties of an exchange answer it")
        return _need([b for b in bodies if ctx.urls.actor(b.handle) in parties
                      or b.id == ex.proposer_id], "not-a-party",
                     "this exchange concerns no body here")
    plans = session.exec(select(JointPlan).where(
        JointPlan.uri == named.split("#", 1)[0],
        col(JointPlan.body_id).in_([b.id for b in bodies]))).all()
    if plans:
        return _need([b for b in bodies if any(p.body_id == b.id and sender in _plan_parties(p)
                                               for p in plans)],
                     "not-a-party", "only the participants of a plan answer it")
    ev = session.exec(select(EconomicEvent).where(EconomicEvent.uri == named)).first()
    if ev is not None:
        return _commitment_party(session, ctx, bodies, ev.commitment, sender)
    mandated = mandates.sent_to_federation(session, named)
    if mandated is not None:
        return _need([b for b in bodies if b.id == mandated[0] and mandated[1] == sender],
                     "not-addressee", "only the federation a vote or mandate was sent to "
                                      "answers it")
    raise _Refused("names-nothing-here", "the answered object is unknown here")


@dataclass(frozen=True)
class _Asked:
    """What a relation check looks at: the activity, who sent it, the bodies here."""
    session: Session
    ctx: NodeContext
    activity: dict[str, Any]
    bodies: list[LocalActor]
    sender: str
    sender_parents: list[str]

    @property
    def obj(self) -> Any:
        return self.activity.get("object")


def _own_follow(a: _Asked) -> list[LocalActor]:
    follower = id_of(a.obj.get("actor")) if isinstance(a.obj, dict) else a.sender
    if follower != a.sender:
        raise _Refused("not-the-follower", "only the follower takes its Follow back")
    return a.bodies


def _member_body(a: _Asked) -> list[LocalActor]:
    return _need(_linked(a.session, a.bodies, a.sender, "has_member"), "not-a-member",
                 "the sender is not a member body of this body")


def _federation(a: _Asked) -> list[LocalActor]:
    return _need(_linked(a.session, a.bodies, a.sender, "member_of"), "not-our-federation",
                 "the sender is not a federation of this body")


def _linked_either_way(a: _Asked) -> list[LocalActor]:
    return _need(_linked(a.session, a.bodies, a.sender, "member_of", "has_member"),
                 "not-linked", "the sender is neither a member nor a federation here")


def _asked_federation(a: _Asked) -> list[LocalActor]:
    asked = {link.body_id for link in _links(a.session, a.bodies, a.sender, "member_of",
                                             accepted=False)}
    return _need([b for b in a.bodies if b.id in asked], "not-asked",
                 "no body here asked the sender to join it")


def _followed(a: _Asked) -> list[LocalActor]:
    rows = a.session.exec(select(Following).where(
        Following.target_uri == a.sender,
        col(Following.actor_id).in_([b.id for b in a.bodies]))).all()
    ids = {r.actor_id for r in rows}
    return _need([b for b in a.bodies if b.id in ids], "not-followed",
                 "no body here asked to follow the sender")


def _exchange_proposer(a: _Asked) -> list[LocalActor]:
    uri = id_of(a.activity.get("result"))
    ex = a.session.exec(select(Exchange).where(Exchange.uri == uri)).first()
    if ex is None or ex.proposer != a.sender:
        raise _Refused("not-the-proposer", "only the exchange's proposer seals it")
    parties = set(json.loads(ex.parties))
    return _need([b for b in a.bodies if a.ctx.urls.actor(b.handle) in parties],
                 "not-a-party", "this exchange concerns no body here")


def _commitment_party_of(a: _Asked) -> list[LocalActor]:
    obj = a.obj
    uri = id_of(obj.get("fulfills")) if isinstance(obj, dict) and \
        obj.get("type") == "EconomicEvent" else id_of(obj)
    return _commitment_party(a.session, a.ctx, a.bodies, uri, a.sender)


def _plan_initiator(a: _Asked) -> list[LocalActor]:
    linked = _linked(a.session, a.bodies, a.sender, "member_of", "has_member")
    if linked:
        return linked
    ours = {link.body_id for p in a.sender_parents
            for link in _links(a.session, a.bodies, p, "member_of")}
    return _need([b for b in a.bodies if b.id in ours], "not-linked",
                 "the plan's author shares no federation with this body")


_RELATION_CHECKS: dict[Relation, Callable[[_Asked], list[LocalActor]]] = {
    Relation.anyone: lambda a: a.bodies,
    Relation.own_follow: _own_follow,
    Relation.member_body: _member_body,
    Relation.federation: _federation,
    Relation.linked: _linked_either_way,
    Relation.asked_federation: _asked_federation,
    Relation.followed: _followed,
    Relation.exchange_proposer: _exchange_proposer,
    Relation.commitment_party: _commitment_party_of,
    Relation.plan_initiator: _plan_initiator,
    Relation.addressee: lambda a: _addressee(a.session, a.ctx, a.bodies, id_of(a.obj),
                                             a.sender),
}


def _relation(session: Session, ctx: NodeContext, kind: Kind, activity: dict[str, Any],
              bodies: list[LocalActor], sender: str, sender_parents: list[str]
              ) -> list[LocalActor]:
    relation = RULES[kind].relation
    check = _RELATION_CHECKS.get(relation)
    if check is None:
        raise AssertionError(f"no check for {relation}")
    return check(_Asked(session, ctx, activity, bodies, sender, sender_parents))


def _decide(ctx: NodeContext, kind: Kind, activity: dict[str, Any], recipient: str,
            sender: str, sender_parents: list[str]) -> Verdict:
    rule = RULES[kind]
    with Session(ctx.engine, expire_on_commit=False) as s:
        bodies = _candidates(s, ctx, activity, recipient)
        if not bodies:
            return Verdict(kind, [], "no-such-body", "no body here receives this")

        def refused(code: str, reason: str, answer: bool = rule.answer_refusal) -> Verdict:
            return Verdict(kind, [], code, reason, answer, bodies[0])

        if not rule.relayed and id_of(activity.get("actor")) != sender:
            return refused("not-the-sender", "this activity is taken only from its own actor")
        why = ownership_problem(kind, activity, sender)
        if why:
            return refused("not-owner", why)
        try:
            allowed = _relation(s, ctx, kind, activity, bodies, sender, sender_parents)
        except _Refused as exc:
            return refused(exc.code, exc.reason,
                           rule.answer_refusal and exc.code != "names-nothing-here")
    return Verdict(kind, allowed)


async def decide(ctx: NodeContext, activity: dict[str, Any], recipient: str,
                 sender: str) -> Verdict:
    """May `sender` (the verified signer's actor) send `activity` to `recipient` (a
    handle, or '' for the shared inbox)? The node's own records decide."""
    kind = classify(activity)
    if RULES[kind].relation != Relation.plan_initiator:
        return await asyncio.to_thread(_decide, ctx, kind, activity, recipient, sender, [])
    # Whether the plan's author shares a federation with us: its memberOf, as the
    # federation graph (our own links first) knows it. A copy may predate the author's
    # joining (its `Update` never reached us), so a refusal is made final only from
    # copies fetched again (graph.refresh: at most once each, only if not fresh; a
    # fetch failing for now raises KeyUnavailable and the row is retried).
    done: set[str] = set()
    verdict = Verdict(kind)
    for _ in range(levels.MAX_DEPTH):
        known = await graph.parents_map(ctx, [sender])
        verdict = await asyncio.to_thread(_decide, ctx, kind, activity, recipient, sender,
                                          known.get(sender, []))
        # At most REFRESH_PER_DECISION copies fetched again per activity: a sender
        # cannot make one plan cost us a fetch of every body it claims to belong to.
        stale = [u for u in known if u not in done][:REFRESH_PER_DECISION]
        if verdict.code != "not-linked" or not await graph.refresh(ctx, stale, done):
            return verdict
    return verdict
