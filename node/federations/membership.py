"""Bodies joining federations, FEP-1b12 style: `Join` to the federation's Group, answered
by `Accept` or `Reject` (at once under an open statute, else by its facilitators);
`Leave` ends it. Both sides keep a `federation_link`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from node.activitypub.documents import AS_CONTEXT
from node.activitypub.urls import AS_PUBLIC
from node.errors import Problem, conflict, invalid, not_found
from node.federations.membership_states import LINK, L
from node.governance.authz import require_facilitator
from node.governance.bodies import electorate, statute_of
from node.governance.members import roles_in
from node.models import FederationLink, LocalActor, Member
from node.outbox.publish import new_uid, publish
from node.tx import Tx

# Far above any real body (a national federation counts millions, a member body far
# fewer); bounds what a typo or a hostile Join can ask a facilitator to accept.
MAX_FAMILIES = 10_000_000


def _link(session: Session, body: LocalActor, remote: str, direction: str
          ) -> FederationLink | None:
    return session.exec(select(FederationLink).where(
        FederationLink.body_id == body.id, FederationLink.remote_uri == remote,
        FederationLink.direction == direction)).first()


def declared_families(activity: dict[str, Any]) -> int | None:
    """The families a Join declares (our `families` term), or None if it declares none
    (older nodes, other software) or something that is not a count."""
    value = activity.get("families")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FAMILIES:
        return None
    return value


def request_join(tx: Tx, body: LocalActor, federation_uri: str, federation_inbox: str,
                 families: int | None = None) -> str:
    """Ask to join, declaring `families` if given. Asking again while a member is how a
    body declares a new number: it stays a member, and the federation's answer to the new
    Join accepts (or refuses) the number."""
    session, urls = tx.session, tx.urls
    if federation_uri == urls.actor(body.handle):
        raise conflict("self-join", "a body cannot join itself")
    if families is not None and not 0 <= families <= MAX_FAMILIES:
        raise invalid("bad-families", f"families must be between 0 and {MAX_FAMILIES}")
    activity: dict[str, Any] = {
        # Our context defines the `families` term.
        "@context": [AS_CONTEXT, urls.context], "id": urls.activity(new_uid()), "type": "Join",
        "actor": urls.actor(body.handle), "object": federation_uri, "to": [federation_uri],
    }
    if families is not None:
        activity["families"] = families
    link = _link(session, body, federation_uri, "member_of")
    if link is None:
        link = FederationLink(body_id=body.id or 0, remote_uri=federation_uri,
                              direction="member_of", state=L.pending)
    elif LINK.may("ask", link.state):
        LINK.move(session, link, "ask")
    link.remote_inbox, link.families_declared = federation_inbox, families
    link.join_activity_id, link.updated_at = activity["id"], tx.now()
    session.add(link)
    publish(tx, body, activity, to_followers=False, inboxes={federation_inbox})
    tx.audit("federation.join_requested", f"body:{body.handle}",
             {"federation": federation_uri, "families": families})
    return str(activity["id"])


def declare_families(tx: Tx, body: LocalActor, link_id: int, families: int
                     ) -> FederationLink:
    """A facilitator declares a new number of families to one of the body's federations
    (a new Join); the accepted number holds until the federation accepts this one."""
    require_facilitator(tx.session, tx.member, body)
    link = tx.session.get(FederationLink, link_id)
    if link is None or link.body_id != body.id or link.direction != "member_of":
        raise not_found("federation")
    if link.state not in ("pending", "accepted") or not link.remote_inbox:
        raise conflict("bad-state", "the body is not a member of that federation")
    request_join(tx, body, link.remote_uri, link.remote_inbox, families)
    return link


def _settle(tx: Tx, link: FederationLink, accept: bool) -> tuple[bool, int | None]:
    """The answer to a Join, on either side's link. For a member already accepted it is
    only about the families it declared: refusing them keeps the member and its accepted
    number. Returns whether it was a change of families, and the number declared."""
    change = link.state == L.accepted
    declared = link.families_declared
    if accept:
        families = link.families if declared is None else declared
        LINK.move(tx.session, link, "accept", families=families, families_declared=None)
    elif not change:
        LINK.move(tx.session, link, "reject", families_declared=None)
    else:
        # Refusing a member's new number keeps it a member, with its accepted number.
        link.families_declared, link.updated_at = None, tx.now()
        tx.session.add(link)
    return change, declared


def _answer(tx: Tx, federation: LocalActor, link: FederationLink, accept: bool) -> None:
    """Answer the member's latest Join (see `_settle`), as the federation itself (a
    facilitator's decision included)."""
    urls = tx.urls
    change, declared = _settle(tx, link, accept)
    answer = {
        "@context": AS_CONTEXT, "id": urls.activity(new_uid()),
        "type": "Accept" if accept else "Reject", "actor": urls.actor(federation.handle),
        "object": {"id": link.join_activity_id, "type": "Join", "actor": link.remote_uri,
                   "object": urls.actor(federation.handle)},
        "to": [link.remote_uri],
    }
    publish(tx, federation, answer, to_followers=False, inboxes={link.remote_inbox})
    what = ("families_" if change else "member_") + ("accepted" if accept else "refused")
    tx.acting_as(federation).audit(f"federation.{what}", f"body:{federation.handle}",
                                   {"member": link.remote_uri, "families_declared": declared,
                                    "families": link.families})


