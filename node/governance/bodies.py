"""Bodies hosted on this node (the commune's assembly and its councils) and their statutes."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.errors import invalid, not_found
from node.federation.identity import create_local_actor
from node.governance import audit
from node.governance.statute import Statute, parse
from node.governance.tally import Electorate
from node.models import LocalActor, Member, Membership

KINDS = ("assembly", "communal_council", "sectoral_council", "workers_council")


def body_by_handle(session: Session, handle: str) -> LocalActor:
    body = session.exec(select(LocalActor).where(LocalActor.handle == handle.lower())).first()
    if body is None:
        raise not_found("body")
    return body


def statute_of(body: LocalActor) -> Statute:
    """The body's statute now: for new votes and the body's own affairs. An open vote's
    rules are `statute.statute_of_vote`."""
    return parse(body.statute)


def set_statute(session: Session, by: str, body: LocalActor, statute: Statute) -> None:
    # Votes already open keep the statute frozen on their rows; this governs later ones.
    body.statute = json.dumps(statute.to_dict())
    session.add(body)
    audit.append(session, by, "statute.changed", f"body:{body.handle}", statute.to_dict())


def create_body(session: Session, by: str, parent: LocalActor, handle: str, name: str,
                kind: str, statute: Statute | None = None, public: bool = True) -> LocalActor:
    if kind not in KINDS:
        raise invalid("bad-kind", f"kind must be one of {', '.join(KINDS)}")
    body = create_local_actor(session, handle.lower(), name, parent.level)
    body.kind = kind
    body.parent_id = parent.id
    body.public = public
    body.statute = json.dumps((statute or Statute()).to_dict())
    session.add(body)
    session.flush()
    audit.append(session, by, "body.created", f"body:{body.handle}",
                 {"parent": parent.handle, "kind": kind, "public": public})
    return body


def electorate(session: Session, body: LocalActor) -> tuple[Electorate, list[Member]]:
    """Who may vote in `body` now, and how many members and families that is."""
    members = list(session.exec(
        select(Member).join(Membership, col(Membership.member_id) == col(Member.id))
        .where(Membership.body_id == body.id, Membership.role == "member")
        .order_by(col(Member.id))).all())
    families = {m.family for m in members if m.family}
    return Electorate(members=len(members), families=len(families)), members


def member_count(session: Session, body: LocalActor) -> int:
    return int(session.exec(select(func.count()).select_from(Membership).where(
        Membership.body_id == body.id, Membership.role == "member")).one())
