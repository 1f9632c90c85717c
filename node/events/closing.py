"""Votes closing soon: said once per vote (and per amendment vote), when the vote
clock first finds it within `SOON` of its close. `once` on the event makes "once"
hold across the processes of a node, whose clocks may look at the same moment."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from node.events import AMENDMENT_VOTE_CLOSING, VOTE_CLOSING, record
from node.events.kinds import title_of
from node.models import Amendment, Event, LocalActor, Proposal
from node.models.base import aware
from node.tx import Tx

SOON = timedelta(hours=24)


def closing_soon(tx: Tx, within: timedelta = SOON) -> int:
    """Record a closing event for every open vote that closes within `within` and has
    had none; returns how many were recorded."""
    session, now = tx.session, tx.now()
    horizon = now + within
    votes = session.exec(select(Proposal).where(
        Proposal.state == "vote", col(Proposal.closes_at) > now,
        col(Proposal.closes_at) <= horizon).order_by(col(Proposal.id))).all()
    ballots = session.exec(select(Amendment).where(
        Amendment.state == "voting", col(Amendment.closes_at) > now,
        col(Amendment.closes_at) <= horizon).order_by(col(Amendment.id))).all()
    keys = [f"{VOTE_CLOSING}:{p.id}" for p in votes] + \
        [f"{AMENDMENT_VOTE_CLOSING}:{a.id}" for a in ballots]
    if not keys:
        return 0
    said = set(session.exec(select(Event.once).where(col(Event.once).in_(keys))).all())
    n = 0
    for p in votes:
        key = f"{VOTE_CLOSING}:{p.id}"
        body = session.get(LocalActor, p.body_id)
        if key in said or body is None or p.closes_at is None:
            continue
        title = title_of(session, p)
        record(tx, VOTE_CLOSING, body, f"proposal:{p.id}",
               f"La votación de «{title}» en {body.name} cierra pronto.",
               {"proposal": p.id, "title": title, "closes_at": aware(p.closes_at).isoformat()},
               once=key)
        n += 1
    for a in ballots:
        key = f"{AMENDMENT_VOTE_CLOSING}:{a.id}"
        proposal = session.get(Proposal, a.proposal_id)
        body = session.get(LocalActor, proposal.body_id) if proposal else None
        if key in said or proposal is None or body is None or a.closes_at is None:
            continue
        title = title_of(session, proposal)
        record(tx, AMENDMENT_VOTE_CLOSING, body, f"proposal:{proposal.id}",
               f"La votación de la enmienda «{a.title}» a «{title}» en {body.name} "
               "cierra pronto.",
               {"proposal": proposal.id, "title": title, "amendment": a.id,
                "amendment_title": a.title, "closes_at": aware(a.closes_at).isoformat()},
               once=key)
        n += 1
    return n