def receive_join(tx: Tx, federation: LocalActor, join: dict[str, Any],
                 member_doc: dict[str, Any]) -> FederationLink:
    """A body asks to join, or (already a member) declares a new number of families. The
    number waits in `families_declared` for the facilitators, unless admission is open."""
    session = tx.session
    member_uri = str(member_doc["id"])
    declared = declared_families(join)
    link = _link(session, federation, member_uri, "has_member")
    if link is None:
        link = FederationLink(body_id=federation.id or 0, remote_uri=member_uri,
                              direction="has_member", state=L.pending,
                              families_declared=declared)
    elif LINK.may("ask", link.state):
        LINK.move(session, link, "ask", families_declared=declared)
    elif declared is not None:
        # Declaring the number already accepted withdraws any change still waiting.
        link.families_declared = None if declared == link.families else declared
    link.remote_inbox = str(member_doc.get("inbox") or "")
    link.join_activity_id = str(join["id"])
    session.add(link)
    session.flush()
    if statute_of(federation).admission == "open" or (
            link.state == "accepted" and link.families_declared is None):
        _answer(tx, federation, link, True)
    return link


def _waiting(link: FederationLink) -> bool:
    return link.direction == "has_member" and (
        link.state == "pending"
        or (link.state == "accepted" and link.families_declared is not None))


def available_actions(session: Session, member: Member | None, body: LocalActor) -> list[str]:
    """What `member` may do about the body's federations: ask to join one, and answer
    those who asked to join it (its coordinators)."""
    return ["join", "decide"] if "facilitator" in roles_in(session, member, body) else []


def request_actions(session: Session, member: Member | None, federation: LocalActor,
                    link: FederationLink) -> list[str]:
    """What `member` may do with one join request (or new declaration of families)."""
    if link.body_id != federation.id or not _waiting(link):
        return []
    return ["accept", "refuse"] if "decide" in available_actions(
        session, member, federation) else []


def decide_member(tx: Tx, federation: LocalActor, link_id: int, accept: bool
                  ) -> FederationLink:
    session, member = tx.session, tx.member
    require_facilitator(session, member, federation)
    link = session.get(FederationLink, link_id)
    if link is None or link.body_id != federation.id or link.direction != "has_member":
        raise not_found("membership request")
    if ("accept" if accept else "refuse") not in request_actions(session, member, federation,
                                                                 link):
        raise conflict("bad-state", "this request has already been answered")
    _answer(tx, federation, link, accept)
    return link


def receive_answer(tx: Tx, federation_uri: str, join_id: str, accepted: bool) -> bool:
    """Accept/Reject of our Join: only the federation we asked may answer it (recorded as
    its act)."""
    session = tx.session
    if not join_id:
        return False
    link = session.exec(select(FederationLink).where(
        FederationLink.direction == "member_of", FederationLink.remote_uri == federation_uri,
        FederationLink.join_activity_id == join_id)).first()
    if link is None:
        return False
    body = session.get(LocalActor, link.body_id)
    assert body is not None
    _settle(tx, link, accepted)  # a refused change of families leaves us a member
    session.flush()
    tx.acting_as(f"remote:{federation_uri}").audit(
        "federation.join_answered", f"body:{body.handle}",
        {"federation": federation_uri, "accepted": accepted, "families": link.families})
    if accepted:
        announce_actor(tx, body)
    return True


