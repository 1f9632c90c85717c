"""Who may do what. Every rule about acting for a body lives here, in one place."""

from __future__ import annotations

from sqlmodel import Session

from node.errors import Problem, forbidden
from node.governance.members import roles_in
from node.models import LocalActor, Member


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
