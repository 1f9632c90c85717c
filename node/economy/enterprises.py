"""Socially owned enterprises of a body, their workers and council, and who may
answer for an enterprise or a body in the economy."""

from __future__ import annotations

import json
import re

from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.economy import states
from node.errors import Problem, not_found
from node.governance.authz import require_facilitator
from node.governance.members import roles_in
from node.models import Enterprise, EnterpriseWorker, LocalActor, Member
from node.tx import Tx

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def uri(urls: Urls, body: LocalActor, slug: str) -> str:
    return f"{urls.actor(body.handle)}/enterprises/{slug}"


def create(tx: Tx, body: LocalActor, slug: str, name: str,
           sector: str = "", description: str = "",
           owners: list[str] | None = None) -> Enterprise:
    session = tx.session
    why = states.coordinator(session, tx.member, body)
    if why is not None:
        raise why
    if not SLUG.match(slug):
        raise Problem(422, "bad-slug", "a short name of lowercase letters, digits and dashes")
    if not name.strip():
        raise Problem(422, "bad-name", "an enterprise needs a name")
    if session.exec(select(Enterprise).where(Enterprise.body_id == body.id,
                                             Enterprise.slug == slug)).first():
        raise Problem(409, "exists", f"{body.handle} already has an enterprise {slug}")
    row = Enterprise(body_id=body.id or 0, slug=slug, name=name.strip()[:200],
                     sector=sector.strip()[:100], description=description[:5000],
                     owners=json.dumps(sorted(set(owners or []))))
    session.add(row)
    session.flush()
    tx.audit("enterprise.created", f"enterprise:{row.id}", {"slug": slug, "name": row.name})
    return row


def get(session: Session, body: LocalActor, slug: str) -> Enterprise:
    row = session.exec(select(Enterprise).where(Enterprise.body_id == body.id,
                                                Enterprise.slug == slug)).first()
    if row is None:
        raise not_found("enterprise")
    return row


def listed(session: Session, body: LocalActor) -> list[Enterprise]:
    return list(session.exec(select(Enterprise).where(Enterprise.body_id == body.id)
                             .order_by(Enterprise.slug)).all())


def is_council(session: Session, member: Member | None, enterprise: Enterprise) -> bool:
    if member is None:
        return False
    return session.exec(select(EnterpriseWorker).where(
        EnterpriseWorker.enterprise_id == enterprise.id,
        EnterpriseWorker.member_id == member.id, EnterpriseWorker.council)).first() is not None


def add_worker(tx: Tx, body: LocalActor, enterprise: Enterprise,
               worker: Member, council: bool) -> EnterpriseWorker:
    """Facilitators of the body, or the enterprise's own council while they are members
    of the body (a person taken out of the body keeps no say in its enterprises), name
    its workers."""
    session, by = tx.session, tx.member
    if not (is_council(session, by, enterprise) and "member" in roles_in(session, by, body)):
        require_facilitator(session, by, body)
    if "member" not in roles_in(session, worker, body):
        raise Problem(422, "not-member", f"{worker.username} is not a member of {body.handle}")
    row = session.exec(select(EnterpriseWorker).where(
        EnterpriseWorker.enterprise_id == enterprise.id,
        EnterpriseWorker.member_id == worker.id)).first() or EnterpriseWorker(
        enterprise_id=enterprise.id or 0, member_id=worker.id or 0)
    row.council = council
    session.add(row)
    session.flush()
    tx.audit("enterprise.worker",
             f"enterprise:{enterprise.id}", {"member": worker.username, "council": council})
    return row


def workers(session: Session, enterprise: Enterprise) -> list[tuple[Member, bool]]:
    rows = session.exec(select(Member, EnterpriseWorker.council).join(
        EnterpriseWorker, col(EnterpriseWorker.member_id) == col(Member.id)).where(
        EnterpriseWorker.enterprise_id == enterprise.id).order_by(Member.username)).all()
    return [(m, bool(c)) for m, c in rows]


def agent_for(session: Session, urls: Urls, body: LocalActor,
              slug: str | None) -> tuple[str, Enterprise | None]:
    """The agent that gives or receives: the body itself, or one of its enterprises."""
    if not slug:
        return urls.actor(body.handle), None
    ent = get(session, body, slug)
    return uri(urls, body, slug), ent


def require_answerer(session: Session, member: Member | None, body: LocalActor,
                     enterprise_ids: set[int]) -> None:
    """Who answers for the body in the economy (the rule is node.economy.states')."""
    why = states.answerer(session, member, body, enterprise_ids)
    if why is not None:
        raise why
