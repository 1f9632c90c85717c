"""A matter that goes beyond one body: sent up to the lowest federation covering
everything it affects, refused back down or forwarded further up on the way, and
redistributed by the deciding federation to every member (FEP-1b12 `Announce` of
the original `Create`, unchanged, so its author's proof still verifies), and by
member federations to their own members in turn.

Each node keeps one proposal row per body and version of a matter: the deciding
federation's row is voted by its member bodies through mandates; a member
federation's row is voted the same way, and its result becomes that federation's
mandate one level up; a commune's row is decided by its people, and its result
becomes the commune's mandate.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

from node.activitypub.documents import AS_CONTEXT
from node.activitypub.urls import Urls
from node.federations import objects
from node.federations.matter_states import ESCALATION
from node.federations.membership import members_of
from node.models import FederationLink, LocalActor, Member, Proposal, ProposalVersion
from node.models.base import utcnow
from node.models.matters import SignedObject
from node.outbox.publish import forward, new_uid, publish, with_proof
from node.tx import Tx


def now_stamp(at: datetime | None = None) -> str:
    """`at` (by default the wall clock's now) as the documents stamp it."""
    return (at or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")


def context(urls: Urls) -> list[str]:
    return [AS_CONTEXT, urls.context]


def sign(urls: Urls, body: LocalActor, obj: dict[str, Any]) -> dict[str, Any]:
    """The object's own proof, so it can travel embedded in later objects."""
    return with_proof(urls, body, {"@context": context(urls), **obj})


# The statements of every matter's and decision's path, built once: building them at
# each call cost more than running them (issue 11, fifteenth session).
_SIGNED_ID = select(col(SignedObject.id)).where(col(SignedObject.uri) == bindparam("uri"))
_SIGNED_BODY = select(col(SignedObject.body)).where(col(SignedObject.uri) == bindparam("uri"))
_SIGNED_INSERT = insert(SignedObject)
_ROWS = select(Proposal).where(col(Proposal.body_id) == bindparam("body"),
                               col(Proposal.matter) == bindparam("matter")).order_by(
    col(Proposal.current_version), col(Proposal.id))


def keep(session: Session, doc: dict[str, Any], kind: str, author: str, matter: str,
         received_from: str = "") -> None:
    """Store a signed object once, as it is (a second copy of the same id is ignored)."""
    uri = str(doc["id"])
    conn = session.connection()
    if conn.execute(_SIGNED_ID, {"uri": uri}).first() is None:
        conn.execute(_SIGNED_INSERT, {
            "uri": uri, "type": kind, "author": author, "matter": matter,
            "body": json.dumps(doc, ensure_ascii=False), "received_from": received_from,
            "created_at": utcnow()})


def is_kept(session: Session, uri: str) -> bool:
    return session.connection().execute(_SIGNED_ID, {"uri": uri}).first() is not None


def kept(session: Session, uri: str) -> dict[str, Any] | None:
    body = session.connection().execute(_SIGNED_BODY, {"uri": uri}).scalar()
    return json.loads(body) if body is not None else None


def member_inboxes(session: Session, federation: LocalActor) -> set[str]:
    rows = session.exec(select(FederationLink.remote_inbox).where(
        FederationLink.body_id == federation.id, FederationLink.direction == "has_member",
        FederationLink.state == "accepted")).all()
    return {r for r in rows if r}


def federation_inbox(session: Session, body: LocalActor, federation: str) -> str:
    """The inbox of one of this body's federations (an accepted membership only)."""
    link = session.exec(select(FederationLink).where(
        FederationLink.body_id == body.id, FederationLink.direction == "member_of",
        FederationLink.remote_uri == federation, FederationLink.state == "accepted")).first()
    if link is None or not link.remote_inbox:
        raise objects.refused(f"{body.handle} is not a member of {federation}", "not-member")
    return link.remote_inbox


def has_member(session: Session, federation: LocalActor, member: str) -> bool:
    return member in members_of(session, federation)


# --- sending a matter up -------------------------------------------------------------


def escalate(tx: Tx, body: LocalActor, proposal: Proposal, target: str,
             target_inbox: str) -> str:
    """Send our proposal to a federation for it to decide (or route further)."""
    session, urls = tx.session, tx.urls
    if proposal.body_id != body.id or proposal.author_id is None:
        raise objects.refused("only a body's own proposals are sent up", "not-ours")
    if not ESCALATION.may("send", proposal.escalation):
        raise objects.refused("this proposal has already been sent up", "already-sent")
    from node.governance.proposals import version

    v = version(session, proposal)
    matter = proposal.matter or urls.obj(f"matter-{new_uid()}")
    doc = sign(urls, body, objects.proposal_object(
        matter, urls.actor(body.handle), v.title, v.text, json.loads(proposal.affects),
        v.number, now_stamp(tx.now())))
    activity: dict[str, Any] = {
        "@context": context(urls), "id": urls.activity(new_uid()), "type": "Create",
        "actor": urls.actor(body.handle), "object": doc, "to": [target]}
    item = publish(tx, body, activity, to_followers=False, inboxes={target_inbox})
    signed = json.loads(item.body)
    keep(session, doc, objects.PROPOSAL, urls.actor(body.handle), matter)
    keep(session, signed, "Create", urls.actor(body.handle), matter)
    ESCALATION.move(session, proposal, "send", matter=matter, escalated_to=target,
                    escalation_note="", updated_at=tx.now())
    tx.audit("matter.sent_up", f"proposal:{proposal.id}",
             {"matter": matter, "to": target, "version": v.number})
    return matter


def receive_refusal(tx: Tx, federation: str, create_id: str, reason: str,
                    code: str = "") -> bool:
    """A federation refused something we sent it: our matter back down (it is ours to
    decide), or a vote or mandate of ours (the mandate shows the refusal). Recorded as
    the federation's act, whoever hands it on."""
    session = tx.session
    create = session.exec(select(SignedObject).where(SignedObject.uri == create_id,
                                                     SignedObject.type == "Create")).first()
    if create is None:
        from node.federations import mandates  # mandates builds on this module

        return mandates.receive_refusal(tx, federation, create_id, reason, code)
    proposal = session.exec(select(Proposal).where(
        Proposal.matter == create.matter, col(Proposal.author_id).is_not(None))).first()
    if proposal is None or proposal.escalated_to != federation:
        return False  # only the federation we sent it to may refuse it
    if not ESCALATION.may("refuse", proposal.escalation):
        return False
    ESCALATION.move(session, proposal, "refuse", escalation_note=reason[:2000],
                    updated_at=tx.now())
    tx.acting_as(f"remote:{federation}").audit(
        "matter.refused", f"proposal:{proposal.id}",
        {"matter": create.matter, "reason": reason[:500]})
    return True


# --- a federation receiving a matter from below -----------------------------------------


def refuse(tx: Tx, federation: LocalActor, create: dict[str, Any], origin_inbox: str,
           reason: str) -> None:
    """Send the matter back down: `Reject` of the Create, with the reason. The federation
    acts as itself."""
    urls = tx.urls
    activity: dict[str, Any] = {
        "@context": context(urls), "id": urls.activity(new_uid()), "type": "Reject",
        "actor": urls.actor(federation.handle), "object": create["id"],
        "summary": reason, "content": reason, "to": [create["actor"]]}
    publish(tx, federation, activity, to_followers=False, inboxes={origin_inbox})
    tx.acting_as(federation).audit("matter.refused_down", f"body:{federation.handle}",
                                   {"activity": create["id"], "reason": reason})


def forward_up(tx: Tx, federation: LocalActor, create: dict[str, Any], next_hop: str,
               next_inbox: str) -> None:
    forward(tx, federation, create, {next_inbox})
    tx.acting_as(federation).audit("matter.forwarded_up", f"body:{federation.handle}",
                                   {"activity": create["id"], "to": next_hop})


def _row(tx: Tx, body: LocalActor, doc: objects.ProposalDoc, electorate: str,
         answers_to: str, came_back: bool = False,
         ours: list[Proposal] | None = None) -> Proposal | None:
    """This body's row for one version of a matter; None if it already has it.
    `came_back`: the matter arrived as its author's own signed `Create`. `ours`: the
    body's rows for the matter, when the caller has just read them."""
    session = tx.session
    for p in ours if ours is not None else rows_of(session, body.id, doc.id):
        if p.current_version == doc.version:
            if p.author_id is not None and came_back and ESCALATION.may("take",
                                                                         p.escalation):
                # Our own proposal came back from the federation: it is now our
                # position on the matter, not a second row.
                ESCALATION.move(session, p, "take", answers_to=answers_to,
                                electorate=electorate)
            return None
    p = Proposal(body_id=body.id or 0, author_id=None, state="deliberation",
                 affects=json.dumps(doc.affects), matter=doc.id, electorate=electorate,
                 answers_to=answers_to, current_version=doc.version)
    session.add(p)
    session.flush()
    session.add(ProposalVersion(proposal_id=p.id or 0, number=doc.version, title=doc.title,
                                text=doc.text, author_id=None, origin="federation"))
    return p


def announce(tx: Tx, federation: LocalActor, activity: dict[str, Any]) -> None:
    """FEP-1b12: the federation passes a member's activity on to all its members."""
    urls, handle = tx.urls, federation.handle
    wrapped: dict[str, Any] = {
        "@context": context(urls), "id": urls.activity(new_uid()), "type": "Announce",
        "actor": urls.actor(handle), "object": activity,
        "to": [f"{urls.actor(handle)}/members"], "cc": [urls.followers(handle)]}
    publish(tx, federation, wrapped, inboxes=member_inboxes(tx.session, federation))


def tell_members(tx: Tx, federation: LocalActor, obj: dict[str, Any],
                 kind: str = "Create") -> None:
    """`kind` of `obj`, signed by `federation`, to its member bodies only (news of a
    matter it decides: a new version, an amendment, its vote opening)."""
    urls, me = tx.urls, tx.urls.actor(federation.handle)
    activity: dict[str, Any] = {
        "@context": context(urls), "id": urls.activity(new_uid()), "type": kind,
        "actor": me, "object": sign(urls, federation, obj), "to": [f"{me}/members"]}
    publish(tx, federation, activity, to_followers=False,
            inboxes=member_inboxes(tx.session, federation))


def take(tx: Tx, federation: LocalActor, create: dict[str, Any], doc: objects.ProposalDoc,
         sender: str) -> Proposal | None:
    """This federation is the deciding level: keep the matter and pass it to every member.
    Recorded as the act of the matter's author."""
    session, urls = tx.session, tx.urls
    keep(session, create["object"], objects.PROPOSAL, doc.author, doc.id, sender)
    keep(session, create, "Create", doc.author, doc.id, sender)
    row = _row(tx, federation, doc, "bodies", "",
               came_back=doc.author == urls.actor(federation.handle))
    if row is None:
        return None
    announce(tx, federation, create)
    tx.acting_as(f"remote:{doc.author}").audit("matter.taken", f"proposal:{row.id}",
                                               {"matter": doc.id, "version": doc.version})
    return row


def receive_from_federation(tx: Tx, body: LocalActor, federation: str,
                            activity: dict[str, Any], doc: objects.ProposalDoc
                            ) -> Proposal | None:
    """A federation of ours passed a matter down: decide our position on it (a member
    federation decides by its own members' mandates, and passes it on to them). Recorded
    as the federation's act."""
    session, urls = tx.session, tx.urls
    ours = rows_of(session, body.id, doc.id)
    if activity.get("type") == "Update" and any(p.current_version >= doc.version
                                                for p in ours):
        return None  # an old or repeated version changes nothing
    keep(session, activity["object"], objects.PROPOSAL, doc.author, doc.id, federation)
    keep(session, activity, activity.get("type", "Create"), doc.author, doc.id, federation)
    electorate = "bodies" if members_of(session, body) else "people"
    # Only our own signed Create coming back makes our proposal our position on it.
    came_back = activity.get("type") == "Create" and doc.author == urls.actor(body.handle)
    row = _row(tx, body, doc, electorate, federation, came_back, ours)
    if electorate == "bodies":
        announce(tx, body, activity)
    if row is not None:
        tx.acting_as(f"remote:{federation}").audit(
            "matter.received", f"proposal:{row.id}",
            {"matter": doc.id, "version": doc.version, "electorate": electorate})
    return row


def rows_of(session: Session, body_id: int | None, matter: str) -> list[Proposal]:
    """A body's rows for one matter, one per version the federation sent, oldest first."""
    if not matter:
        return []
    return list(session.exec(_ROWS, params={"body": body_id, "matter": matter}).all())


def rows_from(session: Session, body_id: int, matter: str, federation: str) -> list[Proposal]:
    """`rows_of` held from `federation`: those its decision (and news) are for."""
    return [p for p in rows_of(session, body_id, matter) if p.answers_to == federation]


def spokesperson_uri(urls: Urls, member: Member) -> str:
    return objects.member_uri(urls.base, member.username)
