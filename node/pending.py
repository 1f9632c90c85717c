"""What waits for one member, across the bodies they belong to: votes still open where
they have not voted, mandates they carry, exchanges their body must answer, bodies
asking to join a federation they coordinate, and their own drafts.

Read-only queries over other domains' tables; what each item means (and who may act on
it) stays in its domain. The page lists them under "Pendiente para usted"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from node.economy import states
from node.federations import membership
from node.federations.names import name_of
from node.federations.objects import member_uri
from node.governance.proposal_actions import position_open
from node.models import (
    Amendment,
    AmendmentVote,
    LocalActor,
    Mandate,
    MandatedVote,
    Member,
    Membership,
    Proposal,
    ProposalVersion,
    Vote,
)
from node.models.base import aware
from node.tx import Tx

# A vote closing within this long is marked as closing soon.
SOON = timedelta(days=2)
LIMIT = 50


@dataclass(frozen=True)
class Item:
    kind: str  # vote | amendment | mandate | exchange | join | draft
    title: str
    url: str
    body: str  # the name of the body it is about
    due: datetime | None = None
    soon: bool = False


def _bodies(session: Session, member: Member) -> dict[int, tuple[LocalActor, set[str]]]:
    out: dict[int, tuple[LocalActor, set[str]]] = {}
    for body, role in session.exec(select(LocalActor, Membership.role).join(
            Membership, col(Membership.body_id) == col(LocalActor.id)).where(
            Membership.member_id == member.id)).all():
        out.setdefault(body.id or 0, (body, set()))[1].add(role)
    return out


def _title(session: Session, p: Proposal) -> str:
    v = session.exec(select(ProposalVersion.title).where(
        ProposalVersion.proposal_id == p.id,
        ProposalVersion.number == p.current_version)).first()
    return v or f"#{p.id}"


def _votes(session: Session, member: Member, ids: list[int], names: dict[int, str],
           now: datetime) -> list[Item]:
    voted = select(Vote.proposal_id).where(Vote.member_id == member.id)
    rows = session.exec(select(Proposal).where(
        col(Proposal.body_id).in_(ids), Proposal.state == "vote",
        Proposal.electorate == "people", col(Proposal.closes_at) > now, position_open(),
        col(Proposal.id).not_in(voted)).order_by(col(Proposal.closes_at)).limit(LIMIT)).all()
    return [Item("vote", _title(session, p), f"/p/{p.id}", names[p.body_id],
                 aware(p.closes_at) if p.closes_at else None,
                 p.closes_at is not None and aware(p.closes_at) - now <= SOON)
            for p in rows]


def _amendment_votes(session: Session, member: Member, ids: list[int],
                     names: dict[int, str], now: datetime) -> list[Item]:
    voted = select(AmendmentVote.amendment_id).where(AmendmentVote.member_id == member.id)
    rows = session.exec(select(Amendment, Proposal).join(
        Proposal, col(Proposal.id) == col(Amendment.proposal_id)).where(
        col(Proposal.body_id).in_(ids), Amendment.state == "voting",
        Proposal.electorate == "people", col(Amendment.closes_at) > now, position_open(),
        col(Amendment.id).not_in(voted)).order_by(col(Amendment.closes_at)).limit(LIMIT)).all()
    return [Item("amendment", a.title, f"/p/{p.id}", names[p.body_id],
                 aware(a.closes_at) if a.closes_at else None,
                 a.closes_at is not None and aware(a.closes_at) - now <= SOON)
            for a, p in rows]


def _mandates(session: Session, urls: Any, member: Member,
              bodies: dict[int, tuple[LocalActor, set[str]]], now: datetime) -> list[Item]:
    by_uri = {urls.actor(b.handle): b for b, _ in bodies.values()}
    me = member_uri(urls.base, member.username)
    out = []
    for m in session.exec(select(Mandate).where(
            col(Mandate.member_body).in_(list(by_uri)), Mandate.state == "live")
            .order_by(col(Mandate.id).desc()).limit(200)).all():
        if me not in json.loads(m.spokespersons) or \
                (m.expires_at is not None and aware(m.expires_at) <= now):
            continue
        p = session.get(Proposal, m.proposal_id) if m.proposal_id else None
        if p is not None and p.final_outcome:
            continue  # the federation decided the matter: nothing is left to carry
        fed_closes = p.federation_vote_closes_at if p is not None else None
        if fed_closes is None or aware(fed_closes) <= now:
            continue  # the federation's vote is not open (yet, or any more)
        if session.exec(select(MandatedVote.id).where(
                MandatedVote.mandate_uri == m.uri, MandatedVote.state == "sent")).first():
            continue  # voted; a refusal (state refused) puts it back on the list
        out.append(Item("mandate", _title(session, p) if p else name_of(session, urls, m.matter),
                        f"/p/{p.id}" if p else f"/b/{by_uri[m.member_body].handle}/federation",
                        by_uri[m.member_body].name, aware(fed_closes)))
    return out[:LIMIT]


def _exchanges(session: Session, urls: Any, member: Member,
               bodies: dict[int, tuple[LocalActor, set[str]]]) -> list[Item]:
    # Who answers an exchange for a body is the economy's rule (its available_actions).
    out = []
    for b, _ in bodies.values():
        for e in states.waiting_answers(session, urls, member, b):
            out.append(Item("exchange", f"#{e.id}", f"/b/{b.handle}/economy", b.name))
    return out[:LIMIT]


def _joins(session: Session, urls: Any, coordinated: list[LocalActor]) -> list[Item]:
    out = []
    for b in coordinated:
        for x in membership.waiting_requests(session, b):
            out.append(Item("join", name_of(session, urls, x.remote_uri),
                            f"/b/{b.handle}/federation", b.name))
    return out[:LIMIT]


def _drafts(session: Session, member: Member, names: dict[int, str]) -> list[Item]:
    rows = session.exec(select(Proposal).where(
        Proposal.author_id == member.id, Proposal.state == "draft")
        .order_by(col(Proposal.id).desc()).limit(LIMIT)).all()
    return [Item("draft", _title(session, p), f"/p/{p.id}", names.get(p.body_id, ""))
            for p in rows]


def for_member(tx: Tx) -> list[Item]:
    """Everything waiting for the acting member, votes first (soonest closing first)."""
    session, urls, member, now = tx.session, tx.urls, tx.member, tx.now()
    bodies = _bodies(session, member)
    names = {i: b.name for i, (b, _) in bodies.items()}
    voting = [i for i, (_, roles) in bodies.items() if "member" in roles]
    coordinated = [b for b, roles in bodies.values() if "facilitator" in roles]
    return (_votes(session, member, voting, names, now) if voting else []) + \
        (_amendment_votes(session, member, voting, names, now) if voting else []) + \
        _mandates(session, urls, member, bodies, now) + \
        _exchanges(session, urls, member, bodies) + _joins(session, urls, coordinated) + \
        _drafts(session, member, names)


def home_body(session: Session, member: Member) -> LocalActor | None:
    """Where a member lands after logging in: the first body they joined."""
    return session.exec(select(LocalActor).join(
        Membership, col(Membership.body_id) == col(LocalActor.id)).where(
        Membership.member_id == member.id).order_by(col(Membership.id)).limit(1)).first()