def announce_actor(tx: Tx, body: LocalActor) -> None:
    """Our place in the federation graph changed: `Update` our actor document to those
    who route matters through us (our members, our federations), to every federation we
    ever asked to join (a refused one still holds a copy of us, from our Join) and to
    followers, so nobody decides a level from a stale `memberOf`."""
    from node.activitypub.documents import actor_document

    session, urls = tx.session, tx.urls
    doc = actor_document(body, urls, member_of=federations_of(session, body))
    links = session.exec(select(FederationLink).where(
        FederationLink.body_id == body.id,
        (col(FederationLink.state) == "accepted") |
        (col(FederationLink.direction) == "member_of"))).all()
    activity: dict[str, Any] = {
        "@context": AS_CONTEXT, "id": urls.activity(new_uid()), "type": "Update",
        "actor": urls.actor(body.handle), "object": doc,
        "to": [AS_PUBLIC], "cc": [urls.followers(body.handle)]}
    publish(tx, body, activity, inboxes={x.remote_inbox for x in links if x.remote_inbox})


def receive_leave(tx: Tx, federation: LocalActor, member_uri: str) -> bool:
    """The member body `member_uri` leaves (recorded as its act)."""
    link = _link(tx.session, federation, member_uri, "has_member")
    if link is None:
        return False
    tx.session.delete(link)
    tx.acting_as(f"remote:{member_uri}").audit("federation.member_left",
                                               f"body:{federation.handle}",
                                               {"member": member_uri})
    return True


def federations_of(session: Session, body: LocalActor) -> list[str]:
    rows = session.exec(select(FederationLink.remote_uri).where(
        FederationLink.body_id == body.id, FederationLink.direction == "member_of",
        FederationLink.state == "accepted").order_by(col(FederationLink.remote_uri))).all()
    return list(rows)


def inboxes(session: Session, body: LocalActor, direction: str) -> dict[str, str]:
    """Accepted links of `body` in one direction ("member_of": its federations,
    "has_member": its members), as actor URI -> inbox, for those with a known inbox."""
    rows = session.exec(select(FederationLink.remote_uri, FederationLink.remote_inbox).where(
        FederationLink.body_id == body.id, FederationLink.direction == direction,
        FederationLink.state == "accepted")).all()
    return {uri: inbox for uri, inbox in rows if inbox}


def ask_to_join(tx: Tx, body: LocalActor, federation: dict[str, Any],
                families: int | None = None) -> int:
    """A facilitator asks the federation whose actor document is `federation` to admit
    the body, declaring `families` (by default the families among its members here).
    Returns the number declared."""
    require_facilitator(tx.session, tx.member, body)
    inbox = federation.get("inbox")
    if not isinstance(inbox, str) or not inbox:
        raise Problem(422, "unknown-federation", "that actor has no inbox", field="federation")
    if families is None:
        families = electorate(tx.session, body)[0].families
    request_join(tx, body, str(federation["id"]), inbox, families)
    return families


def joined(session: Session, body: LocalActor) -> list[FederationLink]:
    """The federations the body belongs to or asked to join, newest first."""
    return list(session.exec(select(FederationLink).where(
        FederationLink.body_id == body.id, FederationLink.direction == "member_of")
        .order_by(col(FederationLink.id).desc())).all())


def waiting_requests(session: Session, body: LocalActor) -> list[FederationLink]:
    """Join requests (and new declarations of families) the federation `body` has not
    answered yet, oldest first: what its coordinators have to decide."""
    return list(session.exec(select(FederationLink).where(
        FederationLink.body_id == body.id, FederationLink.direction == "has_member",
        (col(FederationLink.state) == "pending") | (
            (col(FederationLink.state) == "accepted")
            & col(FederationLink.families_declared).is_not(None)))
        .order_by(col(FederationLink.id))).all())


# Asked for every matter and decision a body receives: built once (issue 11).
_MEMBERS = select(col(FederationLink.remote_uri)).where(
    col(FederationLink.body_id) == bindparam("body"),
    col(FederationLink.direction) == "has_member",
    col(FederationLink.state) == "accepted").order_by(col(FederationLink.remote_uri))


def members_of(session: Session, federation: LocalActor) -> list[str]:
    return list(session.exec(_MEMBERS, params={"body": federation.id}).all())
