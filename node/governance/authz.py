"""Who may do what. Every rule about acting for a body lives here, in one place.

`body_actions` and `member_actions` answer "what may this person do here now": the
pages show only those, and the mutators (node.governance.members, bodies, accounts)
refuse what they do not offer."""

from __future__ import annotations

from sqlmodel import Session, col, select

from node.errors import Problem, forbidden
from node.governance.members import roles_in
from node.models import LocalActor, Member, Membership

# What a body's coordination may do for it, beyond what any member may.
COORDINATION = ("invite", "edit", "create_body", "set_statute", "manage_members",
                "record_meeting", "schedule_assembly")


def require_member(session: Session, member: Member | None, body: LocalActor) -> set[str]:
    roles = roles_in(session, member, body)
    if member is None:
        raise Problem(401, "unauthenticated", "log in or send a bearer token")
    if "member" not in roles:
        raise forbidden(f"only members of {body.handle} may do this")
    return roles


def require_facilitator(session: Session, member: Member | None, body: LocalActor) -> None:
    roles = require_member(session, member, body)
    if "facilitator" not in roles:
        raise forbidden(f"only facilitators of {body.handle} may do this")


def can_read(session: Session, member: Member | None, body: LocalActor) -> bool:
    return body.public or "member" in roles_in(session, member, body)


def require_read(session: Session, member: Member | None, body: LocalActor) -> None:
    if not can_read(session, member, body):
        # A private body's matters look the same as missing ones from outside.
        raise Problem(404, "not-found", "no such body")


def body_actions(session: Session, member: Member | None, body: LocalActor) -> list[str]:
    """What `member` may do for `body` now: "propose" for its members, and the
    coordination's set-up actions for its coordinators."""
    roles = roles_in(session, member, body)
    out = ["propose"] if "member" in roles else []
    if "facilitator" in roles:
        out += COORDINATION
    return out


def _coordinated(session: Session, member: Member) -> set[int]:
    return set(session.exec(select(Membership.body_id).where(
        Membership.member_id == member.id, Membership.role == "facilitator")).all())


def _acts_for(session: Session, member: Member) -> set[int]:
    """The bodies `member` acts for: coordinates, or speaks for in its federations."""
    return set(session.exec(select(Membership.body_id).where(
        Membership.member_id == member.id,
        col(Membership.role).in_(("facilitator", "spokesperson")))).all())


def _runs_the_node(session: Session, bodies: set[int]) -> bool:
    """Whether the primary body is among `bodies`: its coordinators run the node."""
    return bool(bodies) and session.exec(select(LocalActor.id).where(
        col(LocalActor.id).in_(sorted(bodies)), col(LocalActor.is_primary))).first() is not None


def _belongs_to(session: Session, member: Member) -> set[int]:
    """Every body of this node `member` has a place in."""
    return set(session.exec(select(Membership.body_id).where(
        Membership.member_id == member.id)).all())


def member_actions(session: Session, me: Member | None, body: LocalActor,
                   target: Member) -> list[str]:
    """What `me` may do about `target`'s place in `body`: change roles, remove, make a
    password reset link. Only a coordinator of the body, about one of its members.
    A body never loses its last coordinator. A reset gives its maker the person's account
    in every body they belong to, so nobody resets the password of a person who
    coordinates or speaks for a body the maker does not coordinate, and only the
    coordinators of the node's primary body (who run the node) reset that of a person
    who is a plain member of a body they do not coordinate: a council's coordinator must
    not vote in the commune as a member the two share."""
    if me is None or "facilitator" not in roles_in(session, me, body):
        return []
    theirs = roles_in(session, target, body)
    if "member" not in theirs:
        return []
    last = "facilitator" in theirs and list(session.exec(
        select(Membership.member_id).where(Membership.body_id == body.id,
                                           Membership.role == "facilitator")).all()) \
        == [target.id]
    out = []
    for role in ("facilitator", "spokesperson"):
        if role not in theirs:
            out.append(f"grant_{role}")
        elif not (role == "facilitator" and last):
            out.append(f"revoke_{role}")
    if not last:
        out.append("remove")
    mine = _coordinated(session, me)
    if target.id != me.id and _acts_for(session, target) <= mine and (
            _belongs_to(session, target) <= mine or _runs_the_node(session, mine)):
        out.append("reset_password")
    return out


def coordinated_bodies(session: Session, member: Member) -> list[LocalActor]:
    ids = _coordinated(session, member)
    if not ids:
        return []
    return list(session.exec(select(LocalActor).where(col(LocalActor.id).in_(sorted(ids)))
                             .order_by(col(LocalActor.id))).all())


def require_action(session: Session, member: Member | None, body: LocalActor,
                   action: str) -> None:
    """Refuse what `body_actions` does not offer: 401 to a visitor, 403 otherwise."""
    if action in body_actions(session, member, body):
        return
    if action == "propose":
        require_member(session, member, body)
    require_facilitator(session, member, body)
    raise forbidden(f"you may not {action.replace('_', ' ')} here")
